// Where every float of a training run lives: one shared WebAssembly.Memory (its buffer
// is a SharedArrayBuffer) holding the parameters (two copies that take turns), a gradient
// accumulator, the round buffer in which every sample of a round leaves its activations
// and deltas, each thread's small scratch, and a copy of the data set's pixels, so that
// the WebAssembly kernels can read them. The coordinator and all workers compute the same
// plan from the same inputs, so a command only carries sample ranges and scalars.
import { totalmem } from 'node:os';
import { UserError } from '../util/errors.js';
import { updateRowsScratch } from '../kernels/kernels.js';
import type { Split } from '../data/mnist.js';
import { align4, type ModelShape } from '../model/model.js';

const PAGE = 65536;
/** The first page is left to the WebAssembly kernels' own stack and statics. */
const RESERVED_BYTES = PAGE;

/** Per-sample rows of one round, indexed by the sample's position in the round. */
export interface RoundBuffer {
  /** rows x 784 input pixels scaled to [0, 1]. */
  x: number;
  /** rows u32: the byte address of each row's pixels in the arena (see Kernels.updateRows). */
  pixelRows: number;
  /** Per layer: rows x outDim outputs (post-ReLU for hidden layers, logits for the last). */
  act: number[];
  /** Per layer: rows x outDim gradient of the loss with respect to the layer's pre-activation. */
  delta: number[];
}

export interface ArenaPlan {
  /** Samples per round: a batch is processed in rounds of at most this many. */
  rows: number;
  slotCount: number;
  paramCount: number;
  /** Float offsets into the arena. */
  params: number;
  /**
   * The parameters' second copy. A step reads one copy and writes its update into the
   * other, so the copy it reads stays whole until every thread has finished (a step that
   * fails can simply run again), and no core writes lines another core has just read.
   */
  paramsB: number;
  /** Gradient sums carried between the rounds of one step, laid out like params; zero between steps. */
  grad: number;
  round: RoundBuffer;
  /**
   * Per layer: a byte per parameter row (bias last), 1 where the row's two copies may
   * differ (see Kernels.updateRows), so that a row no step has touched is not copied.
   */
  moved: number[];
  /** Per thread (slot): scratch for Kernels.updateRows. */
  rowScratch: number[];
  /** Byte offset of the pixel region (pixelBytes long). */
  pixels: number;
  pixelBytes: number;
  bytes: number;
}

/** `chunk` samples per round, at least one per thread so that evaluation can split the rows. */
export function planArena(shape: ModelShape, slotCount: number, chunk: number, pixelBytes = 0): ArenaPlan {
  const rows = Math.max(chunk, slotCount);
  let offset = RESERVED_BYTES / 4;
  const take = (floats: number): number => {
    const at = offset;
    offset += align4(floats);
    return at;
  };
  const params = take(shape.paramCount);
  const paramsB = take(shape.paramCount);
  const grad = take(shape.paramCount);
  const round = {
    x: take(rows * shape.sizes[0]),
    pixelRows: take(rows),
    act: shape.layers.map((l) => take(rows * l.outDim)),
    delta: shape.layers.map((l) => take(rows * l.outDim)),
  };
  const moved = shape.layers.map((l) => take(Math.ceil((l.inDim + 1) / 4)));
  const rowScratch = Array.from({ length: slotCount }, () => take(updateRowsScratch(rows)));
  const pixels = offset * 4;
  return { rows, slotCount, paramCount: shape.paramCount, params, paramsB, grad, round, moved, rowScratch, pixels, pixelBytes, bytes: pixels + pixelBytes };
}

/** The copy of the parameters a step writes when it reads the one at `at`. */
export function otherCopy(plan: ArenaPlan, at: number): number {
  return at === plan.params ? plan.paramsB : plan.params;
}

/** What a worker thread costs besides the arena (its V8 isolate, Piscina, the kernels' instance): about 10.5 MiB measured, with room. */
export const THREAD_BYTES = 16 * 2 ** 20;

/** A WebAssembly memory holds at most 65,536 pages of 64 KiB: every byte a kernel addresses must lie below 4 GiB. */
export const MAX_ARENA_BYTES = 65536 * PAGE;

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;

/** Bytes an engine of `plan` takes: its arena and its pool's threads. */
export const engineBytes = (plan: ArenaPlan): number => plan.bytes + plan.slotCount * THREAD_BYTES;

/**
 * Refuses, before anything is allocated, a plan whose arena would not fit the 4 GiB a
 * WebAssembly memory can address, or whose engine would not fit the machine's memory,
 * naming what it would need.
 */
export function checkPlanFits(plan: ArenaPlan, memory = totalmem()): void {
  const net = `this network (${plan.paramCount.toLocaleString('en-US')} parameters, rounds of ${plan.rows} samples) with its data`;
  const smaller = 'use smaller --hidden layers or a smaller --chunk (samples per round)';
  if (plan.bytes > MAX_ARENA_BYTES) throw new UserError(`${net} needs ${gib(plan.bytes)} of shared memory, more than the 4 GiB WebAssembly can address; ${smaller}`, 2);
  checkMemory(engineBytes(plan), `${net} on ${plan.slotCount} worker thread(s)`, `${smaller}, or fewer --workers`, memory);
}

/** `bytes` of `what` fit the machine's `memory`, or a usage error says so. */
export function checkMemory(bytes: number, what: string, advice: string, memory = totalmem()): void {
  if (bytes > memory) throw new UserError(`${what} needs ${gib(bytes)} of memory, more than this machine's ${gib(memory)}; ${advice}`, 2);
}

export function allocateArena(plan: ArenaPlan): WebAssembly.Memory {
  checkPlanFits(plan);
  const pages = Math.ceil(plan.bytes / PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/**
 * The split with its pixels copied into the arena at byte offset `at` (the WebAssembly
 * kernels read pixels only from their own memory); the labels stay where they are.
 */
export function splitInArena(memory: WebAssembly.Memory, split: Split, at: number): Split {
  const images = new Uint8Array(memory.buffer, at, split.images.length);
  images.set(split.images);
  return { ...split, images };
}

/** Items [lo, hi) of n that share `shard` of `shards` takes; sizes differ by at most one. */
export function shardRange(shard: number, shards: number, n: number): [number, number] {
  return [Math.floor((shard * n) / shards), Math.floor(((shard + 1) * n) / shards)];
}
