// One SGD step, top to bottom, in two phases that any number of workers can share:
//
//  1. forwardBackward, sample by sample: the forward pass, softmax cross-entropy, and the
//     backward pass down to every layer's delta (the loss gradient w.r.t. its
//     pre-activation). Each sample leaves its activations and deltas at its position in
//     the chunk buffer.
//  2. updateWeights, parameter row by parameter row: the row's gradient summed over every
//     sample of the chunk, dW[k] = sum_i inp[i][k] * delta[i], and the SGD update of it,
//     written into the other copy of the parameters (see ArenaPlan.copies).
//
// A worker's partial gradient Xᵀ·Δ thus travels in factored form (its layer inputs and
// deltas, a few KB, instead of a 100,000-float matrix), and the reduction over workers
// happens in phase 2 for the rows each worker takes: a reduce-scatter with no per-worker
// gradient copy to zero, fill and read back. What a sample or a row produces depends only
// on the data and the weights, never on the worker that computed it, so every sharing of
// a batch gives bit-identical weights. src/reference.ts states the same algorithm plainly.
import type { ArenaPlan } from './arena.js';
import { shareOf } from './protocol.js';
import { ACCUMULATE, APPLY, APPLY_AND_CLEAR, type FloatArray, type Kernels, type RowUpdate, type UpdateMode } from '../kernels/kernels.js';
import type { ModelShape } from '../model/model.js';
import { emptyRule, type UpdateRule } from '../kernels/update-rule.js';
import { MAX_CLASSES, type Split } from '../data/dataset.js';

export interface PassResult {
  lossSum: number;
  correct: number;
}

/** One worker's view of the model in the arena. */
export interface Net {
  shape: ModelShape;
  plan: ArenaPlan;
  kernels: Kernels;
  /** The copy of the parameters (one of plan.copies) the passes read. */
  weights: number;
  /** The arena as floats: the same memory the kernels address by offset. */
  f: FloatArray;
  /** The chunk buffer's pixel address table (plan.buffer.pixelAddr) as integers. */
  pixelAddr: Int32Array;
  /** This worker's labels and predictions of the samples in hand (plan.chunk each). */
  labels: Uint8Array;
  predictions: Uint8Array;
  /** How this step updates the weights: set before phase 2 (see model/optimizer.ts ruleOfStep). */
  rule: UpdateRule;
  /** Per layer, the updateRows call this worker makes, its layer's fields filled in once. */
  rowUpdates: RowUpdate[];
}

/** `pixels`: the samples are pixel bytes in the arena, which phase 2 reads for the first layer (else float features, read from the chunk buffer). */
export function makeNet(shape: ModelShape, plan: ArenaPlan, kernels: Kernels, f: FloatArray, worker: number, pixels = true): Net {
  const pixelAddr = new Int32Array(f.buffer, f.byteOffset + plan.buffer.pixelAddr * f.BYTES_PER_ELEMENT, plan.chunk);
  const rule = emptyRule();
  const rowUpdates = shape.layers.map((L, l): RowUpdate => ({
    W: 0, b: 0, gW: plan.grad + L.w, gb: plan.grad + L.b, inp: inputOf(plan, l), pixels: l === 0 && pixels ? plan.buffer.pixelAddr : -1, dout: plan.buffer.delta[l],
    n: 0, inDim: L.inDim, outDim: L.outDim, rowLo: 0, rowHi: 0, mode: ACCUMULATE, rule, stride: plan.paramCount, scratch: plan.scratch[worker], to: 0, moved: plan.moved[l],
  }));
  const chunk = plan.chunk;
  return { shape, plan, kernels, weights: plan.copies[0], f, pixelAddr, labels: new Uint8Array(chunk), predictions: new Uint8Array(chunk), rule, rowUpdates };
}

/** One row's exponentials, computed once for the sum and the gradient. */
const EXPS = new Float64Array(MAX_CLASSES);

/**
 * Stable softmax + cross-entropy over n samples' logits of `classes` each. Writes delta = softmax - onehot
 * (the gradient of the summed loss w.r.t. the logits) when delta >= 0, sample i's argmax to
 * predictions[i] and its loss to losses[lossAt + i].
 *
 * Training and evaluation call this (and gather) with arguments of the same types, so that
 * V8 optimises one shape: an optional argument that only evaluation passes deoptimises the
 * training path, and every worker then compiles `step` again on the cores it trains on
 * (docs/measurements.md: V8 compilation).
 */
