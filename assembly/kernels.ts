// WebAssembly SIMD (f32x4) kernels behind src/kernels-wasm.ts. Every pointer is a BYTE
// address in the shared arena memory; W is [inDim][outDim] row-major; rows are not padded.
//
// The module keeps no state in memory at all (no data segments, no stack, no heap): it
// only reads and writes the tensors it is handed, so any number of workers can run it on
// the same memory at once.
//
// One file per concept: nonzero.ts (finding nonzero inputs), forward.ts, backward.ts (the
// deltas), rows.ts (weight rows reduced and applied), memory.ts (images in, weights
// pulled). This entry file only gathers the exports.

export { matmulForward } from './forward';
export { backpropInput } from './backward';
export { updateRows } from './rows';
export { gatherPixels, pull } from './memory';
