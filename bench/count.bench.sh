#!/bin/sh
# zb-count vs cat: a 1 GiB zb stream (1 MiB frames) from a temp file through a pipe,
# each stage timed on its own (best of 3); peak RSS of each. Target: >= 0.7x cat.
set -eu
MIB=${BENCH_MIB:-1024}
T=$(mktemp -d "${TMPDIR:-/tmp}/zbbench.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
cat > "$T/gen.mjs" <<'JS'
// N MiB of half-compressible data (512 random bytes, 512 text bytes, repeated),
// as a zb stream in 1 MiB frames when argv[3] is 'zb', else plain.
import { randomFillSync } from 'node:crypto';
import { writeSync } from 'node:fs';
const mib = Number(process.argv[2]), zb = process.argv[3] === 'zb';
const pat = Buffer.alloc(64 << 20);
const text = Buffer.from('the quick brown fox jumps over the lazy dog; zfs send | zb-compress 0123456789\n');
for (let i = 0; i < pat.length; i += 1024) {
  randomFillSync(pat, i, 512);
  for (let j = i + 512; j < i + 1024; j += text.length) text.copy(pat, j, 0, Math.min(text.length, i + 1024 - j));
}
const out = (b) => { for (let o = 0; o < b.length;) o += writeSync(1, b, o, b.length - o); };
if (zb) {
  const json = Buffer.from(JSON.stringify({ filters: [], size: mib * 2 ** 20 }));
  const h = Buffer.alloc(16); h.write('ZBSTREAM'); h.writeUInt32BE(1, 8); h.writeUInt32BE(json.length, 12);
  out(h); out(json);
}
const len = Buffer.alloc(4); len.writeUInt32BE(1 << 20);
for (let i = 0; i < mib; i++) { if (zb) out(len); out(pat.subarray((i % 64) << 20, ((i % 64) + 1) << 20)); }
if (zb) { const e = Buffer.alloc(12); e.writeBigUInt64BE(BigInt(mib) << 20n, 4); out(e); }
JS
node "$T/gen.mjs" "$MIB" zb > "$T/in.zb"
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
