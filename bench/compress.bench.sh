#!/bin/sh
# zb-compress vs the real CLI doing the same work (same level and threads) on 1 GiB
# of half-compressible data, pipe in and out: zstd -1 -T0, pigz -6 (all cores), and
# zstd -d. zb-compress reads a zb stream (1 MiB frames), the CLI the plain data.
# Each figure is the best of BENCH_RUNS runs (default 3), the two commands compared
# taking turns. Peak RSS is that of the stage's largest process (node or its
# compressor). Target: >= 0.95x the CLI. A fixed cost counts against zb-compress at these
# speeds: node's start, mkfifo, and perl (pipe sizes, framing) are ~0.2 s of a 1.3 s
# zstd -1 run ('fixed cost' shows it), so the ratio grows with the stream: BENCH_MIB=4096
# for a figure nearer to a real backup's.
# BENCH_GZIP=1 adds gzip -6: Node's zlib (the default) vs the gzip binary.
set -eu
MIB=${BENCH_MIB:-1024}
RUNS=${BENCH_RUNS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/zbbench.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
node "$(dirname "$0")/gen.mjs" "$MIB" > "$T/in"
node "$(dirname "$0")/gen.mjs" "$MIB" zb > "$T/in.zb"
BYTES=$(wc -c < "$T/in")

# One run of the middle stage: "elapsed-s cpu-s (its children included) peak-RSS-KB out-bytes"
once() {
  src=$1; shift
  cat "$src" | /usr/bin/time -f '%e %U %S %M' -o "$T/t" "$@" | wc -c > "$T/n"
  read -r e u s m < "$T/t"
  echo "$e $(echo "$u + $s" | bc) $m $(cat "$T/n")"
}
# Runs of two commands interleaved (the load of a shared machine drifts), best of each:
# sets A and B to "elapsed cpu rss out". Usage: pair SRC-A 'CMD A' SRC-B 'CMD B'
pair() {
  A=""; B=""; i=0
  while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    a=$(once "$1" sh -c "exec $2"); b=$(once "$3" sh -c "exec $4")
    if [ -z "$A" ] || [ "$(echo "${a%% *} < ${A%% *}" | bc)" = 1 ]; then A=$a; fi
    if [ -z "$B" ] || [ "$(echo "${b%% *} < ${B%% *}" | bc)" = 1 ]; then B=$b; fi
  done
}
row() { # label secs cpu rss outbytes
  printf '  %-34s %7.1f MB/s  cpu %6.2f s  ratio %.3f  peak RSS %4d MiB\n' "$1" \
    "$(echo "$BYTES / 1000000 / $2" | bc -l)" "$3" "$(echo "$5 / $BYTES" | bc -l)" "$(($4 / 1024))"
}
# label-A label-B: print both rows and B's throughput relative to A
report() {
  row "$1" $A; row "$2" $B
  printf '  => %s / %s throughput: %.2f\n' "$2" "$1" "$(echo "${A%% *} / ${B%% *}" | bc -l)"
}

echo "compress: $MIB MiB half-compressible, pipe in and out, best of $RUNS interleaved runs"
echo "(target: zb-compress >= 0.95x the CLI; 'cat | CLI | cat' shows what one more stage costs)"
node "$(dirname "$0")/gen.mjs" 1 zb > "$T/one.zb"; head -c 1048576 "$T/in" > "$T/one"
pair "$T/one" 'zstd -q -c -1 -T0' "$T/one.zb" 'zb-compress --zstd -l 1 -T 0'
FA=${A%% *}; FB=${B%% *}
printf '  fixed cost (1 MiB, best of %s): zstd -1 -T0 %s s, zb-compress %s s\n' "$RUNS" "$FA" "$FB"
pair "$T/in" 'zstd -q -c -1 -T0' "$T/in.zb" 'zb-compress --zstd -l 1 -T 0'
report 'zstd -1 -T0' 'zb-compress --zstd -l 1 -T 0'
printf '  => the same without each side'"'"'s fixed cost (streams of many GiB): %.2f\n' \
  "$(echo "(${A%% *} - $FA) / (${B%% *} - $FB)" | bc -l)"
pair "$T/in" 'zstd -q -c -1 -T0' "$T/in" "sh -c 'cat | zstd -q -c -1 -T0 | cat'"
report 'zstd -1 -T0' 'cat | zstd -1 -T0 | cat'
pair "$T/in" 'zstd -q -c -T0' "$T/in.zb" 'zb-compress --zstd -T 0'
report 'zstd -T0 (level 3)' 'zb-compress --zstd -T 0 (level 3)'
zstd -q -c -1 -T0 < "$T/in" > "$T/in.zst"
zb-compress --zstd -l 1 < "$T/in.zb" > "$T/in.zst.zb"
pair "$T/in.zst" 'zstd -q -d -c' "$T/in.zst.zb" 'zb-compress -d'
report 'zstd -d' 'zb-compress -d (zstd)'
pair "$T/in.zst" 'zstd -q -d -c' "$T/in.zst" "sh -c 'cat | zstd -q -d -c | cat'"
report 'zstd -d' 'cat | zstd -d | cat'
rm -f "$T/in.zst" "$T/in.zst.zb"
pair "$T/in" 'pigz -c -6' "$T/in.zb" 'zb-compress --pigz -l 6'
report 'pigz -6 (all cores)' 'zb-compress --pigz -l 6'
if [ "${BENCH_GZIP:-0}" = 1 ]; then
  pair "$T/in" 'gzip -c -6' "$T/in.zb" 'zb-compress --gzip'
  report 'gzip -6' 'zb-compress --gzip (Node zlib)'
  pair "$T/in" 'gzip -c -6' "$T/in.zb" 'zb-compress --gzip --program gzip'
  report 'gzip -6' 'zb-compress --gzip --program gzip'
fi
