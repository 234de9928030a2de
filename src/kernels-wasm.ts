// The Kernels interface over the WebAssembly SIMD build of assembly/kernels.ts. The module
// imports the arena's shared memory, so a call passes only offsets: the interface's float
// offsets become the byte addresses the module expects, and no tensor is ever copied.
import type { Kernels } from './kernels.js';

/** What dist/kernels.wasm exports; every pointer is a byte address in the arena. */
export interface KernelExports {
  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: number): void;
  /** dinp < 0: no input gradient (the first layer). */
  matmulBackward(dinp: number, dW: number, db: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void;
  /** Slots are `slotCount` blocks `slotStride` bytes apart from `firstSlot`; [lo, hi) is a byte range. */
  reduceApply(params: number, firstSlot: number, slotStride: number, slotCount: number, lo: number, hi: number, scale: number): void;
  zero(at: number, bytes: number): void;
  scalePixels(out: number, src: number, count: number): void;
}

export class WasmKernels implements Kernels {
  constructor(private readonly wasm: KernelExports, private readonly memory: WebAssembly.Memory) {}

  matmulForward(out: number, inp: number, W: number, b: number, n: number, inDim: number, outDim: number, relu: boolean): void {
    this.wasm.matmulForward(out * 4, inp * 4, W * 4, b * 4, n, inDim, outDim, relu ? 1 : 0);
  }

  matmulBackward(dinp: number, dW: number, db: number, dout: number, inp: number, W: number, n: number, inDim: number, outDim: number): void {
    this.wasm.matmulBackward(dinp < 0 ? -1 : dinp * 4, dW * 4, db * 4, dout * 4, inp * 4, W * 4, n, inDim, outDim);
  }

  zero(at: number, count: number): void {
    this.wasm.zero(at * 4, count * 4);
  }

  /** The pixels must live in the arena (the engine copies the data set there) for the module to read them. */
  scalePixels(out: number, pixels: Uint8Array, from: number, count: number): void {
    if (pixels.buffer !== this.memory.buffer) throw new Error('wasm kernels read pixels only from the arena memory');
    this.wasm.scalePixels(out * 4, pixels.byteOffset + from, count);
  }

  reduceApply(params: number, slots: number[], lo: number, hi: number, scale: number): void {
    if (slots.length === 0 || hi <= lo) return;
    const stride = slots.length > 1 ? slots[1] - slots[0] : 0;
    if (slots.every((s, k) => s === slots[0] + k * stride)) {
      this.wasm.reduceApply(params * 4, slots[0] * 4, stride * 4, slots.length, lo * 4, hi * 4, scale);
    } else {
      // Not the arena's layout: apply slot by slot (same sum, rounded once per slot).
      for (const s of slots) this.wasm.reduceApply(params * 4, s * 4, 0, 1, lo * 4, hi * 4, scale);
    }
  }
}
