#!/bin/sh
# A program that leaves a child behind in its process group and keeps asking for plans.
sleep 300 &
generation=0
while plan=$(curl -sf "$REPRODUCER_PLANS/plans/newest?newer_than=$generation") && [ -n "$plan" ]; do
    generation=$((generation + 1))
    curl -sf "$REPRODUCER_PLANS/plans" >/dev/null
done
