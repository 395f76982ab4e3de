#!/bin/bash
# The ssh method, to an sshd on the guest's loopback (guest/sshd.sh), bookmarks the base as
# the zfs method does: with the base snapshot pruned, the next run sends from the bookmark
# (--no-iterate-incrementals: the first snapshot alone with -i, since zfs sends -I only from
# a snapshot); a zfs-method target of the same dataset keeps its own bookmark.
. "$(dirname "$0")/common.sh"
. "$REPO/test/platform/guest/sshd.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/data
zfs create "$P"; D=$(mnt "$P")
marks() { zfs list -H -o name -t bookmark -d 1 "$P" | sed 's/.*#//' | LC_ALL=C sort | tr '\n' ' '; }
bytes() { sed -n "s/.*@$1: \([0-9]*\) bytes sent.*/\1/p" <<<"$2"; }
start_sshd
fill "$D"; head -c 12M /dev/urandom > "$D/big.bin"; zfs snapshot "$P@s1"
step "ssh: full, then an incremental (sshd on 127.0.0.1:$SSH_PORT)"
out=$(zfsbackup -v --dataset "$P" ssh --dest "${S}q" --host zbt 2>&1); echo "$out"
FULL=$(bytes s1 "$out"); [ -n "$FULL" ] || fail "no byte count for the full send"
change "$D" 2; zfs snapshot "$P@s2"
zfsbackup -v --dataset "$P" ssh --dest "${S}q" --host zbt 2>&1 | tee "$W/run2"
M=$(marks); [[ $M =~ ^(zfsbackup-[0-9a-f]{12})-s2\ $ ]] || fail "bookmarks: '$M'"
TAG=${BASH_REMATCH[1]}
same_guid "$P@s2" "$P#$TAG-s2"

step "s2 pruned; two new snapshots, --no-iterate-incrementals: -i from the bookmark, then -I"
zfs destroy "$P@s2"
change "$D" 3; zfs snapshot "$P@s3"; change "$D" 4; zfs snapshot "$P@s4"
dry=$(zfsbackup -n --no-iterate-incrementals --dataset "$P" ssh --dest "${S}q" --host zbt); echo "$dry"
grep -qxF "# $P@s3: incremental from $P#$TAG-s2" <<<"$dry" || fail "-n does not show the bookmark base"
grep -qxF "zb-send -i '$P#$TAG-s2' $P@s3 | zb-recv-ssh --host zbt -s $Q" <<<"$dry" || fail "-n pipeline: $dry"
grep -qxF "zb-send -i $P@s3 $P@s4 | zb-recv-ssh --host zbt -s $Q" <<<"$dry" || fail "-n second step: $dry"
out=$(zfsbackup -v --no-iterate-incrementals --dataset "$P" ssh --dest "${S}q" --host zbt 2>&1); echo "$out"
grep -q "sending $P@s3 (incremental from bookmark #$TAG-s2)" <<<"$out" || fail "s3 not sent from the bookmark"
grep -q "sending $P@s4 (incremental from s3)" <<<"$out" || fail "s4 not sent from s3"
INC=$(bytes s3 "$out"); [ -n "$INC" ] && [ "$INC" -lt $((FULL / 5)) ] || fail "from the bookmark: $INC bytes, a full is $FULL"
echo "   from the bookmark: $INC bytes; the full: $FULL"
[ "$(marks)" = "$TAG-s4 " ] || fail "bookmarks: '$(marks)'"
for s in s1 s3 s4; do same_guid "$P@$s" "$Q@$s"; done
[ "$(zb-list -H --host zbt "$Q" | cut -f2 | tr '\n' ' ')" = "$(guid "$P@s1") $(guid "$Q@s2") $(guid "$P@s3") $(guid "$P@s4") " ] || fail "zb-list --host: other guids"
mounted "$Q"
same_tree "$(snapdir "$P@s4")" "$(snapdir "$Q@s4")"

step "a zfs-method target of the same dataset: its own bookmark beside the ssh target's"
zfsbackup --full --dataset "$P" zfs --dest "${S}q/local"   # one full stream of s4
M=$(marks); [[ $M =~ zfsbackup-[0-9a-f]{12}-s4\ zfsbackup-[0-9a-f]{12}-s4\ $ ]] && [[ $M == *"$TAG-s4 "* ]] || fail "two targets: '$M'"
