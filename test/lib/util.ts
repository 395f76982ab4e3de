// Test helpers: run the built binaries through real pipes (bash -o pipefail),
// make throw-away zfs-fuse pools, checksum file trees.
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'dist', 'bin');
export const ENV = { ...process.env, PATH: `${BIN}:/usr/sbin:/sbin:${process.env.PATH}` };

export interface Result { code: number; stdout: Buffer; stderr: string; out: string }

/** Run a bash script (pipefail on) with the binaries on PATH. */
export function sh(script: string, opts: { input?: Buffer | string; env?: Record<string, string>; cwd?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    // without tap's NODE_OPTIONS (its --import gives every binary under test JS signal
    // handlers it does not have as shipped)
    const env: Record<string, string | undefined> = { ...ENV, ...opts.env };
    delete env.NODE_OPTIONS;
    const p = spawn('bash', ['-o', 'pipefail', '-c', script], { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    p.stdout.on('data', d => out.push(d));
    p.stderr.on('data', d => err.push(d));
    p.on('error', reject);
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input ?? '');
    p.on('close', (code, sig) => {
      const stdout = Buffer.concat(out);
      resolve({ code: code ?? 128 + (sig === 'SIGKILL' ? 9 : 15), stdout, out: stdout.toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** Like sh, but fails the test (throws) on a non-zero exit, showing stderr. */
export async function ok(script: string, opts: Parameters<typeof sh>[1] = {}): Promise<Result> {
  const r = await sh(script, opts);
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${script}\n${r.stderr}`);
  return r;
}

export function tmp(t: { teardown(f: () => void): void }, prefix = 'zbt-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

let seq = 0;
/** A new zfs-fuse pool on a sparse file, mounted under a temp dir; destroyed at teardown. */
export function pool(t: { teardown(f: () => void | Promise<void>): void }, size = '256M'): { name: string; mnt: string; dir: string } {
  const name = `zbt${process.pid}x${seq++}`;
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const img = join(dir, 'pool.img'), mnt = join(dir, 'mnt');
  execFileSync('truncate', ['-s', size, img]);
  execFileSync('zpool', ['create', '-m', mnt, name, img], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(async () => {
    for (let i = 0; i < 20; i++) {
      try { execFileSync('zpool', ['destroy', name], { env: ENV, stdio: 'ignore' }); break; }
      catch { await new Promise(r => setTimeout(r, 300)); }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { name, mnt, dir };
}

/** sha256 of every file under dir, keyed by relative path (the .zfs dir is skipped). */
export function treeSums(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d).sort()) {
      if (e === '.zfs') continue;
      const p = join(d, e), r = rel ? `${rel}/${e}` : e;
      const s = statSync(p);
      if (s.isDirectory()) walk(p, r);
      else if (s.isFile()) out[r] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** Write n bytes of random (or compressible, when text=true) data to a file. */
export function fill(path: string, n: number, text = false): void {
  mkdirSync(dirname(path), { recursive: true });
  if (!text) { writeFileSync(path, randomBytes(n)); return; }
  const line = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n');
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += line.length) line.copy(b, i);
  writeFileSync(path, b);
}

export function sha256(b: Buffer): string { return createHash('sha256').update(b).digest('hex'); }
