#!/bin/bash
# Build (once per machine) everything the OpenZFS guest needs, cached under
# $ZB_OPENZFS_CACHE/KVER-zfs-ZVER (default /var/cache/zfsbackup-openzfs):
#   host packages  qemu-system-x86, dkms, linux-headers-KVER (zfsutils-linux conflicts with
#                  zfs-fuse, so the zfs userland is only unpacked for the guest)
#   modules/       the zfs modules, built by DKMS in a private tree (not via the zfs-dkms
#                  package, whose postinst would hold the dpkg lock for the whole build)
#   kernel/, layers/kernel, layers/zfs, bb/   the unpacked guest kernel, zfs userland, busybox
#   initramfs-HASH.cpio.gz   busybox + virtio/9p/overlay + zfs modules + guest/init
# Every step has a stamp; a second run only checks them. Prints the cache dir on stdout.
set -euo pipefail
. "$(dirname "$0")/env.sh"
T0=$(date +%s); T=$T0
lap() { local n; n=$(date +%s); say "$1: $((n - T)) s"; T=$n; }

mkdir -p "$CACHE_ROOT"
exec 8>"$CACHE_ROOT/.lock"
flock 8                                   # one setup at a time per machine

UPDATED=
apt_update() { [ -n "$UPDATED" ] || { "${APT_GET[@]}" update >&2; UPDATED=1; }; }

# 0. zfs-dkms and zfsutils-linux are in Debian's contrib component, absent from the default
#    sources: add it with the URIs and suites of the existing main sources.
if ! resolve_versions; then
  if [ ! -e /etc/apt/sources.list.d/zb-contrib.sources ]; then
    [ -e /etc/apt/sources.list.d/debian.sources ] ||
      die "no /etc/apt/sources.list.d/debian.sources to derive a contrib source from"
    sed -e 's/^Components:.*/Components: contrib/' /etc/apt/sources.list.d/debian.sources \
      > /etc/apt/sources.list.d/zb-contrib.sources
  fi
  apt_update
  unset KVER ZVER
  resolve_versions || die "cannot resolve the guest kernel (linux-image-amd64) or zfs-dkms version from apt"
fi
say "guest kernel $KVER, zfs $ZVER, cache $C"
mkdir -p "$C/debs"

# 1. host packages
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -f "$C/.module" ] || {
  command -v dkms >/dev/null || need+=(dkms)
  [ -e "/usr/src/linux-headers-$KVER/Makefile" ] || need+=("linux-headers-$KVER")
}
command -v xz >/dev/null || need+=(xz-utils)
command -v depmod >/dev/null || need+=(kmod)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  "${APT_GET[@]}" install "${need[@]}" >&2 || { apt_update; "${APT_GET[@]}" install "${need[@]}" >&2; }
  lap "apt-get install"
fi

fetch() {  # fetch PKG=VER... into $C/debs unless already there
  local missing=() p
  for p in "$@"; do
    ls "$C/debs/${p%%=*}_"*.deb >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  (cd "$C/debs" && { apt-get download "${missing[@]}" || { apt_update; apt-get download "${missing[@]}"; }; }) >&2
}

# 2. the zfs modules, DKMS-built against the guest kernel's headers, in a private dkms tree
if [ ! -f "$C/.module" ]; then
  fetch "zfs-dkms=$ZVER"
  rm -rf "$C/dkms-src" "$C/dkms" "$C/modules.tmp"
  mkdir -p "$C/dkms-src" "$C/dkms" "$C/modules.tmp"
  dpkg -x "$C/debs/zfs-dkms_"*.deb "$C/dkms-src"
  D=(dkms --sourcetree "$C/dkms-src/usr/src" --dkmstree "$C/dkms" -m zfs -v "$ZSRC" -k "$KVER")
  "${D[@]}" add >&2
  # no debug info (the kernel config asks for -g; KCFLAGS comes last): a faster build, and
  # the modules get stripped anyway
  export KCFLAGS=-g0
  say "building the zfs module with DKMS for $KVER (several minutes)"
  "${D[@]}" build >&2 || { cat "$C/dkms/zfs/$ZSRC/build/make.log" >&2 2>/dev/null; die "dkms build failed"; }
  find "$C/dkms/zfs/$ZSRC/$KVER" -name '*.ko' -exec cp {} "$C/modules.tmp/" \;
  strip --strip-debug "$C/modules.tmp/"*.ko      # the guest loads them from the initramfs
  [ -f "$C/modules.tmp/zfs.ko" ] || die "dkms build produced no zfs.ko"
  rm -rf "$C/modules"; mv "$C/modules.tmp" "$C/modules"
  rm -rf "$C/dkms-src" "$C/dkms"
  touch "$C/.module"
  lap "zfs module build"
