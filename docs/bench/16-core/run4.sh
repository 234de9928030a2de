#!/bin/bash
# Device run 4: the committed build (barrier polls shared out among threads): the 1..16 curve twice, then old vs new polling at 16 workers, interleaved, and 1 vs 16 workers training.
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
mkdir -p $OUT/bench
echo "=== curve 1 $(date +%T)"; $NODE dist/src/cli.js bench --workers-list ${WL:-1,2,4,8,12,16} --repeats 5 --data-dir /tmp/mnist --out $OUT/bench 2>&1 | grep -v '"level"'
echo "=== curve 2 $(date +%T)"; $NODE dist/src/cli.js bench --workers-list ${WL:-1,2,4,8,12,16} --repeats 5 --data-dir /tmp/mnist --out /tmp/c2 2>&1 | grep -v '"level"'; cp /tmp/c2/bench.json $OUT/bench-curve2.json
for round in 1 2; do
  echo "=== round $round old polling (20,000 each) $(date +%T)"; TG_SPIN_RULE=le TG_SPIN_N=20000 $NODE .dev/distX/src/cli.js bench --workers-list ${WO:-16} --repeats 5 --no-independent --no-round-trip --data-dir /tmp/mnist --out /tmp/o | grep -E '^ +[0-9]'
  echo "=== round $round new polling (40,000 shared) $(date +%T)"; $NODE dist/src/cli.js bench --workers-list ${WO:-16} --repeats 5 --no-independent --no-round-trip --data-dir /tmp/mnist --out /tmp/n | grep -E '^ +[0-9]'
done
for w in 1 ${WO:-16}; do echo "=== train workers $w $(date +%T)"; $NODE dist/src/cli.js train --workers $w --epochs 3 --data-dir /tmp/mnist | grep -E '"epoch"|test accuracy'; done
echo "total $(( $(date +%s) - t0 )) s"
