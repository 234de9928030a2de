// One shard's forward and backward pass, top to bottom, chunk by chunk. The gradient
// slot receives the SUM of per-sample gradients over the shard; the reduce step divides
// by the batch size, so the result does not depend on how the batch was sharded.
import type { ArenaPlan, Scratch } from './arena.js';
import type { FloatArray, Kernels } from './kernels.js';
import type { ModelShape } from './model.js';
import { CLASSES, IMAGE_SIZE, type Split } from './mnist.js';

export interface PassResult {
  lossSum: number;
  correct: number;
}

export interface Net {
  shape: ModelShape;
  plan: ArenaPlan;
  kernels: Kernels;
  /** The arena as floats: the same memory the kernels address by offset. */
  f: FloatArray;
}

/**
 * Stable softmax + cross-entropy over n rows of logits. Writes delta = softmax - onehot
 * (the gradient of the summed loss w.r.t. the logits) and, if `predictions` is given,
 * each row's argmax into it.
 */
export function softmaxCrossEntropy(
  f: FloatArray, logits: number, delta: number, labels: ArrayLike<number>, n: number, predictions?: Uint8Array,
): PassResult {
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const z = logits + i * CLASSES;
    let max = f[z];
    let argmax = 0;
    for (let c = 1; c < CLASSES; c++) if (f[z + c] > max) { max = f[z + c]; argmax = c; }
    let sumExp = 0;
    for (let c = 0; c < CLASSES; c++) sumExp += Math.exp(f[z + c] - max);
    const y = labels[i];
    lossSum += Math.log(sumExp) - (f[z + y] - max);
    if (argmax === y) correct++;
    if (predictions) predictions[i] = argmax;
    if (delta >= 0) {
      const d = delta + i * CLASSES;
      for (let c = 0; c < CLASSES; c++) f[d + c] = Math.exp(f[z + c] - max) / sumExp - (c === y ? 1 : 0);
    }
  }
  return { lossSum, correct };
}

/** Pixels of samples rows[0..n) into the scratch input, scaled to [0, 1]; labels alongside. */
function gather(net: Net, s: Scratch, split: Split, rows: (r: number) => number, n: number, labels: Uint8Array): void {
  const img = split.images;
  for (let r = 0; r < n; r++) {
    const idx = rows(r);
    labels[r] = split.labels[idx];
    net.kernels.scalePixels(s.x + r * IMAGE_SIZE, img, idx * IMAGE_SIZE, IMAGE_SIZE);
  }
}

function forward(net: Net, s: Scratch, params: number, n: number): void {
  const { layers } = net.shape;
  layers.forEach((L, l) => {
    const inp = l === 0 ? s.x : s.act[l - 1];
    net.kernels.matmulForward(s.act[l], inp, params + L.w, params + L.b, n, L.inDim, L.outDim, l < layers.length - 1);
  });
}

function backward(net: Net, s: Scratch, params: number, grad: number, n: number): void {
  const { layers } = net.shape;
  for (let l = layers.length - 1; l >= 0; l--) {
    const L = layers[l];
    const inp = l === 0 ? s.x : s.act[l - 1];
    const dinp = l === 0 ? -1 : s.delta[l - 1];
    net.kernels.matmulBackward(dinp, grad + L.w, grad + L.b, s.delta[l], inp, params + L.w, n, L.inDim, L.outDim);
  }
}

/**
 * Forward + backward over samples order[lo..hi) of `split`, accumulating into grad slot
 * `slot` (zeroed first). Uses slot's own scratch, so shards never share writable memory.
 */
export function trainShard(net: Net, slot: number, split: Split, order: Int32Array, lo: number, hi: number): PassResult {
  const { f, plan } = net;
  const s = plan.scratch[slot];
  const grad = plan.gradSlots[slot];
  const last = net.shape.layers.length - 1;
  net.kernels.zero(grad, plan.paramCount);
  const total: PassResult = { lossSum: 0, correct: 0 };
  const labels = new Uint8Array(plan.chunk);
  for (let start = lo; start < hi; start += plan.chunk) {
    const n = Math.min(plan.chunk, hi - start);
    gather(net, s, split, (r) => order[start + r], n, labels);
    forward(net, s, plan.params, n);
    const r = softmaxCrossEntropy(f, s.act[last], s.delta[last], labels, n);
    backward(net, s, plan.params, grad, n);
    total.lossSum += r.lossSum;
    total.correct += r.correct;
  }
  return total;
}

/** Forward only over samples [lo, hi) of `split` in file order; fills a 10x10 confusion count (truth x predicted). */
export function evaluateRange(net: Net, slot: number, split: Split, lo: number, hi: number, confusion: Int32Array): PassResult {
  const { f, plan } = net;
  const s = plan.scratch[slot];
  const last = net.shape.layers.length - 1;
  const total: PassResult = { lossSum: 0, correct: 0 };
  const labels = new Uint8Array(plan.chunk);
  const predictions = new Uint8Array(plan.chunk);
  for (let start = lo; start < hi; start += plan.chunk) {
    const n = Math.min(plan.chunk, hi - start);
    gather(net, s, split, (r) => start + r, n, labels);
    forward(net, s, plan.params, n);
    const r = softmaxCrossEntropy(f, s.act[last], -1, labels, n, predictions);
    for (let i = 0; i < n; i++) confusion[labels[i] * CLASSES + predictions[i]]++;
    total.lossSum += r.lossSum;
    total.correct += r.correct;
  }
  return total;
}
