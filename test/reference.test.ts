// The reference (src/reference.ts) is the oracle: the engine, on either kernels and any
// number of workers, must follow it step for step. Then the reference itself is checked
// against central finite differences, so that the oracle is not taken on trust.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, type StepStats } from '../src/parallel/engine.js';
import { emptySplit, head, loadMnist, type Dataset, type InputSpec } from '../src/data/dataset.js';
import { initParams, type ModelShape } from '../src/model/model.js';
import { initOptimizer, initReference, referenceGradients, referenceLoss, referenceStep, type ReferenceModel } from '../src/reference.js';
import { CONSTANT, PLAIN_SGD, lrAt, type OptimizerSpec, type ScheduleSpec } from '../src/model/optimizer.js';
import { Rng } from '../src/util/rng.js';
import type { KernelKind } from '../src/kernels/kernels.js';

const mnist = await loadMnist();
const train = head(mnist.train, 1000);
// The engine wants a test split; nothing here evaluates, so a few samples do.
const data: Dataset = { ...mnist, train, test: head(train, 16) };

/** 1,000 random samples of `input` (pixels with runs of zeros, as images have; floats of either sign and scale) in `classes` classes. */
function randomData(input: InputSpec, classes: number): Dataset {
  const features = input.shape.reduce((a, b) => a * b, 1);
  const split = emptySplit(input.kind, 1000, features);
  const rng = new Rng(99);
  for (let i = 0; i < split.x.length; i++) split.x[i] = input.kind === 'pixels' ? (rng.uniform() < 0.3 ? rng.below(256) : 0) : 3 * rng.normal();
  for (let i = 0; i < split.count; i++) split.labels[i] = rng.below(classes);
  return { train: split, test: head(split, 16), classes, input };
}
const odd = randomData({ kind: 'pixels', shape: [13, 7] }, 5);
const floats = randomData({ kind: 'floats', shape: [37] }, 3);
const engines: Engine[] = [];
afterAll(() => Promise.all(engines.map((e) => e.close())));

/** The reference's tensors at the engine's offsets (modelShape), padding left at zero. */
function toEngineLayout(m: ReferenceModel, shape: ModelShape): Float64Array {
  const flat = new Float64Array(shape.paramCount);
  shape.layers.forEach((L, l) => {
    flat.set(m.W[l], L.w);
    flat.set(m.b[l], L.b);
  });
  return flat;
}

/**
 * Largest |engine - reference| / max(1, |reference|) over every weight and bias (padding
 * excluded), and where: an absolute error for weights below 1, a relative one above.
 */
function deviation(engine: Float32Array, ref: Float64Array, shape: ModelShape): { max: number; at: string } {
  let max = 0;
  let at = '';
  shape.layers.forEach((L, l) => {
    for (const [name, from, count] of [[`W${l + 1}`, L.w, L.inDim * L.outDim], [`b${l + 1}`, L.b, L.outDim]] as const) {
      for (let i = 0; i < count; i++) {
        const d = Math.abs(engine[from + i] - ref[from + i]) / Math.max(1, Math.abs(ref[from + i]));
        if (!(d <= max)) [max, at] = [d, `${name}[${i}]`]; // NaN too
      }
    }
  });
  return { max, at };
}

interface Run {
  /** Default: MNIST's first 1,000 training images. */
  data?: Dataset;
  kernels: KernelKind;
  workers: number;
  hidden: number[];
  batch: number;
  /** Samples per round: a larger batch takes several rounds and carries its gradient sums between them. */
  chunk: number;
  /** All steps in one engine call (one command to the workers), the last batch cut short by `end`; else a call per step. */
  oneCall?: boolean;
  /** How steps update the weights (default plain SGD at a constant rate), and the base rate. */
  optimizer?: OptimizerSpec;
  schedule?: ScheduleSpec;
  lr?: number;
  /** Adam's tolerances (see ADAM_TOL) instead of PARAM_TOL and LOSS_TOL. */
  adam?: boolean;
  /** What the run covers. */
  what: string;
}

