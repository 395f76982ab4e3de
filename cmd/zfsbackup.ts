#!/usr/bin/env node
// zfsbackup: the original tool's command line over the zb binaries.
import { run } from '../lib/cli/command.js';
import { main, methodAt } from '../lib/cli/zfsbackup.js';
import { methods } from '../lib/cli/methods.js';

const help = `Usage: $0 [COMMON-OPTION]... METHOD [METHOD-OPTION]... [OPERATION]
Back up a ZFS dataset (or pool) with METHOD, running zb-send and the other zb
stages as one pipeline. Incremental against what the target holds, matched by
snapshot guid; every snapshot after the common one is sent in turn.

Common options:
      --dataset=DS, --pool=DS, --snapshot=DS[@SNAP]
                          what to back up (one of them; @SNAP picks the snapshot,
                          the latest by default)
      --operation=OP      backup (default), list, or what the method offers
  -R, --recursive         the dataset and its descendants (zfs send -R)
  -C, --compressed        compress (gzip; --pigz for pigz, --compress=ALG for
                          gzip, pigz, zstd, lz4, xz; --level=N)
  -E, --encrypted         encrypt: age with --password-file=FILE (scrypt), or
                          --recipient=age1... / --recipients-file=FILE;
                          --cipher=C for the original's openssl enc format
      --hold              after each send, zfs hold the source snapshot the copy
                          ends with (the next base) and release the hold from the
                          one before: no other tool can destroy it meanwhile
      --full              send one full stream of the snapshot, even when an
                          incremental is possible
  -F, --force             let a receive destroy what is on the target (files in
                          a dataset without snapshots, changes since the common
                          snapshot, with -R snapshots the source lacks);
                          without it such a run is refused and says why
      --no-iterate-incrementals
                          one zfs send -I instead of one send per snapshot
      --json              with backup and restore: events on stdout, one JSON
                          object a line (start, snapshot, progress, done,
                          failure, summary)
  -n, --dry-run           print the snapshots that would be sent and each one's
                          pipeline (commands to paste); nothing runs or changes
      --progress          a progress line on stderr (default on a terminal)
  -v, --verbose           say what is sent; with -C, "Compressed X to Y bytes"
  -q, --quiet             nothing on stderr on success (a damaged store is still
                          said)
      --limit-rate=RATE   write at most RATE bytes a second to the target (10M)
      --max-age=DURATION  with status: the newest snapshot must be younger
                          (3600, 30m, 12h, 2d, 1w)
      --debug             stack traces on errors
      --help, --version   (METHOD --help: that method's options)

Methods:
  zfs --dest DATASET      replicate into DATASET on this host; DATASET stands for
                          the source pool's root: --dataset tank/data zfs --dest
                          backup/tank writes backup/tank/data
  directory --dest DIR [--prefix P] [--chunk-size SIZE]
                          chunk files under DIR/P/chunks/ (P: the host name)
                          and DIR/P/map.json; also restore --to POOL/DS
                          [--snapshot S] [-i IDENTITY] [--legacy-md md5|sha256],
                          and verify (re-hash every chunk)
  ssh --dest DATASET --host HOST [--user U] [--port N] [-i FILE]
                          replicate into DATASET on HOST over ssh (-D, -H, -U;
                          HOST may be a Host of ~/.ssh/config; host keys checked
                          against known_hosts, --accept-new-host-key on first
                          use); -C compresses here and decompresses there; also
                          restore --to POOL/DS [--snapshot S]: the remote chain
                          back into a local dataset
  counter (or count)      send the snapshot's full stream through the filters
                          and print its size in bytes and its name (what
                          zb-send ... | wc -c says); nothing is stored

Operations (as a word after the method options, or --operation): backup, list,
status (one line, OK or CRITICAL, exit 0 or 1: for monitoring); directory: also
restore, verify; ssh: also restore; counter: backup only.

Examples:
  zfsbackup --dataset tank/data zfs --dest backup/tank
  zfsbackup --dataset tank/data zfs --dest backup/tank list
  zfsbackup --dataset tank/data -C ssh --dest backup/tank --host nas --user zb
  zfsbackup --dataset tank/data ssh --dest backup/tank --host nas restore --to tank/restored
  zfsbackup --dataset tank/data -C counter
  zfsbackup --dataset tank/data --max-age 2d directory --dest /mnt/usb status
  zfsbackup --dataset tank/data -C -E --password-file pw directory --dest /mnt/usb
  zfsbackup --dataset tank/data --password-file pw directory --dest /mnt/usb \\
      restore --to tank/restored
`;

// `zfsbackup METHOD --help`: that method's help
run(main, (before) => { const at = methodAt(before); return at < 0 ? help : methods[before[at]].help; });
