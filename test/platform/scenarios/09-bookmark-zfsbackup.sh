#!/bin/bash
# zfsbackup's zfs method bookmarks the base: after each send a bookmark of the snapshot the
# target ends with (DS#zfsbackup-HEX-SNAP, one per target, the older one destroyed). With the
# base snapshot pruned on the source, the next run sends incrementally from that bookmark
# (-n shows it; far fewer bytes than a full). Attacks: our bookmark deleted by hand (falls back
# to a common snapshot, or refuses), a bookmark with our name and a guid the target lacks
# (ignored, left alone), two targets of one dataset (each keeps its own); a bookmark zfs
# refuses (a warning: the copy is complete).
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/data Q2=${S}q/two/data
zfs create "$P"; D=$(mnt "$P")
marks() { zfs list -H -o name -t bookmark -d 1 "$P" | sed 's/.*#//' | LC_ALL=C sort | tr '\n' ' '; }
marks_are() { [ "$(marks)" = "$(printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ')" ] || fail "bookmarks: '$(marks)', not '$*'"; }
bytes() { sed -n "s/.*@$1: \([0-9]*\) bytes sent.*/\1/p" <<<"$2"; }
fill "$D"; head -c 20M /dev/urandom > "$D/big.bin"; zfs snapshot "$P@s1"
step "full, then an incremental: a bookmark of the last snapshot each time"
out=$(zfsbackup -v --dataset "$P" zfs --dest "${S}q" 2>&1); echo "$out"
FULL=$(bytes s1 "$out"); [ -n "$FULL" ] || fail "no byte count for the full send"
M1=$(marks); [[ $M1 =~ ^(zfsbackup-[0-9a-f]{12})-s1\ $ ]] || fail "bookmarks after the full: '$M1'"
TAG=${BASH_REMATCH[1]}
same_guid "$P@s1" "$P#$TAG-s1"
change "$D" 2; zfs snapshot "$P@s2"
zfsbackup -v --dataset "$P" zfs --dest "${S}q" 2>&1 | tee "$W/run2"
grep -q "bookmarked $P@s2 as $P#$TAG-s2 (destroyed $P#$TAG-s1)" "$W/run2" || fail "no bookmark line"
marks_are "$TAG-s2"

step "s2 pruned on the source: -n shows the bookmark base; the run sends from it"
zfs destroy "$P@s2"
change "$D" 3; zfs snapshot "$P@s3"
dry=$(zfsbackup -n --dataset "$P" zfs --dest "${S}q"); echo "$dry"
grep -qx "# $P@s3: incremental from $P#$TAG-s2" <<<"$dry" || fail "-n does not show the bookmark base"
grep -qxF "zb-send -i '$P#$TAG-s2' $P@s3 | zb-recv -s $Q" <<<"$dry" || fail "-n pipeline: $dry"
out=$(zfsbackup -v --dataset "$P" zfs --dest "${S}q" 2>&1); echo "$out"
grep -q "sending $P@s3 (incremental from bookmark #$TAG-s2)" <<<"$out" || fail "not sent from the bookmark"
INC=$(bytes s3 "$out"); [ -n "$INC" ] && [ "$INC" -lt $((FULL / 5)) ] || fail "from the bookmark: $INC bytes, a full is $FULL"
echo "   from the bookmark: $INC bytes; the full: $FULL"
same_guid "$P@s3" "$Q@s3"; mounted "$Q"
same_tree "$(snapdir "$P@s3")" "$(snapdir "$Q@s3")"
marks_are "$TAG-s3"

