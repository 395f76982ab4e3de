#!/bin/sh
# zb-chunk-dir (the chunk-store engine over the directory store) against the standard
# tools on the same data in the same run: storing a stream as chunks (sha256 each, fsync,
# map commit) vs `split` + `sha256sum` + `sync`; emitting it back (each chunk read once and
# hashed) vs `cat chunks/* | sha256sum`-less `cat`. Best of 3; peak RSS of each.
# Set BENCH_MIB (default 1024) and BENCH_DIR (default $TMPDIR: put it on the disk to measure).
set -eu
MIB=${BENCH_MIB:-1024}
T=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/zbbench.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
node "$(dirname "$0")/gen.mjs" "$MIB" > "$T/in"
BYTES=$(wc -c < "$T/in")

# best of 3 of a shell command: elapsed s, CPU s, peak RSS KB; $1 runs before each try
best() {
  b=""
  for i in 1 2 3; do
    sh -c "$1"
    /usr/bin/time -f '%e %U %S %M' -o "$T/t" sh -c "$2"
    read -r e u s m < "$T/t"
    if [ -z "$b" ] || [ "$(echo "$e < ${b%% *}" | bc)" = 1 ]; then b="$e $(echo "$u + $s" | bc) $m"; fi
  done
  echo "$b"
}
row() { printf '  %-34s %7.1f MB/s  cpu %5.2f s  peak RSS %4d MiB\n' "$1" "$(echo "$BYTES / 1000000 / $2" | bc -l)" "$3" "$(($4 / 1024))"; }
CLEAN_S="rm -rf '$T/S' && mkdir '$T/S'"; CLEAN_P="rm -rf '$T/P' && mkdir '$T/P'"

echo "chunk store: $MIB MiB plain stream, 256 MiB chunks, best of 3"
set -- $(best "$CLEAN_S" "split -b 256M '$T/in' '$T/S/c.' && sha256sum '$T'/S/c.* > /dev/null && sync"); row 'split + sha256sum + sync' "$@"; RS=$1
set -- $(best "$CLEAN_P" "zb-chunk-dir --dest '$T/P' --prefix P --chunk-size 256M --dataset tank/b --snapshot s < '$T/in'"); row 'zb-chunk-dir (store)' "$@"; ZS=$1
printf '  => store: zb-chunk-dir/(split+sha256sum+sync) throughput %.2f\n' "$(echo "$RS / $ZS" | bc -l)"
set -- $(best "true" "cat '$T'/S/c.* > /dev/null"); row 'cat chunks' "$@"; RC=$1
set -- $(best "true" "sha256sum '$T'/S/c.* > /dev/null"); row 'sha256sum chunks' "$@"; RH=$1
set -- $(best "true" "zb-chunk-dir -d --raw --dest '$T/P' --prefix P tank/b > /dev/null"); row 'zb-chunk-dir -d (read once, verify)' "$@"; ZE=$1
printf '  => emit: zb-chunk-dir -d/cat throughput %.2f, /sha256sum %.2f\n' "$(echo "$RC / $ZE" | bc -l)" "$(echo "$RH / $ZE" | bc -l)"
