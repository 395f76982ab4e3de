#!/bin/sh
# Run every benchmark (bench/*.bench.sh); each prints ratios against the standard tool.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PWD/dist/bin:$PATH"
for b in bench/*.bench.sh; do [ -e "$b" ] || continue; echo "== $b"; sh "$b"; done
