#!/bin/bash
# zb-send puts zfs send -nvP's size estimate in the header (full and incremental), and
# zb-count shows percent from it (JSON events and the progress line).
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/copy
zfs create "$P"; D=$(mnt "$P")
fill "$D"; head -c 8M /dev/urandom > "$D/big.bin"; zfs snapshot "$P@s1"
est() { zfs send -nvP "$@" | awk '$1 == "size" {print $2}'; }
field() { grep -o "\"$1\":[0-9.]*" | tail -1 | cut -d: -f2; }
E1=$(est "$P@s1")
echo "   zfs send -nvP $P@s1: size $E1"
step "zb-send $P@s1 | zb-count --json F --progress"
zb-send "$P@s1" | zb-count --json "$W/count.json" --progress --interval 0.2 --name s1 2>"$W/progress.txt" > "$W/s1.zb"
header "$W/s1.zb"; echo
header_has "$W/s1.zb" "\"size\":$E1[,}]" || fail "header size is not the zfs send -nvP estimate $E1"
cat "$W/count.json"
LAST=$(grep '"event":"progress"' "$W/count.json" | tail -1)
[ "$(echo "$LAST" | field size)" = "$E1" ] || fail "zb-count's size is not $E1: $LAST"
PC=$(echo "$LAST" | field percent)
BYTES=$(grep '"event":"done"' "$W/count.json" | field bytes)
echo "   payload $BYTES bytes, estimate $E1, zb-count says $PC %"
awk -v p="$PC" 'BEGIN{exit !(p >= 90 && p <= 100)}' || fail "percent at the end is $PC, not about 100"
grep -q "s1: .*%" <<<"$(tr '\r' '\n' < "$W/progress.txt")" || fail "the progress line shows no percent: $(cat "$W/progress.txt")"
change "$D" 2; zfs snapshot "$P@s2"
E2=$(est -i @s1 "$P@s2")
step "zb-send -i @s1 $P@s2: header size = $E2"
zb-send -i @s1 "$P@s2" > "$W/s2.zb"
header_has "$W/s2.zb" "\"size\":$E2[,}]" || fail "incremental header size is not $E2: $(header "$W/s2.zb")"
step "receive both, compare"
zb-recv "$Q" < "$W/s1.zb"
zb-recv "$Q" < "$W/s2.zb"
mounted "$Q"
same_guid "$P@s2" "$Q@s2"
same_tree "$(snapdir "$P@s1")" "$(snapdir "$Q@s1")"
same_tree "$(snapdir "$P@s2")" "$(snapdir "$Q@s2")"
