#!/bin/bash
# zfsbackup's directory method with compression and encryption (-C -E): full + incremental
# into a directory, chunks not readable as plain text, then `restore --to` a new dataset.
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data DIR=$W/backup PW=$W/passphrase
mkdir -p "$DIR"
printf 'platform passphrase %s\n' "$S" > "$PW"; chmod 600 "$PW"
zfs create "$P"; D=$(mnt "$P")
fill "$D"; zfs snapshot "$P@s1"
step "zfsbackup --dataset $P -C -E directory --dest $DIR (full)"
zfsbackup --dataset "$P" -C -E --password-file "$PW" directory --dest "$DIR"
change "$D" 2; zfs snapshot "$P@s2"
step "zfsbackup --dataset $P -C -E directory --dest $DIR (incremental)"
zfsbackup --dataset "$P" -C -E --password-file "$PW" directory --dest "$DIR"
find "$DIR" -type f | sort
ls "$DIR"/*/map.json >/dev/null || fail "no DIR/PREFIX/map.json"
n=$(find "$DIR" -path '*/chunks/*' -type f | wc -l)
[ "$n" -ge 2 ] || fail "expected chunks of two snapshots, found $n chunk files"
if [ "$(find "$DIR" -path '*/chunks/*' -type f -exec cat {} + | grep -ac 'hello from')" != 0 ]; then
  fail "the chunks hold plain text: not encrypted"
fi
step "zfsbackup --dataset $P directory --dest $DIR restore --to ${S}q/restored"
zfsbackup --dataset "$P" --password-file "$PW" directory --dest "$DIR" restore --to "${S}q/restored"
R=$(zfs list -H -o name -t snapshot -r "${S}q/restored" | awk '/@s2$/ && !r {r = $0} END {print r}')
[ -n "$R" ] || fail "no @s2 under ${S}q/restored"
echo "   restored $R"
same_guid "$P@s2" "$R"
mounted "${R%@*}"
same_tree "$(snapdir "$P@s2")" "$(snapdir "$R")"
