// The WebAssembly SIMD kernels compute what TsKernels computes. Both run on identical copies
// of one arena; every float of the two arenas is then compared, so a wasm kernel that writes
// a wrong value, skips an element, or touches memory outside its outputs fails the test.
// Needs dist/kernels.wasm (`npm run build`; `npm test` builds first).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/parallel/engine.js';
import { kernelsWasmFile, loadKernels } from '../src/kernels/load.js';
import { ACCUMULATE, APPLY, APPLY_AND_CLEAR, TsKernels, updateRowsScratch, type Kernels, type UpdateMode } from '../src/kernels/kernels.js';
import { head, loadMnist } from '../src/data/dataset.js';
import { initParams } from '../src/model/model.js';
import type { KernelKind } from '../src/kernels/kernels.js';
import { Rng } from '../src/util/rng.js';
import { PLAIN_SGD, CONSTANT, ruleOfStep, type OptimizerKind } from '../src/model/optimizer.js';
import { RULE_PLAIN, emptyRule, type UpdateRule } from '../src/kernels/update-rule.js';

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

const MODES: [string, UpdateMode][] = [['accumulate', ACCUMULATE], ['apply', APPLY], ['apply and clear', APPLY_AND_CLEAR]];

/** One layer's tensors for n samples, in arena order; `out` has no gap after it, so a write past its last row lands in gW. */
function layerTensors(layout: Layout, n: number, inDim: number, outDim: number) {
  return {
    W: layout.take(inDim * outDim),
    b: layout.take(outDim),
    inp: layout.take(n * inDim),
    out: layout.take(n * outDim, 0),
    gW: layout.take(inDim * outDim),
    gb: layout.take(outDim),
    dout: layout.take(n * outDim),
    dinp: layout.take(n * inDim),
    scratch: layout.take(updateRowsScratch(n)),
    moved: layout.take(Math.ceil((inDim + 1) / 4)),
  };
}

/** The plain SGD rule: W' = W - scale * g. */
function plain(scale: number): UpdateRule {
  return { ...emptyRule(), rule: RULE_PLAIN, scale };
}

/** Zero a layer's gradient sums, as they stand between steps. */
function clearSums(f: Float32Array, gW: number, gb: number, inDim: number, outDim: number): void {
  f.fill(0, gW, gW + inDim * outDim);
  f.fill(0, gb, gb + outDim);
}

/** updateRows' scratch is the kernels' own business: cleared after a call in the arena that kernel wrote, the rest is compared. */
function clearScratch(k: Kernels, wasmArena: Float32Array, scratch: number, n: number): void {
  (k instanceof TsKernels ? k.f : wasmArena).fill(0, scratch, scratch + updateRowsScratch(n));
}

