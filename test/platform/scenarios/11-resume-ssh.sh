#!/bin/bash
# Resume over ssh: an incremental of tens of MiB through the ssh method (zb-recv-ssh, zfs
# receive -s on the remote) is cut by killing sshd mid-stream: zfsbackup fails naming
# zb-recv-ssh, nothing is received, the target has a receive_resume_token. The next run
# says it resumes (zfs send -t), sends fewer bytes than the whole incremental, completes.
. "$(dirname "$0")/common.sh"
. "$REPO/test/platform/guest/sshd.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/data
zfs create "$P"; D=$(mnt "$P")
start_sshd
fill "$D"; zfs snapshot "$P@s1"
step "ssh: full (sshd on 127.0.0.1:$SSH_PORT)"
zfsbackup --dataset "$P" ssh --dest "${S}q" --host zbt
change "$D" 2; head -c 40M /dev/urandom > "$D/big.bin"; zfs snapshot "$P@s2"
WHOLE=$(zfs send -nvP -i @s1 "$P@s2" | awk '$1 == "size" {print $2}')
step "incremental of $WHOLE bytes at 1 MB/s; sshd killed mid-stream"
set +e
zfsbackup --limit-rate 1M --dataset "$P" ssh --dest "${S}q" --host zbt 2> "$W/cut.err" &
run=$!
for _ in $(seq 600); do pgrep -f "^([^ ]*/)?zfs receive -s $Q\$" >/dev/null && break; sleep 0.1; done
pgrep -f "^([^ ]*/)?zfs receive -s $Q\$" >/dev/null || fail "no zfs receive started: $(cat "$W/cut.err")"
sleep 15
kill_sshd
wait $run; st=$?; set -e
cat "$W/cut.err"
[ "$st" != 0 ] || fail "zfsbackup exited 0 after sshd was killed"
grep -q "zb-recv-ssh" "$W/cut.err" || fail "the failure does not name zb-recv-ssh"
zfs list -H -o name "$Q@s2" 2>/dev/null && fail "s2 received although cut"
TOKEN=$(zfs get -H -o value receive_resume_token "$Q")
[ "$TOKEN" != - ] || fail "no receive_resume_token on $Q after the cut"
step "sshd again: the next run resumes from the token"
start_sshd
out=$(zfsbackup -v --dataset "$P" ssh --dest "${S}q" --host zbt 2>&1); echo "$out"
grep -q "resuming the interrupted receive into $Q (zfs send -t)" <<<"$out" || fail "it does not say it resumes"
N=$(sed -n "s|.*resumed into $Q: \([0-9]*\) bytes sent.*|\1|p" <<<"$out")
[ -n "$N" ] && [ "$N" -lt "$WHOLE" ] || fail "the resume sent '$N' bytes, the whole incremental is $WHOLE"
echo "   resumed: $N bytes of $WHOLE"
[ "$(zfs get -H -o value receive_resume_token "$Q")" = - ] || fail "token still set"
same_guid "$P@s2" "$Q@s2"
mounted "$Q"
same_tree "$(snapdir "$P@s2")" "$(snapdir "$Q@s2")"
