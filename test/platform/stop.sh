#!/bin/bash
# Power the guest off (clean sysrq poweroff; kill qemu after 10 s).  ZB_GUEST=RUNDIR stop.sh
set -u
R=${1:-${ZB_GUEST:?ZB_GUEST=RUNDIR or an argument}}
[ -f "$R/qemu.pid" ] || exit 0
pid=$(cat "$R/qemu.pid")
touch "$R/share/poweroff" 2>/dev/null
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$R/qemu.pid"; exit 0; }; sleep 0.1; done
kill "$pid" 2>/dev/null; sleep 0.5; kill -9 "$pid" 2>/dev/null; rm -f "$R/qemu.pid"; exit 0
