# Sourced by every scenario; runs INSIDE the OpenZFS guest (bash, root). Pools live on sparse
# files in a tmpfs (/pools); each scenario makes its own, named after its number, and keeps
# its files in its own work dir $W: scenarios may run side by side.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
export PATH=$REPO/dist/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SCEN=$(basename "$0" .sh)
S=s${SCEN%%-*}                         # pool names and work dir: s01, s02, ...
mountpoint -q /pools || { echo "no tmpfs on /pools: not in the test guest?" >&2; exit 1; }
W=/pools/$S; rm -rf "$W"; mkdir -p "$W"
T0=${EPOCHREALTIME/./}

step() { local t=$(( ${EPOCHREALTIME/./} - T0 )); printf '== %3d.%d s  %s\n' $((t / 1000000)) $((t / 100000 % 10)) "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# mkpool NAME [SIZE]: a pool on a sparse file in $W, mounted under /pools/mnt/NAME
mkpool() {
  truncate -s "${2:-512M}" "$W/$1.img"
  zpool create -f -m "/pools/mnt/$1" "$1" "$W/$1.img"
}

# fill DIR: a small tree of incompressible and compressible files (about 6 MiB)
fill() {
  mkdir -p "$1/sub/deeper"
  head -c 3M /dev/urandom > "$1/random.bin"
  head -c 1M /dev/urandom > "$1/sub/one.bin"
  seq 1 150000 > "$1/sub/numbers.txt"
  echo "hello from $SCEN" > "$1/sub/deeper/hello.txt"
  : > "$1/empty"
}

# change DIR N: modify, add and remove files (the N-th generation)
change() {
  head -c 512K /dev/urandom >> "$1/random.bin"
  head -c 700K /dev/urandom > "$1/new-$2.bin"
  echo "generation $2" > "$1/sub/deeper/hello.txt"
  rm -f "$1/sub/one.bin"
}

# sums DIR: "sha256  path" of every regular file, sorted (the .zfs directory skipped)
sums() { (cd "$1" && find . -name .zfs -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum); }

mnt() { zfs get -H -o value mountpoint "$1"; }
mounted() { [ "$(zfs get -H -o value mounted "$1")" = yes ] || zfs mount "$1"; }
snapdir() { echo "$(mnt "${1%@*}")/.zfs/snapshot/${1#*@}"; }
guid() { zfs get -H -p -o value guid "$1"; }

# same_tree A B: every file's sha256 equal, and the tree not empty
same_tree() {
  local a b
  a=$(sums "$1"); b=$(sums "$2")
  [ -n "$a" ] || fail "no files under $1"
  [ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b") >&2 || true; fail "$2 differs from $1"; }
  echo "   $(echo "$a" | wc -l) files identical: $1 = $2"
}

# same_guid A B: two snapshots (or a snapshot and a bookmark) are the same
same_guid() {
  local a b; a=$(guid "$1"); b=$(guid "$2")
  [ "$a" = "$b" ] || fail "guid of $2 ($b) is not that of $1 ($a)"
}

# header FILE: the JSON metadata of a zb stream (magic, u32 version, u32 length, JSON)
header() {
  [ "$(head -c 8 "$1")" = ZBSTREAM ] || fail "$1 is not a zb stream"
  local n; n=$(od -An -tu4 --endian=big -j12 -N4 "$1" | tr -d ' ')
  head -c $((16 + n)) "$1" | tail -c "$n"
}

# header_has FILE REGEX: the header matches (grep -E on a captured copy: no early-exit pipe)
header_has() { local h; h=$(header "$1"); grep -Eq "$2" <<<"$h"; }
