// The WebAssembly SIMD kernels compute what TsKernels computes. Both run on identical copies
// of one arena; every float of the two arenas is then compared, so a wasm kernel that writes
// a wrong value, skips an element, or touches memory outside its outputs fails the test.
// Needs dist/kernels.wasm (`npm run build`; `npm test` builds first).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine.js';
import { kernelsWasmFile, loadKernels } from '../src/kernel-loader.js';
import { TsKernels, type Kernels } from '../src/kernels.js';
import { dataPaths, head, loadMnist } from '../src/mnist.js';
import { initParams } from '../src/model.js';
import type { KernelKind } from '../src/protocol.js';
import { Rng } from '../src/rng.js';

const PAGE = 65536;
const RESERVED_FLOATS = PAGE / 4;
/** Fills memory nothing should write; a kernel that writes there shows up as a mismatch. */
const SENTINEL = -1234.5;

/** A shared memory with tensors laid out one after another, each followed by sentinel floats. */
class Layout {
  private next = RESERVED_FLOATS;
  private readonly sizes: number[] = [];

  /** Offset of a tensor of `floats`, 16-byte aligned like the arena. */
  take(floats: number, gap = 4): number {
    const at = this.next;
    this.sizes.push(floats);
    this.next += Math.ceil((floats + gap) / 4) * 4;
    return at;
  }

  async build(): Promise<{ f: Float32Array; wasm: Kernels }> {
    const pages = Math.ceil((this.next * 4) / PAGE) + 1;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const f = new Float32Array(memory.buffer);
    f.fill(SENTINEL);
    return { f, wasm: await loadKernels('wasm', memory, f) };
  }
}

/** MNIST-like values: mostly exact zeros (a few -0), the rest spread over [-1, 1]. */
function fillSparse(f: Float32Array, at: number, count: number, rng: Rng, zeroFraction = 0.7): void {
  for (let i = 0; i < count; i++) {
    const u = rng.uniform();
    f[at + i] = u < zeroFraction ? (u < 0.02 ? -0 : 0) : 2 * rng.uniform() - 1;
  }
}

function fillNormal(f: Float32Array, at: number, count: number, rng: Rng, std: number): void {
  for (let i = 0; i < count; i++) f[at + i] = rng.normal() * std;
}

/**
 * Every float agrees within 1e-5 absolute or relative (float32 sums in another order);
 * reports the worst one. Untouched floats, sentinels included, must stay identical.
 */
function expectSameArena(wasm: Float32Array, ts: Float32Array, what: string): void {
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < ts.length; i++) {
    const a = wasm[i];
    const b = ts[i];
    if (a === b) continue;
    const err = Number.isNaN(a) || Number.isNaN(b) ? Infinity : Math.abs(a - b) / Math.max(1, Math.abs(b));
    if (err > worstErr) {
      worstErr = err;
      worst = i;
    }
  }
  const where = worst < 0 ? '' : ` at float ${worst}: wasm ${wasm[worst]}, ts ${ts[worst]}`;
  expect(worstErr, `${what}${where}`).toBeLessThanOrEqual(1e-5);
}

/** Runs `call` on the wasm kernels and on TsKernels over a copy of the same arena, then compares. */
function compare(f: Float32Array, wasm: Kernels, what: string, call: (k: Kernels) => void): void {
  const copy = f.slice();
  call(wasm);
  call(new TsKernels(copy));
  expectSameArena(f, copy, what);
}

// The net's own layers, odd sizes that leave vector remainders, and widths below one vector.
const SHAPES: [number, number][] = [
  [784, 128], [128, 64], [64, 10], [7, 5], [5, 3], [1, 1], [70, 9], [130, 33], [16, 4], [200, 29],
  // More inputs than one group of 256 whose nonzero masks are shared, with and without a column tail.
  [257, 6], [300, 7], [520, 36],
];

