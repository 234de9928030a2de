// The algorithm threadgrad computes, stated once and plainly: a 784-h1-h2-10 MLP (ReLU,
// ReLU, softmax) trained by mini-batch SGD on the mean cross-entropy. The engine computes
// exactly this, in float32, cut into rounds of samples and blocks of weight rows shared
// out among threads (src/parallel/pass.ts, src/kernels/, assembly/, src/parallel/worker.ts);
// test/reference.test.ts holds it to this file step by step. Here it is one sample at a
// time on plain float64 arrays: nothing is fast, everything can be read and checked.
import { Rng } from './model/rng.js';

export interface ReferenceModel {
  /** [784, h1, h2, 10] */
  sizes: number[];
  /** W[l] is sizes[l] x sizes[l + 1], row-major, so that layer l computes out = x . W + b. */
  W: Float64Array[];
  b: Float64Array[];
}

/** The gradient of the batch's mean loss, shaped like the model. */
export interface ReferenceGrads {
  dW: Float64Array[];
  db: Float64Array[];
  /** Mean cross-entropy over the batch, and how many samples the argmax got right. */
  loss: number;
  correct: number;
}

/** He initialisation, drawn as initParams (src/model.ts) draws it: layer by layer, W row-major; biases start at 0 and take no draws. */
export function initReference(sizes: number[], seed: number | Rng): ReferenceModel {
  if (sizes.length !== 4) throw new Error(`the reference is the 784-h1-h2-10 net: 4 layer sizes, got [${sizes.join(', ')}]`);
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  const m: ReferenceModel = { sizes: [...sizes], W: [], b: [] };
  for (let l = 0; l < 3; l++) {
    // Variance 2/fan_in keeps the activations' scale from layer to layer through ReLUs, which zero half of them.
    const std = Math.sqrt(2 / sizes[l]);
    m.W.push(Float64Array.from({ length: sizes[l] * sizes[l + 1] }, () => rng.normal() * std));
    m.b.push(new Float64Array(sizes[l + 1]));
  }
  return m;
}

/** What the backward pass needs of a sample's forward pass: each layer's input, and the logits. */
export interface Activations { x: Float64Array; h1: Float64Array; h2: Float64Array; logits: Float64Array }

function linear(x: Float64Array, W: Float64Array, b: Float64Array): Float64Array {
  const out = Float64Array.from(b);
  for (let k = 0; k < x.length; k++) for (let j = 0; j < out.length; j++) out[j] += x[k] * W[k * out.length + j];
  return out;
}

/** Adds x^T dout to dW and dout to db (a sample's share of the batch sums); returns dx = dout W^T. */
function linearBackward(x: Float64Array, dout: Float64Array, W: Float64Array, dW: Float64Array, db: Float64Array): Float64Array {
  const dx = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    for (let j = 0; j < dout.length; j++) {
      dW[k * dout.length + j] += x[k] * dout[j];
      dx[k] += W[k * dout.length + j] * dout[j];
    }
  }
  for (let j = 0; j < dout.length; j++) db[j] += dout[j];
  return dx;
}

const relu = (z: Float64Array): Float64Array => z.map((v) => (v > 0 ? v : 0));

/** Cross-entropy of softmax(logits) against `label`, and its gradient w.r.t. the logits: softmax - onehot. */
export function referenceLoss(logits: Float64Array, label: number): { loss: number; dlogits: Float64Array } {
  // Shifting by the max changes no probability and keeps exp from overflowing on large logits.
  const max = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - max));
  const sum = exps.reduce((a, e) => a + e, 0);
  const loss = Math.log(sum) - (logits[label] - max);
  return { loss, dlogits: exps.map((e, c) => e / sum - (c === label ? 1 : 0)) };
}

/** One sample, pixels already scaled to [0, 1]. */
export function referenceForward(m: ReferenceModel, x: Float64Array): Activations {
  const h1 = relu(linear(x, m.W[0], m.b[0]));
  const h2 = relu(linear(h1, m.W[1], m.b[1]));
  const logits = linear(h2, m.W[2], m.b[2]);
  return { x, h1, h2, logits };
}

/** Backward of referenceForward, mirroring it bottom-up; adds the sample's gradient to g. delta = dloss / d(pre-activation). */
export function referenceBackward(m: ReferenceModel, a: Activations, delta3: Float64Array, g: ReferenceGrads): void {
  const [dW1, dW2, dW3] = g.dW;
  const [db1, db2, db3] = g.db;
  const dh2 = linearBackward(a.h2, delta3, m.W[2], dW3, db3); //      logits = h2 . W3 + b3
  const delta2 = dh2.map((d, j) => (a.h2[j] > 0 ? d : 0)); //         h2 = relu(z2): ReLU' is 1 exactly where it passed z2 on
  const dh1 = linearBackward(a.h1, delta2, m.W[1], dW2, db2); //      z2 = h1 . W2 + b2
  const delta1 = dh1.map((d, j) => (a.h1[j] > 0 ? d : 0)); //         h1 = relu(z1)
  linearBackward(a.x, delta1, m.W[0], dW1, db1); //                   z1 = x . W1 + b1 (the pixels' gradient goes unused)
}

/** Loss, accuracy and gradient of the mean loss over samples batchIdx of images (count x 784 bytes) and labels. */
export function referenceGradients(m: ReferenceModel, images: Uint8Array, labels: Uint8Array, batchIdx: ArrayLike<number>): ReferenceGrads {
  const g: ReferenceGrads = { dW: m.W.map((W) => new Float64Array(W.length)), db: m.b.map((b) => new Float64Array(b.length)), loss: 0, correct: 0 };
  const inputs = m.sizes[0];
  for (let i = 0; i < batchIdx.length; i++) {
    const idx = batchIdx[i];
    const x = Float64Array.from(images.subarray(idx * inputs, (idx + 1) * inputs), (p) => p / 255);
    const a = referenceForward(m, x);
    const { loss, dlogits } = referenceLoss(a.logits, labels[idx]);
    g.loss += loss;
    if (a.logits.indexOf(Math.max(...a.logits)) === labels[idx]) g.correct++; // on a tie the first class wins, as in the engine
    referenceBackward(m, a, dlogits, g);
  }
  // The loss is the batch's mean, so its gradient is the mean of the samples' gradients: lr does not depend on the batch size.
  const B = batchIdx.length;
  g.loss /= B;
  for (const t of [...g.dW, ...g.db]) for (let i = 0; i < t.length; i++) t[i] /= B;
  return g;
}

export function sgdStep(m: ReferenceModel, g: ReferenceGrads, lr: number): void {
  m.W.forEach((W, l) => W.forEach((w, i) => (W[i] = w - lr * g.dW[l][i])));
  m.b.forEach((b, l) => b.forEach((v, j) => (b[j] = v - lr * g.db[l][j])));
}

/** One SGD step on the batch; returns the loss and correct count of the weights before it, as the engine reports them. */
export function referenceStep(m: ReferenceModel, images: Uint8Array, labels: Uint8Array, batchIdx: ArrayLike<number>, lr: number): { loss: number; correct: number } {
  const g = referenceGradients(m, images, labels, batchIdx);
  sgdStep(m, g, lr);
  return { loss: g.loss, correct: g.correct };
}