const STEPS = 10;
const LR = 0.1;
/**
 * The engine computes in float32, the reference in float64, and they sum in different
 * orders (rows of 784 inputs, batches cut into rounds and shares, SIMD lanes). One float32
 * rounding is at most 6e-8 of a value; ten steps of a few roundings each, carried forward,
 * leave these runs within 2e-7 of the reference (in the measure of `deviation`), so
 * 1e-5 leaves 50x headroom. Breaking the engine's maths (He std, ReLU, bias, pixel scale,
 * softmax delta, lr / batch, sums carried between rounds, in either kernels) moved some
 * weight by 2e-3 or more, or the loss by 4e-5 or more, by the first step that showed it.
 * The loss, a mean of float64 sums over float32 logits, stayed within 5e-8: held to 1e-6.
 * A pre-activation within ~1e-7 of zero could fall on different sides of a ReLU in the two
 * and part them by ~1e-4; the runs are deterministic (fixed seeds, and any sharding gives
 * the same bits, see parallel.test.ts) and none does.
 */
const PARAM_TOL = 1e-5;
const LOSS_TOL = 1e-6;
/**
 * Adam and AdamW divide each update by the root of its second moment, so a parameter with a
 * tiny gradient still moves by about the learning rate, and the float32 rounding of that
 * tiny gradient shows in the step: these runs (lr 1e-2, ten steps) stay within 3.0e-6 of the
 * reference in the weights and 2.9e-6 in the loss. The tolerances leave 6x and 5x of that.
 */
const ADAM_TOL = { params: 2e-5, loss: 1.5e-5 };

/** Runs the engine and the reference side by side; fails at the first step they part. Returns the largest deviations seen. */
async function follow(run: Run): Promise<{ params: number; loss: number }> {
  const { data: on = data, kernels, workers, hidden, batch, chunk, optimizer = PLAIN_SGD, schedule = CONSTANT, lr = LR } = run;
  const [paramTol, lossTol] = run.adam ? [ADAM_TOL.params, ADAM_TOL.loss] : [PARAM_TOL, LOSS_TOL];
  const engine = new Engine({ data: on, hidden, workers, kernels, chunk, optimizer, schedule });
  engines.push(engine);
  const { shape } = engine;
  const seed = 2024;
  const rng = new Rng(seed);
  initParams(engine.params, shape, rng);
  rng.permute(engine.order);
  const ref = initReference(shape.sizes, seed);
  const o = initOptimizer(ref, optimizer);
  const refStep = (batchIdx: ArrayLike<number>, t: number) => referenceStep(ref, on.train.x, on.train.labels, batchIdx, lrAt(schedule, lr, t), o);
  const worst = { params: 0, loss: 0 };
  const check = (what: string): void => {
    const dev = deviation(engine.params, toEngineLayout(ref, shape), shape);
    expect(dev.max, `${what}: ${dev.at} is ${dev.max} from the reference`).toBeLessThanOrEqual(paramTol);
    worst.params = Math.max(worst.params, dev.max);
  };
  const checkLoss = (what: string, got: StepStats, expected: { loss: number; correct: number }): void => {
    const dev = Math.abs(got.lossSum / got.samples - expected.loss);
    expect(dev, `${what}: loss ${got.lossSum / got.samples}, reference ${expected.loss}`).toBeLessThanOrEqual(lossTol);
    expect(got.correct, `${what}: correct`).toBe(expected.correct);
    worst.loss = Math.max(worst.loss, dev);
  };
  check('initialisation');
  if (!run.oneCall) {
    for (let s = 0; s < STEPS; s++) {
      const [lo, hi] = [s * batch, (s + 1) * batch];
      const expected = refStep(engine.order.subarray(lo, hi), s + 1);
      checkLoss(`step ${s + 1}`, (await engine.steps(lo, batch, hi, 1, lr, s))[0], expected);
      check(`after step ${s + 1}`);
    }
  } else {
    // The last batch stops 7 samples short, as an epoch's last batch does: its mean is over fewer samples.
    const end = STEPS * batch - 7;
    const stats = await engine.steps(0, batch, end, STEPS, lr);
    expect(stats).toHaveLength(STEPS);
    for (let s = 0; s < STEPS; s++) {
      const expected = refStep(engine.order.subarray(s * batch, Math.min(end, (s + 1) * batch)), s + 1);
      checkLoss(`step ${s + 1}`, stats[s], expected);
    }
    check(`after ${STEPS} steps`);
  }
  // Not vacuous: the weights did move, by far more than the tolerance.
  const start = toEngineLayout(initReference(shape.sizes, seed), shape);
  expect(deviation(engine.params, start, shape).max).toBeGreaterThan(1000 * PARAM_TOL);
  return worst;
}