describe('wasm kernels agree with TsKernels', () => {
  for (const [inDim, outDim] of SHAPES) {
    for (const n of [1, 3, 256]) {
      it(`forward and backward, n=${n}, ${inDim} -> ${outDim}`, async () => {
        const rng = new Rng(inDim * 1000 + outDim * 10 + n);
        const layout = new Layout();
        const W = layout.take(inDim * outDim);
        const b = layout.take(outDim);
        const inp = layout.take(n * inDim);
        const out = layout.take(n * outDim, 0); // no gap: a write past the last row lands in dW
        const dW = layout.take(inDim * outDim);
        const db = layout.take(outDim);
        const dout = layout.take(n * outDim);
        const dinp = layout.take(n * inDim);
        const { f, wasm } = await layout.build();
        fillNormal(f, W, inDim * outDim, rng, Math.sqrt(2 / inDim));
        fillNormal(f, b, outDim, rng, 0.1);
        fillSparse(f, inp, n * inDim, rng);
        fillNormal(f, dout, n * outDim, rng, 1);
        // Gradients accumulate, so start them away from zero.
        fillNormal(f, dW, inDim * outDim, rng, 0.5);
        fillNormal(f, db, outDim, rng, 0.5);

        for (const relu of [true, false]) {
          compare(f, wasm, `forward relu=${relu}`, (k) => k.matmulForward(out, inp, W, b, n, inDim, outDim, relu));
        }
        compare(f, wasm, 'backward without dinp', (k) => k.matmulBackward(-1, dW, db, dout, inp, W, n, inDim, outDim));
        compare(f, wasm, 'backward with dinp', (k) => k.matmulBackward(dinp, dW, db, dout, inp, W, n, inDim, outDim));

        // Not vacuous: the outputs are real numbers, most of them non-zero.
        const outputs = f.subarray(out, out + n * outDim);
        expect(outputs.filter((v) => v !== 0 && v !== SENTINEL).length).toBeGreaterThan((n * outDim) / 2);
      });
    }
  }

  it('skips nothing but exact zeros: dense inputs and all-zero inputs', async () => {
    const [n, inDim, outDim] = [5, 100, 12];
    const rng = new Rng(3);
    const layout = new Layout();
    const W = layout.take(inDim * outDim);
    const b = layout.take(outDim);
    const inp = layout.take(n * inDim);
    const out = layout.take(n * outDim);
    const dW = layout.take(inDim * outDim);
    const db = layout.take(outDim);
    const dout = layout.take(n * outDim);
    const dinp = layout.take(n * inDim);
    const { f, wasm } = await layout.build();
    fillNormal(f, W, inDim * outDim, rng, 0.1);
    fillNormal(f, b, outDim, rng, 0.1);
    fillNormal(f, dout, n * outDim, rng, 1);
    f.fill(0, dW, dW + inDim * outDim);
    f.fill(0, db, db + outDim);
    for (const zeroFraction of [0, 1]) {
      fillSparse(f, inp, n * inDim, rng, zeroFraction);
      compare(f, wasm, `forward, zeros ${zeroFraction}`, (k) => k.matmulForward(out, inp, W, b, n, inDim, outDim, true));
      compare(f, wasm, `backward, zeros ${zeroFraction}`, (k) => k.matmulBackward(dinp, dW, db, dout, inp, W, n, inDim, outDim));
    }
  });

  it('reduceApply sums the slots into the parameters over [lo, hi) only', async () => {
    const rng = new Rng(11);
    const paramCount = 1000;
    const layout = new Layout();
    const params = layout.take(paramCount);
    // Evenly spaced like the arena's gradient slots, and a set that is not.
    const even = Array.from({ length: 3 }, () => layout.take(paramCount, 0));
    const uneven = [layout.take(paramCount, 8), layout.take(paramCount, 40), layout.take(paramCount, 0)];
    const { f, wasm } = await layout.build();
    fillNormal(f, params, paramCount, rng, 1);
    for (const s of [...even, ...uneven]) fillNormal(f, s, paramCount, rng, 1);
    for (const [slots, lo, hi] of [[even, 0, paramCount], [even, 96, 500], [even.slice(0, 1), 4, 8], [even, 5, 23], [uneven, 200, 1000], [[], 0, 100]] as const) {
      compare(f, wasm, `reduceApply over ${slots.length} slots [${lo}, ${hi})`, (k) => k.reduceApply(params, [...slots], lo, hi, 0.01));
    }
    // Not vacuous: the parameters moved.
    const before = f.slice(params, params + paramCount);
    wasm.reduceApply(params, even, 0, paramCount, 0.5);
    expect(f.subarray(params, params + paramCount).filter((v, i) => v !== before[i]).length).toBeGreaterThan(paramCount * 0.9);
  });

  it('scalePixels turns bytes into exactly the same floats x / 255, including odd lengths and offsets', async () => {
    const layout = new Layout();
    const out = layout.take(800);
    const bytesAt = layout.take(800 / 4 + 4);
    const { f, wasm } = await layout.build();
    const pixels = new Uint8Array(f.buffer, bytesAt * 4, 800);
    pixels.forEach((_, i) => (pixels[i] = (i * 37) % 256)); // every byte value, 0 and 255 included
    // The pixel bytes read as floats may be NaNs, so compare the output region only, bit for bit.
    const ts = new TsKernels(new Float32Array(out + 800));
    for (const [from, count] of [[0, 784], [3, 17], [16, 16], [5, 1], [0, 0]]) {
      f.fill(SENTINEL, out, out + 800);
      wasm.scalePixels(out, pixels, from, count);
      ts.scalePixels(out, pixels, from, count);
      for (let i = 0; i < count; i++) expect(f[out + i]).toBe(Math.fround(pixels[from + i] / 255));
      expect(Array.from(f.subarray(out, out + count))).toEqual(Array.from(ts.f.subarray(out, out + count)));
      expect(f[out + count]).toBe(SENTINEL); // nothing written past the end
    }
    expect(() => wasm.scalePixels(out, new Uint8Array(4), 0, 4)).toThrow(/only from the arena/);
  });

  it('zero clears exactly [at, at + count)', async () => {
    const layout = new Layout();
    const at = layout.take(1000);
    const { f, wasm } = await layout.build();
    for (const [from, count] of [[0, 1000], [4, 8], [12, 1], [100, 0]]) {
      fillNormal(f, at, 1000, new Rng(from + count), 1);
      compare(f, wasm, `zero [${from}, ${from + count})`, (k) => k.zero(at + from, count));
      expect(f.subarray(at + from, at + from + count).every((v) => v === 0)).toBe(true);
    }
  });
});

