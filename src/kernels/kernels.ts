// The numeric primitives of a training step. Every argument that names a tensor is a
// float offset into one flat array (the shared arena), so the same calls drive the plain
// TypeScript loops below and the WebAssembly SIMD kernels, which see the arena as their memory.
// Matrices are row-major; W is [inDim][outDim]. The TypeScript loops are the plain statement
// of what the fast kernels compute: test/kernels.test.ts holds the wasm build to them.
import { RULE_ADAM, RULE_ADAMW, RULE_MOMENTUM, RULE_PLAIN, RULE_SGD, type UpdateRule } from './update-rule.js';

export const KERNEL_KINDS = ['ts', 'wasm'] as const;
export type KernelKind = (typeof KERNEL_KINDS)[number];

/**
 * One call of updateRows: rows [rowLo, rowHi) of one layer, over the n samples of a chunk.
 * Every tensor is a float offset into the arena.
 */
export interface RowUpdate {
  /** The layer's weights (inDim x outDim) and bias in the copy of the parameters read. */
  W: number;
  b: number;
  /** Their gradient sums carried between the chunks of one step. */
  gW: number;
  gb: number;
  /** The chunk's inputs to the layer, n x inDim. */
  inp: number;
  /**
   * First layer only, else -1: a table of n u32 byte addresses of the samples' pixels, from
   * which the wasm kernels read the inputs instead of inp (the same values; see
   * assembly/rows.ts for why).
   */
  pixels: number;
  /** The chunk's deltas of the layer's outputs, n x outDim. */
  dout: number;
  n: number;
  inDim: number;
  outDim: number;
  /** Rows to update; row inDim is the bias. */
  rowLo: number;
  rowHi: number;
  mode: UpdateMode;
  /** How the step turns a row's gradient sums into new weights (see model/optimizer.ts). */
  rule: UpdateRule;
  /**
   * Floats from a parameter to its optimizer state: slot s (the velocity, or Adam's first
   * and second moments) of the parameter at p is at p + (s + 1) * stride, in either copy.
   */
  stride: number;
  /** updateRowsScratch(n) floats of the calling worker. */
  scratch: number;
  /** Floats from the copy of the parameters read to the copy written (0: in place). */
  to: number;
  /** A byte per row (bias last), 1 where the row's two copies may differ. */
  moved: number;
}

export interface Kernels {
  /** out[n][outDim] = inp[n][inDim] . W + b, then ReLU when `relu`. */
  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: boolean): void;
  /** dinp[n][inDim] = dout . W^T where inp != 0, else 0: inp is the previous layer's ReLU output, and ReLU'(z) = 1 exactly where ReLU(z) > 0. */
  backpropInput(dinp: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void;
  /**
   * The weight gradient, reduced over the samples and applied, row by row. For rows k in
   * [rowLo, rowHi): g_k = sum over samples i < n, in order, of inp[i][k] * dout[i]; row
   * k == inDim is the bias (input 1), at b and gb. Then by `mode`: ACCUMULATE gW[k] += g_k;
   * APPLY: the rule updates W[k] and its state by g_k; APPLY_AND_CLEAR: by gW[k] + g_k, and
   * gW[k] = 0 (see `updated` below for the rules). The new rows and state are written `to`
   * floats past those read, so a step can read one copy of the parameters and write the
   * other (see ArenaPlan.copies). Under RULE_PLAIN a row with no nonzero input in APPLY does
   * not change: it is copied to `to` only where its `moved` byte says its copies may differ;
   * every row's byte is left saying whether they differ now (ACCUMULATE leaves them).
   */
  updateRows(u: RowUpdate): void;
  /**
   * Row r < n of out (`count` floats) = the `count` bytes at address table[r], / 255:
   * `table` offsets n u32 addresses into pixels.buffer, in the arena (see ArenaPlan).
   */
  gatherPixels(out: number, pixels: Uint8Array, table: number, n: number, count: number): void;
  /** Reads f[at .. at + count) and changes nothing: brings memory other workers wrote into this worker's cache in one sweep. */
  pull(at: number, count: number): void;
}

export type FloatArray = Float32Array | Float64Array;

/** What updateRows does with a row's gradient. */
export const ACCUMULATE = 0;
export const APPLY = 1;
export const APPLY_AND_CLEAR = 2;
export type UpdateMode = typeof ACCUMULATE | typeof APPLY | typeof APPLY_AND_CLEAR;

/** Floats of scratch updateRows needs for n samples: 16 counts and 16 lists of n pairs. */
export const updateRowsScratch = (n: number): number => 16 + 32 * n;

export class TsKernels implements Kernels {
  /** One row's gradient sums, in float64 whatever the arena's width. */
  private row = new Float64Array(0);

