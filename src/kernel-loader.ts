// Picks the kernel implementation a worker (or a test) runs.
import { TsKernels, type Kernels } from './kernels.js';
import type { KernelKind } from './protocol.js';

export async function loadKernels(kind: KernelKind, _memory: WebAssembly.Memory, f: Float32Array): Promise<Kernels> {
  if (kind === 'ts') return new TsKernels(f);
  throw new Error(`kernels '${kind}' are not built yet`);
}
