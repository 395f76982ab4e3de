#!/usr/bin/env node
// zb-recv: a zb stream (or a plain zfs send stream) into zfs receive.
import { UsageError } from '../lib/errors.js';
import { run, parseArgs, prog } from '../lib/cli/command.js';
import { recv } from '../lib/zfs/recv.js';
import { localZfs } from '../lib/zfs/host.js';
import { SshZfs } from '../lib/zfs/remote.js';
import { remoteName } from '../lib/zfs/ssh.js';
import { remoteDecompressor } from '../lib/zfs/decompress.js';
import { SSH_HELP, SSH_SPEC, sshOptions } from '../lib/cli/ssh.js';
import { growStdio } from '../lib/os/proc.js';

const help = `Usage: $0 [--host HOST [SSH-OPTION]...] [OPTION]... FILESYSTEM
Read a zb stream (or a plain zfs send stream) on stdin and receive it into
FILESYSTEM with zfs receive, on this host (zb-recv) or on HOST over ssh
(zb-recv-ssh). A stream that ends before its end frame is never handed to zfs
whole: zfs receive is stopped and nothing is committed. zb-recv-ssh takes a
compressed stream too when HOST has the decompressor (it runs it there).

  -F, --force        roll back / replace the target as zfs receive -F does
  -d                 discard the first element of the sent name (zfs receive -d)
  -u, --no-mount     do not mount the received file system (zfs receive -u)
  -s, --resumable    keep a resumable state if interrupted (zfs receive -s)
  -v, --verbose      pass zfs receive -v (its report goes to stderr)
SSH-OPTION (zb-recv-ssh, which needs --host; zb-recv with --host is the same):
${SSH_HELP}      --help         display this help and exit
      --version      output version information and exit

Examples:
  zb-send tank/data | zb-recv backup/data
  zb-compress -d < data.zb | zb-recv -F backup/data
  zb-send tank/data | zb-compress --zstd | zb-recv-ssh --host backup.example.org backup/data
`;

run(async (argv) => {
  const o = parseArgs(argv, {
    string: SSH_SPEC.string, multi: SSH_SPEC.multi,
    boolean: ['force', 'd', 'no-mount', 'resumable', 'verbose', ...SSH_SPEC.boolean],
    alias: { F: 'force', u: 'no-mount', s: 'resumable', v: 'verbose', i: 'identity' },
  });
  const ssh = sshOptions(o);
  if (prog === 'zb-recv-ssh' && !ssh) throw new UsageError('missing --host HOST');
  if (o._.length !== 1) throw new UsageError(o._.length ? 'too many operands' : 'missing FILESYSTEM operand');
  const ro = { target: o._[0], force: o.force, discardFirst: o.d, noMount: o['no-mount'], resumable: o.resumable, verbose: o.verbose };
  if (!ssh) return recv(localZfs(), ro);   // enlarges our stdin with zfs's
  // a 1 MiB stdin pipe: `zfs send | zb-recv-ssh` read 64 KiB at a time, at 0.76 of
  // OpenSSH's throughput into zfs-fuse (0.94 enlarged: bench/ssh.bench.sh)
  const grown = growStdio();
  const host = new SshZfs(ssh);
  // connect (and probe zfs there, when an option needs it) while the stream's header comes; a
  // failure is said by the receive, which looks for zfs itself when nothing else needed it
  void (ro.noMount || ro.resumable ? host.caps() : host.connect()).catch(() => {});
  try { await recv(host, { ...ro, target: remoteName(ro.target) }, (alg) => remoteDecompressor(host, alg)); }
  finally { host.close(); await grown; }
}, help);
