#!/bin/bash
# Device run 3: barrier polling at 12-16 workers on 16 cores. Variants: le (poll while workers <= cores, as now), lt (no poll at 16), short (2,000 polls, not 20,000). Two interleaved rounds; steal time around each.
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
for round in 1 2; do for v in le lt short; do
  case $v in le) R=le; N=20000;; lt) R=lt; N=20000;; short) R=le; N=2000;; esac
  s0=$(awk '/^cpu /{print $9}' /proc/stat)
  echo "=== round $round variant $v $(date +%T)"
  TG_SPIN_RULE=$R TG_SPIN_N=$N $NODE .dev/distX/src/cli.js bench --workers-list ${WL:-8,12,14,16} --repeats ${RP:-5} --no-independent --no-round-trip --data-dir /tmp/mnist --out /tmp/b3-$round-$v 2>&1 | grep -E '^ +[0-9]'
  echo "steal ticks (1/100 s, all cores) during it: $(( $(awk '/^cpu /{print $9}' /proc/stat) - s0 ))"
done; done
echo "total $(( $(date +%s) - t0 )) s"