export function softmaxCrossEntropy(
  f: FloatArray, logits: number, delta: number, classes: number, labels: Uint8Array, n: number, predictions: Uint8Array, losses: Float64Array, lossAt: number,
): PassResult {
  let lossSum = 0;
  let correct = 0;
  const exps = EXPS;
  for (let i = 0; i < n; i++) {
    const z = logits + i * classes;
    let max = f[z];
    let argmax = 0;
    for (let c = 1; c < classes; c++) if (f[z + c] > max) { max = f[z + c]; argmax = c; }
    let sumExp = 0;
    for (let c = 0; c < classes; c++) sumExp += exps[c] = Math.exp(f[z + c] - max);
    const y = labels[i];
    const loss = Math.log(sumExp) - (f[z + y] - max);
    lossSum += loss;
    if (argmax === y) correct++;
    predictions[i] = argmax;
    losses[lossAt + i] = loss;
    if (delta >= 0) {
      const d = delta + i * classes;
      for (let c = 0; c < classes; c++) f[d + c] = exps[c] / sumExp - (c === y ? 1 : 0);
    }
  }
  return { lossSum, correct };
}

/**
 * Inputs of samples order[first .. first + n) to chunk positions [p0, p0 + n): pixels scaled
 * to [0, 1] by the kernels (which remember each sample's address for phase 2), or float
 * features copied as they are; labels into net.labels[0..n).
 */
function gather(net: Net, split: Split, order: Int32Array, first: number, p0: number, n: number): void {
  const { x, features: F } = split;
  const to = net.plan.buffer.x + p0 * F;
  for (let i = 0; i < n; i++) {
    const idx = order[first + i];
    net.labels[i] = split.labels[idx];
    if (x instanceof Uint8Array) net.pixelAddr[p0 + i] = x.byteOffset + idx * F;
    else net.f.set(x.subarray(idx * F, (idx + 1) * F), to + i * F);
  }
  if (x instanceof Uint8Array) net.kernels.gatherPixels(to, x, net.plan.buffer.pixelAddr + p0, n, F);
}

/** The input of layer l in the chunk buffer: the pixels, or the previous layer's output. */
function inputOf(plan: ArenaPlan, l: number): number {
  return l === 0 ? plan.buffer.x : plan.buffer.act[l - 1];
}

function forward(net: Net, p0: number, n: number): void {
  const { weights, plan } = net;
  net.shape.layers.forEach((L, l) => {
    const last = l === net.shape.layers.length - 1;
    net.kernels.matmulForward(plan.buffer.act[l] + p0 * L.outDim, inputOf(plan, l) + p0 * L.inDim, weights + L.w, weights + L.b, n, L.inDim, L.outDim, !last);
  });
}

/** Deltas of every hidden layer from the last layer's; the pixels need none. */
function backpropDeltas(net: Net, p0: number, n: number): void {
  const { weights } = net;
  const { buffer } = net.plan;
  for (let l = net.shape.layers.length - 1; l > 0; l--) {
    const L = net.shape.layers[l];
    net.kernels.backpropInput(buffer.delta[l - 1] + p0 * L.inDim, buffer.delta[l] + p0 * L.outDim, buffer.act[l - 1] + p0 * L.inDim, weights + L.w, n, L.inDim, L.outDim);
  }
}

/**
 * Phase 1 for chunk positions [p0, p1), which hold samples order[first + p]: each sample's
 * loss goes to losses[p]. Returns how many of the samples the net classified correctly.
 */
export function forwardBackward(net: Net, split: Split, order: Int32Array, first: number, p0: number, p1: number, losses: Float64Array): number {
  const n = p1 - p0;
  const last = net.shape.layers.length - 1;
  gather(net, split, order, first + p0, p0, n);
  forward(net, p0, n);
  const { buffer } = net.plan;
  const classes = net.shape.sizes[last + 1];
  const r = softmaxCrossEntropy(net.f, buffer.act[last] + p0 * classes, buffer.delta[last] + p0 * classes, classes, net.labels, n, net.predictions, losses, p0);
  backpropDeltas(net, p0, n);
  return r.correct;
}

/** Rows [lo, hi) of one layer's parameters, row inDim being the bias: a unit of phase 2. */
export interface RowBlock {
  layer: number;
  lo: number;
  hi: number;
}

/**
 * Phase 2's units of work: 16 rows each, the rows the kernels sort samples for at once,
 * largest layer first. A row's cost is a walk over its samples whatever its width, so
 * blocks of equal rows cost about the same in every layer (10-20 µs at batch 256), and the
 * workers that take them end a step at about the same time.
 */
export function rowBlocks(shape: ModelShape): RowBlock[] {
  const blocks: RowBlock[] = [];
  shape.layers.forEach((L, layer) => {
    for (let lo = 0; lo <= L.inDim; lo += BLOCK_ROWS) blocks.push({ layer, lo, hi: Math.min(L.inDim + 1, lo + BLOCK_ROWS) });
  });
  return blocks;
}

const BLOCK_ROWS = 16;

/**
 * Phase 2 for one block over the chunk's n samples, by net.rule. The updated rows go into
 * the parameter copy at `into` (by default the one read).
 */
