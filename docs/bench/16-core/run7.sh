#!/bin/bash
# Device run 7: the curve on the build with both 16-core changes (shared-out polls, sweep only with >= 32 samples a thread).
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s; $(git log --oneline -1 2>/dev/null)"
mkdir -p $OUT/bench
$NODE dist/src/cli.js bench --workers-list ${WL:-1,2,4,8,12,16} --repeats 5 --data-dir /tmp/mnist --out $OUT/bench 2>&1 | grep -v '"level":30,"time":[0-9]*,"batch"'
echo "total $(( $(date +%s) - t0 )) s"
