// `npm run bench`: milliseconds per step and samples/s on 1 and 2 workers at batch 64,
// measured in one run so that the 2-vs-1 ratio compares like with like.
// Flags: --kernels ts|wasm, --batch N, --steps N, --warmup N, --repeats N.
import { parseArgs } from 'node:util';
import { runBench } from '../src/bench.js';
import { DEFAULTS } from '../src/config.js';
import { dataPaths, loadMnist } from '../src/mnist.js';
import type { KernelKind } from '../src/protocol.js';

const { values } = parseArgs({
  options: {
    kernels: { type: 'string', default: DEFAULTS.kernels },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    repeats: { type: 'string', default: '5' },
  },
});
const int = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < (name === 'warmup' ? 0 : 1)) throw new Error(`--${name} must be a positive integer, got ${values[name]}`);
  return n;
};
if (values.kernels !== 'ts' && values.kernels !== 'wasm') throw new Error(`--kernels must be ts or wasm, got ${values.kernels}`);

const data = loadMnist(dataPaths(undefined));
const report = await runBench(data, {
  hidden: DEFAULTS.hidden, kernels: values.kernels as KernelKind, chunk: DEFAULTS.chunk, seed: DEFAULTS.seed, lr: DEFAULTS.lr,
  workersList: [1, 2], batchSizes: [int('batch')], steps: int('steps'), warmup: int('warmup'), repeats: int('repeats'),
});
const [one, two] = report.rows;
process.stdout.write(
  `batch ${one.batchSize}, ${values.kernels} kernels, hidden ${DEFAULTS.hidden.join(',')}: median of ${int('repeats')} x ${int('steps')} steps\n` +
    `workers  ms/step  samples/s  GFLOP/s/core  coordinator us/step  cpu wait us/step\n` +
    report.rows.map((r) => [
      String(r.workers).padStart(7), r.msPerStep.toFixed(3).padStart(7), Math.round(r.samplesPerSec).toString().padStart(9), r.gflopsPerCore.toFixed(1).padStart(12),
      (1000 * r.coordinatorMs).toFixed(0).padStart(19), (1000 * r.cpuWaitMs).toFixed(0).padStart(16),
    ].join('  ')).join('\n') +
    `\n2 vs 1 workers: ${(two.samplesPerSec / one.samplesPerSec).toFixed(2)}x samples/s\n` +
    `(GFLOP/s count every multiply-add of the dense layers; cpu wait: time our threads were ready to run but every core was taken; high values mean other load skewed the ratio)\n`,
);
