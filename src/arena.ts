// Where every float of a training run lives: one shared WebAssembly.Memory (its buffer
// is a SharedArrayBuffer) holding the parameters, one gradient slot per shard, one
// scratch area per shard, and a copy of the data set's pixels, so that the WebAssembly
// kernels can read them. The coordinator and all workers compute the same plan from
// the same inputs, so a task message only carries a slot number and a sample range.
import { align4, type ModelShape } from './model.js';

const PAGE = 65536;
/** The first page is left to the WebAssembly kernels' own stack and statics. */
const RESERVED_BYTES = PAGE;

export interface Scratch {
  /** chunk x 784 input pixels scaled to [0, 1]. */
  x: number;
  /** Per layer: chunk x outDim outputs (post-ReLU for hidden layers, logits for the last). */
  act: number[];
  /** Per layer: chunk x outDim gradient of the loss with respect to the layer's pre-activation. */
  delta: number[];
}

export interface ArenaPlan {
  /** Samples processed per kernel call; bounds scratch memory for any shard size. */
  chunk: number;
  slotCount: number;
  paramCount: number;
  /** Float offsets into the arena. */
  params: number;
  gradSlots: number[];
  scratch: Scratch[];
  /** Byte offset of the pixel region (pixelBytes long). */
  pixels: number;
  pixelBytes: number;
  bytes: number;
}

export function planArena(shape: ModelShape, slotCount: number, chunk: number, pixelBytes = 0): ArenaPlan {
  let offset = RESERVED_BYTES / 4;
  const take = (floats: number): number => {
    const at = offset;
    offset += align4(floats);
    return at;
  };
  const params = take(shape.paramCount);
  const gradSlots = Array.from({ length: slotCount }, () => take(shape.paramCount));
  const scratch = Array.from({ length: slotCount }, () => ({
    x: take(chunk * shape.sizes[0]),
    act: shape.layers.map((l) => take(chunk * l.outDim)),
    delta: shape.layers.map((l) => take(chunk * l.outDim)),
  }));
  const pixels = offset * 4;
  return { chunk, slotCount, paramCount: shape.paramCount, params, gradSlots, scratch, pixels, pixelBytes, bytes: pixels + pixelBytes };
}

export function allocateArena(plan: ArenaPlan): WebAssembly.Memory {
  const pages = Math.ceil(plan.bytes / PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/**
 * The parameter slice that slot `slot` reduces and updates (reduce-scatter): contiguous,
 * 4-float aligned, and together the slices cover every parameter exactly once.
 */
export function paramSlice(slot: number, slotCount: number, paramCount: number): [number, number] {
  const quads = paramCount / 4;
  const lo = Math.floor((slot * quads) / slotCount) * 4;
  const hi = Math.floor(((slot + 1) * quads) / slotCount) * 4;
  return [lo, hi];
}

/** Samples [lo, hi) of a batch of n that shard `shard` of `shards` computes; sizes differ by at most one. */
export function shardRange(shard: number, shards: number, n: number): [number, number] {
  return [Math.floor((shard * n) / shards), Math.floor(((shard + 1) * n) / shards)];
}
