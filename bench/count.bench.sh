#!/bin/sh
# zb-count vs cat: a 1 GiB zb stream (1 MiB frames) from a temp file through a pipe,
# each stage timed on its own (best of 3); peak RSS of each. Target: >= 0.7x cat.
set -eu
MIB=${BENCH_MIB:-1024}
T=$(mktemp -d "${TMPDIR:-/tmp}/zbbench.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
node "$(dirname "$0")/gen.mjs" "$MIB" zb > "$T/in.zb"
BYTES=$(wc -c < "$T/in.zb")

# best of 3: the middle stage's elapsed s, CPU s and peak RSS KB
best() {
  b=""
  for i in 1 2 3; do
    cat "$T/in.zb" | /usr/bin/time -f '%e %U %S %M' -o "$T/t" "$@" | cat > /dev/null
    read -r e u s m < "$T/t"
    if [ -z "$b" ] || [ "$(echo "$e < ${b%% *}" | bc)" = 1 ]; then b="$e $(echo "$u + $s" | bc) $m"; fi
  done
  echo "$b"
}
row() { printf '  %-12s %7.1f MB/s  cpu %5.2f s  peak RSS %4d MiB\n' "$1" "$(echo "$BYTES / 1000000 / $2" | bc -l)" "$3" "$(($4 / 1024))"; }

echo "count: $MIB MiB zb stream, pipe in and out, best of 3"
set -- $(best cat); row cat "$@"; R=$1
set -- $(best zb-count -q); row zb-count "$@"
printf '  => zb-count/cat throughput %.2f  (target >= 0.70; RSS <= 100 MiB)\n' "$(echo "$R / $1" | bc -l)"