describe('wasm kernels agree with TsKernels', () => {
  for (const [inDim, outDim] of SHAPES) {
    for (const n of [1, 3, 256]) {
      it(`forward, deltas and row updates, n=${n}, ${inDim} -> ${outDim}`, async () => {
        const rng = new Rng(inDim * 1000 + outDim * 10 + n);
        const layout = new Layout();
        const { W, b, inp, out, gW, gb, dout, dinp, scratch, moved } = layerTensors(layout, n, inDim, outDim);
        const { f, wasm } = await layout.build();
        fillNormal(f, W, inDim * outDim, rng, Math.sqrt(2 / inDim));
        fillNormal(f, b, outDim, rng, 0.1);
        fillSparse(f, inp, n * inDim, rng);
        fillNormal(f, dout, n * outDim, rng, 1);
        // Sums of earlier chunks, away from zero.
        fillNormal(f, gW, inDim * outDim, rng, 0.5);
        fillNormal(f, gb, outDim, rng, 0.5);

        for (const relu of [true, false]) {
          compare(f, wasm, `forward relu=${relu}`, (k) => k.matmulForward(out, inp, W, b, n, inDim, outDim, relu));
        }
        compare(f, wasm, 'backpropInput', (k) => k.backpropInput(dinp, dout, inp, W, n, inDim, outDim));
        compare(f, wasm, 'pull changes nothing', (k) => k.pull(W, inDim * outDim + 3));
        for (const [name, mode] of MODES) {
          // All rows with the bias, then a range inside that starts off a 16-row boundary.
          for (const [lo, hi] of [[0, inDim + 1], [Math.min(3, inDim), Math.min(inDim, 21)]]) {
            compare(f, wasm, `updateRows ${name} [${lo}, ${hi})`, (k) => {
              k.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: lo, rowHi: hi, rule: plain(0.01), stride: 0, mode, scratch, to: 0, moved });
              clearScratch(k, f, scratch, n);
            });
          }
        }

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
    const { W, b, inp, out, gW, gb, dout, dinp, scratch, moved } = layerTensors(layout, n, inDim, outDim);
    const { f, wasm } = await layout.build();
    fillNormal(f, W, inDim * outDim, rng, 0.1);
    fillNormal(f, b, outDim, rng, 0.1);
    fillNormal(f, dout, n * outDim, rng, 1);
    clearSums(f, gW, gb, inDim, outDim);
    for (const zeroFraction of [0, 1]) {
      fillSparse(f, inp, n * inDim, rng, zeroFraction);
      compare(f, wasm, `forward, zeros ${zeroFraction}`, (k) => k.matmulForward(out, inp, W, b, n, inDim, outDim, true));
      compare(f, wasm, `backpropInput, zeros ${zeroFraction}`, (k) => k.backpropInput(dinp, dout, inp, W, n, inDim, outDim));
      compare(f, wasm, `updateRows, zeros ${zeroFraction}`, (k) => {
        k.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0), stride: 0, mode: ACCUMULATE, scratch, to: 0, moved });
        clearScratch(k, f, scratch, n);
      });
    }
  });

  it('updateRows reads first-layer inputs from pixel bytes exactly as from the scaled floats', async () => {
    const [n, inDim, outDim] = [37, 784, 128];
    const rng = new Rng(17);
    const layout = new Layout();
    const { W, b, inp, gW, gb, dout, dinp, scratch, moved } = layerTensors(layout, n, inDim, outDim);
    const table = layout.take(n);
    const bytes = layout.take((n * inDim) / 4);
    const { f, wasm } = await layout.build();
    fillNormal(f, W, inDim * outDim, rng, 0.05);
    fillNormal(f, b, outDim, rng, 0.1);
    clearSums(f, gW, gb, inDim, outDim);
    fillNormal(f, dout, n * outDim, rng, 1);
    const pixels = new Uint8Array(f.buffer, bytes * 4, n * inDim);
    const addresses = new Uint32Array(f.buffer, table * 4, n);
    // Samples in shuffled order, as a chunk holds them; MNIST-like, 20% lit.
    for (let i = 0; i < n; i++) addresses[i] = bytes * 4 + ((i * 7) % n) * inDim;
    pixels.forEach((_, i) => (pixels[i] = rng.uniform() < 0.2 ? 1 + rng.below(255) : 0));
    for (let i = 0; i < n; i++) for (let k = 0; k < inDim; k++) f[inp + i * inDim + k] = pixels[addresses[i] - bytes * 4 + k] / 255;
    const ts = new TsKernels(f.slice());
    const W0 = f.slice(W, W + inDim * outDim);
    for (const [name, mode] of MODES) {
      wasm.updateRows({ W, b, gW, gb, inp, pixels: table, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0.01), stride: 0, mode, scratch, to: 0, moved });
      ts.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0.01), stride: 0, mode, scratch, to: 0, moved });
      // Compare the tensors up to the scratch: the pixel bytes read as floats may be NaNs.
      expectSameArena(f.slice(W, dinp), (ts.f as Float32Array).slice(W, dinp), `pixels, ${name}`);
    }
    // Reading the bytes gives exactly the floats: the same sums bit for bit, every byte value present.
    expect(new Set(pixels).size).toBe(256);
    const sums = (pix: number, lo = 0, hi = inDim + 1): Float32Array => {
      clearSums(f, gW, gb, inDim, outDim);
      wasm.updateRows({ W, b, gW, gb, inp, pixels: pix, dout, n, inDim, outDim, rowLo: lo, rowHi: hi, rule: plain(0), stride: 0, mode: ACCUMULATE, scratch, to: 0, moved });
      return f.slice(gW, gb + outDim);
    };
    expect(Array.from(sums(table))).toEqual(Array.from(sums(-1)));
    // Blocks that start off the 16-row grid, a last block of fewer than 16 rows, the bias row.
    for (const [lo, hi] of [[3, 21], [5, 784], [770, 785]]) expect(Array.from(sums(table, lo, hi))).toEqual(Array.from(sums(-1, lo, hi)));
    // Not vacuous: most weights moved (rows of pixels dark in all 37 samples cannot).
    expect(f.subarray(W, W + inDim * outDim).filter((v, i) => v !== W0[i]).length).toBeGreaterThan(inDim * outDim * 0.5);
  });

  it('apply and clear leaves the sums zero and applies them; accumulate leaves the weights alone', async () => {
    const [n, inDim, outDim] = [4, 20, 8];
    const rng = new Rng(23);
    const layout = new Layout();
    const { W, b, inp, gW, gb, dout, scratch, moved } = layerTensors(layout, n, inDim, outDim);
    const { f, wasm } = await layout.build();
    fillNormal(f, W, inDim * outDim, rng, 0.3);
    fillNormal(f, b, outDim, rng, 0.3);
    clearSums(f, gW, gb, inDim, outDim);
    fillSparse(f, inp, n * inDim, rng, 0.5);
    fillNormal(f, dout, n * outDim, rng, 1);
    const W0 = f.slice(W, W + inDim * outDim);
    // Two chunks of the same samples: sums, then apply. Same as one APPLY of twice the gradient.
    wasm.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0.5), stride: 0, mode: ACCUMULATE, scratch, to: 0, moved });
    expect(Array.from(f.subarray(W, W + inDim * outDim))).toEqual(Array.from(W0));
    const G = f.slice(gW, gW + inDim * outDim);
    expect(G.filter((v) => v !== 0).length).toBeGreaterThan(inDim * outDim * 0.3);
    wasm.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0.5), stride: 0, mode: APPLY_AND_CLEAR, scratch, to: 0, moved });
    expect(f.subarray(gW, gW + inDim * outDim).every((v) => v === 0)).toBe(true);
    expect(f.subarray(gb, gb + outDim).every((v) => v === 0)).toBe(true);
    for (let i = 0; i < inDim * outDim; i++) expect(f[W + i]).toBeCloseTo(W0[i] - 0.5 * 2 * G[i], 5);
  });

  it('updateRows writes into another copy what it would write in place, copies a row without input only while its copies differ, and leaves the copy read alone', async () => {
    const [n, inDim, outDim] = [6, 40, 20];
    const rng = new Rng(29);
    const layout = new Layout();
    const { W, b, inp, gW, gb, dout, scratch, moved } = layerTensors(layout, n, inDim, outDim);
    const [W2, b2] = [layout.take(inDim * outDim), layout.take(outDim)];
    expect(b2 - b).toBe(W2 - W); // one shift moves weights and bias, as between the arena's two copies
    const { f, wasm } = await layout.build();
    fillNormal(f, W, inDim * outDim, rng, 0.3);
    fillNormal(f, b, outDim, rng, 0.3);
    fillSparse(f, inp, n * inDim, rng, 0.5);
    for (let i = 0; i < n; i++) f.fill(0, inp + i * inDim, inp + i * inDim + 8); // rows 0-7: no input in any sample
    fillNormal(f, dout, n * outDim, rng, 1);
    const copyRead = f.slice(W, b + outDim);
    const differ = new Uint8Array(f.buffer, moved * 4, inDim + 1);
    const hasInput = (k: number): boolean => k === inDim || Array.from({ length: n }, (_, i) => f[inp + i * inDim + k]).some((x) => x !== 0);
    const untouched = Array.from({ length: inDim }, (_, k) => k).filter((k) => !hasInput(k));
    const rowsOf = (x: Float32Array, rows: number[]): number[] => rows.flatMap((k) => Array.from(x.subarray(k * outDim, (k + 1) * outDim)));
    for (const k of [wasm, new TsKernels(f)]) {
      for (const [name, mode] of MODES.filter(([, m]) => m !== ACCUMULATE)) {
        fillNormal(f, gW, inDim * outDim, rng, mode === APPLY ? 0 : 0.5);
        fillNormal(f, gb, outDim, rng, mode === APPLY ? 0 : 0.5);
        const sums = f.slice(gW, gb + outDim);
        differ.fill(1);
        f.fill(SENTINEL, W2, b2 + outDim);
        k.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0.1), stride: 0, mode, scratch, to: W2 - W, moved });
        const written = f.slice(W2, b2 + outDim);
        expect(Array.from(f.subarray(W, b + outDim)), `${name}: the copy read`).toEqual(Array.from(copyRead));
        // Rows written now differ between the copies; in APPLY, rows without input were copied and agree.
        expect(Array.from(differ), name).toEqual(Array.from({ length: inDim + 1 }, (_, r) => (mode === APPLY && !hasInput(r) ? 0 : 1)));
        if (mode === APPLY) {
          expect(rowsOf(written, untouched)).toEqual(rowsOf(copyRead, untouched));
          // Once the copies agree, a row without input is not written at all.
          for (const r of untouched) f.fill(SENTINEL, W2 + r * outDim, W2 + (r + 1) * outDim);
          k.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0.1), stride: 0, mode, scratch, to: W2 - W, moved });
          expect(rowsOf(f.subarray(W2, b2 + outDim), untouched).every((v) => v === SENTINEL)).toBe(true);
        }
        f.set(sums, gW);
        k.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule: plain(0.1), stride: 0, mode, scratch, to: 0, moved });
        const inPlace = f.slice(W, b + outDim);
        f.set(copyRead, W);
        expect(Array.from(written), name).toEqual(Array.from(inPlace));
        // Not vacuous: most of the copy moved, and rows 0-7 at least had no input.
        expect(written.filter((v, i) => v !== copyRead[i]).length).toBeGreaterThan(inDim * outDim * 0.5);
        expect(untouched.length).toBeGreaterThanOrEqual(8);
      }
    }
  });
});

