#!/bin/bash
# The 2-core targets (1.7x at batch 64, 1.85x at batch 256) on two cores of a larger machine:
# the whole process (coordinator, workers, V8's helper threads) is confined to two cores, as
# on a 2-core machine, so bench counts 2 cores. Each core alone first (1 worker, batch 64: do
# the two run at one speed?), then 1 vs 2 workers, three rounds over cores 0,1 and 6,7. Run
# from the repository root after `npm ci`. Writes the printed tables to two-cores.log and
# every round's bench.json, as one array, to two-cores.json in the folder given (default: this one).
set -eu
out=${1:-docs/bench/16-core}
mkdir -p "$out"
tmp=$(mktemp -d)
NODE=$(command -v node)
# taskset where the machine has it, else the same call through Python's sched_setaffinity
pin() { local cpus=$1; shift
  if command -v taskset >/dev/null; then taskset -c "$cpus" "$@"
  else python3 -c 'import os,sys; os.sched_setaffinity(0,{int(c) for c in sys.argv[1].split(",")}); os.execv(sys.argv[2],sys.argv[2:])' "$cpus" "$@"; fi; }
B="dist/src/cli/main.js bench"
{ echo "node $($NODE -v); nproc $(nproc); $(git log --oneline -1 2>/dev/null || true)"
  lscpu 2>/dev/null | grep -E 'Model name|Thread|Core|Socket|NUMA node\(s\)|L2|L3' || true
  for round in 1 2 3; do
    for pair in 0,1 6,7; do
      for c in ${pair/,/ }; do
        echo "=== round $round core $c alone, 1 worker $(date +%T)"
        pin "$c" "$NODE" $B --workers-list 1 --batch-sizes 64 --repeats 3 --steps 100 --no-independent --no-round-trip --out "$tmp/one" | grep -E '^ +64 '
      done
      echo "=== round $round cores $pair, 1 vs 2 workers $(date +%T)"
      pin "$pair" "$NODE" $B --workers-list 1,2 --batch-sizes 64,256,1024 --repeats 7 --steps 100 --out "$tmp/r$round-${pair/,/-}"
    done
  done
} | tee "$out/two-cores.log"
"$NODE" -e '
const fs = require("fs"), [tmp, file] = process.argv.slice(1), runs = [];
for (const round of [1, 2, 3]) for (const cores of ["0,1", "6,7"])
  runs.push({ round, cores, ...JSON.parse(fs.readFileSync(`${tmp}/r${round}-${cores.replace(",", "-")}/bench.json`, "utf8")) });
fs.writeFileSync(file, JSON.stringify(runs, null, 2) + "\n");' "$tmp" "$out/two-cores.json"
rm -r "$tmp"
