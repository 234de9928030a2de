// The algorithm threadgrad computes, stated once and plainly: an MLP (784-128-64-10 by
// default, any input size and class count: ReLU on every hidden layer, softmax on the last) trained by mini-batch SGD (or
// momentum, Nesterov, Adam, AdamW) on the mean cross-entropy. The engine computes exactly this, in float32, cut into chunks of
// samples and blocks of weight rows shared out among workers (src/parallel/pass.ts,
// src/kernels/, assembly/, src/parallel/worker.ts); test/reference.test.ts holds it to this
// file step by step. Here it is one sample at a time on plain float64 arrays: nothing is
// fast, everything can be read and checked. `predict` classifies with referenceForward.
import { PLAIN_SGD, stateSlots, type OptimizerSpec } from './model/optimizer.js';
import { Rng } from './util/rng.js';

type Floats = Float32Array | Float64Array;

export interface ReferenceModel {
  /** Layer sizes from input to output, e.g. [784, 128, 64, 10]. */
  sizes: number[];
  /** W[l] is sizes[l] x sizes[l + 1], row-major, so that layer l computes z = h . W + b. */
  W: Floats[];
  b: Floats[];
}

/** The gradient of the batch's mean loss, shaped like the model. */
export interface ReferenceGrads {
  dW: Float64Array[];
  db: Float64Array[];
  /** Mean cross-entropy over the batch, and how many samples the argmax got right. */
  loss: number;
  correct: number;
}

/** He initialisation, drawn as initParams (src/model/model.ts) draws it: layer by layer, W row-major; biases start at 0 and take no draws. */
export function initReference(sizes: number[], seed: number | Rng): ReferenceModel {
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  const m: ReferenceModel = { sizes: [...sizes], W: [], b: [] };
  for (let l = 0; l + 1 < sizes.length; l++) {
    // Variance 2/fan_in keeps the activations' scale from layer to layer through ReLUs, which zero half of them.
    const std = Math.sqrt(2 / sizes[l]);
    m.W.push(Float64Array.from({ length: sizes[l] * sizes[l + 1] }, () => rng.normal() * std));
    m.b.push(new Float64Array(sizes[l + 1]));
  }
  return m;
}

/** What the backward pass needs of a sample's forward pass: the input of every layer (h[0] is the sample), and the logits. */
export interface Activations {
  h: Float64Array[];
  logits: Float64Array;
}

function linear(x: Floats, W: Floats, b: Floats): Float64Array {
  const out = Float64Array.from(b);
  for (let k = 0; k < x.length; k++) {
    if (x[k] === 0) continue; // adds nothing; most pixels and half the ReLU outputs are 0
    for (let j = 0; j < out.length; j++) out[j] += x[k] * W[k * out.length + j];
  }
  return out;
}

/** Adds x^T dout to dW and dout to db (a sample's share of the batch sums); returns dx = dout W^T. */
function linearBackward(x: Floats, dout: Float64Array, W: Floats, dW: Float64Array, db: Float64Array): Float64Array {
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

/** softmax(logits): the class probabilities. Shifting by the max changes none of them and keeps exp from overflowing. */
export function softmax(logits: Float64Array): Float64Array {
  const max = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - max));
  const sum = exps.reduce((a, e) => a + e, 0);
  return exps.map((e) => e / sum);
}

/** Cross-entropy of softmax(logits) against `label`, and its gradient w.r.t. the logits: softmax - onehot. */
export function referenceLoss(logits: Float64Array, label: number): { loss: number; dlogits: Float64Array } {
  const max = Math.max(...logits);
  const sum = logits.reduce((a, z) => a + Math.exp(z - max), 0);
  const loss = Math.log(sum) - (logits[label] - max);
  return { loss, dlogits: softmax(logits).map((p, c) => p - (c === label ? 1 : 0)) };
}

/** One sample, pixels already scaled to [0, 1]: h[l + 1] = relu(h[l] . W[l] + b[l]) through the hidden layers, then the logits. */
export function referenceForward(m: ReferenceModel, x: Float64Array): Activations {
  const h = [x];
  const last = m.W.length - 1;
  for (let l = 0; l < last; l++) h.push(relu(linear(h[l], m.W[l], m.b[l])));
  return { h, logits: linear(h[last], m.W[last], m.b[last]) };
}

