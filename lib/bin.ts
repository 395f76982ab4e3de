// Where the stage binaries are: beside this module's cmd/ directory (dist/cmd/NAME.js),
// or ZB_BINDIR when set (e.g. installed single-file binaries).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Stage } from './pipeline.js';

const CMD = join(dirname(fileURLToPath(import.meta.url)), '..', 'cmd');
const FILE: Record<string, string> = { 'zb-recv-ssh': 'zb-recv' };

/** A pipeline stage running the zb binary `name` with args. */
export function stage(name: string, args: string[] = []): Stage {
  const dir = process.env.ZB_BINDIR;
  if (dir) return { name, argv: [join(dir, name), ...args] };
  const js = join(CMD, `${FILE[name] ?? name}.js`);
  if (!existsSync(js)) return { name, argv: [name, ...args] };   // fall back to PATH
  return { name, argv: [process.execPath, js, ...args] };
}
