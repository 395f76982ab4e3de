#!/bin/sh
# The OpenZFS platform tests (`make test-openzfs`): set up (cached per machine), boot the guest
# once, run every scenario (one guest command each), power off. One line per scenario, then
# "N passed, N failed"; exit 1 on any failure. PLATFORM_JOBS scenarios at a time (2).
#   sh test/platform/run.sh [NAME...]     run only the scenarios whose file name contains NAME
# ZB_PLATFORM_VERBOSE=1 prints every scenario's output; logs stay in the run dir either way.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_DIR"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
T0=$(now)

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, qemu, zfs)"
[ -e dist/bin/zb-send ] && [ -e dist/cmd/zb-send.js ] || die "dist/ is missing: run 'make build' first"

scen=()
for f in "$PLATFORM_DIR"/scenarios/[0-9]*.sh; do
  n=$(basename "$f" .sh)
  if [ $# -gt 0 ]; then
    m=; for a in "$@"; do case $n in *"$a"*) m=1;; esac; done
    [ -n "$m" ] || continue
  fi
  scen+=("$f")
done
[ ${#scen[@]} -gt 0 ] || die "no scenario matches: $*"

t=$(now)
C=$(bash "$PLATFORM_DIR/setup.sh") || die "setup failed"
export C; resolve_versions
say "setup: $(secs "$t") s"

t=$(now)
ZB_GUEST=$(bash "$PLATFORM_DIR/boot.sh") || die "the guest did not boot"
export ZB_GUEST
trap 'bash "$PLATFORM_DIR/stop.sh" "$ZB_GUEST"' EXIT
trap 'exit 130' INT TERM
say "boot: $(secs "$t") s (logs in $ZB_GUEST)"

# Scenarios run side by side (PLATFORM_JOBS, default 2: the guest has 2 vCPUs); each prints
# its line when it ends.
scenario() {  # scenario NUMBER FILE
  local n t rc out
  n=$(basename "$2" .sh); t=$(now)
  GEXEC_STDIN=0 GEXEC_TIMEOUT=${SCENARIO_TIMEOUT:-900} "$PLATFORM_DIR/gexec" bash "$2" > "$ZB_GUEST/$n.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    out="ok $1 - $n ($(secs "$t") s)"$'\n'
    [ "${ZB_PLATFORM_VERBOSE:-0}" = 0 ] || out+=$(sed 's/^/    /' "$ZB_GUEST/$n.log")$'\n'
  else
    out="not ok $1 - $n ($(secs "$t") s, exit $rc)"$'\n'
    if [ "${ZB_PLATFORM_VERBOSE:-0}" = 0 ]; then out+=$(tail -n 25 "$ZB_GUEST/$n.log" | sed 's/^/    /')$'\n'
    else out+=$(sed 's/^/    /' "$ZB_GUEST/$n.log")$'\n'; fi
  fi
  echo $rc > "$ZB_GUEST/$n.rc"
  printf '%s' "$out"
}
i=0; running=0
for f in "${scen[@]}"; do
  i=$((i + 1))
  if [ "$running" -ge "${PLATFORM_JOBS:-2}" ]; then wait -n; running=$((running - 1)); fi
  scenario "$i" "$f" &
  running=$((running + 1))
done
wait
pass=0; failed=0
for f in "${scen[@]}"; do
  if [ "$(cat "$ZB_GUEST/$(basename "$f" .sh).rc" 2>/dev/null)" = 0 ]; then pass=$((pass + 1)); else failed=$((failed + 1)); fi
done

t=$(now)
bash "$PLATFORM_DIR/stop.sh" "$ZB_GUEST"; trap - EXIT INT TERM
say "poweroff: $(secs "$t") s; total $(secs "$T0") s"
if [ "$failed" -eq 0 ]; then rm -rf "$ZB_GUEST"; else say "logs kept in $ZB_GUEST"; fi
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
