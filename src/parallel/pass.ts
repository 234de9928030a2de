// One SGD step, top to bottom, in two phases that any number of threads can share:
//
//  1. forwardBackward, sample by sample: the forward pass, softmax cross-entropy, and the
//     backward pass down to every layer's delta (the loss gradient w.r.t. its
//     pre-activation). Each sample leaves its activations and deltas in its own row of
//     the round buffer.
//  2. updateWeights, parameter row by parameter row: the row's gradient summed over every
//     sample of the round, dW[k] = sum_i inp[i][k] * delta[i], and the SGD update of it,
//     written into the other copy of the parameters (see ArenaPlan.paramsB).
//
// A shard's partial gradient Xᵀ·Δ thus travels in factored form (its layer inputs and
// deltas, a few KB, instead of a 100,000-float matrix), and the reduction over shards
// happens in phase 2 for the rows each thread takes: a reduce-scatter with no per-thread
// gradient copy to zero, fill and read back. What a sample or a row produces depends only
// on the data and the weights, never on the thread that computed it, so every sharding
// of a batch gives bit-identical weights.
import type { ArenaPlan } from './arena.js';
import { shardRange } from './arena.js';
import { ACCUMULATE, type FloatArray, type Kernels, type UpdateMode } from '../kernels/kernels.js';
import type { ModelShape } from '../model/model.js';
import { CLASSES, IMAGE_SIZE, type Split } from '../data/mnist.js';

export interface PassResult {
  lossSum: number;
  correct: number;
}

export interface Net {
  shape: ModelShape;
  plan: ArenaPlan;
  kernels: Kernels;
  /** Which copy of the parameters (plan.params or plan.paramsB) the passes read. */
  params: number;
  /** The arena as floats: the same memory the kernels address by offset. */
  f: FloatArray;
  /** The round buffer's pixel address table (plan.round.pixelRows) as integers. */
  pixelRows: Int32Array;
  /** This thread's labels and predictions of the samples in hand (plan.rows each). */
  labels: Uint8Array;
  predictions: Uint8Array;
}

export function makeNet(shape: ModelShape, plan: ArenaPlan, kernels: Kernels, f: FloatArray): Net {
  const pixelRows = new Int32Array(f.buffer, f.byteOffset + plan.round.pixelRows * f.BYTES_PER_ELEMENT, plan.rows);
  return { shape, plan, kernels, params: plan.params, f, pixelRows, labels: new Uint8Array(plan.rows), predictions: new Uint8Array(plan.rows) };
}

/** One row's exponentials, computed once for the sum and the gradient. */
const EXPS = new Float64Array(CLASSES);

/**
 * Stable softmax + cross-entropy over n rows of logits. Writes delta = softmax - onehot
 * (the gradient of the summed loss w.r.t. the logits) when delta >= 0, row i's argmax to
 * predictions[i] and its loss to losses[lossAt + i].
 *
 * Training and evaluation call this (and gather) with arguments of the same types, so that
 * V8 optimises one shape: when evaluation brought optional arguments the training calls
 * never passed, its first run deoptimised the training path and every worker compiled
 * `step` again during the next epoch (15-30 ms each, on the cores the workers train on).
 */
export function softmaxCrossEntropy(
  f: FloatArray, logits: number, delta: number, labels: Uint8Array, n: number, predictions: Uint8Array, losses: Float64Array, lossAt: number,
): PassResult {
  let lossSum = 0;
  let correct = 0;
  const exps = EXPS;
  for (let i = 0; i < n; i++) {
    const z = logits + i * CLASSES;
    let max = f[z];
    let argmax = 0;
    for (let c = 1; c < CLASSES; c++) if (f[z + c] > max) { max = f[z + c]; argmax = c; }
    let sumExp = 0;
    for (let c = 0; c < CLASSES; c++) sumExp += exps[c] = Math.exp(f[z + c] - max);
    const y = labels[i];
    const loss = Math.log(sumExp) - (f[z + y] - max);
    lossSum += loss;
    if (argmax === y) correct++;
    predictions[i] = argmax;
    losses[lossAt + i] = loss;
    if (delta >= 0) {
      const d = delta + i * CLASSES;
      for (let c = 0; c < CLASSES; c++) f[d + c] = exps[c] / sumExp - (c === y ? 1 : 0);
    }
  }
  return { lossSum, correct };
}

/** Pixels of samples order[first .. first + n) into round rows [r0, r0 + n), scaled to [0, 1]; labels into net.labels[0..n). */
function gather(net: Net, split: Split, order: Int32Array, first: number, r0: number, n: number): void {
  const img = split.images;
  for (let i = 0; i < n; i++) {
    const idx = order[first + i];
    net.labels[i] = split.labels[idx];
    net.pixelRows[r0 + i] = img.byteOffset + idx * IMAGE_SIZE;
  }
  net.kernels.gatherPixels(net.plan.round.x + r0 * IMAGE_SIZE, img, net.plan.round.pixelRows + r0, n);
}

/** The input of layer l in the round buffer: the pixels, or the previous layer's output. */
function inputOf(net: Net, l: number): number {
  return l === 0 ? net.plan.round.x : net.plan.round.act[l - 1];
}

