// Data parallelism must not change the maths: the same batch gives the same update on
// 1 or 3 workers, bit for bit (every sample and every parameter row is computed whole by
// one worker, whichever it is, in a fixed order), and the net learns real MNIST.
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS, type TrainConfig } from '../src/config.js';
import { syntheticData } from './synthetic.js';
import { Engine } from '../src/parallel/engine.js';
import { head, loadMnist } from '../src/data/dataset.js';
import { initParams, modelShape } from '../src/model/model.js';
import { forwardBackward, makeNet, rowBlocks, updateWeights } from '../src/parallel/pass.js';
import { allocateArena, planArena, splitInArena } from '../src/parallel/arena.js';
import { ACCUMULATE, APPLY, APPLY_AND_CLEAR } from '../src/kernels/kernels.js';
import { loadKernels } from '../src/kernels/load.js';
import { Rng } from '../src/util/rng.js';
import { CONSTANT, PLAIN_SGD, ruleOfStep } from '../src/model/optimizer.js';
import { train } from '../src/train.js';
import { SPIN_TOTAL, Shares, barrierPolls, controlWords, sampleCounter, shareOf } from '../src/parallel/protocol.js';
import type { KernelKind } from '../src/kernels/kernels.js';

const mnist = await loadMnist();
const small = { ...mnist, train: head(mnist.train, 2000), test: head(mnist.test, 500) };
const engines: Engine[] = [];
afterAll(() => Promise.all(engines.map((e) => e.close())));

