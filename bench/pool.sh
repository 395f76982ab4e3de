# Sourced by the benches that need zfs-fuse: bench_pool NAME MIB skips the bench (exit 0)
# when no zfs-fuse runs, else makes pool $P of MIB MiB on a sparse file in the temp dir $T,
# mounted at $T/mnt, destroyed (and $T removed) on exit.
bench_pool() {
  command -v zpool >/dev/null && pgrep -x zfs-fuse >/dev/null || { echo "$1: skipped (no zfs-fuse running)"; exit 0; }
  T=$(mktemp -d "${TMPDIR:-/tmp}/zbbench.XXXXXX"); P=zb$1$$
  trap 'cd /; zpool destroy -f $P 2>/dev/null; rm -rf "$T"' EXIT INT TERM
  truncate -s "$2"M "$T/pool.img"
  zpool create -m "$T/mnt" "$P" "$T/pool.img"
}
