// Shared set-up of the zb-encrypt tests (encrypt.test.ts, encrypt-openssl.test.ts): keys
// made by the real age-keygen, password files, random inputs of the sizes that matter,
// and small helpers.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp, fill } from './util.js';
import { zbParse } from './zbstream.js';

export const CHUNK = 65536, CT_CHUNK = CHUNK + 16, BIG = 3 * (1 << 20) + 123;
export const SIZES = [0, 1, CHUNK, CHUNK + 1, 1 << 20, BIG];

export function fixtures(t: { teardown(f: () => void): void }) {
  const dir = tmp(t, 'zbenc-');
  const pw = join(dir, 'pw'), pw2 = join(dir, 'pw2'), id = join(dir, 'id'), id2 = join(dir, 'id2');
  writeFileSync(pw, 'correct horse battery staple\n', { mode: 0o600 });
  writeFileSync(pw2, 'Tr0ub4dor&3\n', { mode: 0o600 });
  execFileSync('age-keygen', ['-o', id], { stdio: 'ignore' });
  execFileSync('age-keygen', ['-o', id2], { stdio: 'ignore' });
  const pub = execFileSync('age-keygen', ['-y', id]).toString().trim();
  const pub2 = execFileSync('age-keygen', ['-y', id2]).toString().trim();
  const input = (n: number) => join(dir, `in-${n}`);
  for (const n of SIZES) fill(input(n), n);
  const data = (n: number) => readFileSync(input(n));
  return { dir, pw, pw2, id, id2, pub, pub2, input, data };
}

/** Run f over items, `limit` at a time (node's start-up dominates these tests). */
export async function each<T>(items: readonly T[], f: (x: T) => Promise<void>, limit = 6): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) await f(items[i++]);
  }));
}

/** A zb stream that got its end frame. */
export const ended = (b: Buffer) => b.length > 0 && zbParse(b).ended;
