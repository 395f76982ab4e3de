// Where the stage binaries are: ZB_BINDIR when set (a directory of binaries or links named
// after the commands); else the multi-call program this process runs as (cmd/zb.ts calls
// setSelf: the bundle or the single executable, started as `SELF NAME ARG...`); else beside
// this module's cmd/ directory (dist/cmd/NAME.js); else PATH.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Stage } from './pipeline.js';

const FILE: Record<string, string> = { 'zb-recv-ssh': 'zb-recv' };
let self: string[] | undefined;

/** Stages run as `...argv NAME ARG...` (argv: the node binary and the bundle, or the executable). */
export function setSelf(argv: string[]): void { self = argv; }

/** A pipeline stage running the zb binary `name` with args (and env: its secrets). */
export function stage(name: string, args: string[] = [], env?: Record<string, string>): Stage {
  return { name, argv: [...program(name), ...args], args, ...(env ? { env } : {}) };
}

function program(name: string): string[] {
  const dir = process.env.ZB_BINDIR;
  if (dir) return [join(dir, name)];
  if (self) return [...self, name];
  const js = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cmd', `${FILE[name] ?? name}.js`);
  if (!existsSync(js)) return [name];   // fall back to PATH
  return [process.execPath, js];
}
