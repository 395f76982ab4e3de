#!/bin/sh
# zb-encrypt against the age CLI on the same 1 GiB of random data, through pipes
# (cat FILE | STAGE | cat > /dev/null): encryption to an X25519 recipient, and
# decryption with the identity. The runs alternate (age, ours, age, ours, ...) so
# that both see the same machine load; the best of BENCH_RUNS counts. Prints MB/s,
# CPU seconds (user + sys), peak RSS, and the ratios. Not a test: never gates anything.
# BENCH_SIZE_MB (default 1024) and BENCH_RUNS (default 3) adjust it.
set -eu
command -v age >/dev/null || { echo "encrypt.bench: 'age' is not installed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "encrypt.bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
MB=${BENCH_SIZE_MB:-1024}
RUNS=${BENCH_RUNS:-3}
dir=$(mktemp -d "${TMPDIR:-/tmp}/zb-encbench.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
age-keygen -o "$dir/id" 2>/dev/null
key=$(age-keygen -y "$dir/id")
head -c $((MB * 1048576)) /dev/urandom > "$dir/data"
age -r "$key" "$dir/data" > "$dir/data.age"

# once TAG INPUT CMD...: one timed run; appends "TAG wall cpu rss_kib" to $dir/runs
once() {
  tag=$1 in=$2; shift 2
  cat "$in" | /usr/bin/time -f '%e %U %S %M' -o "$dir/t" "$@" | cat > /dev/null
  read -r e u s m < "$dir/t"
  echo "$tag $e $(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }') $m" >> "$dir/runs"
}
: > "$dir/runs"
i=0
while [ $i -lt "$RUNS" ]; do
  once enc-age "$dir/data" age -r "$key"
  once enc-zb "$dir/data" zb-encrypt --raw -r "$key"
  once dec-age "$dir/data.age" age -d -i "$dir/id"
  once dec-zb "$dir/data.age" zb-encrypt -d --raw -i "$dir/id"
  i=$((i + 1))
done

echo "zb-encrypt vs age: $MB MiB of random data, pipes in and out, best of $RUNS alternating runs"
awk -v mb="$MB" '
  { if (!($1 in best) || $2 < best[$1]) { best[$1] = $2; cpu[$1] = $3 } if ($4 > rss[$1]) rss[$1] = $4 }
  END {
    split("enc-age:age -r KEY|enc-zb:zb-encrypt --raw -r KEY|dec-age:age -d -i ID|dec-zb:zb-encrypt -d --raw -i ID", rows, "|")
    for (r = 1; r <= 4; r++) {
      split(rows[r], kv, ":"); t = kv[1]
      rate[t] = mb * 1.048576 / best[t]
      printf "%-30s %6.0f MB/s  %5.2f s  cpu %5.2f s  peak RSS %5.1f MiB\n", kv[2], rate[t], best[t], cpu[t], rss[t] / 1024
    }
    printf "ratio encrypt (zb-encrypt / age): %.2fx\n", rate["enc-zb"] / rate["enc-age"]
    printf "ratio decrypt (zb-encrypt / age): %.2fx\n", rate["dec-zb"] / rate["dec-age"]
  }' "$dir/runs"
