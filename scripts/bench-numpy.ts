// Our trainer against the NumPy + OpenBLAS reference loop (scripts/reference/numpy_loop.py),
// same net, same data, same batch size, in one run: prints seconds per epoch and the ratio
// ours / NumPy for 1 and 2 workers at B=64 and B=256. Each side runs four epochs and the
// median of epochs 2-4 counts: the first includes thread start-up and compilation, and our
// epochs keep getting faster into the third (NumPy's barely move). Repeats alternate sides
// and the median repeat is reported.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median } from '../src/bench/summary.js';
import { DEFAULTS } from '../src/config.js';
import { defaultDataDir, loadMnist } from '../src/data/dataset.js';
import { KERNEL_KINDS } from '../src/kernels/kernels.js';
import { train } from '../src/train.js';
import { scriptFlags } from './flags.js';

/** Epochs per run; the median of all but the first is an epoch's time. */
const EPOCHS = 4;

const USAGE = 'Usage: npm run bench:numpy -- [--repeats 3] [--kernels wasm|ts] [--out FILE.json]';
const flags = scriptFlags('bench-numpy', USAGE, { repeats: '3', kernels: DEFAULTS.kernels, out: undefined });
const repeats = flags.int('repeats', 1);
const kernels = flags.oneOf('kernels', KERNEL_KINDS);
const out = flags.get('out');
const script = fileURLToPath(new URL('../../scripts/reference/numpy_loop.py', import.meta.url));

/** Debian's python3-numpy with its OpenBLAS where installed, else whatever python3 has numpy. */
function python(): string {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(candidate, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  throw new Error('no python3 with numpy found: apt-get install python3-numpy libopenblas0-pthread');
}

function numpyEpochSeconds(batch: number): { seconds: number; info: unknown } {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  // Set on some machines for old OpenBLAS builds; they slow a current one down.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const out = execFileSync(python(), [script, defaultDataDir(), '--epochs', String(EPOCHS), '--batch', String(batch)], { env, encoding: 'utf8' });
  const r = JSON.parse(out) as { epochSeconds: number[]; samplesPerSec: number; testAccuracy: number; blas: unknown };
  // NumPy drops the last partial batch; scale to the full 60,000 samples our epoch covers.
  const steps = Math.floor(60_000 / batch);
  return { seconds: (median(r.epochSeconds.slice(1)) * 60_000) / (steps * batch), info: { blas: r.blas, testAccuracy: r.testAccuracy } };
}

const data = await loadMnist();
async function oursEpochSeconds(batch: number, workers: number): Promise<number> {
  const cfg = { ...DEFAULTS, epochs: EPOCHS, batchSize: batch, workers, kernels };
  const result = await train(cfg, { data });
  return median(result.epochs.slice(1).map((e) => e.seconds));
}

const cases = [64, 256].flatMap((batch) => [1, 2].map((workers) => ({ batch, workers })));
const samples: Record<string, number[]> = {};
const push = (key: string, v: number) => (samples[key] ??= []).push(v);
let numpyInfo: unknown;
for (let r = 0; r < repeats; r++) {
  for (const batch of [64, 256]) {
    const np = numpyEpochSeconds(batch);
    numpyInfo = np.info;
    push(`numpy ${batch}`, np.seconds);
  }
  for (const c of cases) push(`ours ${c.batch} ${c.workers}`, await oursEpochSeconds(c.batch, c.workers));
}

const rows = cases.map((c) => {
  const ours = median(samples[`ours ${c.batch} ${c.workers}`]);
  const numpy = median(samples[`numpy ${c.batch}`]);
  return { batch: c.batch, workers: c.workers, oursSeconds: ours, numpySeconds: numpy, ratio: ours / numpy };
});
console.log('batch  workers  ours s/epoch  numpy-1-thread s/epoch  ours/numpy');
for (const r of rows) {
  console.log(`${String(r.batch).padStart(5)}  ${String(r.workers).padStart(7)}  ${r.oursSeconds.toFixed(3).padStart(12)}  ${r.numpySeconds.toFixed(3).padStart(22)}  ${r.ratio.toFixed(2).padStart(9)}x`);
}
console.log(`median of ${repeats} repeats, each the median of epochs 2-${EPOCHS} of a run, ${kernels} kernels; numpy: ${JSON.stringify(numpyInfo)}`);
if (out) writeFileSync(out, JSON.stringify({ rows, samples, numpy: numpyInfo, kernels, repeats }, null, 2) + '\n');
