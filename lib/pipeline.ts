// Run stages as one pipeline: each stage's stdout handed straight to the next's
// stdin (the parent keeps no copy), no shell, wait for all (pipefail), and blame
// the first stage that failed for a reason of its own rather than because a
// neighbour died (a cut input, a broken pipe).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { signalStatus } from './cli.js';
import { pipes } from './proc.js';

export interface Stage { name: string; argv: string[] }
export interface StageResult { name: string; code: number | null; signal: NodeJS.Signals | null; message: string; secondary: boolean }
export interface PipelineResult { ok: boolean; results: StageResult[]; blame?: { index: number; result: StageResult }; status: number }

/** Diagnostics that mean "another stage failed first". */
const SECONDARY = /stream is incomplete|input is empty|broken pipe|EPIPE|Broken pipe/;

export interface RunOptions { stdin?: number | 'ignore'; stdout?: number | 'ignore'; onStderr?: (stage: number, line: string, end?: string) => void }

/** The default for a stage's stderr: pass on progress, summaries and warnings; keep back the
 *  `zb-x: error` lines, which the caller reports once through describeFailure(). */
export function forwardStderr(_stage: number, line: string, end = '\n'): void {
  if (!/^zb-[a-z-]+: /.test(line) || /^zb-[a-z-]+: warning: /.test(line)) process.stderr.write(line + end);
}

export function runPipeline(stages: Stage[], opts: RunOptions = {}): Promise<PipelineResult> {
  const onStderr = opts.onStderr ?? forwardStderr;
  const children: ChildProcess[] = [];
  const msgs: string[] = stages.map(() => '');
  // real pipes between the stages (1 MiB where Linux allows), as a shell makes them; Node's
  // own 'pipe' stdio would be socketpairs
  const links = pipes(stages.length - 1);
  const waits = stages.map((s, i) => {
    const last = i === stages.length - 1;
    const stdin = i === 0 ? (opts.stdin ?? 'ignore') : links[i - 1][0];
    const c = spawn(s.argv[0], s.argv.slice(1), { stdio: [stdin, last ? (opts.stdout ?? 1) : links[i][1], 'pipe'] });
    children.push(c);
    let part = '';
    c.stderr!.on('data', (d: Buffer) => {
      part += d.toString('utf8');
      let j;
      while ((j = part.search(/[\r\n]/)) >= 0) {
        const line = part.slice(0, j), end = part[j]; part = part.slice(j + 1);
        if (line.startsWith(`${s.name}: `)) msgs[i] = line.slice(s.name.length + 2);
        onStderr(i, line, end);
      }
    });
    return new Promise<StageResult>((resolve) => {
      c.on('error', (e: any) => { msgs[i] = e.code === 'ENOENT' ? `'${s.argv[0]}' not found` : e.message; });
      c.on('close', (code, signal) => {
        if (part) { if (part.startsWith(`${s.name}: `)) msgs[i] = part.slice(s.name.length + 2); onStderr(i, part, '\n'); }
        const failed = code !== 0;
        const message = signal ? `killed by ${signal}` : msgs[i] || (failed ? `exit status ${code}` : '');
        resolve({ name: s.name, code, signal, message,
          secondary: failed && (signal === 'SIGPIPE' || (!signal && SECONDARY.test(msgs[i]))) });
      });
    });
  });
  for (const [r, w] of links) { closeSync(r); closeSync(w); }   // or the pipeline never ends
  // cron's kill or a ^C: pass it on to every stage, then report as usual
  const relay = (sig: NodeJS.Signals) => { for (const c of children) c.kill(sig); };
  const sigs: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of sigs) process.on(s, relay);
  return Promise.all(waits).then((results) => {
    for (const s of sigs) process.off(s, relay);
    const failed = results.map((r, index) => ({ r, index })).filter(x => x.r.code !== 0);
    if (!failed.length) return { ok: true, results, status: 0 };
    const pick = failed.find(x => !x.r.secondary) ?? failed[0];
    const status = pick.r.signal ? signalStatus(pick.r.signal) : (pick.r.code ?? 1);
    return { ok: false, results, blame: { index: pick.index, result: pick.r }, status };
  });
}

/** "zb-encrypt (stage 3 of 5) failed: wrong passphrase" */
export function describeFailure(p: PipelineResult, total: number): string {
  const b = p.blame!;
  return `${b.result.name} (stage ${b.index + 1} of ${total}) failed: ${b.result.message}`;
}
