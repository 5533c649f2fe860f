#!/bin/sh
# The DNS Enactor of the October 2025 outage as a shell script: plans read with curl and jq,
# DNS read with dig and written with nsupdate (RFC 2136 UPDATE, TSIG-signed).
#
# It does what the AWS post-event summary (aws.amazon.com/message/101925) says the enactors
# did: it checks ONCE that a plan is newer than the one in DNS, long before it writes; it
# writes the plan's record tree and flips each endpoint's alias to it, whatever the alias holds
# by then (last writer wins); it cleans up the trees and plans older than the plan it applied,
# minus KEEP generations (the first argument, default 1).
#
#   reproducer explore --program "sh examples/programs/nsupdate_enactor.sh" --enactors 2
#
# It needs nothing of the reproducer: only its environment (REPRODUCER_DNS, REPRODUCER_ZONE,
# REPRODUCER_TSIG_KEY, REPRODUCER_PLANS), so it runs unchanged against a real fake-dns and any
# plan store that serves the same JSON (docs/programs.md).
set -eu

keep=${1:-1}
server=${REPRODUCER_DNS%:*}
port=${REPRODUCER_DNS##*:}
zone=$REPRODUCER_ZONE
plans=${REPRODUCER_PLANS%/}
ttl=3

# The generation an alias points at: g0004.dynamodb.plans.<zone> -> 4; 0 when there is none.
alias_generation() {
    target=$(dig +short +norecurse +time=30 +tries=1 @"$server" -p "$port" "$1" CNAME)
    case $target in
        g[0-9]*) echo "$target" | sed 's/^g0*\([0-9][0-9]*\)\..*/\1/' ;;
        *) echo 0 ;;
    esac
}

# One TSIG-signed UPDATE: the changes come on stdin, as nsupdate's "update ..." lines.
update() {
    { echo "server $server $port"; echo "zone $zone"; cat; echo "send"; } |
        nsupdate -t 30 -y "hmac-sha256:$REPRODUCER_TSIG_KEY"
}

done_generation=0
while plan=$(curl -sf "$plans/plans/newest?newer_than=$done_generation") && [ -n "$plan" ]; do
    generation=$(echo "$plan" | jq -r .generation)
    endpoints=$(echo "$plan" | jq -r '.endpoints[] | "\(.name) \(.tree) \(.addresses | join(" "))"')
    # The one-time check: is this plan newer than the one in DNS?
    newer=no
    for alias in $(echo "$plan" | jq -r '.endpoints[].name'); do
        if [ "$(alias_generation "$alias")" -lt "$generation" ]; then newer=yes; fi
    done
    if [ $newer = no ]; then
        done_generation=$generation
        continue
    fi
    # The plan's record trees, in one UPDATE.
    echo "$endpoints" | while read -r alias tree addresses; do
        echo "update delete $tree A"
        for address in $addresses; do echo "update add $tree $ttl A $address"; done
    done | update
    # The flips: each alias to its new tree, whatever it holds now.
    echo "$endpoints" | while read -r alias tree addresses; do
        printf 'update delete %s CNAME\nupdate add %s %s CNAME %s\n' \
            "$alias" "$alias" "$ttl" "$tree" | update
    done
    done_generation=$generation
    # Clean-up by age: the trees and plans older than the plan just applied, minus $keep.
    curl -sf "$plans/plans" |
        jq -r --argjson below $((generation - keep)) \
            '.[] | select(.generation < $below) | "\(.generation) \([.endpoints[].tree] | join(" "))"' |
        while read -r old trees; do
            for tree in $trees; do echo "update delete $tree A"; done | update
            curl -sf -X DELETE "$plans/plans/$old" >/dev/null
        done
done