describe('the engine follows the reference', () => {
  it.each<Run>([
    { kernels: 'ts', workers: 1, hidden: [30, 17], batch: 64, chunk: 32, what: 'two rounds of 32' },
    { kernels: 'ts', workers: 3, hidden: [30, 17], batch: 70, chunk: 32, what: 'rounds of 32, 32 and 6, shared unevenly' },
    { kernels: 'wasm', workers: 1, hidden: [30, 17], batch: 70, chunk: 32, what: 'rounds of 32, 32 and 6' },
    { kernels: 'wasm', workers: 3, hidden: [30, 17], batch: 50, chunk: 32, what: 'rounds of 32 and 18, shared unevenly' },
    // Widths that take the wasm kernels' other paths: 16 + 4 columns, and fewer than one vector.
    { kernels: 'wasm', workers: 3, hidden: [20, 3], batch: 25, chunk: 32, what: 'one round of 25 (no sums carried), shared unevenly' },
    { kernels: 'ts', workers: 2, hidden: [32, 16], batch: 40, chunk: 16, oneCall: true, what: 'ten steps in one call, rounds of 16, 16 and 8, last batch 33' },
    { kernels: 'wasm', workers: 3, hidden: [30, 17], batch: 40, chunk: 16, oneCall: true, what: 'ten steps in one call, rounds of 16, 16 and 8, last batch 33' },
  ])('$kernels kernels, $workers workers, hidden $hidden, batch $batch: $what', async (run) => {
    await follow(run);
  });

  // Other data: 13x7 images (91 pixels, no multiple of 4 or 16) in 5 classes; 37 float features in 3 classes.
  it.each<Run>([
    { data: odd, kernels: 'ts', workers: 3, hidden: [30, 17], batch: 50, chunk: 32, what: '13x7 pixels, 5 classes' },
    { data: odd, kernels: 'wasm', workers: 3, hidden: [30, 17], batch: 40, chunk: 16, oneCall: true, what: '13x7 pixels, 5 classes, one call' },
    { data: floats, kernels: 'ts', workers: 2, hidden: [20, 3], batch: 50, chunk: 32, what: '37 floats, 3 classes' },
    { data: floats, kernels: 'wasm', workers: 3, hidden: [30, 17], batch: 70, chunk: 32, optimizer: { ...PLAIN_SGD, kind: 'adam' }, lr: 1e-2, adam: true, what: '37 floats, 3 classes, adam' },
  ])('$what: $kernels kernels, $workers workers, batch $batch', async (run) => {
    await follow(run);
  });

  // Every optimizer, in both kernels, over several workers and chunks of a batch, with a schedule that moves the rate every step.
  const cosine: ScheduleSpec = { kind: 'cosine', totalSteps: 12, warmupSteps: 3, stepSize: 1, gamma: 1 };
  const oneCycle: ScheduleSpec = { kind: 'one-cycle', totalSteps: 10, warmupSteps: 0, stepSize: 1, gamma: 1 };
  it.each<Run>([
    { kernels: 'ts', workers: 2, hidden: [30, 17], batch: 50, chunk: 32, optimizer: { ...PLAIN_SGD, weightDecay: 1e-3 }, schedule: cosine, what: 'sgd with weight decay, cosine with warm-up' },
    { kernels: 'wasm', workers: 3, hidden: [30, 17], batch: 50, chunk: 32, optimizer: { ...PLAIN_SGD, kind: 'momentum', momentum: 0.9, weightDecay: 1e-3 }, schedule: cosine, what: 'momentum' },
    { kernels: 'ts', workers: 3, hidden: [30, 17], batch: 50, chunk: 32, optimizer: { ...PLAIN_SGD, kind: 'nesterov', momentum: 0.9 }, what: 'nesterov' },
    { kernels: 'wasm', workers: 1, hidden: [30, 17], batch: 40, chunk: 16, oneCall: true, optimizer: { ...PLAIN_SGD, kind: 'nesterov', momentum: 0.9 }, schedule: oneCycle, what: 'nesterov, one-cycle, one call' },
    { kernels: 'wasm', workers: 3, hidden: [30, 17], batch: 50, chunk: 32, optimizer: { ...PLAIN_SGD, kind: 'adam', weightDecay: 1e-4 }, lr: 1e-2, schedule: oneCycle, adam: true, what: 'adam, one-cycle' },
    { kernels: 'ts', workers: 2, hidden: [20, 3], batch: 25, chunk: 32, optimizer: { ...PLAIN_SGD, kind: 'adam' }, lr: 1e-2, adam: true, what: 'adam' },
    { kernels: 'wasm', workers: 2, hidden: [30, 17], batch: 40, chunk: 16, oneCall: true, optimizer: { ...PLAIN_SGD, kind: 'adamw', weightDecay: 0.05 }, lr: 1e-2, schedule: cosine, adam: true, what: 'adamw, cosine, one call' },
  ])('$what: $kernels kernels, $workers workers, batch $batch', async (run) => {
    await follow(run);
  });
});

