// `npm run bench:kernels`: where one worker's time per sample goes, kernel by kernel, on
// one core with no other thread and warm caches. The net first trains for a few hundred
// steps (so that the ReLU outputs are as sparse as in training), then every timed step
// runs whole once (phase 1 on fresh samples, cold data as in training) and each kernel once
// more on the same chunk, timed alone. What the breakdown is for: choosing
// what to optimise next; the end-to-end figures are `bench` and `bench:numpy`.
import { allocateArena, planArena, splitInArena } from '../src/parallel/arena.js';
import { DEFAULTS } from '../src/config.js';
import { loadKernels } from '../src/kernels/load.js';
import { APPLY } from '../src/kernels/kernels.js';
import { loadMnist } from '../src/data/dataset.js';
import { initParams, modelShape } from '../src/model/model.js';
import { forwardBackward, makeNet, rowBlocks, softmaxCrossEntropy, updateWeights } from '../src/parallel/pass.js';
import { KERNEL_KINDS } from '../src/kernels/kernels.js';
import { Rng } from '../src/util/rng.js';
import { CONSTANT, PLAIN_SGD, ruleOfStep } from '../src/model/optimizer.js';
import { scriptFlags } from './flags.js';

const USAGE = `Usage: npm run bench:kernels -- [--batch 256 (1..${DEFAULTS.chunk}, one chunk)] [--steps 200] [--kernels wasm|ts]`;
const flags = scriptFlags('bench-kernels', USAGE, { batch: '256', steps: '200', kernels: DEFAULTS.kernels });
const batch = flags.int('batch', 1, DEFAULTS.chunk);
const steps = flags.int('steps', 1);
const kernels = flags.oneOf('kernels', KERNEL_KINDS);

const { train } = await loadMnist();
const shape = modelShape([train.features, ...DEFAULTS.hidden, 10]);
const plan = planArena(shape, 1, DEFAULTS.chunk, train.x.length);
const memory = allocateArena(plan);
const f = new Float32Array(memory.buffer);
const split = splitInArena(memory, train, plan.pixels);
const net = makeNet(shape, plan, await loadKernels(kernels, memory, f), f, 0);
ruleOfStep(PLAIN_SGD, CONSTANT, DEFAULTS.lr, 1, batch, net.rule);
const rng = new Rng(DEFAULTS.seed);
const weights = plan.copies[0];
initParams(f.subarray(weights, weights + shape.paramCount), shape, rng);
const order = new Int32Array(train.count);
rng.permute(order);

const losses = new Float64Array(plan.chunk);
const blocks = rowBlocks(shape);
const { buffer } = plan;
const last = shape.layers.length - 1;
const ms = new Map<string, number>();
const time = (name: string, run: () => void): void => {
  const t0 = performance.now();
  run();
  ms.set(name, (ms.get(name) ?? 0) + performance.now() - t0);
};

let first = 0;
function step(timed: boolean): void {
  if (first + batch > train.count) first = 0;
  if (!timed) {
    forwardBackward(net, split, order, first, 0, batch, losses);
    for (const b of blocks) updateWeights(net, b, batch, APPLY);
  } else {
    time('phase 1 on fresh samples', () => forwardBackward(net, split, order, first, 0, batch, losses));
    time('  pixels to floats', () => net.kernels.gatherPixels(buffer.x, split.x as Uint8Array, buffer.pixelAddr, batch, train.features));
    shape.layers.forEach((L, l) => {
      const inp = l === 0 ? buffer.x : buffer.act[l - 1];
      time(`  forward ${L.inDim}x${L.outDim}`, () => net.kernels.matmulForward(buffer.act[l], inp, weights + L.w, weights + L.b, batch, L.inDim, L.outDim, l < last));
    });
    time('  softmax cross-entropy', () => softmaxCrossEntropy(f, buffer.act[last], buffer.delta[last], 10, net.labels, batch, net.predictions, losses, 0));
    for (let l = last; l > 0; l--) {
      const L = shape.layers[l];
      time(`  delta through ${L.inDim}x${L.outDim}`, () => net.kernels.backpropInput(buffer.delta[l - 1], buffer.delta[l], buffer.act[l - 1], weights + L.w, batch, L.inDim, L.outDim));
    }
    for (const b of blocks) {
      const L = shape.layers[b.layer];
      time(`phase 2: rows of ${L.inDim}x${L.outDim} + bias`, () => updateWeights(net, b, batch, APPLY));
    }
  }
  first += batch;
}

for (let i = 0; i < Math.ceil(20_000 / batch); i++) step(false);
for (let i = 0; i < steps; i++) step(true);

const usPerSample = (name: string): number => (1000 * ms.get(name)!) / (steps * batch);
const nonzero = (at: number, width: number): number => {
  let count = 0;
  for (let i = 0; i < batch * width; i++) if (f[at + i] !== 0) count++;
  return count / batch;
};
console.log(`${kernels} kernels, batch ${batch}, ${steps} steps, one worker; microseconds per sample`);
for (const name of ms.keys()) console.log(`${name.padEnd(34)} ${usPerSample(name).toFixed(3).padStart(7)}`);
const nonzeros = [nonzero(buffer.x, shape.sizes[0]), ...shape.layers.slice(0, last).map((L, l) => nonzero(buffer.act[l], L.outDim))];
console.log(`nonzero inputs per sample, by layer: ${nonzeros.map((v, l) => `${v.toFixed(0)} of ${shape.sizes[l]}`).join(', ')}`);
console.log('(the indented kernels re-run phase 1 on the same chunk, warm; with wasm kernels, phase 2 rows include sorting the samples into each row\'s list)');
