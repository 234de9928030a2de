#!/bin/bash
# The 16-core table of docs/measurements.md (Scaling on 16 cores): 1..16 workers at batch 64,
# 256 and 1024, with the independent copies (the cores' ceiling) and the core-to-core round
# trip. Run from the repository root after `npm ci`, on an idle 16-core machine. Writes
# bench.json, speedup.svg and breakdown-b*.svg into the folder given (default: this one) and
# the printed table to curve.log there.
set -eu
out=${1:-docs/bench/16-core}
mkdir -p "$out"
{ echo "node $(node -v); nproc $(nproc); $(git log --oneline -1 2>/dev/null || true)"
  node dist/src/cli/main.js bench --workers-list 1,2,4,8,12,16 --repeats 5 --out "$out"
} | tee "$out/curve.log"
