// CLI plumbing shared by every binary: strict options over mri, one-line
// diagnostics, and the exit-status rules (0 ok, 1 failure, 2 usage, 128+n signal).
import mri from 'mri';
import { basename } from 'node:path';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { ZbError, UsageError } from '../errors.js';

export const prog = basename(process.argv[1] ?? 'zb').replace(/\.[cm]?js$/, '');


export interface Spec {
  string?: string[];   // value-taking options (kept as strings, parsed by the caller)
  boolean?: string[];
  alias?: Record<string, string | string[]>;
  multi?: string[];    // string options that may repeat (always arrays)
}
export type Opts = Record<string, any> & { _: string[] };

/** Parse argv strictly: an unknown option is a usage error. `help` and `version` are implied. */
export function parseArgs(argv: string[], spec: Spec): Opts {
  const boolean = [...(spec.boolean ?? []), 'help', 'version'];
  const string = [...(spec.string ?? []), ...(spec.multi ?? [])];
  const alias = spec.alias ?? {};
  const known = new Set<string>([...boolean, ...string]);
  for (const [k, v] of Object.entries(alias)) for (const a of [k, ...([] as string[]).concat(v)]) known.add(a);
  const isString = (k: string) => string.includes(k) || string.some(x => ([] as string[]).concat(alias[x] ?? []).includes(k))
    || string.includes(String(alias[k]));
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--([^=]+)/.exec(a);
    if (m) {
      const k = m[1];
      if (!known.has(k) && !(k.startsWith('no-') && known.has(k.slice(3)))) throw new UsageError(`unrecognized option '--${k}'`);
    } else if (/^-[^-\d]/.test(a)) {
      for (const c of a.slice(1)) {
        if (!known.has(c)) throw new UsageError(`unrecognized option '-${c}'`);
        if (isString(c)) break;   // the rest is its value (-l3)
      }
    }
  }
  const o = mri(argv, { boolean, string, alias }) as Opts;
  for (const k of spec.multi ?? []) o[k] = o[k] === undefined ? [] : ([] as string[]).concat(o[k]);
  for (const k of spec.string ?? []) {
    if (Array.isArray(o[k])) throw new UsageError(`option '--${k}' given more than once`);
    if (o[k] === '' && argv.every(a => !a.startsWith(`--${k}=`))) throw new UsageError(`option '--${k}' requires a value`);
  }
  o._ = o._.map(String);
  return o;
}

declare const __ZB_VERSION__: string | undefined;   // set by the bundler (Makefile)

export function version(): string {
  if (typeof __ZB_VERSION__ === 'string') return __ZB_VERSION__;
  try {
    const url = new URL('../../../package.json', import.meta.url);
    return JSON.parse(readFileSync(url, 'utf8')).version;
  } catch { return '0.0.0'; }
}

/** Run a binary's main: map what it throws to one stderr line and an exit status. */
/** Run a binary's main. `help` is the --help text, or a function of the arguments before
 *  --help (zfsbackup METHOD --help: that method's). */
export function run(main: (argv: string[]) => Promise<number | void>, help: string | ((before: string[]) => string)): void {
  const argv = process.argv.slice(2);
  const onError = (e: any) => {
    if (process.env.ZB_DEBUG && e?.stack) process.stderr.write(e.stack + '\n');
    let status = 1, msg: string;
    if (e instanceof ZbError) { status = e.status; msg = e.message; }
    else if (e?.code === 'EPIPE') msg = 'broken pipe: the next stage stopped reading';
    else msg = e?.message ?? String(e);
    process.stderr.write(`${prog}: ${msg}\n`);
    if (e instanceof UsageError) process.stderr.write(`Try '${prog} --help' for more information.\n`);
    process.exitCode = status;
  };
  if (argv.includes('--help') && !argv.slice(0, argv.indexOf('--help')).includes('--')) {
    const text = typeof help === 'string' ? help : help(argv.slice(0, argv.indexOf('--help')));
    stdoutErrors(); process.stdout.write(text.replace(/^\n/, '').replace(/\$0/g, prog)); return;
  }
  if (argv[0] === '--version') { stdoutErrors(); process.stdout.write(`${prog} ${version()}\n`); return; }
  // a main whose promise never settles must not look like success
  let settled = false;
  process.on('beforeExit', () => {
    if (!settled) { settled = true; onError(new ZbError('internal error: stopped before finishing (nothing left to wait for)')); }
  });
  Promise.resolve().then(() => main(argv)).then(
    (code) => { settled = true; if (typeof code === 'number') process.exitCode = code; },
    (e) => { settled = true; onError(e); });
}

/** Text written through process.stdout (help, tables; the data path writes fd 1 itself and
 *  must not make process.stdout, which turns a pipe non-blocking): a reader that stops early
 *  (`--help | head -1`, `zb-list | head`) is one line and exit 1, not a stack trace. */
let watching = false;
export function stdoutErrors(): void {
  if (watching) return;
  watching = true;
  process.stdout.on('error', (e: any) => {
    process.stderr.write(`${prog}: ${e.code === 'EPIPE' ? 'broken pipe: the next stage stopped reading' : e.message}\n`);
    process.exit(1);
  });
}

/** Exit the way a signal would be reported by a shell: 128+n. */
export function signalStatus(sig: NodeJS.Signals | null): number {
  return 128 + (sig ? (osConstants.signals[sig] ?? 15) : 15);
}
