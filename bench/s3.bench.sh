#!/bin/sh
# zb-chunk-s3 vs rclone on the same s3rver (loopback), same run: upload (zb-chunk-s3 <
# file vs rclone rcat) and download (zb-chunk-s3 -d --raw vs rclone cat) of BENCH_MIB
# (default 1024) MiB of random data, elapsed and peak RSS of each, as ratios; and the download
# against rclone doing the same work (hashsum sha256 --download) (BENCH_S3=rgw: on a
# single-node Ceph radosgw instead, test/ceph-rgw.sh). Also the
# peak RSS of zb-chunk-s3 at BENCH_BIG_MIB (e.g. 4096) when set. Target: >= 1.0x rclone.
set -eu
cd "$(dirname "$0")/.."
MIB=${BENCH_MIB:-1024}
T=$(mktemp -d "${TMPDIR:-/tmp}/zbbench.XXXXXX")
if [ "${BENCH_S3:-s3rver}" = rgw ]; then   # Ceph radosgw (test/ceph-rgw.sh: memstore, single node)
  trap 'bash test/ceph-rgw.sh stop "$T/ceph"; rm -rf "$T"' EXIT INT TERM
  mkdir -p "$T/ceph"; URL=$(bash test/ceph-rgw.sh start "$T/ceph" 46789 46790)
  export AWS_ACCESS_KEY_ID=TESTAK AWS_SECRET_ACCESS_KEY=TESTSECRET AWS_REGION=us-east-1
else
  node --openssl-legacy-provider node_modules/s3rver/bin/s3rver.js -d "$T/s3" -a 127.0.0.1 -p 0 -s > "$T/srv" 2>&1 &
  SRV=$!
  trap 'kill $SRV 2>/dev/null; rm -rf "$T"' EXIT INT TERM
  i=0; until grep -q listening "$T/srv" || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done
  URL=http://$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$T/srv")
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
fi
unset AWS_CA_BUNDLE   # plain http on loopback; rclone 1.60 fails on a bundle it cannot load
export RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT=$URL RCLONE_CONFIG_B_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
  RCLONE_CONFIG_B_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_B_FORCE_PATH_STYLE=true
rclone mkdir b:bench
head -c $((MIB << 20)) /dev/urandom > "$T/in"
BYTES=$(wc -c < "$T/in")
t() { /usr/bin/time -f '%e %M' -o "$T/t" sh -c "$1"; cat "$T/t"; }
row() { printf '  %-28s %7.1f MB/s  peak RSS %4d MiB\n' "$1" "$(echo "$BYTES / 1000000 / $2" | bc -l)" "$(($3 / 1024))"; }
echo "s3: $MIB MiB to and from ${BENCH_S3:-s3rver} on $URL"
set -- $(t "rclone rcat b:bench/rc < $T/in"); row "rclone rcat" "$@"; RU=$1
set -- $(t "zb-chunk-s3 --bucket bench --server $URL --prefix zb --no-glacier --dataset t/d --snapshot s < $T/in"); row "zb-chunk-s3 (8M x 4 parts)" "$@"; ZU=$1
set -- $(t "rclone cat b:bench/rc > /dev/null"); row "rclone cat" "$@"; RD=$1
set -- $(t "zb-chunk-s3 -d --raw --bucket bench --server $URL --prefix zb t/d > /dev/null"); row "zb-chunk-s3 -d --raw" "$@"; ZD=$1
# the same work as zb-chunk-s3 -d, which checks every chunk's sha256 before its end leaves
set -- $(t "rclone hashsum sha256 --download b:bench/rc > /dev/null"); row "rclone hashsum sha256 --download" "$@"; RH=$1
printf '  => upload zb-chunk-s3/rclone %.2f, download %.2f  (target >= 1.00)\n' "$(echo "$RU / $ZU" | bc -l)" "$(echo "$RD / $ZD" | bc -l)"
printf '  => download with its sha256 checked, zb-chunk-s3 -d / rclone hashsum --download: %.2f\n' "$(echo "$RH / $ZD" | bc -l)"
if [ -n "${BENCH_BIG_MIB:-}" ]; then
  head -c $((BENCH_BIG_MIB << 20)) /dev/urandom | /usr/bin/time -f '%e %M' -o "$T/t" \
    zb-chunk-s3 --bucket bench --server $URL --prefix big --no-glacier --dataset t/d --snapshot s
  read -r e m < "$T/t"; echo "  zb-chunk-s3 at $BENCH_BIG_MIB MiB: peak RSS $((m / 1024)) MiB (stated bound: 120 MiB + 8M x 6 = 168 MiB)"
fi
