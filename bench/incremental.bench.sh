#!/bin/sh
# The fixed cost of one small incremental on zfs-fuse (root, zfs-fuse running): `zfs send -i |
# zfs receive -F` against `zfsbackup ... zfs --dest` (which first checks that the replica holds
# nothing a receive would lose: on zfs-fuse a snapshot and two clones compared file by file),
# with the replica read between runs (as a person checking a backup does). BENCH_INC_FILES
# (default 2000) small files in the dataset; best of 3, the two taking turns.
set -eu
N=${BENCH_INC_FILES:-2000}
. "$(dirname "$0")/pool.sh"
bench_pool incremental 512
zfs create $P/src
i=0; while [ $i -lt "$N" ]; do echo "file $i" > "$T/mnt/src/f$i"; i=$((i + 1)); done
zfs snapshot $P/src@s0
zfs send $P/src@s0 | zfs receive $P/raw
zfsbackup -q --dataset $P/src zfs --dest $P/zb
t() { /usr/bin/time -f '%e' -o "$T/t" sh -c "$1"; cat "$T/t"; }
min() { echo "if ($1 < $2) $1 else $2" | bc -l; }
A=999; B=999; k=0
for r in 1 2 3; do
  k=$((k + 1)); echo "change $k" > "$T/mnt/src/f1"; zfs snapshot $P/src@s$k
  ls -lR "$T/mnt/raw" "$T/mnt/zb/src" > /dev/null            # the replicas are read
  prev=$((k - 1))
  A=$(min "$A" "$(t "zfs send -i @s$prev $P/src@s$k | zfs receive -F $P/raw")")
  B=$(min "$B" "$(t "zfsbackup -q --dataset $P/src zfs --dest $P/zb")")
done
echo "one small incremental into a replica that was read, $N files, best of 3"
printf '  zfs send -i | zfs receive -F   %6.2f s\n' "$A"
printf '  zfsbackup zfs --dest           %6.2f s\n' "$B"
printf '  => zfsbackup / zfs: %.1fx the time (a fixed cost: process starts, the target check)\n' "$(echo "$B / $A" | bc -l)"
