#!/bin/sh
# zb-send vs zfs send and zb-recv vs zfs receive on a zfs-fuse pool (root, zfs-fuse
# running): BENCH_SEND_MIB (default 1024) of half-compressible data, one snapshot.
# send: the stream through a pipe to cat > /dev/null; receive: from a file into a new
# dataset (destroyed between runs). Best of 3, the two taking turns. zfs-fuse itself is
# the slow part here, so these ratios say whether we add a cost, not what OpenZFS does.
set -eu
MIB=${BENCH_SEND_MIB:-1024}
. "$(dirname "$0")/pool.sh"
bench_pool sendrecv $((MIB * 3 + 256))
zfs create $P/src
node "$(dirname "$0")/gen.mjs" "$MIB" > "$T/mnt/src/data"
zfs snapshot $P/src@s
zfs create $P/tiny && echo tiny > "$T/mnt/tiny/f" && zfs snapshot $P/tiny@s
zfs send $P/src@s > "$T/s.zfs"
zb-send $P/src@s > "$T/s.zb"
BYTES=$(wc -c < "$T/s.zfs")

t() { /usr/bin/time -f '%e %U %S %M' -o "$T/t" sh -c "$1"; read -r e u s m < "$T/t"; echo "$e $(echo "$u + $s" | bc) $m"; }
best() { # 'CMD A' 'CMD B' [cleanup]: sets A and B to "elapsed cpu rss", best of 3 interleaved
  A=""; B=""
  for i in 1 2 3; do
    a=$(t "$1"); ${3:-true}; b=$(t "$2"); ${3:-true}
    if [ -z "$A" ] || [ "$(echo "${a%% *} < ${A%% *}" | bc)" = 1 ]; then A=$a; fi
    if [ -z "$B" ] || [ "$(echo "${b%% *} < ${B%% *}" | bc)" = 1 ]; then B=$b; fi
  done
}
row() { printf '  %-22s %7.1f MB/s  cpu %5.2f s  peak RSS %4d MiB\n' "$1" "$(echo "$BYTES / 1000000 / $2" | bc -l)" "$3" "$(($4 / 1024))"; }
report() { row "$1" $A; row "$2" $B; printf '  => %s / %s throughput: %.2f\n' "$2" "$1" "$(echo "${A%% *} / ${B%% *}" | bc -l)"; }

echo "send/receive: $MIB MiB on zfs-fuse, best of 3 interleaved runs"
best "zfs send $P/tiny@s > /dev/null" "zb-send $P/tiny@s > /dev/null"
printf '  fixed cost (a one-file snapshot): zfs send %s s, zb-send %s s\n' "${A%% *}" "${B%% *}"
best "zfs send $P/src@s | cat > /dev/null" "zb-send $P/src@s | cat > /dev/null"
report 'zfs send' 'zb-send'
drop() { zfs destroy -r $P/dst 2>/dev/null || true; }
best "zfs receive $P/dst < $T/s.zfs" "zb-recv $P/dst < $T/s.zb" drop
report 'zfs receive' 'zb-recv'
