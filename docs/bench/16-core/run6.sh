#!/bin/bash
# Device run 6: the committed sweep rule (only with >= 32 samples a thread) against always sweeping (the build before), alternating, two rounds.
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
for round in 1 2; do for v in always rule; do
  case $v in always) D=.dev/distX;; rule) D=dist;; esac
  echo "=== round $round $v $(date +%T)"
  TG_PULL_MIN=0 $NODE $D/src/cli.js bench --workers-list ${WL:-2,8,12,16} --repeats 5 --no-independent --no-round-trip --data-dir /tmp/mnist --out /tmp/s-$round-$v 2>&1 | grep -E '^ +[0-9]'
done; done
echo "total $(( $(date +%s) - t0 )) s"
