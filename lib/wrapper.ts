// The zfsbackup command line (the seed's): [COMMON]... METHOD [METHOD-OPTION]... [OPERATION]
import { parseArgs, UsageError, ZbError, type Opts } from './cli.js';
import { methods } from './methods.js';
import { ALGS } from './compress-algs.js';
import { ZFSBackupDirectory } from './method-directory.js';
import { printRows } from './list.js';
import type { BackupOptions, CompressOptions } from './backup.js';

export const common = {
  string: ['dataset', 'pool', 'snapshot', 'operation', 'password-file', 'cipher', 'compress', 'level', 'recipients-file'],
  multi: ['recipient'],
  boolean: ['debug', 'verbose', 'compressed', 'pigz', 'encrypted', 'recursive', 'full', 'force', 'iterate-incrementals', 'progress', 'quiet'],
  alias: { C: 'compressed', E: 'encrypted', R: 'recursive', v: 'verbose', r: 'recipient', q: 'quiet', F: 'force' },
};

export async function main(argv: string[]): Promise<number | void> {
  const at = argv.findIndex(a => a in methods);
  if (at < 0) parseArgs(argv, common);   // an unknown option is the first thing to say
  if (at < 0) throw new UsageError(`missing METHOD (one of: ${Object.keys(methods).join(', ')})`);
  const c = parseArgs(argv.slice(0, at), common);
  if (c._.length) throw new UsageError(`unexpected '${c._[0]}' before the method`);
  const name = argv[at], method = methods[name];
  // --operation may follow the method too (the seed's examples put it either side)
  const m = parseArgs(argv.slice(at + 1), { ...method.spec, string: [...(method.spec.string ?? []), 'operation'] });
  if (c.debug) process.env.ZB_DEBUG = '1';
  if (c.operation !== undefined && m.operation !== undefined) throw new UsageError("option '--operation' given more than once");
  const op = m._[0] ?? m.operation ?? c.operation ?? 'backup';
  if (m._[0] !== undefined && (m.operation ?? c.operation) !== undefined && m._[0] !== (m.operation ?? c.operation))
    throw new UsageError(`operation '${m._[0]}' and --operation '${m.operation ?? c.operation}' differ`);
  if (m._.length > 1) throw new UsageError(`too many operands: ${m._.slice(1).join(' ')}`);
  if (!method.operations.includes(op)) throw new UsageError(`the ${name} method has no operation '${op}' (it has: ${method.operations.join(', ')})`);
  const given = [c.dataset, c.pool, c.snapshot].filter(Boolean);
  if (given.length !== 1) throw new UsageError(given.length ? 'give only one of --dataset, --pool, --snapshot' : 'missing --dataset (or --pool, --snapshot)');
  const target: string = given[0];
  const obj = method.create(target, m, options(c, name));
  const snap = target.includes('@') ? target.split('@')[1] : undefined;
  switch (op) {
    case 'backup': {
      const steps = await obj.backup(snap, { forceFull: c.full, iterate: c['iterate-incrementals'] !== false });
      if (c.verbose && steps.length) process.stderr.write(`zfsbackup: ${steps.length} snapshot(s) sent to ${obj.dest}\n`);
      return;
    }
    case 'list': {
      const snaps = await obj.list();
      printRows(snaps.map(s => ({ name: s.name, guid: s.guid, createtxg: String(s.createtxg),
        creation: new Date(s.creation * 1000).toISOString().replace('.000Z', 'Z') })), ['name', 'guid', 'createtxg', 'creation'], {});
      return;
    }
    case 'restore':
    case 'verify': {
      if (!(obj instanceof ZFSBackupDirectory) || !method.restoreOptions) throw new UsageError(`the ${name} method has no operation '${op}'`);
      if (op === 'restore') { await obj.restore(method.restoreOptions(m, c, snap)); return; }
      const r = await obj.verify();
      if (!c.quiet) for (const n of r.notes) process.stderr.write(`zfsbackup: note: ${n}\n`);
      for (const p of r.problems) process.stdout.write(`${p}\n`);
      if (r.problems.length) throw new ZbError(`${r.problems.length} problem(s) in the backup of '${obj.dataset}' in '${obj.store}'`);
      process.stdout.write(`verified ${r.snapshots} snapshot(s), ${r.chunks} chunk(s), ${r.bytes} bytes of '${obj.dataset}': no problems\n`);
      return;
    }
    default:
      throw new UsageError(`the ${name} method has no operation '${op}'`);
  }
}

function options(c: Opts, method: string): BackupOptions {
  const o: BackupOptions = { recursive: c.recursive, force: c.force, verbose: c.verbose, quiet: c.quiet,
    progress: !c.quiet && (c.progress || !!process.stderr.isTTY) };
  if (c.compressed || c.pigz || c.compress) {
    const alg = (c.compress ?? (c.pigz ? 'pigz' : 'gzip')) as CompressOptions['alg'];
    if (!ALGS.includes(alg)) throw new UsageError(`unknown compression '${alg}' (${ALGS.join(', ')})`);
    o.compress = { alg, level: c.level };
  }
  if (c.encrypted || c['password-file'] || c.recipient.length || c['recipients-file']) {
    if (!c['password-file'] && !c.recipient.length && !c['recipients-file'])
      throw new UsageError('encryption needs --password-file FILE (or --recipient/--recipients-file)');
    if (c.cipher && !c['password-file']) throw new UsageError('--cipher needs --password-file');
    o.encrypt = { passwordFile: c['password-file'], cipher: c.cipher, recipients: c.recipient, recipientsFile: c['recipients-file'] };
  }
  if ((o.compress || o.encrypt) && method === 'zfs' && !c.quiet)
    process.stderr.write('zfsbackup: warning: --compressed/--encrypted do nothing for the zfs method (nothing is stored)\n');
  if (o.encrypt && !o.encrypt.passwordFile && !o.encrypt.recipients?.length && !o.encrypt.recipientsFile)
    throw new ZbError('encryption needs a key');
  return o;
}
