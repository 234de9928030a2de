// The analytic backward pass agrees with central finite differences of the loss, in float64.
import { describe, expect, it } from 'vitest';
import { planArena } from '../src/parallel/arena.js';
import { TsKernels } from '../src/kernels/kernels.js';
import { emptySplit, type Split } from '../src/data/dataset.js';
import { initParams, modelShape } from '../src/model/model.js';
import { gradientSum, makeNet, softmaxCrossEntropy, type Net } from '../src/parallel/pass.js';
import { Rng } from '../src/util/rng.js';

/** A 20-6-5-3 net (inputs of 4x5 pixels, or 20 floats) on 7 samples. */
function smallNet(kind: 'pixels' | 'floats'): { net: Net; split: Split; order: Int32Array } {
  const shape = modelShape([20, 6, 5, 3]);
  const plan = planArena(shape, 1, 4); // chunks of 4 < 7 samples: exercises the sums carried between chunks
  const f = new Float64Array(plan.bytes / 4); // plan offsets count elements, whatever their width
  const rng = new Rng(7);
  initParams(f.subarray(plan.copies[0], plan.copies[0] + shape.paramCount), shape, rng);
  // Non-zero biases so their gradients are tested away from the symmetric start.
  for (const L of shape.layers) for (let j = 0; j < L.outDim; j++) f[plan.copies[0] + L.b + j] = 0.1 * rng.normal();
  const count = 7;
  const split = emptySplit(kind, count, 20);
  // MNIST-like pixels: mostly zeros, some bright; floats of either sign.
  for (let i = 0; i < split.x.length; i++) split.x[i] = kind === 'pixels' ? (rng.uniform() < 0.2 ? rng.below(256) : 0) : 2 * rng.normal();
  split.labels.set(Array.from({ length: count }, (_, i) => i % 3));
  const order = Int32Array.from({ length: count }, (_, i) => i);
  return { net: makeNet(shape, plan, new TsKernels(f), f, 0, kind === 'pixels'), split, order };
}

describe('backward pass', () => {
  it.each(['pixels', 'floats'] as const)('matches central finite differences on %s (relative error < 1e-5)', (kind) => {
    const { net, split, order } = smallNet(kind);
    const { f, plan, shape } = net;
    const loss = () => gradientSum(net, split, order, 0, split.count).lossSum;
    loss();
    const analytic = f.slice(plan.grad, plan.grad + shape.paramCount);
    const eps = 1e-6;
    let checked = 0;
    for (const L of shape.layers) {
      // Every bias and a spread of weights in every layer, including ones fed by zero pixels.
      const indices = [...Array.from({ length: L.outDim }, (_, j) => L.b + j)];
      for (let i = 0; i < L.inDim * L.outDim; i += Math.max(1, Math.floor((L.inDim * L.outDim) / 40))) indices.push(L.w + i);
      for (const p of indices) {
        const saved = f[plan.copies[0] + p];
        f[plan.copies[0] + p] = saved + eps;
        const up = loss();
        f[plan.copies[0] + p] = saved - eps;
        const down = loss();
        f[plan.copies[0] + p] = saved;
        const numeric = (up - down) / (2 * eps);
        const denom = Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic[p]));
        expect(Math.abs(numeric - analytic[p]) / denom, `param ${p}`).toBeLessThan(1e-5);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(80);
    // Not vacuous: most of the checked gradients are non-zero.
    expect(analytic.filter((g) => g !== 0).length).toBeGreaterThan(shape.paramCount / 10);
  });
});

describe('softmax cross-entropy', () => {
  it('stays finite for logits of +-1000', () => {
    const f = new Float32Array(40);
    f.set([1000, -1000, 0, 999, -999, 1000, 1000, -1000, 500, -500], 0);
    f.set([-1000, -1000, -1000, -1000, -1000, -1000, -1000, -1000, -1000, 1000], 10);
    const { lossSum, correct } = softmaxCrossEntropy(f, 0, 20, 10, Uint8Array.of(3, 9), 2, new Uint8Array(2), new Float64Array(2), 0);
    expect(Number.isFinite(lossSum)).toBe(true);
    // Sample 0: true class 3 is 1 below the max (1000, three times): loss = log(3 + e^-1) + 1; sample 1 is ~0.
    expect(lossSum).toBeCloseTo(Math.log(3 + Math.exp(-1)) + 1, 4);
    expect(correct).toBe(1);
    for (let i = 20; i < 40; i++) expect(Number.isFinite(f[i])).toBe(true);
    // Gradient rows sum to zero (softmax sums to one, minus the one-hot).
    const rowSum = Array.from(f.subarray(20, 30)).reduce((a, b) => a + b, 0);
    expect(Math.abs(rowSum)).toBeLessThan(1e-6);
  });
});
