#!/bin/bash
# Device run 6: the committed sweep rule (only with >= 32 samples a thread) against always sweeping (the build before), alternating, two rounds.
set -u
t0=$(date +%s)
if command -v node >/dev/null 2>&1 && node -v | grep -q '^v2[0-9]'; then NODE=$(command -v node); else
  python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('.dev/node.xz'),open('/tmp/node','wb'))" && chmod +x /tmp/node; NODE=/tmp/node; fi
[ -e node_modules ] || ln -s .dev/node_modules node_modules
mkdir -p /tmp/mnist; for f in .dev/mnist/*.gz; do gunzip -c "$f" > /tmp/mnist/$(basename "$f" .gz); done
echo "node $($NODE -v); nproc $(nproc); setup $(( $(date +%s) - t0 )) s"
for round in 1 2; do for v in always rule; do
  case $v in always) D=.dev/distX;; rule) D=dist;; esac
  echo "=== round $round $v $(date +%T)"
  TG_PULL_MIN=0 $NODE $D/src/cli.js bench --workers-list ${WL:-2,8,12,16} --repeats 5 --no-independent --no-round-trip --data-dir /tmp/mnist --out /tmp/s-$round-$v 2>&1 | grep -E '^ +[0-9]'
done; done
echo "total $(( $(date +%s) - t0 )) s"
