// `npm run bench`: milliseconds per step and samples/s on 1 and 2 workers at batch 64,
// measured in one run so that the 2-vs-1 ratio compares like with like.
import { runBench } from '../src/bench/bench.js';
import { DEFAULTS } from '../src/config.js';
import { loadMnist } from '../src/data/dataset.js';
import { KERNEL_KINDS } from '../src/kernels/kernels.js';
import { scriptFlags } from './flags.js';

const USAGE = 'Usage: npm run bench -- [--kernels wasm|ts] [--batch 64] [--steps 200] [--warmup 20] [--repeats 5]';
const flags = scriptFlags('bench-step', USAGE, { kernels: DEFAULTS.kernels, batch: '64', steps: '200', warmup: '20', repeats: '5' });
const kernels = flags.oneOf('kernels', KERNEL_KINDS);
const [batch, steps, warmup, repeats] = [flags.int('batch', 1), flags.int('steps', 1), flags.int('warmup', 0), flags.int('repeats', 1)];

const data = await loadMnist();
const report = await runBench(data, {
  hidden: DEFAULTS.hidden, kernels, chunk: DEFAULTS.chunk, seed: DEFAULTS.seed, lr: DEFAULTS.lr,
  workersList: [1, 2], batchSizes: [batch], steps, warmup, repeats, roundTrip: true,
});
const trip = report.meta.coreRoundTripNs; // measured: roundTrip is on
const [one, two] = report.rows;
process.stdout.write(
  `batch ${one.batchSize}, ${kernels} kernels, hidden ${DEFAULTS.hidden.join(',')}: median of ${repeats} x ${steps} steps\n` +
    `workers  ms/step  samples/s  GFLOP/s/core  coordinator us/step  cpu wait us/step\n` +
    report.rows.map((r) => [
      String(r.workers).padStart(7), r.msPerStep.toFixed(3).padStart(7), Math.round(r.samplesPerSec).toString().padStart(9), r.gflopsPerCore.toFixed(1).padStart(12),
      (1000 * r.coordinatorMs).toFixed(0).padStart(19), (1000 * r.cpuWaitMs).toFixed(0).padStart(16),
    ].join('  ')).join('\n') +
    `\n2 vs 1 workers: ${(two.samplesPerSec / one.samplesPerSec).toFixed(2)}x samples/s; core-to-core round trip ${trip.before?.toFixed(0)} / ${trip.after?.toFixed(0)} ns before / after\n` +
    `(GFLOP/s count every multiply-add of the dense layers; cpu wait: time our threads were ready to run but every core was taken; high values mean other load skewed the ratio)\n`,
);
