// The zfsbackup command line (the seed's): [COMMON]... METHOD [METHOD-OPTION]... [OPERATION]
import { UsageError, ZbError } from '../errors.js';
import { parseArgs, type Opts } from './command.js';
import { methods } from './methods.js';
import { ALGS } from '../filters/compress/algs.js';
import { ChunkBackup } from '../api/chunks.js';
import { ZFSBackupSSH } from '../api/ssh.js';
import { printRows } from './table.js';
import type { BackupOptions, CompressOptions } from '../api/zfs.js';

/** The options that come before the method (the seed's common options). */
export const COMMON = {
  string: ['dataset', 'pool', 'snapshot', 'operation', 'password-file', 'cipher', 'compress', 'level', 'recipients-file'],
  multi: ['recipient'],
  boolean: ['debug', 'verbose', 'compressed', 'pigz', 'encrypted', 'recursive', 'full', 'force', 'iterate-incrementals', 'progress', 'quiet', 'hold'],
  alias: { C: 'compressed', E: 'encrypted', R: 'recursive', v: 'verbose', r: 'recipient', q: 'quiet', F: 'force' },
};

export async function main(argv: string[]): Promise<number | void> {
  const at = argv.findIndex(a => a in methods);
  if (at < 0) parseArgs(argv, COMMON);   // an unknown option is the first thing to say
  if (at < 0) throw new UsageError(`missing METHOD (one of: ${Object.keys(methods).join(', ')})`);
  const common = parseArgs(argv.slice(0, at), COMMON);
  if (common._.length) throw new UsageError(`unexpected '${common._[0]}' before the method`);
  const name = argv[at], method = methods[name];
  // --operation may follow the method too (the seed's examples put it either side)
  const args = parseArgs(argv.slice(at + 1), { ...method.spec, string: [...(method.spec.string ?? []), 'operation'] });
  if (common.debug) process.env.ZB_DEBUG = '1';
  if (common.operation !== undefined && args.operation !== undefined) throw new UsageError("option '--operation' given more than once");
  const op = args._[0] ?? args.operation ?? common.operation ?? 'backup';
  if (args._[0] !== undefined && (args.operation ?? common.operation) !== undefined && args._[0] !== (args.operation ?? common.operation))
    throw new UsageError(`operation '${args._[0]}' and --operation '${args.operation ?? common.operation}' differ`);
  if (args._.length > 1) throw new UsageError(`too many operands: ${args._.slice(1).join(' ')}`);
  if (!method.operations.includes(op)) throw new UsageError(`the ${name} method has no operation '${op}' (it has: ${method.operations.join(', ')})`);
  const given = [common.dataset, common.pool, common.snapshot].filter(Boolean);
  if (given.length !== 1) throw new UsageError(given.length ? 'give only one of --dataset, --pool, --snapshot' : 'missing --dataset (or --pool, --snapshot)');
  const target: string = given[0];
  const obj = method.create(target, args, options(common, name));
  const snap = target.includes('@') ? target.split('@')[1] : undefined;
  switch (op) {
    case 'backup': {
      const steps = await obj.backup(snap, { forceFull: common.full, iterate: common['iterate-incrementals'] !== false });
      if (common.verbose && steps.length) process.stderr.write(`zfsbackup: ${steps.length} snapshot(s) sent to ${obj.dest}\n`);
      return;
    }
    case 'list': {
      const snaps = await obj.list();
      printRows(snaps.map(s => ({ name: s.name, guid: s.guid, createtxg: String(s.createtxg),
        creation: new Date(s.creation * 1000).toISOString().replace('.000Z', 'Z') })), ['name', 'guid', 'createtxg', 'creation'], {});
      return;
    }
    case 'restore':
      if (obj instanceof ZFSBackupSSH) {
        if (!args.to) throw new UsageError('restore needs --to POOL/DATASET');
        const r = await obj.restore({ to: args.to, snapshot: args.snapshot ?? snap });
        if (common.verbose) process.stderr.write(`zfsbackup: ${r.restored.length} snapshot(s) received into ${r.target}\n`);
        return;
      }
    // falls through
    case 'verify': {
      if (!(obj instanceof ChunkBackup) || !method.restoreOptions) throw new UsageError(`the ${name} method has no operation '${op}'`);
      if (op === 'restore') { await obj.restore(method.restoreOptions(args, common, snap)); return; }
      const r = await obj.verify();
      if (!common.quiet) for (const n of r.notes) process.stderr.write(`zfsbackup: note: ${n}\n`);
      for (const p of r.problems) process.stdout.write(`${p}\n`);
      if (r.problems.length) throw new ZbError(`${r.problems.length} problem(s) in the backup of '${obj.dataset}' in '${obj.store.where}'`);
      process.stdout.write(`verified ${r.snapshots} snapshot(s), ${r.chunks} chunk(s), ${r.bytes} bytes of '${obj.dataset}': no problems\n`);
      return;
    }
    default:
      throw new UsageError(`the ${name} method has no operation '${op}'`);
  }
}

function options(common: Opts, method: string): BackupOptions {
  const o: BackupOptions = { recursive: common.recursive, force: common.force, verbose: common.verbose, quiet: common.quiet, hold: common.hold,
    progress: !common.quiet && (common.progress || !!process.stderr.isTTY) };
  if (common.compressed || common.pigz || common.compress) {
    const alg = (common.compress ?? (common.pigz ? 'pigz' : 'gzip')) as CompressOptions['alg'];
    if (!ALGS.includes(alg)) throw new UsageError(`unknown compression '${alg}' (${ALGS.join(', ')})`);
    o.compress = { alg, level: common.level };
  }
  if (common.encrypted || common['password-file'] || common.recipient.length || common['recipients-file']) {
    if (!common['password-file'] && !common.recipient.length && !common['recipients-file'])
      throw new UsageError('encryption needs --password-file FILE (or --recipient/--recipients-file)');
    if (common.cipher && !common['password-file']) throw new UsageError('--cipher needs --password-file');
    o.encrypt = { passwordFile: common['password-file'], cipher: common.cipher, recipients: common.recipient, recipientsFile: common['recipients-file'] };
  }
  if ((o.compress || o.encrypt) && method === 'zfs' && !common.quiet)
    process.stderr.write('zfsbackup: warning: --compressed/--encrypted do nothing for the zfs method (nothing is stored)\n');
  if (o.encrypt && !o.encrypt.passwordFile && !o.encrypt.recipients?.length && !o.encrypt.recipientsFile)
    throw new ZbError('encryption needs a key');
  return o;
}