async function stepsOn(workers: number, steps: number, batch: number, kernels: KernelKind = 'ts', hidden = [128, 64]): Promise<{ before: Float32Array; after: Float32Array }> {
  // Chunks of 32 samples: a batch of 64 or 50 takes two, so the sums carried between chunks are covered too.
  const engine = new Engine({ data: small, hidden, workers, kernels, chunk: 32 });
  engines.push(engine);
  const rng = new Rng(123);
  initParams(engine.params, engine.shape, rng);
  rng.permute(engine.order);
  const before = engine.params.slice();
  for (let s = 0; s < steps; s++) await engine.steps(s * batch, batch, (s + 1) * batch, 1, 0.1);
  return { before, after: engine.params.slice() };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('data parallel step', () => {
  it('one SGD step on 1 worker and on 3 workers gives identical weights', async () => {
    const one = await stepsOn(1, 1, 64);
    const three = await stepsOn(3, 1, 64);
    expect(maxAbsDiff(one.before, three.before)).toBe(0);
    expect(maxAbsDiff(one.before, one.after)).toBeGreaterThan(1e-3); // the step did move the weights
    expect(maxAbsDiff(one.after, three.after)).toBe(0);
  });

  it('stays identical over 20 steps with uneven shares (batch 50 over 3 workers)', async () => {
    const one = await stepsOn(1, 20, 50);
    const three = await stepsOn(3, 20, 50);
    expect(maxAbsDiff(one.before, one.after)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(one.after, three.after)).toBe(0);
  });

  it('the wasm kernels too: 1 worker and 2 workers agree bit for bit over 20 steps', async () => {
    const one = await stepsOn(1, 20, 64, 'wasm');
    const two = await stepsOn(2, 20, 64, 'wasm');
    expect(maxAbsDiff(one.before, one.after)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(one.after, two.after)).toBe(0);
  });

  it('and with layer widths that are not whole vectors (30, 17) and 3 workers on batches of 50', async () => {
    const one = await stepsOn(1, 20, 50, 'wasm', [30, 17]);
    const three = await stepsOn(3, 20, 50, 'wasm', [30, 17]);
    expect(maxAbsDiff(one.before, one.after)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(one.after, three.after)).toBe(0);
  });
});

describe('every optimizer and schedule', () => {
  const data = syntheticData(480, 120);
  const bits = (params: Float32Array): Buffer => Buffer.from(params.buffer, params.byteOffset, params.byteLength);
  it.each<[string, Partial<TrainConfig>]>([
    ['momentum, step schedule', { optimizer: 'momentum', weightDecay: 1e-3, lrSchedule: 'step', stepSize: 1, gamma: 0.5 }],
    ['nesterov, cosine with warm-up', { optimizer: 'nesterov', lrSchedule: 'cosine', warmup: '10' }],
    ['adam, one-cycle', { optimizer: 'adam', lr: 0.01, lrSchedule: 'one-cycle' }],
    ['adamw, cosine', { optimizer: 'adamw', lr: 0.01, weightDecay: 0.05, lrSchedule: 'cosine', warmup: '1e' }],
  ])('%s: the same bits on 1, 2 and 3 workers, in chunks of a batch too (wasm kernels)', async (_, settings) => {
    const cfg: TrainConfig = { ...DEFAULTS, patience: 0, epochs: 2, batchSize: 24, chunk: 16, hidden: [32, 16], seed: 5, ...settings };
    const [one, two, three] = await Promise.all([1, 2, 3].map((workers) => train({ ...cfg, workers }, { data })));
    expect(bits(one.params).equals(bits(two.params))).toBe(true);
    expect(bits(one.params).equals(bits(three.params))).toBe(true);
    expect(one.epochs[1].loss).toBeLessThan(one.epochs[0].loss); // it learns
  });
});

describe('the two copies of the weights', () => {
  it.each([
    ['ts', 64],
    ['wasm', 64],
    ['wasm', 32],
  ] as const)('give, over many steps of one call, the weights of the same steps done in place on one worker (%s kernels, chunks of %i)', async (kernels, chunk) => {
    const [batch, steps, lr] = [64, 15, 0.1];
    const engine = new Engine({ data: small, hidden: [128, 64], workers: 2, kernels, chunk });
    engines.push(engine);
    const rng = new Rng(7);
    initParams(engine.params, engine.shape, rng);
    rng.permute(engine.order);
    const start = engine.params.slice();
    // One call, so one command: within it, a row no step touches is copied only while its copies differ.
    await engine.steps(0, batch, steps * batch, steps, lr);

    const plan = planArena(engine.shape, 1, chunk, small.train.x.length);
    const memory = allocateArena(plan);
    const f = new Float32Array(memory.buffer);
    const net = makeNet(engine.shape, plan, await loadKernels(kernels, memory, f), f, 0);
    ruleOfStep(PLAIN_SGD, CONSTANT, lr, 1, batch, net.rule);
    const split = splitInArena(memory, small.train, plan.pixels);
    f.set(start, plan.copies[0]);
    const losses = new Float64Array(plan.chunk);
    for (let s = 0; s < steps; s++) {
      for (let r = 0; r < batch; r += chunk) {
        // A step of several chunks carries its sums between them and applies them in the last.
        const mode = r + chunk < batch ? ACCUMULATE : r === 0 ? APPLY : APPLY_AND_CLEAR;
        forwardBackward(net, split, engine.order, s * batch + r, 0, chunk, losses);
        for (const block of rowBlocks(engine.shape)) updateWeights(net, block, chunk, mode);
      }
    }
    const inPlace = f.subarray(plan.copies[0], plan.copies[0] + plan.paramCount);
    expect(maxAbsDiff(start, inPlace)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(engine.params, inPlace)).toBe(0);
  });
});

describe('phase 2 blocks', () => {
  it('cover every parameter row of every layer once, bias rows included, in blocks of at most 16 whole rows', () => {
    for (const hidden of [[128, 64], [30, 17], [256, 128]]) {
      const shape = modelShape(hidden);
      const blocks = rowBlocks(shape);
      shape.layers.forEach((L, layer) => {
        const mine = blocks.filter((b) => b.layer === layer);
        const rows = mine.flatMap((b) => Array.from({ length: b.hi - b.lo }, (_, r) => b.lo + r));
        expect(rows).toEqual(Array.from({ length: L.inDim + 1 }, (_, r) => r));
        for (const b of mine) {
          expect(b.lo % 16).toBe(0);
          expect(b.hi - b.lo).toBeLessThanOrEqual(16);
        }
      });
    }
  });
});

describe('shares of a chunk', () => {
  /** Worker w's pieces, each worker taking `turns[w]` pieces per turn, in turns, until none is left. */
  function claims(n: number, piece: number, turns: number[]): [number, number][][] {
    const workers = turns.length;
    const control = new Int32Array(controlWords(workers));
    const shares = turns.map((_, w) => new Shares(control, sampleCounter, w, workers));
    const taken: [number, number][][] = turns.map(() => []);
    shares.forEach((s) => s.begin(n, piece));
    const active = new Set(turns.keys());
    while (active.size > 0) {
      for (const t of [...active]) {
        for (let i = 0; i < turns[t]; i++) {
          if (!shares[t].next()) {
            active.delete(t);
            break;
          }
          taken[t].push([shares[t].lo, shares[t].hi]);
        }
      }
    }
    shares[0].reset();
    expect(Array.from(control).every((v) => v === 0)).toBe(true);
    return taken;
  }

  it('hand out every item once, each worker its own share first, and a fast worker helps a slow one', () => {
    for (const [n, piece, turns] of [[256, 16, [1, 1]], [50, 3, [1, 1, 1]], [64, 4, [3, 1]], [7, 2, [1, 5, 1]], [2, 1, [1, 1, 1]]] as const) {
      const taken = claims(n, piece, [...turns]);
      const items = taken.flat().flatMap(([lo, hi]) => Array.from({ length: hi - lo }, (_, i) => lo + i));
      expect(items.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      const share = (u: number): [number, number] => shareOf(u, turns.length, n);
      const owner = (lo: number): number => turns.findIndex((_, u) => lo < share(u)[1]);
      const sameSize = new Set(turns.map((_, u) => Math.ceil((share(u)[1] - share(u)[0]) / piece))).size === 1;
      taken.forEach((mine, t) => {
        // No piece crosses from one share into the next.
        for (const [lo, hi] of mine) expect(hi).toBeLessThanOrEqual(share(owner(lo))[1]);
        // A worker's own pieces come first.
        const own = mine.filter(([lo]) => owner(lo) === t);
        expect(mine.slice(0, own.length)).toEqual(own);
        // At equal speeds, on shares of as many pieces each, nobody takes another's work.
        if (turns.every((k) => k === 1) && sameSize) expect(own).toEqual(mine);
      });
      // A worker three times as fast as the other takes some of the slow one's share.
      if (turns[0] === 3) expect(taken[0].some(([lo]) => owner(lo) === 1)).toBe(true);
    }
  });
});

describe('polls at a barrier', () => {
  it('are shared out among the waiting workers (fewer each as workers grow), and none when workers outnumber cores', () => {
    expect(barrierPolls(2, 2)).toBe(20_000);
    expect(barrierPolls(16, 16)).toBe(2_500);
    for (const workers of [1, 2, 3, 4, 8, 12, 16]) {
      expect(Math.abs(barrierPolls(workers, 16) * workers - SPIN_TOTAL)).toBeLessThanOrEqual(workers);
      expect(barrierPolls(workers + 1, 16)).toBeLessThan(barrierPolls(workers, 16));
    }
    expect(barrierPolls(3, 2)).toBe(0);
    expect(barrierPolls(17, 16)).toBe(0);
  });
});

describe('learning', () => {
  it('a fixed-seed epoch on 10,000 training samples exceeds 90% test accuracy', async () => {
    const data = { ...mnist, train: head(mnist.train, 10_000) };
    // Batch 16 gives 625 updates in the one pass; at the default 64 (157 updates) it lands near 88%.
    const cfg = { ...DEFAULTS, patience: 0, epochs: 1, batchSize: 16, workers: 2, seed: 1 };
    const result = await train(cfg, { data });
    expect(result.epochs).toHaveLength(1);
    expect(result.test!.accuracy).toBeGreaterThan(0.9);
    // The confusion matrix counts every test image once.
    expect(result.test!.confusion.reduce((a, b) => a + b, 0)).toBe(10_000);
  });
});
