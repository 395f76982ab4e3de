// The seed's filter objects, in an ordered `filters` list of the backup options: each
// makes the stage that applies it (and, for a command, the one that undoes it). The map
// records what each did as data; a command only by the name the caller gives.
import { UsageError } from '../errors.js';
import { FILTER_NAME } from '../stream/zb.js';
import { stage } from './stages.js';
import type { Stage } from './pipeline.js';
import type { CompressOptions, EncryptOptions } from './options.js';

export interface ZFSBackupFilter {
  /** the stage that applies the filter on backup */
  stage(): Stage;
}

/** Compression (gzip by default, as the seed's --compressed). */
export class ZFSBackupFilterCompressed implements ZFSBackupFilter {
  constructor(readonly options: CompressOptions = { alg: 'gzip' }) {}
  stage(): Stage { return stage('zb-compress', [`--${this.options.alg}`, ...(this.options.level ? ['-l', this.options.level] : [])]); }
}

/** Encryption: age with a passphrase or to recipients, or the original's openssl. */
export class ZFSBackupFilterEncrypted implements ZFSBackupFilter {
  constructor(readonly options: EncryptOptions) {}
  stage(): Stage {
    const e = this.options, a: string[] = [];
    if (e.cipher) a.push('--cipher', e.cipher);
    if (e.passwordFile) a.push('--password-file', e.passwordFile);
    for (const r of e.recipients ?? []) a.push('-r', r);
    if (e.recipientsFile) a.push('-R', e.recipientsFile);
    if (e.passphrase === '') throw new UsageError('the passphrase is empty');
    if (!a.some(x => x === '--password-file' || x === '-r' || x === '-R') && e.passphrase === undefined && !process.env.ZB_PASSWORD) throw new UsageError('encryption needs a key');
    return stage('zb-encrypt', a, e.passphrase !== undefined ? { ZB_PASSWORD: e.passphrase } : undefined);
  }
}

/** Counts the bytes that pass (at its place in the chain); the stream is unchanged. */
export class ZFSBackupFilterCounter implements ZFSBackupFilter {
  constructor(readonly options: { name?: string; limitRate?: number } = {}) {}
  stage(): Stage {
    return stage('zb-count', ['-q', ...(this.options.name ? ['--name', this.options.name] : []), ...(this.options.limitRate ? ['--limit-rate', String(this.options.limitRate)] : [])]);
  }
}

/** Any command over the payload (the seed's ZFSBackupFilterCommand(backup_command=[…])):
 *  the map records `name`, never the argv; restoring runs `restoreCommand`, which the
 *  caller gives again (restore({ filters: [...] })). */
export class ZFSBackupFilterCommand implements ZFSBackupFilter {
  readonly name: string;
  constructor(readonly options: { name: string; backupCommand: string[]; restoreCommand?: string[] }) {
    if (!FILTER_NAME.test(options.name)) throw new UsageError(`invalid filter name '${options.name}' (letters, digits, . _ + -)`);
    if (!options.backupCommand.length) throw new UsageError(`the command filter '${options.name}' has no backup command`);
    this.name = options.name;
  }
  stage(): Stage { return stage('zb-filter', ['--name', this.name, '--', ...this.options.backupCommand]); }
  /** The stage that undoes it, when a restoring command was given. */
  restoreStage(): Stage | undefined {
    const c = this.options.restoreCommand;
    return c?.length ? stage('zb-filter', ['-d', '--name', this.name, '--', ...c]) : undefined;
  }
}
