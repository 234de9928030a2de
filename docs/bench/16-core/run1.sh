#!/bin/bash
# Device run: unpack node (if none there), production node_modules and MNIST; scaling bench, a finer curve, 1 vs 16 workers training.
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v) at $NODE; nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
lscpu 2>/dev/null | grep -E "Model name|^CPU\(s\)|Thread|Core|Socket|NUMA node|L1d|L2|L3"
cat /proc/loadavg
mkdir -p $OUT/bench
echo "=== bench A $(date +%T)"
$NODE dist/src/cli.js bench --workers-list ${WA:-1,2,4,8,16} --repeats ${RA:-5} --data-dir /tmp/mnist --out $OUT/bench
echo "=== bench B $(date +%T)"
$NODE dist/src/cli.js bench --workers-list ${WB:-1,2,3,4,6,8,12,16} --repeats ${RB:-3} --data-dir /tmp/mnist --out /tmp/b2 && cp /tmp/b2/bench.json $OUT/bench-curve.json
for w in 1 ${WT:-16}; do echo "=== train workers $w $(date +%T)"; $NODE dist/src/cli.js train --workers $w --epochs ${EP:-3} --data-dir /tmp/mnist; done
echo "total $(( $(date +%s) - t0 )) s"