step "a bookmark with our name whose guid the target lacks: not a base, left alone"
change "$D" 4; zfs snapshot "$P@x"; zfs bookmark "$P@x" "$P#$TAG-x"; zfs destroy "$P@x"
change "$D" 5; zfs snapshot "$P@s5"
out=$(zfsbackup -v --dataset "$P" zfs --dest "${S}q" 2>&1); echo "$out"
grep -q "sending $P@s5 (incremental from s3)" <<<"$out" || fail "the base is not s3"
marks_are "$TAG-x" "$TAG-s5"   # ours of s3 gone; the one of x, whose guid the target lacks, left
same_guid "$P@s5" "$Q@s5"
zfs destroy "$P#$TAG-x"

step "two targets of one dataset: each keeps its own bookmark"
zfsbackup --dataset "$P" zfs --dest "${S}q/two"
TAG2=$(marks | tr ' ' '\n' | grep -v "^$TAG-" | sed 's/-s5$//')
[[ $TAG2 =~ ^zfsbackup-[0-9a-f]{12}$ ]] || fail "two targets: '$(marks)'"
marks_are "$TAG-s5" "$TAG2-s5"
change "$D" 6; zfs snapshot "$P@s6"
zfsbackup --dataset "$P" zfs --dest "${S}q"
marks_are "$TAG2-s5" "$TAG-s6"
zfs destroy "$P@s5"
out=$(zfsbackup -v --dataset "$P" zfs --dest "${S}q/two" 2>&1); echo "$out"
grep -q "sending $P@s6 (incremental from bookmark #$TAG2-s5)" <<<"$out" || fail "the second target did not use its bookmark"
same_guid "$P@s6" "$Q2@s6"
marks_are "$TAG-s6" "$TAG2-s6"

step "our bookmark deleted by hand, its snapshot still there: the snapshot is the base"
zfs destroy "$P#$TAG-s6"
change "$D" 7; zfs snapshot "$P@s7"
out=$(zfsbackup -v --dataset "$P" zfs --dest "${S}q" 2>&1); echo "$out"
grep -q "sending $P@s7 (incremental from s6)" <<<"$out" || fail "not from s6"
step "our bookmark deleted by hand and its snapshot pruned: refused, nothing sent"
zfs destroy "$P@s7"; zfs destroy "$P#$TAG-s7"
change "$D" 8; zfs snapshot "$P@s8"
before=$(zfs list -H -o name,guid -t snapshot -r "$Q")
set +e; out=$(zfsbackup --dataset "$P" zfs --dest "${S}q" 2>&1); st=$?; set -e
echo "   $out"
[ "$st" = 1 ] || fail "exit $st"
grep -q "has snapshots newer than the common one 's6' that the source lacks (s7)" <<<"$out" || fail "message: $out"
[ "$(zfs list -H -o name,guid -t snapshot -r "$Q")" = "$before" ] || fail "the target changed"
zfs destroy "$P@s6"; zfs destroy "$P#$TAG2-s6"
set +e; out=$(zfsbackup --dataset "$P" zfs --dest "${S}q/two" 2>&1); st=$?; set -e
echo "   $out"
[ "$st" = 1 ] && grep -q "has snapshots newer than the common one 's3' that the source lacks (s5, s6)" <<<"$out" || fail "exit $st: $out"
zfs destroy "$P@s1"; zfs destroy "$P@s3"
set +e; out=$(zfsbackup --dataset "$P" zfs --dest "${S}q/two" 2>&1); st=$?; set -e
echo "   $out"
[ "$st" = 1 ] && grep -q "has snapshots but none in common with '$P'" <<<"$out" || fail "no common base: exit $st: $out"

step "a bookmark zfs refuses (its name too long): a warning, the copy complete, exit 0"
L=${S}p/long LONG=$(printf 'x%.0s' $(seq 230))
zfs create "$L"; zfs snapshot "$L@$LONG"
out=$(zfsbackup --dataset "$L" zfs --dest "${S}q" 2>&1); echo "   ${out:0:240}..."
grep -q "warning: no bookmark of $L@$LONG (the next base, should the snapshot go): " <<<"$out" || fail "no warning: $out"
same_guid "$L@$LONG" "${S}q/long@$LONG"
