#!/bin/bash
# -R --hold on OpenZFS, two targets of one dataset and a child made later: each target's tag
# on its base in every child (zfs holds -r), the tag released from the older base, a held
# child snapshot cannot be destroyed. OpenZFS's zfs release -r fails as a whole when a child
# lacks the snapshot and the tag is not there: zfsbackup then releases one by one.
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data
zfs create "$P"; zfs create "$P/k"; fill "$(mnt "$P/k")"
# holds SNAP: "dataset:tag ..." of every hold on SNAP and its children's SNAP, sorted
holds() { zfs holds -H -r "$P@$1" | awk '{sub(/@.*/, "", $1); sub(/.*\//, "", $1); print $1 ":" $2}' | LC_ALL=C sort | tr '\n' ' '; }
tag() { sed -n 's/.*zfs hold \(zfsbackup-[0-9a-f]*\)).*/\1/p' <<<"$1" | head -1; }
zfs snapshot -r "$P@a"
step "-R --hold to two targets"
A=$(tag "$(zfsbackup -v -R --hold --dataset "$P" zfs --dest "${S}q/A" 2>&1)")
B=$(tag "$(zfsbackup -v -R --hold --dataset "$P" zfs --dest "${S}q/B" 2>&1)")
[ -n "$A" ] && [ -n "$B" ] && [ "$A" != "$B" ] || fail "tags: '$A' '$B'"
exp() { printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' '; }
[ "$(holds a)" = "$(exp "data:$A" "data:$B" "k:$A" "k:$B")" ] || fail "holds on @a: $(holds a)"
step "a child made, @b: A moves on"
zfs create "$P/n"; fill "$(mnt "$P/n")"; zfs snapshot -r "$P@b"
zfsbackup -R --hold --dataset "$P" zfs --dest "${S}q/A"
[ "$(holds b)" = "$(exp "data:$A" "k:$A" "n:$A")" ] || fail "holds on @b: $(holds b)"
[ "$(holds a)" = "$(exp "data:$B" "k:$B")" ] || fail "holds on @a: $(holds a)"
zfs destroy "$P/n@b" 2>/dev/null && fail "a held child snapshot was destroyed"
step "@c: A again (its tag released from @b; @a, which n lacks and A no longer holds, is skipped)"
zfs snapshot -r "$P@c"
zfsbackup -R --hold --dataset "$P" zfs --dest "${S}q/A"
[ "$(holds c)" = "$(exp "data:$A" "k:$A" "n:$A")" ] || fail "holds on @c: $(holds c)"
[ "$(holds b)" = "" ] || fail "holds on @b: $(holds b)"
[ "$(holds a)" = "$(exp "data:$B" "k:$B")" ] || fail "holds on @a: $(holds a)"
zfs destroy -r "$P@b"
zfs destroy "$P/k@a" 2>/dev/null && fail "B's base was destroyed"
step "B moves on from @a to @c"
zfsbackup -R --hold --dataset "$P" zfs --dest "${S}q/B"
[ "$(holds c)" = "$(exp "data:$A" "data:$B" "k:$A" "k:$B" "n:$A" "n:$B")" ] || fail "holds on @c: $(holds c)"
[ "$(holds a)" = "" ] || fail "holds on @a: $(holds a)"
for t in A B; do for c in k n; do
  same_guid "$P/$c@c" "${S}q/$t/data/$c@c"; mounted "${S}q/$t/data/$c"
  same_tree "$(snapdir "$P/$c@c")" "$(snapdir "${S}q/$t/data/$c@c")"
done; done
step "-R with only a bookmark in common: refused, saying zfs cannot send -R from one"
zfs release -r "$A" "$P@c"; zfs release -r "$B" "$P@c"
zfs bookmark "$P@c" "$P#c"; zfs destroy -r "$P@a"; zfs destroy -r "$P@c"; zfs snapshot -r "$P@d"
set +e; out=$(zfsbackup -R --dataset "$P" zfs --dest "${S}q/A" 2>&1); st=$?; set -e
echo "   $out"
[ "$st" = 1 ] && grep -q "only one that is the source's bookmark '$P#c', and zfs cannot send -R from a bookmark" <<<"$out" || fail "exit $st: $out"
