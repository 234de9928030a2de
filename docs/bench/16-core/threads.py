# Per-thread CPU time and involuntary switches of a training run over one second of its steady state.
import os, subprocess, sys, time
node, workers, rule = sys.argv[1], sys.argv[2], sys.argv[3]
env = dict(os.environ, TG_SPIN_RULE=rule)
p = subprocess.Popen([node, '.dev/distX/src/cli.js', 'train', '--workers', workers, '--epochs', '40', '--data-dir', '/tmp/mnist'], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def snap():
    out = {}
    for t in os.listdir(f'/proc/{p.pid}/task'):
        try:
            st = open(f'/proc/{p.pid}/task/{t}/stat').read()
            comm = st[st.index('(') + 1:st.rindex(')')]
            f = st[st.rindex(')') + 2:].split()
            ctx = [l for l in open(f'/proc/{p.pid}/task/{t}/status') if 'ctxt' in l]
            out[t] = (comm, int(f[11]) + int(f[12]), [int(l.split()[1]) for l in ctx])
        except OSError: pass
    return out
time.sleep(3.0); a = snap(); time.sleep(1.0); b = snap()
rows = []
for t, (comm, cpu, ctx) in b.items():
    if t in a: rows.append((cpu - a[t][1], comm, t, ctx[0] - a[t][2][0], ctx[1] - a[t][2][1]))
rows.sort(reverse=True)
print(f'workers {workers} rule {rule}: ticks(1/100 s) over 1 s, voluntary, involuntary switches per thread')
for r in rows: print(f'  {r[1]:<18} {r[2]:>7} cpu {r[0]:>4} vol {r[3]:>6} invol {r[4]:>5}')
p.kill()
