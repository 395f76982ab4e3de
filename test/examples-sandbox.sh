#!/bin/bash
# Runs documented examples verbatim in the world the docs assume (test/examples.test.ts):
#   pools tank (tank/data: snapshots monday, tuesday, daily-1, daily-2, daily-3) and backup;
#   /mnt/usb and /mnt/backup; in /root the passphrase files zb.pass, pw and F, an age key
#   (key.txt, its public key in recipients.txt and /etc/zfsbackup/recipients), data (a file),
#   backup.enc (the original tool's openssl file of tank/data@monday), ssh keys and a
#   known_hosts entry for host nas, AWS credentials; hosts nas and rgw on 127.0.0.1, where
#   an sshd (port 22) and s3rver (port 7480) answer; the host name backup1.
# Everything but the two pools is private: this runs under `unshare -m -n -u` (mounts,
# network, host name of its own), so nothing of the machine's /root, /etc, /mnt, /tmp or
# network is seen or touched.
#   examples-sandbox.sh world WORKDIR        the pools (outside the namespaces: zfs-fuse
#                                            mounts datasets in its own, the machine's)
#   unshare -m --propagation shared -n -u examples-sandbox.sh run WORKDIR SCRIPT MODE REPO
#   examples-sandbox.sh clean WORKDIR
#        MODE: shell (bash -e -o pipefail SCRIPT) or cron (a cron.d file, as cron runs it)
set -euo pipefail
if [ "$1" = clean ]; then   # after a run: the pools, the shared mount
  # (a namespace that just ended may hold the pools' mounts for a moment: "pool is busy")
  # only a pool on this run's image file: never a pool of the machine's that has these names
  ours() { zpool status "$1" 2>/dev/null | grep -qF "$2/$1.img"; }
  for p in tank backup; do
    for i in $(seq 50); do ours "$p" "$2" || break; zpool destroy -f "$p" 2>/dev/null || sleep 0.2; done
  done
  umount -l "$2" 2>/dev/null || true
  ! ours tank "$2" && ! ours backup "$2" || { echo "sandbox: cannot destroy the pools tank, backup" >&2; exit 1; }
  exit 0
fi
if [ "$1" = world ]; then
  W=$2
  # WORKDIR a shared mount, a peer of the namespace's: zfs-fuse mounts a dataset out here
  # (its daemon does) but the zfs command unmounts it where it runs; both must reach both
  mount --bind "$W" "$W"; mount --make-shared "$W"
  for p in tank backup; do truncate -s 320M "$W/$p.img"; zpool create -f -m "$W/mnt/$p" "$p" "$W/$p.img"; done
  zfs create tank/data
  D=$W/mnt/tank/data
  head -c 1M /dev/urandom > "$D/random.bin"; seq 1 100000 > "$D/numbers.txt"; zfs snapshot tank/data@monday
  head -c 300K /dev/urandom > "$D/tuesday.bin"; zfs snapshot tank/data@tuesday
  for i in 1 2 3; do echo "day $i" > "$D/day.txt"; head -c 100K /dev/urandom >> "$D/random.bin"; zfs snapshot "tank/data@daily-$i"; done
  exit 0
fi
W=$2 EX=$3 MODE=$4 REPO=$5
BIN=$REPO/dist/bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# first, let go of the copies of other pools' zfs-fuse mounts this namespace was born with
# (while they are held here, zpool destroy of those pools says "pool is busy")
awk '$3 ~ /^fuse/ { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
  m=$(printf '%b' "$m"); case $m in "$W"/*) ;; *) umount -l "$m" ;; esac
done
export TMPDIR=$W/tmp   # zfsbackup's comparison clones are mounted by zfs-fuse: where both see them
mkdir -p "$TMPDIR"
ip link set lo up
hostname backup1
# private /tmp, /mnt, /run/lock, /root; /etc as an overlay (writes stay in $W)
mkdir -p "$W/repo"; mount --bind "$REPO" "$W/repo"   # the repo may live under /tmp
mount -t tmpfs tmpfs /tmp
mkdir -p "$REPO"; mount --bind "$W/repo" "$REPO"
mount -t tmpfs tmpfs /mnt; mkdir /mnt/usb /mnt/backup
mount -t tmpfs tmpfs /run/lock
mount -t tmpfs tmpfs /root
mkdir -p "$W/etc-up" "$W/etc-work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/etc-up,workdir=$W/etc-work" /etc
echo '127.0.0.1 nas rgw' >> /etc/hosts

# /root
cd /root
printf 'correct horse battery staple\n' > zb.pass; cp zb.pass pw; cp zb.pass F; chmod 600 zb.pass pw F
age-keygen -o key.txt 2>/dev/null; age-keygen -y key.txt > recipients.txt
mkdir -p /etc/zfsbackup; cp recipients.txt /etc/zfsbackup/recipients
head -c 200K /dev/urandom > data; seq 1 20000 >> data
zfs send tank/data@monday | openssl enc -aes-256-cbc -salt -md md5 -pass file:F > backup.enc 2>/dev/null
mkdir -m 700 .ssh .aws
ssh-keygen -q -t ed25519 -N '' -f .ssh/id_ed25519; ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' > .aws/credentials
printf '[default]\nregion = us-east-1\n' > .aws/config

# sshd on nas:22, s3rver on rgw:7480, stopped when this ends
pids=()
trap 'set +e; for p in "${pids[@]}"; do pkill -KILL -P "$p"; kill -KILL "$p"; done 2>/dev/null' EXIT
cp .ssh/id_ed25519.pub "$W/authorized_keys"
mkdir -p /run/sshd
cat > "$W/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port 22
HostKey $W/host_key
AuthorizedKeysFile $W/authorized_keys
PidFile $W/sshd.pid
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin yes
LogLevel ERROR
SetEnv PATH=/usr/local/bin:/usr/bin:/bin
EOF
/usr/sbin/sshd -D -e -f "$W/sshd_config" 2> "$W/sshd.log" & pids+=($!)
node --openssl-legacy-provider "$REPO/node_modules/s3rver/bin/s3rver.js" -d /tmp/s3 -a 127.0.0.1 -p 7480 -s --no-vhost-buckets > "$W/s3rver.log" 2>&1 & pids+=($!)
for i in $(seq 100); do
  ssh-keyscan -p 22 127.0.0.1 >/dev/null 2>&1 && grep -q listening "$W/s3rver.log" && break
  [ "$i" = 100 ] && { echo "sandbox: sshd or s3rver did not start: $(cat "$W/sshd.log" "$W/s3rver.log")" >&2; exit 1; }
  sleep 0.1
done
echo "nas $(cut -d' ' -f1,2 "$W/host_key.pub")" > .ssh/known_hosts

case $MODE in
  shell) PATH=$BIN:$PATH bash -e -o pipefail "$EX" ;;
  cron)  # a cron.d file: NAME=value lines set the environment (/usr/local/bin: where zb is,
         # here $BIN), each job line runs with sh -c in cron's bare environment
    env=(HOME=/root SHELL=/bin/sh PATH=/usr/bin:/bin "TMPDIR=$TMPDIR")   # TMPDIR: see above
    while IFS= read -r l; do
      case $l in
        ''|'#'*) ;;
        [A-Z]*=*) env+=("${l//\/usr\/local\/bin/$BIN}") ;;
        *) read -r _ _ _ _ _ user cmd <<< "$l"; [ "$user" = root ] || { echo "sandbox: not a cron.d line: $l" >&2; exit 2; }
           env -i "${env[@]}" sh -c "$cmd" ;;
      esac
    done < "$EX" ;;
esac
