// Run stages as one pipeline: each stage's stdout handed straight to the next's
// stdin (the parent keeps no copy), no shell, wait for all (pipefail). When a stage
// fails the others are stopped: their pipes close with it, then SIGTERM, then SIGKILL,
// so a run ends within seconds. Blamed is the stage that failed for a reason of its
// own, not one we stopped nor one that failed because a neighbour died (a cut input,
// a broken pipe); of several, the one nearest the source: bad data flows downstream
// (a decompressor fails on what a wrong key decrypted), a closed pipe only upstream.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { signalStatus } from '../cli/command.js';
import { pipes, supervised } from '../os/proc.js';

export interface Stage {
  name: string; argv: string[];
  /** a zb stage's arguments after its name (how --dry-run prints it) */
  args?: string[];
  /** added to the stage's environment: how secrets (a passphrase, an S3 secret key) reach
   *  a stage, never in argv, which `ps` shows to every user */
  env?: Record<string, string>;
}
export interface StageResult {
  name: string; code: number | null; signal: NodeJS.Signals | null; message: string;
  /** failed, but because another stage failed first (or we stopped it) */
  secondary: boolean;
  /** signalled by us: after another stage failed, or relaying a signal sent to us */
  stopped: boolean;
  /** order in which the stages exited, from 0 */
  order: number;
}
export interface PipelineResult {
  ok: boolean; results: StageResult[]; status: number;
  blame?: { index: number; result: StageResult };
  /** the signal (SIGTERM, SIGINT, SIGHUP) sent to us that stopped the run */
  interrupted?: NodeJS.Signals;
}

/** Diagnostics that mean "another stage failed first". */
const SECONDARY = /stream is incomplete|input is empty|broken pipe|EPIPE|Broken pipe/;

export interface RunOptions {
  stdin?: number | 'ignore'; stdout?: number | 'ignore';
  /** each line a stage writes on stderr (default: forwardStderr, or nothing when quiet) */
  onStderr?: (stage: number, line: string, end?: string) => void;
  /** pass on none of the stages' stderr (warnings, notes, progress); a failure is still
   *  described by describeFailure() */
  quiet?: boolean;
  /** ms from the first failure until SIGTERM to the stages still running (default 500),
   *  and from SIGTERM until SIGKILL (default 2000) */
  settle?: number; grace?: number;
}

/** The default for a stage's stderr: pass on progress, summaries and warnings; keep back the
 *  `zb-x: error` lines, which the caller reports once through describeFailure(), and the
 *  "Try 'zb-x --help'" line of a usage error. */
export function forwardStderr(_stage: number, line: string, end = '\n'): void {
  if (/^Try '[^']+ --help' for more information\.$/.test(line)) return;
  if (!/^zb-[a-z-]+: /.test(line) || /^zb-[a-z-]+: (warning|note): /.test(line)) process.stderr.write(line + end);
}

/** "exit status 1"; a stage that caught a signal and exited 128+n without a word: say which. */
function exitStatus(code: number | null): string {
  const sig = code !== null && code > 128 ? Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
  return sig ? `stopped by ${sig} (exit status ${code})` : `exit status ${code}`;
}

