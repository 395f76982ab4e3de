#!/bin/sh
# A real backup and restore on a file-backed pool: full, change, incremental,
# list, and a check that the copy is identical. Run by `make demo`.
set -eu
cd "$(dirname "$0")"
export PATH="$PWD/dist/bin:/usr/sbin:/sbin:$PATH"
sh test/setup.sh >/dev/null
W=$(mktemp -d /tmp/zb-demo.XXXXXX); P=zbdemo$$; Q=zbdemob$$
cleanup() { cd /; for p in $P $Q; do zpool destroy $p 2>/dev/null || { sleep 1; zpool destroy $p 2>/dev/null; } || true; done; rm -rf "$W"; }
trap cleanup EXIT INT TERM
say() { printf '\n$ %s\n' "$*"; "$@"; }
truncate -s 256M "$W/src.img" "$W/dst.img"
zpool create -m "$W/src" $P "$W/src.img"; zpool create -m "$W/dst" $Q "$W/dst.img"
zfs create $P/data
head -c 3000000 /dev/urandom > "$W/src/data/random.bin"; seq 1 200000 > "$W/src/data/numbers.txt"
say zfs snapshot $P/data@monday
say zfsbackup -v --dataset $P/data zfs --dest $Q/backup
echo "changed on tuesday" >> "$W/src/data/numbers.txt"; head -c 500000 /dev/urandom > "$W/src/data/new.bin"
say zfs snapshot $P/data@tuesday
say zfsbackup -v --dataset $P/data zfs --dest $Q/backup
say zfsbackup --dataset $P/data zfs --dest $Q/backup list
# chunk files in a directory, compressed and encrypted (age, passphrase), then restored
mkdir "$W/usb"; echo "demo passphrase" > "$W/pass"; chmod 600 "$W/pass"
say zfsbackup -v -C --compress zstd -E --password-file "$W/pass" --dataset $P/data directory --dest "$W/usb"
say zb-list --dir "$W/usb"
say zfsbackup -v -E --password-file "$W/pass" --dataset $P/data directory --dest "$W/usb" verify
say zfsbackup -v -E --password-file "$W/pass" --dataset $P/data directory --dest "$W/usb" restore --to $Q/restored
sums() { (cd "$1" && find . -type f ! -path './.zfs/*' | sort | xargs sha256sum); }
sums "$W/src/data" > "$W/a"
for copy in backup/data restored; do
  sums "$W/dst/$copy" > "$W/b"
  if cmp -s "$W/a" "$W/b"; then echo "demo: $Q/$copy is identical to $P/data ($(wc -l < "$W/a") files)"
  else echo "demo: $Q/$copy differs:"; diff "$W/a" "$W/b"; exit 1; fi
done