fi

# 3. guest kernel, zfs userland, static busybox: unpacked, not installed
if [ ! -f "$C/.unpack" ]; then
  fetch "linux-image-$KVER" "zfsutils-linux=$ZVER" "libzfs4linux=$ZVER" "libnvpair3linux=$ZVER" \
    "libuutil3linux=$ZVER" "libzpool5linux=$ZVER" busybox-static
  rm -rf "$C/kernel" "$C/layers" "$C/bb"
  mkdir -p "$C/kernel" "$C/layers/kernel/usr" "$C/layers/zfs" "$C/bb"
  dpkg -x "$C/debs/linux-image-$KVER"_*.deb "$C/kernel"
  mv "$C/kernel/lib" "$C/layers/kernel/usr/lib"           # overlay layer: /usr/lib/modules/$KVER
  M=$C/layers/kernel/usr/lib/modules/$KVER
  mkdir -p "$M/updates/dkms"; cp "$C/modules/"*.ko "$M/updates/dkms/"
  depmod -b "$C/layers/kernel/usr" "$KVER"
  for d in "$C/debs/"lib*linux_*.deb "$C/debs/"zfsutils-linux_*.deb; do dpkg -x "$d" "$C/layers/zfs"; done
  (cd "$C/layers/zfs" && for d in bin sbin lib; do          # merged /usr, like the host
    if [ -d $d ] && [ ! -L $d ]; then mkdir -p usr/$d; cp -a $d/. usr/$d/; rm -rf $d; fi; done)
  dpkg -x "$C/debs/busybox-static_"*.deb "$C/bb"
  # an uncompressed vmlinux boots through PVH, skipping the xz decompression (slow under TCG)
  Z=$C/kernel/boot/vmlinuz-$KVER
  OFF=$(grep -obUaP '\xFD7zXZ\x00' "$Z" | awk -F: 'NR==1{print $1}')
  { tail -c +$((OFF + 1)) "$Z" || true; } | xz -dc --single-stream > "$C/kernel/boot/vmlinux-$KVER.tmp"
  mv "$C/kernel/boot/vmlinux-$KVER.tmp" "$C/kernel/boot/vmlinux-$KVER"
  rm -rf "$C/debs"                                   # unpacked: not needed any more
  touch "$C/.unpack"
  lap "unpack"
fi

# 4. initramfs: keyed by the content of guest/init too, so editing it rebuilds only this step
H=$(sha256sum "$PLATFORM_DIR/guest/init" | cut -c1-12)
I=$C/initramfs-$H.cpio.gz
if [ ! -f "$I" ]; then
  M=$C/layers/kernel/usr/lib/modules/$KVER
  R=$C/initramfs.tmp; rm -rf "$R"
  mkdir -p "$R"/{bin,dev,proc,sys,lower,rw,newroot,mods,zmods,lz,lk}
  cp "$C/bb/bin/busybox" "$R/bin/"; cp "$C/modules/"*.ko "$R/zmods/"
  resolve() { local f d; f=$(find "$M/kernel" -name "$1.ko*" -print -quit)
    [ -n "$f" ] || return 0
    for d in $(modinfo -F depends "$f" | tr , ' '); do resolve "$d"; done; echo "$f"; }
  for m in virtio_pci 9pnet_virtio 9p overlay; do resolve $m; done | awk '!s[$0]++' |
    while read -r f; do
      case $f in *.ko.xz) xz -dc "$f" > "$R/mods/$(basename "$f" .xz)";; *) cp "$f" "$R/mods/";; esac
      basename "$f" .xz
    done > "$R/modlist"
  install -m 755 "$PLATFORM_DIR/guest/init" "$R/init"
  (cd "$R" && find . | "$C/bb/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$I.tmp"
  mv "$I.tmp" "$I"; rm -rf "$R"
  rm -f $(ls "$C"/initramfs-*.cpio.gz | grep -vx "$I") 2>/dev/null || true
  lap "initramfs"
fi
ln -sfn "$(basename "$I")" "$C/initramfs.cpio.gz"
say "setup done in $(( $(date +%s) - T0 )) s"
echo "$C"
