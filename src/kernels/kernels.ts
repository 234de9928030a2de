// The numeric primitives of a training step. Every argument that names a tensor is a
// float offset into one flat array (the shared arena), so the same calls drive the plain
// TypeScript loops below and the WebAssembly SIMD kernels, which see the arena as their memory.
// Matrices are row-major; W is [inDim][outDim].
import { IMAGE_SIZE } from '../data/mnist.js';

export interface Kernels {
  /** out[n][outDim] = inp[n][inDim] . W + b, then ReLU when `relu`. */
  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: boolean): void;
  /** dinp[n][inDim] = dout . W^T where inp != 0, else 0: inp is the previous layer's ReLU output, and ReLU'(z) = 1 exactly where ReLU(z) > 0. */
  backpropInput(dinp: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void;
  /**
   * The weight gradient, reduced over the samples and applied, row by row. For rows k in
   * [rowLo, rowHi): g_k = sum over samples i < n, in order, of inp[i][k] * dout[i]; row
   * k == inDim is the bias (input 1), at b and gb. Then by `mode`: ACCUMULATE gW[k] += g_k;
   * APPLY W'[k] = W[k] - scale * g_k; APPLY_AND_CLEAR W'[k] = W[k] - scale * (gW[k] + g_k),
   * gW[k] = 0. The updated rows W' are written `to` floats past the rows read (0: in place),
   * so a step can read one copy of the weights and write the other (see ArenaPlan.params).
   * `moved` offsets a byte per row (bias last), 1 where the row's two copies may differ: a
   * row with no nonzero input in APPLY is copied to `to` only then; every row's byte is
   * left saying whether its copies differ now (ACCUMULATE leaves them alone).
   * `pixels` >= 0 (first layer only) offsets a table of n u32 byte addresses of the samples'
   * pixels, from which the wasm kernels read the inputs instead of inp (same values; see
   * assembly/rows.ts for why). `scratch`: updateRowsScratch(n) floats of the calling thread.
   */
  updateRows(
    W: number, b: number, gW: number, gb: number, inp: number, pixels: number, dout: number, n: number, inDim: number, outDim: number,
    rowLo: number, rowHi: number, scale: number, mode: UpdateMode, scratch: number, to: number, moved: number,
  ): void;
  /** f[out + i] = pixels[from + i] / 255 for i < count: one image into the input scratch. */
  scalePixels(out: number, pixels: Uint8Array, from: number, count: number): void;
  /**
   * Row r < n of out (784 floats) = the image whose bytes start at address table[r] / 255:
   * `table` offsets n u32 addresses into pixels.buffer, in the arena (see ArenaPlan).
   */
  gatherPixels(out: number, pixels: Uint8Array, table: number, n: number): void;
  /** Reads f[at .. at + count) and changes nothing: brings memory other threads wrote into this thread's cache in one sweep. */
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

  updateRows(
    W: number, b: number, gW: number, gb: number, inp: number, _pixels: number, dout: number, n: number, inDim: number, outDim: number,
    rowLo: number, rowHi: number, scale: number, mode: UpdateMode, _scratch: number, to: number, moved: number,
  ): void {
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
      } else if (inputs === 0 && mode === APPLY) {
        if (to !== 0 && differ[k]) f.copyWithin(row + to, row, row + outDim);
        differ[k] = 0;
      } else {
        for (let j = 0; j < outDim; j++) f[row + to + j] = f[row + j] - scale * g[j];
        if (mode === APPLY_AND_CLEAR) f.fill(0, grow, grow + outDim);
        differ[k] = 1;
      }
    }
  }

  scalePixels(out: number, pixels: Uint8Array, from: number, count: number): void {
    const f = this.f;
    for (let i = 0; i < count; i++) f[out + i] = pixels[from + i] / 255;
  }

  gatherPixels(out: number, pixels: Uint8Array, table: number, n: number): void {
    const f = this.f;
    const addresses = new Int32Array(f.buffer, f.byteOffset + table * f.BYTES_PER_ELEMENT, n);
    const bytes = new Uint8Array(pixels.buffer);
    for (let r = 0; r < n; r++) {
      const o = out + r * IMAGE_SIZE;
      for (let i = 0; i < IMAGE_SIZE; i++) f[o + i] = bytes[addresses[r] + i] / 255;
    }
  }

  pull(at: number, count: number): number {
    const f = this.f;
    let sum = 0;
    for (let i = 0; i < count; i += 16) sum += f[at + i];
    return sum;
  }
}
