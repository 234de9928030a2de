#!/bin/bash
# Device run 8: issue 3's 2-core targets on two cores of the 16-core machine. The whole
# process (coordinator, workers, V8's helper threads) is confined to two cores, as on a
# 2-core machine; each core alone first, then bench 1 vs 2 workers, three rounds over two pairs.
set -u
. "$(dirname "$0")/setup.sh"
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
lscpu 2>/dev/null | grep -E 'Model name|Thread|Core|Socket|NUMA node\(s\)|L2|L3'
# taskset if the machine has it, else the same through Python's sched_setaffinity
pin() { local cpus=$1; shift
  if command -v taskset >/dev/null; then taskset -c "$cpus" "$@"
  else python3 -c 'import os,sys; os.sched_setaffinity(0,{int(c) for c in sys.argv[1].split(",")}); os.execv(sys.argv[2],sys.argv[2:])' "$cpus" "$@"; fi; }
B="dist/src/cli.js bench --data-dir /tmp/mnist"
mkdir -p $OUT/bench
for round in 1 2 3; do
  for pair in 0,1 6,7; do
    for c in ${pair/,/ }; do echo "=== round $round core $c alone, 1 worker $(date +%T)"; pin $c $NODE $B --workers-list 1 --batch-sizes 64 --repeats 3 --steps 100 --no-independent --no-round-trip --out /tmp/one 2>&1 | grep -E '^ +64 '; done
    echo "=== round $round cores $pair, 1 vs 2 workers $(date +%T)"
    pin $pair $NODE $B --workers-list 1,2 --batch-sizes 64,256,1024 --repeats 7 --steps 100 --out $OUT/bench/r$round-${pair/,/-} 2>&1 | grep -v '"level"'
  done
done
echo "total $(( $(date +%s) - t0 )) s"