describe('wasm kernel module', () => {
  it('imports only the shared memory and exports only kernels', () => {
    const module = new WebAssembly.Module(readFileSync(kernelsWasmFile()));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(['matmulBackward', 'matmulForward', 'reduceApply', 'scalePixels', 'zero']);
  });

  it('rejects memory that is not shared, with a message saying so', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    await expect(loadKernels('wasm', memory, new Float32Array(memory.buffer))).rejects.toThrow(/shared/);
  });
});

describe('wasm kernels in the worker pool', () => {
  it('train the same weights as the ts kernels over 10 steps on 2 workers', async () => {
    const mnist = loadMnist(dataPaths(undefined));
    const data = { train: head(mnist.train, 640), test: head(mnist.test, 10) };
    const train = async (kernels: KernelKind): Promise<{ before: Float32Array; after: Float32Array }> => {
      const engine = new Engine({ data, hidden: [128, 64], workers: 2, kernels, chunk: 16 });
      try {
        initParams(engine.params, engine.shape, new Rng(5));
        engine.order.forEach((_, i) => (engine.order[i] = i));
        const before = engine.params.slice();
        for (let s = 0; s < 10; s++) await engine.step(s * 64, (s + 1) * 64, 0.1);
        return { before, after: engine.params.slice() };
      } finally {
        await engine.close();
      }
    };
    const ts = await train('ts');
    const wasm = await train('wasm');
    let moved = 0;
    let worst = 0;
    for (let i = 0; i < ts.after.length; i++) {
      moved = Math.max(moved, Math.abs(ts.after[i] - ts.before[i]));
      worst = Math.max(worst, Math.abs(wasm.after[i] - ts.after[i]));
    }
    expect(moved).toBeGreaterThan(1e-2);
    expect(worst).toBeLessThan(1e-5);
  });
});
