#!/bin/bash
# Boot the OpenZFS guest in the background and wait until its zfs module is live.
#   test/platform/boot.sh [RUNDIR]      (RUNDIR default: a new /var/tmp/zb-openzfs-run.XXXXXX)
# Prints RUNDIR on stdout; pass it to gexec and stop.sh as ZB_GUEST=RUNDIR. Needs setup.sh
# to have run (C = its cache dir, or resolved from apt). Environment: MEM (MiB, 3072),
# SMP (2), BOOT_TIMEOUT (s, 180), QEMU_EXTRA (qemu arguments), KERNEL_EXTRA (kernel arguments).
set -euo pipefail
. "$(dirname "$0")/env.sh"
[ -n "${C:-}" ] || resolve_versions || die "cannot resolve KVER/ZVER: run setup.sh"
[ -f "$C/initramfs.cpio.gz" ] && [ -f "$C/kernel/boot/vmlinux-$KVER" ] || die "no guest in $C: run setup.sh"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: run setup.sh"
R=${1:-$(mktemp -d /var/tmp/zb-openzfs-run.XXXXXX)}
mkdir -p "$R"; R=$(cd "$R" && pwd)
rm -rf "$R/share"; mkdir -p "$R/share/queue"
t0=$(date +%s.%N)
qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max -smp "${SMP:-2}" -m "${MEM:-3072}" \
  -nodefaults -no-reboot -display none -monitor none -serial "file:$R/console.log" \
  -kernel "$C/kernel/boot/vmlinux-$KVER" -initrd "$C/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet cryptomgr.notests ${KERNEL_EXTRA:-} share=$R/share stage2=$PLATFORM_DIR/guest/stage2.sh" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs "local,path=$C/layers/zfs,mount_tag=zfslayer,security_model=passthrough,readonly=on" \
  -virtfs "local,path=$C/layers/kernel,mount_tag=kernlayer,security_model=passthrough,readonly=on" \
  -virtfs "local,path=$R/share,mount_tag=work,security_model=passthrough" \
  ${QEMU_EXTRA:-} </dev/null >"$R/qemu.log" 2>&1 &
echo $! > "$R/qemu.pid"
n=$(( ${BOOT_TIMEOUT:-180} * 10 ))
for _ in $(seq "$n"); do
  if [ -e "$R/share/ready" ]; then
    say "guest ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s ($(cat "$R/share/ready"))"
    if grep -q zfs=ok "$R/share/ready"; then echo "$R"; exit 0; fi
    break
  fi
  kill -0 "$(cat "$R/qemu.pid")" 2>/dev/null || break
  sleep 0.1
done
say "guest failed to boot (log in $R)"; cat "$R/qemu.log" >&2; tail -30 "$R/console.log" >&2
kill "$(cat "$R/qemu.pid")" 2>/dev/null || true
exit 1