  constructor(readonly f: FloatArray) {}

  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: boolean): void {
    const f = this.f;
    for (let i = 0; i < n; i++) {
      const o = out + i * outDim;
      for (let j = 0; j < outDim; j++) f[o + j] = f[b + j];
      const x = inp + i * inDim;
      // Row-by-row axpy: out_i += x_ik * W_k. MNIST pixels are ~80% zero and ReLU
      // outputs ~50%, so skipping zero inputs removes most of the work exactly.
      for (let k = 0; k < inDim; k++) {
        const xk = f[x + k];
        if (xk === 0) continue;
        const w = W + k * outDim;
        for (let j = 0; j < outDim; j++) f[o + j] += xk * f[w + j];
      }
      if (relu) for (let j = 0; j < outDim; j++) if (f[o + j] < 0) f[o + j] = 0;
    }
  }

  backpropInput(dinp: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void {
    const f = this.f;
    for (let i = 0; i < n; i++) {
      const d = dout + i * outDim;
      for (let k = 0; k < inDim; k++) {
        const at = i * inDim + k;
        if (f[inp + at] === 0) {
          f[dinp + at] = 0;
          continue;
        }
        const w = W + k * outDim;
        let sum = 0;
        for (let j = 0; j < outDim; j++) sum += f[d + j] * f[w + j];
        f[dinp + at] = sum;
      }
    }
  }

  updateRows({ W, b, gW, gb, inp, dout, n, inDim, outDim, rowLo, rowHi, mode, rule, stride, to, moved }: RowUpdate): void {
    const f = this.f;
    if (this.row.length < outDim) this.row = new Float64Array(outDim);
    const g = this.row;
    const differ = new Uint8Array(f.buffer, f.byteOffset + moved * f.BYTES_PER_ELEMENT, inDim + 1);
    for (let k = rowLo; k < rowHi; k++) {
      const row = k < inDim ? W + k * outDim : b;
      const grow = k < inDim ? gW + k * outDim : gb;
      for (let j = 0; j < outDim; j++) g[j] = mode === APPLY ? 0 : f[grow + j];
      let inputs = 0;
      for (let i = 0; i < n; i++) {
        const x = k < inDim ? f[inp + i * inDim + k] : 1;
        if (x === 0) continue;
        inputs++;
        const d = dout + i * outDim;
        for (let j = 0; j < outDim; j++) g[j] += x * f[d + j];
      }
      if (mode === ACCUMULATE) {
        for (let j = 0; j < outDim; j++) f[grow + j] = g[j];
      } else if (inputs === 0 && mode === APPLY && rule.rule === RULE_PLAIN) {
        if (to !== 0 && differ[k]) f.copyWithin(row + to, row, row + outDim);
        differ[k] = 0;
      } else {
        for (let j = 0; j < outDim; j++) f[row + to + j] = updated(f, row + j, to, stride, g[j], rule);
        if (mode === APPLY_AND_CLEAR) f.fill(0, grow, grow + outDim);
        differ[k] = 1;
      }
    }
  }

  gatherPixels(out: number, pixels: Uint8Array, table: number, n: number, count: number): void {
    const f = this.f;
    const addresses = new Int32Array(f.buffer, f.byteOffset + table * f.BYTES_PER_ELEMENT, n);
    const bytes = new Uint8Array(pixels.buffer);
    for (let r = 0; r < n; r++) {
      const o = out + r * count;
      for (let i = 0; i < count; i++) f[o + i] = bytes[addresses[r] + i] / 255;
    }
  }

  pull(at: number, count: number): number {
    const f = this.f;
    let sum = 0;
    for (let i = 0; i < count; i += 16) sum += f[at + i];
    return sum;
  }
}

/**
 * The new value of the parameter at p (in the copy read) from g, the sum of its gradient
 * over the batch; its state is read at p + stride (and + 2 * stride) and written `to`
 * floats further. d is the mean gradient, with the L2 penalty where the rule has one.
 */
function updated(f: FloatArray, p: number, to: number, stride: number, g: number, r: UpdateRule): number {
  const w = f[p];
  if (r.rule === RULE_PLAIN) return w - r.scale * g;
  const d = g * r.gscale + (r.rule === RULE_ADAMW ? 0 : r.weightDecay * w);
  if (r.rule === RULE_SGD) return w - r.lr * d;
  if (r.rule < RULE_ADAM) {
    const v = r.momentum * f[p + stride] + d; //             momentum, nesterov
    f[p + to + stride] = v;
    return w - r.lr * (r.rule === RULE_MOMENTUM ? v : d + r.momentum * v);
  }
  const m = r.beta1 * f[p + stride] + (1 - r.beta1) * d; //  adam, adamw
  const v = r.beta2 * f[p + 2 * stride] + (1 - r.beta2) * d * d;
  f[p + to + stride] = m;
  f[p + to + 2 * stride] = v;
  const decayed = r.rule === RULE_ADAMW ? w * (1 - r.lr * r.weightDecay) : w;
  return decayed - (r.stepSize * m) / (Math.sqrt(v) * r.invSqrtBias2 + r.eps);
}
