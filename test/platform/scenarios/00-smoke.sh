#!/bin/bash
# Harness smoke test: OpenZFS 2.x userland and module, file-backed pools, zfs send | receive.
. "$(dirname "$0")/common.sh"
step "zfs version"
zfs version
V=$(zfs version); grep -q '^zfs-kmod-2\.' <<<"$V" || fail "no OpenZFS 2.x kernel module"
mkpool "${S}p"; mkpool "${S}q"
zfs create "${S}p/data"; fill "$(mnt "${S}p/data")"; zfs snapshot "${S}p/data@one"
step "zfs send | zfs receive"
zfs send "${S}p/data@one" | zfs receive "${S}q/copy"
mounted "${S}q/copy"
same_tree "$(snapdir "${S}p/data@one")" "$(mnt "${S}q/copy")"
same_guid "${S}p/data@one" "${S}q/copy@one"
step "capabilities the lib probes"
L=$(zfs list -Hp -o name,used "${S}p/data"); grep -q "^${S}p/data	[0-9]*$" <<<"$L" || fail "list -Hp: $L"
E=$(zfs send -nvP "${S}p/data@one"); grep -q '^size' <<<"$E" || fail "send -nvP has no size line"
zfs bookmark "${S}p/data@one" "${S}p/data#one" && same_guid "${S}p/data@one" "${S}p/data#one"
step "node runs in the guest"
node --version
