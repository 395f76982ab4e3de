#!/usr/bin/env node
// zb: every zb binary in one program, for the bundle (dist/zb.cjs) and the single-file
// executable. It runs as the command its link is named after (zb-send -> zb), or as the
// command given first (zb zb-send ARGS), busybox-style. Nothing here may import lib/cli
// before process.argv is set: cli takes the program name from argv[1] when it loads.
import { basename } from 'node:path';
import { realpathSync } from 'node:fs';
import { isSea } from 'node:sea';
import { setSelf } from '../lib/api/stages.js';
import { blockingStdout } from '../lib/os/io.js';

const CMDS: Record<string, () => Promise<unknown>> = {
  'zb-send': () => import('./zb-send.js'),
  'zb-recv': () => import('./zb-recv.js'),
  'zb-recv-ssh': () => import('./zb-recv.js'),
  'zb-compress': () => import('./zb-compress.js'),
  'zb-encrypt': () => import('./zb-encrypt.js'),
  'zb-count': () => import('./zb-count.js'),
  'zb-filter': () => import('./zb-filter.js'),
  'zb-chunk-dir': () => import('./zb-chunk-dir.js'),
  'zb-chunk-s3': () => import('./zb-chunk-s3.js'),
  'zb-list': () => import('./zb-list.js'),
  'zfsbackup': () => import('./zfsbackup.js'),
};

const sea = isSea();
// argv[1] is the name this was started as: a link's path, or (single executable) argv0
const a = process.argv;
const self = sea ? [process.execPath] : [process.execPath, realpathSync(a[1])];
let name = basename(a[1] ?? '').replace(/\.[cm]?js$/, '');
if (!(name in CMDS) && a[2] && a[2] in CMDS) { name = a[2]; a.splice(1, 2, name); }
if (!(name in CMDS) && a[2] === '--version') {
  void import('../lib/cli/command.js').then((m) => process.stdout.write(`zb ${m.version()}\n`));
} else if (!(name in CMDS)) {
  const asked = a[2] === '--help';
  (asked ? process.stdout : process.stderr).write(`Usage: zb COMMAND [ARG]...  (or a link named COMMAND)\n` +
    `Every zb binary in one program; see zb(1). Commands:\n  ${Object.keys(CMDS).join(' ')}\n`);
  process.exit(asked ? 0 : 2);
} else {
  setSelf(self);
  blockingStdout();
  void CMDS[name]();   // the command's module runs itself (lib/cli run())
}
