// Tables for people (aligned columns with a header), for scripts (-H: tab-separated, no
// header), or JSON: how zb-list and zfsbackup list print.
import { stdoutErrors } from './command.js';

export interface Row { [k: string]: string | number | boolean | null }

/** Print rows as an aligned table with a header, tab-separated (-H), or JSON. */
export function printRows(rows: Row[], cols: string[], how: { H?: boolean; json?: boolean }): void {
  stdoutErrors();
  if (how.json) { process.stdout.write(JSON.stringify(rows, null, 2) + '\n'); return; }
  const cell = (v: unknown) => v === null || v === undefined ? '-' : String(v);
  if (how.H) { for (const r of rows) process.stdout.write(cols.map(c => cell(r[c])).join('\t') + '\n'); return; }
  const w = cols.map(c => Math.max(c.length, ...rows.map(r => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => i === vals.length - 1 ? v : v.padEnd(w[i])).join('  ') + '\n';
  process.stdout.write(line(cols.map(c => c.toUpperCase())));
  for (const r of rows) process.stdout.write(line(cols.map(c => cell(r[c]))));
}

