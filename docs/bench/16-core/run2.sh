#!/bin/bash
# Device run 2: why 16 workers on 16 cores stall. Threads' CPU over 1 s of training, then the bench with spin rules le (poll while workers <= cores) and lt (< cores).
set -u
t0=$(date +%s)
if command -v node >/dev/null 2>&1 && node -v | grep -q '^v2[0-9]'; then NODE=$(command -v node); else
  python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('.dev/node.xz'),open('/tmp/node','wb'))" && chmod +x /tmp/node; NODE=/tmp/node; fi
[ -e node_modules ] || ln -s .dev/node_modules node_modules
mkdir -p /tmp/mnist; for f in .dev/mnist/*.gz; do gunzip -c "$f" > /tmp/mnist/$(basename "$f" .gz); done
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
for w in ${TW:-16 15}; do for r in le lt; do python3 .dev/threads.py $NODE $w $r; done; done
for r in le lt; do echo "=== bench rule $r $(date +%T)"; TG_SPIN_RULE=$r $NODE .dev/distX/src/cli.js bench --workers-list ${WL:-1,2,8,14,15,16} --repeats 3 --no-independent --data-dir /tmp/mnist --out /tmp/b-$r 2>&1 | grep -v '"level"'; cp /tmp/b-$r/bench.json $OUT/bench-$r.json; done
echo "total $(( $(date +%s) - t0 )) s"
