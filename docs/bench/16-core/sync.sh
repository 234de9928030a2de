#!/bin/bash
# Issue 20's 16-core figures: samples/s, speedup and training seconds to 97% test accuracy
# for --sync step, local:16 and hogwild on 1, 2, 4, 8, 12 and 16 workers at batch 64
# (threadgrad bench --sync). Run from the repository root after `npm ci`, on an idle
# machine with 16 cores; ~10 minutes. Writes sync.json and time-to-target.svg into the
# folder given (default: docs/bench/16-core/sync) and the printed table to sync.log there.
set -eu
out=${1:-docs/bench/16-core/sync}
mkdir -p "$out"
{ echo "node $(node -v); nproc $(nproc); $(git log --oneline -1 2>/dev/null || true)"
  node dist/src/cli/main.js bench --sync step,local:16,hogwild --workers-list 1,2,4,8,12,16 --repeats 3 --out "$out"
} | tee "$out/sync.log"
