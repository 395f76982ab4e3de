// The zfsbackup command line (the seed's): [COMMON]... METHOD [METHOD-OPTION]... [OPERATION]
import { UsageError, ZbError } from '../errors.js';
import { parseArgs, type Opts } from './command.js';
import { methods } from './methods.js';
import { ALGS } from '../filters/compress/algs.js';
import { ChunkBackup } from '../api/chunks.js';
import { ZFSBackupSSH } from '../api/ssh.js';
import { ZFSBackupCount } from '../api/count.js';
import { printRows } from './table.js';
import { formatAge, parseDuration, parseSize } from './size.js';
import type { Backup, BackupOptions, CompressOptions } from '../api/zfs.js';
import { shellLine } from '../os/shell.js';

/** The options that come before the method (the seed's common options). */
export const COMMON = {
  string: ['dataset', 'pool', 'snapshot', 'operation', 'password-file', 'cipher', 'compress', 'level', 'recipients-file', 'max-age', 'limit-rate'],
  multi: ['recipient'],
  boolean: ['debug', 'verbose', 'compressed', 'pigz', 'encrypted', 'recursive', 'full', 'force', 'iterate-incrementals', 'progress', 'quiet', 'dry-run', 'json', 'hold'],
  alias: { C: 'compressed', E: 'encrypted', R: 'recursive', v: 'verbose', r: 'recipient', q: 'quiet', F: 'force', n: 'dry-run' },
};

/** Where the method word is: the first operand that names one (an option's value, such as
 *  the dataset in `--dataset count`, is never taken for it). */
export function methodAt(argv: string[]): number {
  const takes = new Set([...COMMON.string, ...COMMON.multi]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a in methods) return i;
    const name = a.startsWith('--') ? a.slice(2) : /^-[a-zA-Z]$/.test(a) ? (COMMON.alias as Record<string, string>)[a[1]] : undefined;
    if (name && !a.includes('=') && takes.has(name)) i++;
  }
  return -1;
}

export async function main(argv: string[]): Promise<number | void> {
  const at = methodAt(argv);
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
  const obj = await method.create(target, args, options(common, name));
  const snap = target.includes('@') ? target.split('@')[1] : undefined;
  if (common['dry-run'] && op !== 'backup') throw new UsageError(`--dry-run goes with the backup operation, not '${op}'`);
  if (common.json && (op === 'backup' || op === 'restore')) obj.on('event', (e) => process.stdout.write(JSON.stringify(e) + '\n'));
  switch (op) {
    case 'backup': {
      if (common['dry-run']) return dryRun(obj, snap, { forceFull: common.full || obj instanceof ZFSBackupCount, iterate: common['iterate-incrementals'] !== false });
      if (obj instanceof ZFSBackupCount) {
        const r = await obj.count(snap);
        process.stdout.write(common.json ? JSON.stringify({ event: 'count', ...r }) + '\n' : `${r.bytes} ${r.snapshot}\n`);
        return;
      }
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
    case 'status': {   // one line on stdout, exit 0 or 1: a monitoring check
      const maxAge = common['max-age'] === undefined ? undefined : parseDuration(common['max-age'], '--max-age');
      const r = await obj.status({ maxAge });
      const newest = r.newest ? `newest ${r.newest} in ${r.target}${r.age === null ? '' : `, ${formatAge(r.age)} old`}` : '';
      const why = r.problem ? `${r.problem}${r.problem.includes('maximum age') ? ` (--max-age ${common['max-age']})` : ''}` : 'restorable';
      process.stdout.write(`${r.ok ? 'OK' : 'CRITICAL'} - ${r.dataset}: ${newest ? `${newest}: ${why}` : why}\n`);
      return r.ok ? 0 : 1;
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

/** --dry-run: each snapshot that would be sent and its pipeline, as commands to paste. */
async function dryRun(obj: Backup, snap: string | undefined, o: { forceFull?: boolean; iterate?: boolean }): Promise<void> {
  const plan = await obj.dryRun(snap, o);
  const out: string[] = [];
  if (!plan.length) out.push(`# ${obj.dataset}: up to date in ${obj.dest}; nothing would be sent`);
  for (const { step, stages } of plan) {
    const from = step.base ? `incremental from ${step.base.name}${step.intermediates ? ', with the snapshots between' : ''}` : 'full';
    out.push(`# ${step.snapshot.name}: ${from}`);
    const line = stages.map(s => shellLine(s.args ? [s.name, ...s.args] : s.argv)).join(' | ');
    out.push(obj instanceof ZFSBackupCount ? `${line} | wc -c` : line);
    if (stages.some(s => s.env)) out.push('# (secrets reach their stage in its environment: not shown)');
  }
  process.stdout.write(out.join('\n') + '\n');
}

function options(common: Opts, method: string): BackupOptions {
  const o: BackupOptions = { recursive: common.recursive, force: common.force, verbose: common.verbose, quiet: common.quiet, hold: common.hold,
    limitRate: common['limit-rate'] === undefined ? undefined : parseSize(common['limit-rate'], 'rate'),
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
