// The Kernels interface over the WebAssembly SIMD build of assembly/kernels.ts. The module
// imports the arena's shared memory, so a call passes only offsets: the interface's float
// offsets become the byte addresses the module expects, and no tensor is ever copied.
import type { Kernels, RowUpdate } from './kernels.js';

/** What dist/kernels.wasm exports; every pointer is a byte address in the arena. */
export interface KernelExports {
  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: number): void;
  backpropInput(dinp: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void;
  /** pix < 0: the inputs are floats at inp. The last eleven numbers are the step's UpdateRule. */
  updateRows(
    W: number, b: number, gW: number, gb: number, inp: number, pix: number, dout: number, n: number, inDim: number, outDim: number,
    rowLo: number, rowHi: number, scale: number, mode: number, scratch: number, to: number, moved: number,
    rule: number, stride: number, gscale: number, lr: number, mu: number, wd: number, b1: number, b2: number, eps: number, step: number, c2: number,
  ): void;
  gatherPixels(out: number, table: number, n: number, count: number): void;
  pull(at: number, bytes: number): number;
}

export class WasmKernels implements Kernels {
  constructor(private readonly wasm: KernelExports, private readonly memory: WebAssembly.Memory) {}

  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: boolean): void {
    this.wasm.matmulForward(out * 4, inp * 4, W * 4, b * 4, n, inDim, outDim, relu ? 1 : 0);
  }

  backpropInput(dinp: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void {
    this.wasm.backpropInput(dinp * 4, dout * 4, inp * 4, W * 4, n, inDim, outDim);
  }

  updateRows(u: RowUpdate): void {
    const r = u.rule;
    this.wasm.updateRows(
      u.W * 4, u.b * 4, u.gW * 4, u.gb * 4, u.inp * 4, u.pixels < 0 ? -1 : u.pixels * 4, u.dout * 4, u.n, u.inDim, u.outDim,
      u.rowLo, u.rowHi, r.scale, u.mode, u.scratch * 4, u.to * 4, u.moved * 4,
      r.rule, u.stride, r.gscale, r.lr, r.momentum, r.weightDecay, r.beta1, r.beta2, r.eps, r.stepSize, r.invSqrtBias2,
    );
  }

  gatherPixels(out: number, pixels: Uint8Array, table: number, n: number, count: number): void {
    this.checkInArena(pixels);
    this.wasm.gatherPixels(out * 4, table * 4, n, count);
  }

  /** The pixels must live in the arena (the engine copies the data set there) for the module to read them. */
  private checkInArena(pixels: Uint8Array): void {
    if (pixels.buffer !== this.memory.buffer) throw new Error('wasm kernels read pixels only from the arena memory');
  }

  pull(at: number, count: number): void {
    this.wasm.pull(at * 4, count * 4);
  }
}