describe('the update rules in the kernels', () => {
  const SPECS: Record<Exclude<OptimizerKind, 'sgd'> | 'sgd + weight decay', { kind: OptimizerKind; weightDecay: number }> = {
    'sgd + weight decay': { kind: 'sgd', weightDecay: 0.01 },
    momentum: { kind: 'momentum', weightDecay: 0.01 },
    nesterov: { kind: 'nesterov', weightDecay: 0 },
    adam: { kind: 'adam', weightDecay: 0.01 },
    adamw: { kind: 'adamw', weightDecay: 0.05 },
  };
  for (const [name, spec] of Object.entries(SPECS)) {
    it(`${name}: wasm and ts agree on the new weights and state, written into the other copy, rows without input included`, async () => {
      const [n, inDim, outDim] = [5, 37, 19]; // a column tail, a partial last block of rows
      const rng = new Rng(41);
      const layout = new Layout();
      const stride = Math.ceil((inDim * outDim + outDim) / 4) * 4;
      const copyA = layout.take(3 * stride);
      const copyB = layout.take(3 * stride);
      const [gW, gb, inp, dout] = [layout.take(inDim * outDim), layout.take(outDim), layout.take(n * inDim), layout.take(n * outDim)];
      const [scratch, moved] = [layout.take(updateRowsScratch(n)), layout.take(Math.ceil((inDim + 1) / 4))];
      const { f, wasm } = await layout.build();
      const W = copyA;
      const b = copyA + inDim * outDim;
      fillNormal(f, W, inDim * outDim, rng, 0.3);
      fillNormal(f, b, outDim, rng, 0.3);
      fillNormal(f, W + stride, stride, rng, 0.01); // velocity, or first moment
      for (let i = 0; i < stride; i++) f[W + 2 * stride + i] = 1e-4 * rng.uniform(); // second moment, never negative
      fillSparse(f, inp, n * inDim, rng, 0.5);
      for (let i = 0; i < n; i++) f.fill(0, inp + i * inDim, inp + i * inDim + 5); // rows 0-4: no input in any sample
      fillNormal(f, dout, n * outDim, rng, 1);
      const rule = emptyRule();
      ruleOfStep({ ...PLAIN_SGD, momentum: 0.9, ...spec }, CONSTANT, 0.05, 3, n, rule);
      const readBefore = f.slice(copyA, copyA + 3 * stride);
      for (const mode of [APPLY, APPLY_AND_CLEAR] as const) {
        fillNormal(f, gW, inDim * outDim, rng, mode === APPLY ? 0 : 0.5);
        fillNormal(f, gb, outDim, rng, mode === APPLY ? 0 : 0.5);
        f.fill(SENTINEL, copyB, copyB + 3 * stride);
        compare(f, wasm, `${name}, mode ${mode}`, (k) => {
          k.updateRows({ W, b, gW, gb, inp, pixels: -1, dout, n, inDim, outDim, rowLo: 0, rowHi: inDim + 1, rule, stride, mode, scratch, to: copyB - copyA, moved });
          clearScratch(k, f, scratch, n);
        });
        expect(Array.from(f.subarray(copyA, copyA + 3 * stride)), 'the copy read').toEqual(Array.from(readBefore));
        const slots = name.startsWith('sgd') ? 0 : name.startsWith('adam') ? 2 : 1;
        for (let s = 0; s <= slots; s++) {
          const written = f.subarray(copyB + s * stride, copyB + s * stride + inDim * outDim + outDim);
          // Every parameter, rows without input too, moved (weight decay, momentum, Adam's moments).
          expect(written.every((v, i) => v !== SENTINEL && v !== readBefore[s * stride + i]), `slot ${s}`).toBe(true);
        }
      }
    });
  }
});

