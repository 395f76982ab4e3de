#!/bin/bash
# zfsbackup's zfs method: a full run, two more snapshots, an incremental run; every file of
# the newest snapshot identical on the target, older snapshots kept (same guid).
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/copy/data        # --dest stands for the source pool's root
zfs create "$P"; D=$(mnt "$P")
fill "$D"; zfs snapshot "$P@s1"
step "zfsbackup --dataset $P zfs --dest ${S}q/copy (full)"
zfsbackup --dataset "$P" zfs --dest "${S}q/copy"
same_guid "$P@s1" "$Q@s1"
mounted "$Q"
same_tree "$(snapdir "$P@s1")" "$(snapdir "$Q@s1")"
change "$D" 2; zfs snapshot "$P@s2"
change "$D" 3; zfs snapshot "$P@s3"
step "zfsbackup --dataset $P zfs --dest ${S}q/copy (incremental)"
zfsbackup --dataset "$P" zfs --dest "${S}q/copy"
same_guid "$P@s3" "$Q@s3"
same_guid "$P@s1" "$Q@s1"
same_tree "$(snapdir "$P@s3")" "$(snapdir "$Q@s3")"
zfs list -H -t snapshot -o name,guid -r "$Q"
