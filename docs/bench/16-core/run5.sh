#!/bin/bash
# Device run 5: the weight pull sweep at many workers. pull = every thread sweeps all weights at a step's start (as committed); nopull = never. Two alternating rounds.
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
for round in 1 2; do for v in pull nopull; do
  case $v in pull) P=0;; nopull) P=1000000;; esac
  echo "=== round $round $v $(date +%T)"
  TG_PULL_MIN=$P $NODE .dev/distX/src/cli.js bench --workers-list ${WL:-2,4,8,12,16} --repeats 5 --no-independent --no-round-trip --data-dir /tmp/mnist --out /tmp/p-$round-$v 2>&1 | grep -E '^ +[0-9]'
done; done
echo "total $(( $(date +%s) - t0 )) s"