/**
 * Backward of referenceForward, from the logits down; adds the sample's gradient to g.
 * delta is the gradient of the loss w.r.t. a layer's pre-activation z = h . W + b.
 */
export function referenceBackward(m: ReferenceModel, a: Activations, dlogits: Float64Array, g: ReferenceGrads): void {
  let delta = dlogits;
  for (let l = m.W.length - 1; l >= 0; l--) {
    const dh = linearBackward(a.h[l], delta, m.W[l], g.dW[l], g.db[l]); // z = h[l] . W[l] + b[l]
    if (l > 0) delta = dh.map((d, j) => (a.h[l][j] > 0 ? d : 0)); //        h[l] = relu(z of layer l - 1): ReLU' is 1 exactly where it passed z on
  }
}

/**
 * Loss, accuracy and gradient of the mean loss over samples batchIdx of x (count x inputs:
 * pixel bytes, which the net sees as byte / 255, or float features) and labels.
 */
export function referenceGradients(m: ReferenceModel, x: Uint8Array | Float32Array, labels: Uint8Array, batchIdx: ArrayLike<number>): ReferenceGrads {
  const g: ReferenceGrads = { dW: m.W.map((W) => new Float64Array(W.length)), db: m.b.map((b) => new Float64Array(b.length)), loss: 0, correct: 0 };
  const inputs = m.sizes[0];
  for (let i = 0; i < batchIdx.length; i++) {
    const idx = batchIdx[i];
    const pixels = x instanceof Uint8Array;
    const a = referenceForward(m, Float64Array.from(x.subarray(idx * inputs, (idx + 1) * inputs), (v) => (pixels ? v / 255 : v)));
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

/** What an optimizer keeps between steps: the steps taken, and per parameter tensor (W then b of each layer) its velocity or Adam's two moments. */
export interface OptimizerState {
  spec: OptimizerSpec;
  t: number;
  slots: Float64Array[][];
}

export function initOptimizer(m: ReferenceModel, spec: OptimizerSpec): OptimizerState {
  const tensors = [...m.W, ...m.b];
  return { spec, t: 0, slots: Array.from({ length: stateSlots(spec.kind) }, () => tensors.map((t) => new Float64Array(t.length))) };
}

/** One update of every parameter by the mean gradient g at learning rate lr, as torch.optim states the rules. */
export function optimizerStep(m: ReferenceModel, g: ReferenceGrads, lr: number, o: OptimizerState): void {
  const { kind, momentum: mu, beta1, beta2, eps, weightDecay: wd } = o.spec;
  o.t++;
  const params = [...m.W, ...m.b];
  const grads = [...g.dW, ...g.db];
  params.forEach((P, k) => {
    for (let i = 0; i < P.length; i++) {
      const w = P[i];
      const d = grads[k][i] + (kind === 'adamw' ? 0 : wd * w); // L2 penalty in the gradient; AdamW decays the weight apart
      if (kind === 'sgd') {
        P[i] = w - lr * d;
      } else if (kind === 'momentum' || kind === 'nesterov') {
        const v = (o.slots[0][k][i] = mu * o.slots[0][k][i] + d);
        P[i] = w - lr * (kind === 'momentum' ? v : d + mu * v);
      } else {
        const m1 = (o.slots[0][k][i] = beta1 * o.slots[0][k][i] + (1 - beta1) * d);
        const m2 = (o.slots[1][k][i] = beta2 * o.slots[1][k][i] + (1 - beta2) * d * d);
        const mHat = m1 / (1 - beta1 ** o.t);
        const vHat = m2 / (1 - beta2 ** o.t);
        P[i] = (kind === 'adamw' ? w * (1 - lr * wd) : w) - (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    }
  });
}

/**
 * One step on the batch at learning rate lr, by the optimizer `o` (plain SGD when not
 * given). Returns the loss and correct count of the weights before it, as the engine
 * reports them.
 */
export function referenceStep(
  m: ReferenceModel, x: Uint8Array | Float32Array, labels: Uint8Array, batchIdx: ArrayLike<number>, lr: number, o = initOptimizer(m, PLAIN_SGD),
): { loss: number; correct: number } {
  const g = referenceGradients(m, x, labels, batchIdx);
  optimizerStep(m, g, lr, o);
  return { loss: g.loss, correct: g.correct };
}
