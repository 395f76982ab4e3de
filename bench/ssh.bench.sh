#!/bin/sh
# zb-send | zb-recv-ssh against zfs send | ssh HOST zfs receive (OpenSSH, aes128-gcm, as ssh2
# is asked for first) on loopback, both into a zfs-fuse pool through an sshd started here.
# Two more rows split the difference: zb-send | ssh HOST zb-recv (this build's zb-recv, on
# loopback: the same zb work at both ends, OpenSSH's transport instead of ssh2's), and
# zfs send | ssh HOST 'cat > /dev/null' (the transport alone: what zfs-fuse's receive
# leaves of it); and zfs send | zb-recv-ssh (a plain stream, through the shell's 64 KiB
# pipe, which zb-recv-ssh enlarges). BENCH_SSH_MIB (default 1024) of half-compressible data;
# BENCH_SSH_RUNS rounds (default 9) after an untimed one, each timing every row, the first
# two in alternating order; each row end to end (start-up, connection, lookups and all), its
# median shown, and every round's ratio of zb to OpenSSH, and their median. A loaded machine
# moves all of them: on this 2-core VM the same build's median has ranged over +-0.05.
set -eu
MIB=${BENCH_SSH_MIB:-1024}; RUNS=${BENCH_SSH_RUNS:-9}
command -v /usr/sbin/sshd >/dev/null || { echo "ssh: skipped (no sshd)"; exit 0; }
. "$(dirname "$0")/pool.sh"
bench_pool ssh $((MIB * 3 + 256))
mkdir -p /run/sshd "$T/home/.ssh"; chmod 755 "$T"
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"; ssh-keygen -q -t ed25519 -N '' -f "$T/home/.ssh/id_ed25519"
cp "$T/home/.ssh/id_ed25519.pub" "$T/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'ListenAddress 127.0.0.1\nHostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\nPidFile %s/sshd.pid\nStrictModes no\nPasswordAuthentication no\nUsePAM no\nPermitRootLogin yes\nLogLevel ERROR\n' "$T" "$T" "$T" > "$T/sshd_config"
/usr/sbin/sshd -f "$T/sshd_config" -p "$PORT"
# zfs-fuse says "pool is busy" for a while after use: retried
trap 'kill $(cat "$T/sshd.pid") 2>/dev/null; cd /; for i in 1 2 3 4 5 6 7 8 9 10; do zpool destroy $P 2>/dev/null && break; sleep 0.5; done; rm -rf "$T"' EXIT INT TERM
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_key.pub")" > "$T/home/.ssh/known_hosts"
export HOME="$T/home" SSH_AUTH_SOCK=
SSH="ssh -p $PORT -i $T/home/.ssh/id_ed25519 -o UserKnownHostsFile=$T/home/.ssh/known_hosts -o BatchMode=yes -c aes128-gcm@openssh.com root@127.0.0.1"
zfs create $P/src
node "$(dirname "$0")/gen.mjs" "$MIB" > "$T/mnt/src/data"
zfs snapshot $P/src@s
BYTES=$(zfs send $P/src@s | wc -c)

t() { /usr/bin/time -f '%e %U %S' -o "$T/t" sh -c "$1"; read -r e u s < "$T/t"; echo "$e $(echo "$u + $s" | bc)"; }
drop() { for j in 1 2 3 4 5 6 7 8 9 10; do zfs list $P/dst >/dev/null 2>&1 || return 0; zfs destroy -r $P/dst 2>/dev/null || sleep 0.5; done; }
run() { r=$(t "$2"); drop; eval "$1=\"\$$1 $r\""; }   # run VAR CMD: appends "elapsed cpu" to VAR
A=""; B=""; C=""; D=""; E=""
# one untimed round of the two first: the first runs of a fresh pool and sshd were the slow
# ones (round 1's ratio was 1.3 to 1.4, every other round's 0.75 to 1.0)
W=""; run W "zfs send $P/src@s | $SSH /usr/sbin/zfs receive $P/dst"; run W "zb-send $P/src@s | zb-recv-ssh --host 127.0.0.1 --port $PORT --user root $P/dst"
for i in $(seq "$RUNS"); do
  a="zfs send $P/src@s | $SSH /usr/sbin/zfs receive $P/dst"
  b="zb-send $P/src@s | zb-recv-ssh --host 127.0.0.1 --port $PORT --user root $P/dst"
  if [ $((i % 2)) = 1 ]; then run A "$a"; run B "$b"; else run B "$b"; run A "$a"; fi
  run C "zb-send $P/src@s | $SSH $(command -v zb-recv) $P/dst"
  run D "zfs send $P/src@s | $SSH 'cat > /dev/null'"
  run E "zfs send $P/src@s | zb-recv-ssh --host 127.0.0.1 --port $PORT --user root $P/dst"
done
# field k (1 elapsed, 2 cpu) of every run of a row, one a line; med: the median of lines
each() { echo "$1" | xargs -n 2 | cut -d' ' -f"$2"; }
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
row() { printf '  %-36s %7.1f MB/s  local cpu %5.2f s\n' "$1" "$(echo "$BYTES / 1000000 / $(each "$2" 1 | med)" | bc -l)" "$(each "$2" 2 | med)"; }
echo "ssh: $MIB MiB over loopback into zfs-fuse, median of $RUNS rounds"
row 'zfs send | ssh zfs receive' "$A"
row 'zb-send | zb-recv-ssh' "$B"
row 'zb-send | ssh zb-recv' "$C"
row 'zfs send | ssh cat > /dev/null' "$D"
row 'zfs send | zb-recv-ssh' "$E"
each "$A" 1 > "$T/a"; each "$B" 1 > "$T/b"
R=$(paste -d' ' "$T/a" "$T/b" | awk '{ printf "%.2f\n", $1 / $2 }')
printf '  => zb-send|zb-recv-ssh / zfs send|ssh zfs receive throughput, each round: %s\n' "$(echo $R)"
printf '  => median: %.2f (target >= 0.9)\n' "$(echo "$R" | med)"
printf '  => zb-recv-ssh / ssh zb-recv (ssh2 against OpenSSH, the same zb stages): %.2f\n' "$(echo "$(each "$C" 1 | med) / $(each "$B" 1 | med)" | bc -l)"
printf '  => zfs send|zb-recv-ssh / zfs send|ssh zfs receive: %.2f\n' "$(echo "$(each "$A" 1 | med) / $(each "$E" 1 | med)" | bc -l)"
printf '  => zfs receive over ssh / the transport alone: %.2f (zfs-fuse is the bound when low)\n' "$(echo "$(each "$D" 1 | med) / $(each "$A" 1 | med)" | bc -l)"
