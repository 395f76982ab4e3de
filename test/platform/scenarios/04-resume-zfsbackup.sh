#!/bin/bash
# An incremental receive cut mid-stream (token on the target), then a plain
# `zfsbackup ... zfs --dest` run picks the token up and completes the backup.
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/data               # where zfsbackup --dest ${S}q puts it
zfs create "$P"; D=$(mnt "$P")
fill "$D"; zfs snapshot "$P@s1"
step "full: zb-send | zb-recv"
zb-send "$P@s1" | zb-recv -s "$Q"
same_guid "$P@s1" "$Q@s1"
change "$D" 2; head -c 20M /dev/urandom > "$D/big.bin"; zfs snapshot "$P@s2"
FULL=$(zb-send -i @s1 "$P@s2" | wc -c); CUT=$((FULL / 2))
step "zb-send -i @s1 $P@s2 | head -c $CUT | zb-recv -s $Q (cut, of $FULL)"
set +e
zb-send -i @s1 "$P@s2" | head -c "$CUT" | zb-recv -s "$Q"
st=("${PIPESTATUS[@]}"); set -e
[ "${st[2]}" -ne 0 ] || fail "zb-recv exited 0 on a cut stream"
TOKEN=$(zfs get -H -o value receive_resume_token "$Q")
[ "$TOKEN" != - ] || fail "no receive_resume_token on $Q after the cut"
step "zfsbackup --dataset $P zfs --dest ${S}q (resumes)"
zfsbackup --dataset "$P" zfs --dest "${S}q"
[ "$(zfs get -H -o value receive_resume_token "$Q")" = - ] || fail "token still set after zfsbackup"
same_guid "$P@s2" "$Q@s2"
mounted "$Q"
same_tree "$(snapdir "$P@s2")" "$(snapdir "$Q@s2")"