describe('the reference itself', () => {
  it('has the gradient of its mean loss: central finite differences agree to a relative 1e-6', () => {
    const m = initReference([784, 6, 5, 10], 7);
    // Non-zero biases, so that their gradients are tested away from the symmetric start.
    const rng = new Rng(8);
    for (const b of m.b) b.forEach((_, j) => (b[j] = 0.1 * rng.normal()));
    const batch = [3, 17, 42, 99, 123, 256, 511];
    const g = referenceGradients(m, train.x, train.labels, batch);
    // Every bias, every weight of the two upper layers, and first-layer weights of pixels
    // that are lit in some sample of the batch (an unlit pixel's weights get no gradient).
    const lit = Array.from({ length: 784 }, (_, k) => k).filter((k) => batch.some((i) => train.x[i * 784 + k] > 0));
    const probes: [Float32Array | Float64Array, Float64Array, number][] = [];
    m.b.forEach((b, l) => b.forEach((_, j) => probes.push([b, g.db[l], j])));
    for (const l of [1, 2]) m.W[l].forEach((_, i) => probes.push([m.W[l], g.dW[l], i]));
    for (let p = 0; p < lit.length; p += Math.ceil(lit.length / 40)) for (let j = 0; j < 6; j++) probes.push([m.W[0], g.dW[0], lit[p] * 6 + j]);
    // In float64 a step of 1e-5 leaves a truncation error ~1e-10 of the curvature and a
    // rounding error ~1e-16 * loss / 1e-5 ~ 1e-11; the floor of 1e-4 on the denominator keeps
    // gradients that are nearly zero from turning those into large relative errors.
    const eps = 1e-5;
    let worst = 0;
    for (const [tensor, grad, i] of probes) {
      const saved = tensor[i];
      tensor[i] = saved + eps;
      const up = referenceGradients(m, train.x, train.labels, batch).loss;
      tensor[i] = saved - eps;
      const down = referenceGradients(m, train.x, train.labels, batch).loss;
      tensor[i] = saved;
      const numeric = (up - down) / (2 * eps);
      worst = Math.max(worst, Math.abs(numeric - grad[i]) / Math.max(1e-4, Math.abs(numeric) + Math.abs(grad[i])));
    }
    expect(worst).toBeLessThan(1e-6);
    // Not vacuous: most probed gradients are well away from zero.
    expect(probes.filter(([, grad, i]) => Math.abs(grad[i]) > 1e-3).length).toBeGreaterThan(probes.length / 2);
  });

  it('keeps the loss finite for logits of +-1000', () => {
    const logits = Float64Array.of(1000, -1000, 0, 999, -999, 1000, 1000, -1000, 500, -500);
    const { loss, dlogits } = referenceLoss(logits, 3);
    // Class 3 is 1 below the max, which three classes share.
    expect(loss).toBeCloseTo(Math.log(3 + Math.exp(-1)) + 1, 12);
    expect(dlogits.reduce((a, d) => a + d, 0)).toBeCloseTo(0, 12);
  });
});
