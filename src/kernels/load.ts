// Picks the kernel implementation a worker (or a test) runs.
import { readFileSync } from 'node:fs';
import { builtFile } from '../util/built.js';
import { TsKernels, type Kernels } from './kernels.js';
import { WasmKernels, type KernelExports } from './wasm.js';
import type { KernelKind } from './kernels.js';

export async function loadKernels(kind: KernelKind, memory: WebAssembly.Memory, f: Float32Array): Promise<Kernels> {
  if (kind === 'ts') return new TsKernels(f);
  if (kind === 'wasm') return new WasmKernels(await instantiateKernels(memory), memory);
  throw new Error(`unknown kernels '${kind as string}'`);
}

export function kernelsWasmFile(): string {
  return builtFile('kernels.wasm');
}

// Compiling is the slow part and a Module can serve any number of instances: one per worker.
let compiled: WebAssembly.Module | undefined;

async function instantiateKernels(memory: WebAssembly.Memory): Promise<KernelExports> {
  if (!compiled) {
    if (!WebAssembly.validate(SIMD_PROBE)) {
      throw new Error(`this CPU or Node ${process.versions.node} lacks WebAssembly SIMD, which the 'wasm' kernels need; use --kernels ts`);
    }
    compiled = await WebAssembly.compile(readFileSync(kernelsWasmFile()));
  }
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('the wasm kernels need the arena to be a shared WebAssembly.Memory');
  const instance = await WebAssembly.instantiate(compiled, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** A module whose one function returns an f32x4 splat: it validates only where wasm SIMD does. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x0b, 0x01, 0x09, 0x00, 0x43, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x13, 0x0b, // f32.const 0; f32x4.splat; end
]);