describe('gatherPixels', () => {
  // 784: whole blocks of 16 values; 20 and 7 (4x5 and 7x1 images) end rows in a tail, 7 on no 4-byte boundary.
  it.each([784, 20, 7])('scales images of %i values named by an address table to exactly x / 255, four at a time and a last one, zero runs too', async (IMAGE_SIZE) => {
    const n = 5;
    const layout = new Layout();
    const out = layout.take(n * IMAGE_SIZE);
    const table = layout.take(n);
    const bytesAt = layout.take(Math.ceil((7 * IMAGE_SIZE) / 4));
    const { f, wasm } = await layout.build();
    const pixels = new Uint8Array(f.buffer, bytesAt * 4, 7 * IMAGE_SIZE);
    const rng = new Rng(29);
    pixels.forEach((_, i) => (pixels[i] = (i >> 4) % 3 === 0 ? rng.below(256) : 0));
    const images = [6, 0, 3, 3, 5]; // shuffled, one twice
    const addresses = new Uint32Array(f.buffer, table * 4, n);
    images.forEach((img, r) => (addresses[r] = pixels.byteOffset + img * IMAGE_SIZE));
    const ts = new TsKernels(f.slice());
    wasm.gatherPixels(out, pixels, table, n, IMAGE_SIZE);
    // TsKernels reads the bytes at the same addresses of its own copy of the arena.
    ts.gatherPixels(out, new Uint8Array(ts.f.buffer), table, n, IMAGE_SIZE);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < IMAGE_SIZE; i++) {
        const want = Math.fround(pixels[images[r] * IMAGE_SIZE + i] / 255);
        if (f[out + r * IMAGE_SIZE + i] !== want || ts.f[out + r * IMAGE_SIZE + i] !== want) {
          expect([r, i, f[out + r * IMAGE_SIZE + i], ts.f[out + r * IMAGE_SIZE + i]]).toEqual([r, i, want, want]);
        }
      }
    }
    expect(f[out + n * IMAGE_SIZE]).toBe(SENTINEL); // nothing written past the last row
    expect(() => wasm.gatherPixels(out, new Uint8Array(4), table, n, IMAGE_SIZE)).toThrow(/only from the arena/);
  });
});

describe('wasm kernel module', () => {
  it('imports only the shared memory and exports only kernels', () => {
    const module = new WebAssembly.Module(readFileSync(kernelsWasmFile()));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(['backpropInput', 'gatherPixels', 'matmulForward', 'pull', 'updateRows']);
  });

  it('rejects memory that is not shared, with a message saying so', async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    await expect(loadKernels('wasm', memory, new Float32Array(memory.buffer))).rejects.toThrow(/shared/);
  });
});

describe('wasm kernels in the worker pool', () => {
  it('train the same weights as the ts kernels over 10 steps on 2 workers', async () => {
    const mnist = await loadMnist();
    const data = { ...mnist, train: head(mnist.train, 640), test: head(mnist.test, 10) };
    const train = async (kernels: KernelKind): Promise<{ before: Float32Array; after: Float32Array }> => {
      const engine = new Engine({ data, hidden: [128, 64], workers: 2, kernels, chunk: 16 });
      try {
        initParams(engine.params, engine.shape, new Rng(5));
        engine.order.forEach((_, i) => (engine.order[i] = i));
        const before = engine.params.slice();
        await engine.steps(0, 64, 640, 10, 0.1);
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