const RELAYED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export function runPipeline(stages: Stage[], opts: RunOptions = {}): Promise<PipelineResult> {
  const onStderr = opts.onStderr ?? (opts.quiet ? () => {} : forwardStderr);
  const settle = opts.settle ?? 500, grace = opts.grace ?? 2000;
  const children: ChildProcess[] = [];
  const msgs: string[] = stages.map(() => '');
  const exited = stages.map(() => false), stopped = stages.map(() => false), order: number[] = [];
  const timers: NodeJS.Timeout[] = [];
  let stopping = false, interrupted: NodeJS.Signals | undefined;

  const live = () => children.map((_, i) => i).filter(i => !exited[i]);
  const signal = (sig: NodeJS.Signals) => {
    for (const i of live()) { stopped[i] = true; children[i].kill(sig); }
  };
  // after a failure, or a signal sent to us: what still runs is killed after a grace
  const stop = (first: NodeJS.Signals | null) => {
    if (!stopping) {
      stopping = true;
      if (first) signal(first);
      else timers.push(setTimeout(() => signal('SIGTERM'), settle));
      timers.push(setTimeout(() => signal('SIGKILL'), (first ? 0 : settle) + grace));
    } else if (first) signal(first);
  };

  // real pipes between the stages (1 MiB where Linux allows), as a shell makes them; Node's
  // own 'pipe' stdio would be socketpairs
  const links = pipes(stages.length - 1);
  const waits = stages.map((s, i) => {
    const last = i === stages.length - 1;
    const stdin = i === 0 ? (opts.stdin ?? 'ignore') : links[i - 1][0];
    const argv = supervised(s.argv);   // dies with us, even by SIGKILL
    const c = spawn(argv[0], argv.slice(1), { stdio: [stdin, last ? (opts.stdout ?? 1) : links[i][1], 'pipe'], env: s.env ? { ...process.env, ...s.env } : undefined });
    children.push(c);
    let part = '';
    const line = (l: string, end: string) => {
      if (l.startsWith(`${s.name}: `) && !/^(warning|note): /.test(l.slice(s.name.length + 2))) msgs[i] = l.slice(s.name.length + 2);
      onStderr(i, l, end);
    };
    c.stderr!.on('data', (d: Buffer) => {
      part += d.toString('utf8');
      let j;
      while ((j = part.search(/[\r\n]/)) >= 0) {
        const l = part.slice(0, j), end = part[j]; part = part.slice(j + 1);
        line(l, end);
      }
    });
    return new Promise<StageResult>((resolve) => {
      let code: number | null = null, sig: NodeJS.Signals | null = null, done = false;
      const finish = () => {
        if (done) return;
        done = true;
        if (part) { line(part, '\n'); part = ''; }
        const failed = code !== 0;
        const message = sig ? `killed by ${sig}` : msgs[i] || (failed ? exitStatus(code) : '');
        resolve({ name: s.name, code, signal: sig, message, stopped: stopped[i], order: order.indexOf(i),
          secondary: failed && (stopped[i] || sig === 'SIGPIPE' || (!sig && SECONDARY.test(msgs[i]))) });
      };
      const ended = (cd: number | null, sg: NodeJS.Signals | null) => {
        if (exited[i]) return;
        exited[i] = true; order.push(i); code = cd; sig = sg;
        if (cd !== 0) stop(null);
        // its stderr closes when the last process holding it (a child of the stage) is gone:
        // wait a little for the last words, not for a straggler
        const t = setTimeout(() => { c.stderr?.destroy(); finish(); }, grace);
        t.unref();
      };
      c.on('error', (e: any) => { msgs[i] = e.code === 'ENOENT' ? `'${s.argv[0]}' not found` : e.message; });
      c.on('exit', ended);
      c.on('close', (cd, sg) => { ended(cd, sg); finish(); });
    });
  });
  for (const [r, w] of links) { closeSync(r); closeSync(w); }   // or the pipeline never ends
  // cron's kill or a ^C: pass it on to every stage at once, then report as usual
  const relay = (sig: NodeJS.Signals) => { interrupted ??= sig; stop(sig); };
  for (const s of RELAYED) process.on(s, relay);
  return Promise.all(waits).then((results) => {
    for (const s of RELAYED) process.off(s, relay);
    for (const t of timers) clearTimeout(t);
    // a signal sent to the whole process group (timeout(1), a ^C) may reach a stage before
    // our relay does: that stage was stopped too
    if (interrupted) for (const r of results)
      if (r.signal === interrupted || r.code === signalStatus(interrupted)) r.secondary = r.stopped = true;
    const failed = results.map((r, index) => ({ r, index })).filter(x => x.r.code !== 0);
    if (!failed.length && !interrupted) return { ok: true, results, status: 0 };
    const own = failed.filter(x => !x.r.secondary);
    const byTime = [...failed].sort((a, b) => a.r.order - b.r.order);
    const pick = own[0] ?? (interrupted ? undefined : byTime.find(x => !x.r.stopped) ?? byTime[0]);
    if (!pick) return { ok: false, results, interrupted, status: signalStatus(interrupted!) };
    const status = pick.r.signal ? signalStatus(pick.r.signal) : (pick.r.code! > 0 ? pick.r.code! : 1);
    return { ok: false, results, blame: { index: pick.index, result: pick.r }, interrupted, status };
  });
}

/** "zb-encrypt (stage 3 of 5) failed: wrong passphrase"; "interrupted by SIGTERM: ..." */
export function describeFailure(p: PipelineResult, total: number): string {
  const b = p.blame;
  if (!b) {
    const n = p.results.filter(r => r.stopped).length;
    return `interrupted by ${p.interrupted}: ${n ? `stopped ${n} of ${total} stages` : `all ${total} stages had ended`}`;
  }
  return `${b.result.name} (stage ${b.index + 1} of ${total}) failed: ${b.result.message}`;
}

/** The other failures, one line each: the stages we stopped and those that failed because
 *  of the blamed one (for --verbose). */
export function describeSecondary(p: PipelineResult, total: number): string[] {
  return p.results.map((r, i) => ({ r, i })).filter(({ r, i }) => i !== p.blame?.index && (r.code !== 0 || r.stopped))
    .map(({ r, i }) => `${r.name} (stage ${i + 1} of ${total}) ${r.stopped ? 'stopped' : 'failed'}${r.message ? ': ' + r.message : ''}`);
}
