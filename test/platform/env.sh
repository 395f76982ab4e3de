# Sourced by the platform-test scripts (bash). Names the guest kernel, the zfs version and the
# per-machine cache directory that holds everything built from them.
#   ZB_OPENZFS_CACHE  cache root (default /var/cache/zfsbackup-openzfs)
#   KVER, ZVER        guest kernel and Debian zfs-linux version (default: the candidates of
#                     linux-image-amd64 and zfs-dkms in Debian's bookworm main/contrib)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
PLATFORM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$PLATFORM_DIR/../.." && pwd)
CACHE_ROOT=${ZB_OPENZFS_CACHE:-/var/cache/zfsbackup-openzfs}
APT_GET=(apt-get -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends)

say() { printf '%s\n' "platform: $*" >&2; }
die() { say "$*"; exit 1; }

# The key of the cache: guest kernel + zfs version, resolved from the local apt lists
# (no network). Sets KVER, ZVER, ZSRC (upstream version), C (the cache dir). apt-cache
# parses every list (seconds), so the answer is kept in $CACHE_ROOT/versions, valid while
# the apt lists and sources are unchanged.
resolve_versions() {
  local out fp= f k z
  if [ -z "${KVER:-}" ] || [ -z "${ZVER:-}" ]; then
    fp=$(stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* /etc/apt/sources.list.d/* 2>/dev/null | sha256sum | cut -c1-16)
    if [ -f "$CACHE_ROOT/versions" ]; then
      read -r f k z < "$CACHE_ROOT/versions" || true
      if [ "$f" = "$fp" ]; then KVER=${KVER:-$k}; ZVER=${ZVER:-$z}; fi
    fi
  fi
  # read whole outputs: an early exit of the reader would fail the pipe under pipefail
  if [ -z "${KVER:-}" ]; then
    out=$(apt-cache depends linux-image-amd64 2>/dev/null) || out=
    KVER=$(awk '/Depends: linux-image-[0-9]/ && !k {sub(/.*linux-image-/, ""); k = $0} END {print k}' <<<"$out")
  fi
  if [ -z "${ZVER:-}" ]; then
    out=$(apt-cache policy zfs-dkms 2>/dev/null) || out=
    ZVER=$(awk '/Candidate: [0-9]/ && !v {v = $2} END {print v}' <<<"$out")
  fi
  [ -n "$KVER" ] && [ -n "$ZVER" ] || return 1
  if [ -n "$fp" ] && [ -d "$CACHE_ROOT" ]; then echo "$fp $KVER $ZVER" > "$CACHE_ROOT/versions"; fi
  ZSRC=${ZVER%%-*}
  C=$CACHE_ROOT/$KVER-zfs-$ZVER
  export KVER ZVER ZSRC C
}
