#!/bin/bash
# A receive (zb-recv -s) cut mid-stream leaves receive_resume_token; zb-send --resume-token
# sends only the rest (fewer bytes than the whole stream) and the receive completes.
. "$(dirname "$0")/common.sh"
mkpool "${S}p"; mkpool "${S}q"
P=${S}p/data Q=${S}q/r
zfs create "$P"; D=$(mnt "$P")
fill "$D"; head -c 24M /dev/urandom > "$D/big.bin"; zfs snapshot "$P@s1"
step "whole stream size"
FULL=$(zb-send "$P@s1" | wc -c)
CUT=$((FULL * 6 / 10))
echo "   whole stream $FULL bytes; cutting after $CUT"
step "zb-send $P@s1 | head -c $CUT | zb-recv -s $Q (cut)"
set +e
zb-send "$P@s1" | head -c "$CUT" | zb-recv -s "$Q"
st=("${PIPESTATUS[@]}"); set -e
echo "   exit statuses: ${st[*]}"
[ "${st[2]}" -ne 0 ] || fail "zb-recv exited 0 on a cut stream"
TOKEN=$(zfs get -H -o value receive_resume_token "$Q" 2>/dev/null || true)
[ -n "$TOKEN" ] && [ "$TOKEN" != - ] || fail "no receive_resume_token on $Q after the cut"
echo "   token ${TOKEN:0:40}..."
step "zb-send --resume-token TOKEN | zb-recv -s $Q"
zb-send --resume-token "$TOKEN" | tee "$W/rest.zb" | zb-recv -s "$Q"
REST=$(wc -c < "$W/rest.zb")
echo "   resumed stream $REST bytes of $FULL ($((REST * 100 / FULL)) %)"
[ "$REST" -lt "$FULL" ] || fail "the resumed run sent $REST bytes, not fewer than the whole $FULL"
[ "$REST" -lt $((FULL - CUT / 2)) ] || fail "the resumed run resent most of what arrived before the cut"
[ "$(zfs get -H -o value receive_resume_token "$Q")" = - ] || fail "token still set after the resume"
same_guid "$P@s1" "$Q@s1"
mounted "$Q"
same_tree "$(snapdir "$P@s1")" "$(snapdir "$Q@s1")"
