#!/usr/bin/env node
// zb-send: zfs send of one snapshot as a zb stream on stdout.
import { UsageError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';
import { send } from '../lib/zfs/send.js';
import { localZfs, type ZfsHost } from '../lib/zfs/host.js';
import { SshZfs } from '../lib/zfs/remote.js';
import { SSH_HELP, SSH_SPEC, sshOptions } from '../lib/cli/ssh.js';

const help = `Usage: $0 [OPTION]... DATASET[@SNAPSHOT]
Write a zfs send stream of one snapshot of DATASET (the latest by default) to
stdout as a zb stream: a header with the snapshot's guid, createtxg, creation
time, incremental base and size estimate, then the framed payload.

  -s, --snapshot=SNAP    send SNAP instead of the latest snapshot
  -i, --from=BASE        incremental from BASE (snap, @snap, DS@snap, #bookmark)
  -I BASE                incremental from BASE with every snapshot in between
  -R, --recursive        replicate DATASET and its descendants (zfs send -R)
  -w, --raw-send         raw stream of an encrypted dataset (zfs send -w)
  -p, --props            include the dataset's properties (zfs send -p)
  -t, --resume-token=TOKEN  resume an interrupted receive (zfs send -t)
      --raw              write a plain zfs send stream (no zb framing)
With --host, the snapshot is sent by the zfs of a remote host, over ssh:
${SSH_HELP}      --help             display this help and exit
      --version          output version information and exit

Examples:
  zb-send tank/data | zb-recv backup/data
  zb-send -i daily-1 tank/data@daily-2 | zb-compress --zstd > daily-2.zb
  zb-send --raw tank/data | zfs receive backup/data
  zb-send --host backup.example.org --user zb backup/tank/data | zb-recv tank/restored
`;

run(async (argv) => {
  const o = parseArgs(argv, {
    string: ['snapshot', 'from', 'I', 'resume-token', ...SSH_SPEC.string], multi: SSH_SPEC.multi,
    boolean: ['recursive', 'raw-send', 'props', 'raw', ...SSH_SPEC.boolean],
    alias: { s: 'snapshot', i: 'from', R: 'recursive', w: 'raw-send', p: 'props', t: 'resume-token' },
  });
  if (o._.length !== 1 && !(o['resume-token'] && o._.length === 0)) throw new UsageError(o._.length ? 'too many operands' : 'missing DATASET operand');
  if (o.from && o.I) throw new UsageError("-i and -I are mutually exclusive");
  const ssh = sshOptions(o);
  const host: ZfsHost = ssh ? new SshZfs(ssh) : localZfs();
  try {
    await send(host, {
      target: o._[0] ?? '', snapshot: o.snapshot, base: o.from ?? o.I, intermediates: !!o.I,
      recursive: o.recursive, raw: o['raw-send'], props: o.props, plain: o.raw, resumeToken: o['resume-token'],
    });
  } finally { host.close?.(); }
}, help);