export function updateWeights(net: Net, block: RowBlock, n: number, mode: UpdateMode, into = net.weights): void {
  const L = net.shape.layers[block.layer];
  const u = net.rowUpdates[block.layer];
  u.W = net.weights + L.w;
  u.b = net.weights + L.b;
  u.n = n;
  u.rowLo = block.lo;
  u.rowHi = block.hi;
  u.mode = mode;
  u.to = into - net.weights;
  net.kernels.updateRows(u);
}

/**
 * One whole step on one worker, both phases, updating the parameters at net.weights in
 * place by net.rule: what a step of every sharing computes (the update of a row reads only
 * that row), so one worker's step here gives the bits of a shared one. Used where a worker
 * trains its own batches (--sync local and hogwild, replicas.ts); each sample's loss goes
 * to losses[] and is summed in chunk order, as the shared step sums it.
 */
export function stepAlone(net: Net, split: Split, order: Int32Array, lo: number, hi: number, losses: Float64Array, blocks: RowBlock[]): PassResult {
  const chunk = net.plan.chunk;
  let lossSum = 0;
  let correct = 0;
  for (let start = lo; start < hi; start += chunk) {
    const n = Math.min(chunk, hi - start);
    correct += forwardBackward(net, split, order, start, 0, n, losses);
    for (let p = 0; p < n; p++) lossSum += losses[p];
    const mode = start + n < hi ? ACCUMULATE : start === lo ? APPLY : APPLY_AND_CLEAR;
    for (const block of blocks) updateWeights(net, block, n, mode);
  }
  return { lossSum, correct };
}

/**
 * Both phases on one worker, with no update: leaves the gradient of the summed loss over
 * samples order[lo..hi) in the plan's gradient block (test/gradcheck.test.ts holds it to
 * finite differences).
 */
export function gradientSum(net: Net, split: Split, order: Int32Array, lo: number, hi: number): PassResult {
  const { plan } = net;
  net.f.fill(0, plan.grad, plan.grad + plan.paramCount);
  const losses = new Float64Array(plan.chunk);
  const blocks = rowBlocks(net.shape);
  let lossSum = 0;
  let correct = 0;
  for (let start = lo; start < hi; start += plan.chunk) {
    const n = Math.min(plan.chunk, hi - start);
    correct += forwardBackward(net, split, order, start, 0, n, losses);
    for (let p = 0; p < n; p++) lossSum += losses[p];
    for (const block of blocks) updateWeights(net, block, n, ACCUMULATE);
  }
  return { lossSum, correct };
}

/** 0, 1, 2, ...: the order of a split's samples in file order (grown as needed, shared by the calls in this worker). */
let IDENTITY = new Int32Array(0);
function identity(n: number): Int32Array {
  if (IDENTITY.length < n) IDENTITY = Int32Array.from({ length: n }, (_, i) => i);
  return IDENTITY;
}

/**
 * Forward only over samples [lo, hi) of `split` in file order, in this worker's share of the
 * chunk buffer; fills a classes x classes confusion count (truth x predicted).
 */
export function evaluateRange(net: Net, worker: number, split: Split, lo: number, hi: number, confusion: Int32Array): PassResult {
  const { f, plan } = net;
  const [p0, p1] = shareOf(worker, plan.workers, plan.chunk);
  const last = net.shape.layers.length - 1;
  const classes = net.shape.sizes[last + 1];
  // Sums in locals, not in a PassResult: a store to a field of an object of that shape makes
  // V8 drop the compiled training path (forwardBackward, softmaxCrossEntropy, and `step`
  // that inlines them), which had taken the shape's fields to be constant; the workers then
  // compiled it again during the next epoch, 15-35 ms each.
  let lossSum = 0;
  let correct = 0;
  const order = identity(hi);
  const losses = new Float64Array(p1 - p0);
  for (let start = lo; start < hi; start += p1 - p0) {
    const n = Math.min(p1 - p0, hi - start);
    gather(net, split, order, start, p0, n);
    forward(net, p0, n);
    const r = softmaxCrossEntropy(f, plan.buffer.act[last] + p0 * classes, -1, classes, net.labels, n, net.predictions, losses, 0);
    countConfusion(confusion, classes, net.labels, net.predictions, n);
    lossSum += r.lossSum;
    correct += r.correct;
  }
  return { lossSum, correct };
}

// A function of its own so that evaluateRange holds no inner loop: the back-edges of one made
// V8 compile evaluateRange on stack (OSR) with everything it calls inlined, 14-17 ms of
// compiling per worker that ran on into the next epoch's first steps, on their cores.
function countConfusion(confusion: Int32Array, classes: number, labels: Uint8Array, predictions: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) confusion[labels[i] * classes + predictions[i]]++;
}
