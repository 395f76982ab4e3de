#!/bin/bash
# zb-send -w of an encrypted dataset (encryption=on, keyformat=passphrase): the raw stream
# holds no plain text and is received without the key, full and incremental; after
# `zfs load-key` on the received side every file matches.
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/secret Q=${S}q/secret KEY=$W/key
printf 'platform key %s\n' "$S" > "$KEY"; chmod 600 "$KEY"
zfs create -o encryption=on -o keyformat=passphrase -o "keylocation=file://$KEY" "$P"
D=$(mnt "$P"); fill "$D"; zfs snapshot "$P@s1"
step "zb-send -w $P@s1 | zb-recv $Q"
zb-send -w "$P@s1" | tee "$W/full.zb" | zb-recv "$Q"
header_has "$W/full.zb" '"raw":true' || fail "header does not say raw: $(header "$W/full.zb")"
if grep -aq "hello from $SCEN" "$W/full.zb"; then fail "the raw stream holds plain text"; fi
[ "$(zfs get -H -o value keystatus "$Q")" = unavailable ] || fail "the key of $Q is loaded: not a raw receive"
[ "$(zfs get -H -o value encryption "$Q")" != off ] || fail "$Q is not encrypted"
change "$D" 2; zfs snapshot "$P@s2"
step "zb-send -w -i @s1 $P@s2 | zb-recv $Q (key not loaded)"
zb-send -w -i @s1 "$P@s2" | zb-recv "$Q"
step "zfs load-key, mount, compare"
zfs load-key -L "file://$KEY" "$Q"
mounted "$Q"
same_guid "$P@s1" "$Q@s1"; same_guid "$P@s2" "$Q@s2"
same_tree "$(snapdir "$P@s1")" "$(snapdir "$Q@s1")"
same_tree "$(snapdir "$P@s2")" "$(snapdir "$Q@s2")"
