#!/bin/bash
# PID 1 of the OpenZFS test guest (the host's bash, through the 9p root). Waits for the zfs
# module, announces "ready" in the shared folder, then runs queued commands:
#   queue/ID.cmd (bash script) [+ ID.in stdin]  ->  ID.out, ID.err, then ID.rc (exit status)
# A file "poweroff" in the shared folder powers the guest off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
for a in $(</proc/cmdline); do case $a in share=*) SHARE=${a#share=};; esac; done
mkdir -p /dev/pts /dev/shm /tmp /var/tmp
mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mkdir -p /pools; mount -t tmpfs -o size=60% tmpfs /pools   # the scenarios' pool files
hostname zfsguest
mkfifo /run/tick; exec 9<>/run/tick          # read -t on it = sleep without forking
for _ in $(seq 600); do
  [ "$(cat /sys/module/zfs/initstate 2>/dev/null)" = live ] && break; read -t 0.05 -u 9 _
done
[ -e /dev/zfs ] || modprobe zfs
if [ -e /dev/zfs ]; then ZFS=ok; else ZFS=fail; fi
Q=$SHARE/queue; mkdir -p "$Q"; read -r UP _ </proc/uptime
echo "zfs=$ZFS uptime=$UP" > "$SHARE/ready.tmp"; mv "$SHARE/ready.tmp" "$SHARE/ready"
while :; do
  for c in "$Q"/*.cmd; do
    [ -e "$c" ] || continue
    id=${c%.cmd}; mv "$c" "$id.run" || continue
    ( in=/dev/null; [ -e "$id.in" ] && in=$id.in
      bash "$id.run" <"$in" >"$id.out" 2>"$id.err"; echo $? >"$id.rc.tmp"; mv "$id.rc.tmp" "$id.rc" ) &
  done
  if [ -e "$SHARE/poweroff" ]; then sync; echo o > /proc/sysrq-trigger; sleep 10; fi
  read -t 0.1 -u 9 _
done