function forward(net: Net, r0: number, n: number): void {
  const { params } = net;
  net.shape.layers.forEach((L, l) => {
    const last = l === net.shape.layers.length - 1;
    net.kernels.matmulForward(net.plan.round.act[l] + r0 * L.outDim, inputOf(net, l) + r0 * L.inDim, params + L.w, params + L.b, n, L.inDim, L.outDim, !last);
  });
}

/** Deltas of every hidden layer from the last layer's; the pixels need none. */
function backpropDeltas(net: Net, r0: number, n: number): void {
  const { params } = net;
  const { round } = net.plan;
  for (let l = net.shape.layers.length - 1; l > 0; l--) {
    const L = net.shape.layers[l];
    net.kernels.backpropInput(round.delta[l - 1] + r0 * L.inDim, round.delta[l] + r0 * L.outDim, round.act[l - 1] + r0 * L.inDim, params + L.w, n, L.inDim, L.outDim);
  }
}

/**
 * Phase 1 for round rows [r0, r1), which hold samples order[first + r]: each row's loss
 * goes to losses[r]. Returns how many of the samples the net classified correctly.
 */
export function forwardBackward(net: Net, split: Split, order: Int32Array, first: number, r0: number, r1: number, losses: Float64Array): number {
  const n = r1 - r0;
  const last = net.shape.layers.length - 1;
  gather(net, split, order, first + r0, r0, n);
  forward(net, r0, n);
  const { round } = net.plan;
  const r = softmaxCrossEntropy(net.f, round.act[last] + r0 * CLASSES, round.delta[last] + r0 * CLASSES, net.labels, n, net.predictions, losses, r0);
  backpropDeltas(net, r0, n);
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
 * threads that take them end a step at about the same time.
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
 * Phase 2 for one block over the round's n samples; `slot` names the calling thread's
 * scratch. The updated rows go into the parameter copy at `into` (by default the one read).
 */
export function updateWeights(net: Net, block: RowBlock, n: number, scale: number, mode: UpdateMode, slot: number, into = net.params): void {
  const L = net.shape.layers[block.layer];
  const { params } = net;
  const { grad, round } = net.plan;
  net.kernels.updateRows(
    params + L.w, params + L.b, grad + L.w, grad + L.b, inputOf(net, block.layer), block.layer === 0 ? round.pixelRows : -1, round.delta[block.layer],
    n, L.inDim, L.outDim, block.lo, block.hi, scale, mode, net.plan.rowScratch[slot], into - params, net.plan.moved[block.layer],
  );
}

/**
 * Both phases on one thread, with no update: leaves the gradient of the summed loss over
 * samples order[lo..hi) in the plan's gradient block. The reference the workers share out.
 */
export function gradientSum(net: Net, split: Split, order: Int32Array, lo: number, hi: number): PassResult {
  const { plan } = net;
  net.f.fill(0, plan.grad, plan.grad + plan.paramCount);
  const losses = new Float64Array(plan.rows);
  const blocks = rowBlocks(net.shape);
  let lossSum = 0;
  let correct = 0;
  for (let start = lo; start < hi; start += plan.rows) {
    const n = Math.min(plan.rows, hi - start);
    correct += forwardBackward(net, split, order, start, 0, n, losses);
    for (let r = 0; r < n; r++) lossSum += losses[r];
    for (const block of blocks) updateWeights(net, block, n, 0, ACCUMULATE, 0);
  }
  return { lossSum, correct };
}

/** 0, 1, 2, ...: the order of a split's samples in file order (grown as needed, shared by the calls in this thread). */
let IDENTITY = new Int32Array(0);
function identity(n: number): Int32Array {
  if (IDENTITY.length < n) IDENTITY = Int32Array.from({ length: n }, (_, i) => i);
  return IDENTITY;
}

/**
 * Forward only over samples [lo, hi) of `split` in file order, in this slot's share of the
 * round buffer; fills a 10x10 confusion count (truth x predicted).
 */
export function evaluateRange(net: Net, slot: number, split: Split, lo: number, hi: number, confusion: Int32Array): PassResult {
  const { f, plan } = net;
  const [r0, r1] = shardRange(slot, plan.slotCount, plan.rows);
  const last = net.shape.layers.length - 1;
  // Sums in locals, not in a PassResult: a store to a field of an object of that shape makes
  // V8 drop the compiled training path (forwardBackward, softmaxCrossEntropy, and `step`
  // that inlines them), which had taken the shape's fields to be constant; the workers then
  // compiled it again during the next epoch, 15-35 ms each.
  let lossSum = 0;
  let correct = 0;
  const order = identity(hi);
  const losses = new Float64Array(r1 - r0);
  for (let start = lo; start < hi; start += r1 - r0) {
    const n = Math.min(r1 - r0, hi - start);
    gather(net, split, order, start, r0, n);
    forward(net, r0, n);
    const r = softmaxCrossEntropy(f, plan.round.act[last] + r0 * CLASSES, -1, net.labels, n, net.predictions, losses, 0);
    countConfusion(confusion, net.labels, net.predictions, n);
    lossSum += r.lossSum;
    correct += r.correct;
  }
  return { lossSum, correct };
}

// A function of its own so that evaluateRange holds no inner loop: the back-edges of one made
// V8 compile evaluateRange on stack (OSR) with everything it calls inlined, 14-17 ms of
// compiling per worker that ran on into the next epoch's first steps, on their cores.
function countConfusion(confusion: Int32Array, labels: Uint8Array, predictions: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) confusion[labels[i] * CLASSES + predictions[i]]++;
}
