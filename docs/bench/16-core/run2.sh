#!/bin/bash
# Device run 2: why 16 workers on 16 cores stall. Threads' CPU over 1 s of training, then the bench with spin rules le (poll while workers <= cores) and lt (< cores).
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
for w in ${TW:-16 15}; do for r in le lt; do python3 .dev/threads.py $NODE $w $r; done; done
for r in le lt; do echo "=== bench rule $r $(date +%T)"; TG_SPIN_RULE=$r $NODE .dev/distX/src/cli.js bench --workers-list ${WL:-1,2,8,14,15,16} --repeats 3 --no-independent --data-dir /tmp/mnist --out /tmp/b-$r 2>&1 | grep -v '"level"'; cp /tmp/b-$r/bench.json $OUT/bench-$r.json; done
echo "total $(( $(date +%s) - t0 )) s"
