#!/bin/bash
# What zfs-fuse cannot show of "nothing on a target is destroyed without --force": the
# `written` property and .zfs/snapshot comparisons of OpenZFS, and a partial receive
# (receive_resume_token) on a restore's target.
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/data DIR=$W/backup
mkdir -p "$DIR"
zfs create "$P"; D=$(mnt "$P")
fill "$D"; zfs snapshot "$P@s1"
step "zfsbackup --dataset $P zfs --dest ${S}q (full)"
zfsbackup --dataset "$P" zfs --dest "${S}q"
[ "$(zfs get -H -p -o value written "$Q")" = 0 ] || fail "a fresh replica has written != 0"

# read only: written > 0 (atime), the .zfs/snapshot comparison finds nothing: received into
cat "$(mnt "$Q")/sub/numbers.txt" > /dev/null; ls -laR "$(mnt "$Q")" > /dev/null; sync
change "$D" 2; head -c 20M /dev/urandom > "$D/big.bin"; zfs snapshot "$P@s2"
step "replica read (written=$(zfs get -H -p -o value written "$Q")): the incremental goes in"
zfsbackup --dataset "$P" zfs --dest "${S}q"
same_guid "$P@s2" "$Q@s2"

# changed: refused, the change survives, --force discards it
echo precious > "$(mnt "$Q")/precious"; sync
change "$D" 3; zfs snapshot "$P@s3"
step "replica changed: refused"
set +e; out=$(zfsbackup --dataset "$P" zfs --dest "${S}q" 2>&1); st=$?; set -e
echo "   $out"
[ "$st" = 1 ] || fail "exit $st, not 1, for a changed replica"
grep -q "was changed since its snapshot 's2' ('precious' added)" <<<"$out" || fail "message: $out"
[ -f "$(mnt "$Q")/precious" ] || fail "the change was lost"
zfs list -H -o name "$Q@s3" 2>/dev/null && fail "s3 received although refused"
step "replica changed: --force rolls it back"
zfsbackup --force --dataset "$P" zfs --dest "${S}q"
same_guid "$P@s3" "$Q@s3"
[ ! -e "$(mnt "$Q")/precious" ] || fail "--force kept the change"

# a restore whose target holds a partial receive is refused, naming the way out
zfsbackup --dataset "$P" directory --dest "$DIR" --prefix P
R=${S}q/restored
zb-chunk-dir -d --dest "$DIR" --prefix P "$P@s1" | zb-recv "$R"
FULL=$(zb-chunk-dir -d --dest "$DIR" --prefix P --raw "$P@s2" | wc -c)
set +e
zb-chunk-dir -d --dest "$DIR" --prefix P "$P@s2" | head -c $((FULL / 2)) | zb-recv -s "$R" 2>/dev/null
set -e
[ "$(zfs get -H -o value receive_resume_token "$R")" != - ] || fail "no receive_resume_token after the cut"
step "restore into a target with a partial receive: refused"
set +e; out=$(zfsbackup --dataset "$P" directory --dest "$DIR" --prefix P restore --to "$R" 2>&1); st=$?; set -e
echo "   $out"
[ "$st" = 1 ] || fail "exit $st for a target with a partial receive"
grep -q "holds a partial receive .*zfs receive -A $R" <<<"$out" || fail "message: $out"
zfs receive -A "$R"
step "after zfs receive -A, the restore goes on from s1"
zfsbackup --dataset "$P" directory --dest "$DIR" --prefix P restore --to "$R"
same_guid "$P@s3" "$R@s3"
mounted "$R"
same_tree "$(snapdir "$P@s3")" "$(snapdir "$R@s3")"
