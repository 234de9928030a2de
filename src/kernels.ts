// The numeric primitives of a training step. Every argument that names a tensor is a
// float offset into one flat array (the shared arena), so the same calls drive the plain
// TypeScript loops below and the WebAssembly SIMD kernels, which see the arena as their memory.
// Matrices are row-major; W is [inDim][outDim].

export interface Kernels {
  /** out[n][outDim] = inp[n][inDim] . W + b, then ReLU when `relu`. */
  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: boolean): void;
  /**
   * Accumulates dW += inp^T . dout and db += column sums of dout. When dinp >= 0 also
   * writes dinp = (dout . W^T) masked by inp > 0: inp is the previous layer's ReLU output,
   * and ReLU'(z) = 1 exactly where ReLU(z) > 0.
   */
  matmulBackward(dinp: number, dW: number, db: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void;
  /** params[p] -= scale * sum over slots of slot[p], for p in [lo, hi). The reduce-scatter step. */
  reduceApply(params: number, slots: number[], lo: number, hi: number, scale: number): void;
  /** f[at .. at + count) = 0; a gradient slot before each step. */
  zero(at: number, count: number): void;
  /** f[out + i] = pixels[from + i] / 255 for i < count: one image into the input scratch. */
  scalePixels(out: number, pixels: Uint8Array, from: number, count: number): void;
}

export type FloatArray = Float32Array | Float64Array;

export class TsKernels implements Kernels {
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

  matmulBackward(dinp: number, dW: number, db: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void {
    const f = this.f;
    for (let i = 0; i < n; i++) {
      const d = dout + i * outDim;
      const x = inp + i * inDim;
      for (let j = 0; j < outDim; j++) f[db + j] += f[d + j];
      for (let k = 0; k < inDim; k++) {
        const xk = f[x + k];
        if (xk === 0) {
          if (dinp >= 0) f[dinp + i * inDim + k] = 0;
          continue;
        }
        const g = dW + k * outDim;
        if (dinp < 0) {
          for (let j = 0; j < outDim; j++) f[g + j] += xk * f[d + j];
          continue;
        }
        const w = W + k * outDim;
        let sum = 0;
        for (let j = 0; j < outDim; j++) {
          const dj = f[d + j];
          f[g + j] += xk * dj;
          sum += dj * f[w + j];
        }
        f[dinp + i * inDim + k] = sum;
      }
    }
  }

  zero(at: number, count: number): void {
    this.f.fill(0, at, at + count);
  }

  scalePixels(out: number, pixels: Uint8Array, from: number, count: number): void {
    const f = this.f;
    for (let i = 0; i < count; i++) f[out + i] = pixels[from + i] / 255;
  }

  reduceApply(params: number, slots: number[], lo: number, hi: number, scale: number): void {
    const f = this.f;
    const s = slots.length;
    for (let p = lo; p < hi; p++) {
      let sum = 0;
      for (let k = 0; k < s; k++) sum += f[slots[k] + p];
      f[params + p] -= scale * sum;
    }
  }
}
