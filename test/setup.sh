#!/bin/sh
# Install and start what the tests need: zfs-fuse, the reference CLIs, sshd, mandoc, perl
# (the pipe-size test; the code only uses it when it is there), unshare and ip (the examples
# test runs the documented examples in a namespace of their own).
# Idempotent; installs only what is missing (Debian/Ubuntu only).
set -eu
need=""
for pair in zfs:zfs-fuse zfs-fuse:zfs-fuse age:age openssl:openssl gzip:gzip pigz:pigz zstd:zstd \
            xz:xz-utils lz4:lz4 mandoc:mandoc sshd:openssh-server ssh-keygen:openssh-client pv:pv python3:python3 perl:perl-base \
            bzip2:bzip2 ip:iproute2 unshare:util-linux flock:util-linux; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done
# S3 interop and bench: Debian's aws (by path: a pyenv or pip aws may shadow it) and rclone
[ -x /usr/bin/aws ] || need="$need awscli"
[ -x /usr/bin/rclone ] || need="$need rclone"
[ -x /usr/bin/curl ] || need="$need curl"   # test/ceph-rgw.sh
if [ -n "$need" ]; then
  if [ -f /etc/debian_version ]; then
    echo "setup: installing$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
  else
    echo "setup: missing$need (install them; only Debian is automated)" >&2; exit 1
  fi
fi
# sshd (the ssh tests start their own on 127.0.0.1) needs its privilege separation directory
mkdir -p /run/sshd
# zfs-fuse: one daemon for the machine; pools are made unique per test.
# A pidfile left by a daemon that was killed (a machine stop, a container restart) makes
# zfs-fuse exit 1 without a word, so it goes first.
if ! pgrep -x zfs-fuse >/dev/null 2>&1; then
  rm -f /var/run/zfs-fuse.pid
  PATH=$PATH:/usr/sbin /usr/sbin/zfs-fuse --pidfile /var/run/zfs-fuse.pid ||
    { echo "setup: zfs-fuse did not start (exit $?)" >&2; exit 1; }
  i=0; until zpool list >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done
fi
echo "setup: zfs-fuse running (pid $(pgrep -x zfs-fuse | head -1))"
