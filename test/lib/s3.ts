// A real s3rver for a test file: started on 127.0.0.1, port 0 (or a given one, to bring it
// back after a kill), its objects in a temp dir. Clients use its default credentials.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './util.js';

export const S3ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface S3rver { url: string; port: number; dir: string; proc: ChildProcess; stop(): Promise<void>; restart(): Promise<void> }

function launch(dir: string, port: number): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--openssl-legacy-provider', join(ROOT, 'node_modules/s3rver/bin/s3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`s3rver did not start: ${out}`)); }, 15_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, port: Number(m[1]) }); }
    });
    proc.stderr!.on('data', (d) => { out += d; });
    proc.on('exit', (c) => { clearTimeout(timer); reject(new Error(`s3rver exited ${c}: ${out}`)); });
  });
}

export async function s3rver(t: { teardown(f: () => void | Promise<void>): void }): Promise<S3rver> {
  const dir = mkdtempSync(join(tmpdir(), 'zbt-s3-'));
  const first = await launch(dir, 0);
  const s: S3rver = {
    url: `http://127.0.0.1:${first.port}`, port: first.port, dir, proc: first.proc,
    stop: () => new Promise<void>((res) => { if (s.proc.exitCode !== null || s.proc.signalCode) return res(); s.proc.once('exit', () => res()); s.proc.kill('SIGKILL'); }),
    restart: async () => { await s.stop(); s.proc = (await launch(dir, s.port)).proc; },
  };
  t.teardown(async () => { await s.stop(); rmSync(dir, { recursive: true, force: true }); });
  return s;
}

/** The file s3rver keeps an object's bytes in. */
export const objectFile = (s: S3rver, bucket: string, key: string) => join(s.dir, bucket, `${key}._S3rver_object`);
