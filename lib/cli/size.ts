// Sizes as people write them: 512, 64K, 512M, 2G, 1T (powers of 1024); durations in whole seconds.
import { UsageError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 };

export function parseSize(s: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?$/i.exec(String(s).trim());
  if (!m) throw new UsageError(`invalid ${what} '${s}' (examples: 512M, 2G)`);
  const n = Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`invalid ${what} '${s}'`);
  return n;
}

export function formatSize(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${u[i]}`;
}

/** Whole seconds, as --lock-wait takes them. */
export function parseSeconds(s: string, option: string): number {
  if (!/^\d+$/.test(String(s))) throw new UsageError(`${option} takes whole seconds, not '${s}'`);
  return Number(s);
}
