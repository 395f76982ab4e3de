#!/bin/bash
# The incremental base is a bookmark whose snapshot was destroyed: `-i '#a'` and
# `--from DS#b` both send, the header names the bookmark's guid, the target matches.
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/x
zfs create "$P"; D=$(mnt "$P")
fill "$D"; zfs snapshot "$P@a"; zfs bookmark "$P@a" "$P#a"
step "full @a"
zb-send "$P@a" | zb-recv "$Q"
zfs destroy "$P@a"
change "$D" 2; zfs snapshot "$P@b"
step "zb-send -i '#a' $P@b | zb-recv $Q"
zb-send -i '#a' "$P@b" | tee "$W/b.zb" | zb-recv "$Q"
header_has "$W/b.zb" "\"base\":\\{\"name\":\"#a\",\"guid\":\"$(guid "$P#a")\"" || fail "header has not the bookmark's guid: $(header "$W/b.zb")"
same_guid "$P@b" "$Q@b"
mounted "$Q"
same_tree "$(snapdir "$P@b")" "$(snapdir "$Q@b")"
zfs bookmark "$P@b" "$P#b"; zfs destroy "$P@b"
change "$D" 3; zfs snapshot "$P@c"
step "zb-send --from $P#b $P@c | zb-recv $Q"
zb-send --from "$P#b" "$P@c" | zb-recv "$Q"
same_guid "$P@c" "$Q@c"
same_tree "$(snapdir "$P@c")" "$(snapdir "$Q@c")"
