// Sizes as people write them: 512, 64K, 512M, 2G, 1T (powers of 1024); durations in whole
// seconds, or with a unit (90s, 30m, 12h, 2d, 1w).
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

const TIME: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A duration: 3600, 90s, 30m, 12h, 2d, 1w (seconds). */
export function parseDuration(s: string, option: string): number {
  const m = /^(\d+)([smhdw]?)$/.exec(String(s).trim());
  if (!m) throw new UsageError(`${option} takes a duration such as 3600, 30m, 12h, 2d, 1w; not '${s}'`);
  return Number(m[1]) * TIME[m[2]];
}

/** "2d 3h", "5h 12m", "42s": an age for people. */
export function formatAge(sec: number): string {
  const parts: [number, string][] = [[Math.floor(sec / 86400), 'd'], [Math.floor(sec / 3600) % 24, 'h'], [Math.floor(sec / 60) % 60, 'm'], [sec % 60, 's']];
  const i = parts.findIndex(([n]) => n > 0);
  return i < 0 ? '0s' : parts.slice(i, i + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join(' ');
}
