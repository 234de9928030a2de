// Where every float of a training run lives: one shared WebAssembly.Memory (its buffer
// is a SharedArrayBuffer) holding two copies of the parameters that take turns, the
// gradient sums carried between the chunks of a step, the chunk buffer in which every
// sample of a chunk leaves its input, activations and deltas, each worker's scratch, and a
// copy of the data set's pixels, so that the WebAssembly kernels can read them. The
// coordinator and all workers compute the same plan from the same inputs, so a command
// carries only sample ranges and scalars.
import { totalmem } from 'node:os';
import { UserError } from '../util/errors.js';
import { updateRowsScratch } from '../kernels/kernels.js';
import type { Split } from '../data/dataset.js';
import { align4, type ModelShape } from '../model/model.js';
import type { SyncMode } from './sync.js';

const PAGE = 65536;
/** The first page is left to the WebAssembly kernels' own stack and statics. */
const RESERVED_BYTES = PAGE;

/** What each sample of a chunk leaves, by its position in the chunk (float offsets of chunk x width blocks). */
export interface ChunkBuffer {
  /** The net's inputs: pixels scaled to [0, 1], or float features. */
  x: number;
  /** A u32 per sample: the byte address of its pixels in the arena (see RowUpdate.pixels); unused for float features. */
  pixelAddr: number;
  /** Per layer: outputs (after ReLU for hidden layers, logits for the last). */
  act: number[];
  /** Per layer: the gradient of the loss with respect to the layer's pre-activation. */
  delta: number[];
}

export interface ArenaPlan {
  /** Samples per chunk: a batch is processed in chunks of at most this many. */
  chunk: number;
  workers: number;
  paramCount: number;
  /** Floats of optimizer state per parameter (model/optimizer.ts stateSlots). */
  stateSlots: number;
  /**
   * Float offsets of the two copies of the parameters, each followed by its optimizer state
   * (slot s of the parameter at p at p + (s + 1) * paramCount). A step reads one copy and
   * writes its update into the other, so the copy it reads stays whole until every worker
   * has finished (a step that fails can simply run again), and no core writes lines another
   * core has just read.
   */
  copies: [number, number];
  /** Gradient sums carried between the chunks of one step, laid out like the parameters; zero between steps. */
  grad: number;
  buffer: ChunkBuffer;
  /**
   * Per layer: a byte per parameter row (bias last), 1 where the row's two copies may
   * differ (see Kernels.updateRows), so that a row no step has touched is not copied.
   */
  moved: number[];
  /** Per worker: its scratch for Kernels.updateRows. */
  scratch: number[];
  /** Per worker, under --sync local and hogwild (else none): what it trains its own batches with. */
  replicas: Replica[];
  /** Byte offset of the pixel region (pixelBytes long). */
  pixels: number;
  pixelBytes: number;
  bytes: number;
}

/**
 * A worker's own arena under --sync local or hogwild, where each worker runs whole steps on
 * its own batches: a chunk buffer, gradient sums and row flags of its own, and (local) its
 * replica of the parameters and their optimizer state, laid out like a copy (see copies).
 */
export interface Replica {
  /** Float offset of its parameters and state; -1 under hogwild, where every worker updates the shared copy. */
  weights: number;
  grad: number;
  buffer: ChunkBuffer;
  moved: number[];
}

/** Chunks of `chunk` samples, at least one per worker so that evaluation can share out a chunk. */
export function planArena(shape: ModelShape, workers: number, chunk: number, pixelBytes = 0, stateSlots = 0, sync: SyncMode = 'step'): ArenaPlan {
  const size = Math.max(chunk, workers);
  let offset = RESERVED_BYTES / 4;
  const take = (floats: number): number => {
    const at = offset;
    offset += align4(floats);
    return at;
  };
  const copies: [number, number] = [take((1 + stateSlots) * shape.paramCount), take((1 + stateSlots) * shape.paramCount)];
  const grad = take(shape.paramCount);
  const chunkBuffer = (): ChunkBuffer => ({
    x: take(size * shape.sizes[0]),
    pixelAddr: take(size),
    act: shape.layers.map((l) => take(size * l.outDim)),
    delta: shape.layers.map((l) => take(size * l.outDim)),
  });
  const rowFlags = (): number[] => shape.layers.map((l) => take(Math.ceil((l.inDim + 1) / 4)));
  const buffer = chunkBuffer();
  const moved = rowFlags();
  const scratch = Array.from({ length: workers }, () => take(updateRowsScratch(size)));
  const replicas = sync === 'step' ? [] : Array.from({ length: workers }, (): Replica => ({
    weights: sync === 'local' ? take((1 + stateSlots) * shape.paramCount) : -1, grad: take(shape.paramCount), buffer: chunkBuffer(), moved: rowFlags(),
  }));
  const pixels = offset * 4;
  return { chunk: size, workers, paramCount: shape.paramCount, stateSlots, copies, grad, buffer, moved, scratch, replicas, pixels, pixelBytes, bytes: pixels + pixelBytes };
}

/** The plan as worker `worker` sees it when it trains alone on its replica: its own buffer, gradient sums and row flags. */
export function replicaPlan(plan: ArenaPlan, worker: number): ArenaPlan {
  const { grad, buffer, moved } = plan.replicas[worker];
  return { ...plan, grad, buffer, moved };
}

/** The copy of the parameters a step writes when it reads the one at `at`. */
export function otherCopy(plan: ArenaPlan, at: number): number {
  return at === plan.copies[0] ? plan.copies[1] : plan.copies[0];
}

/** What a worker thread costs besides the arena (its V8 isolate, Piscina, the kernels' instance): about 10.5 MiB measured, with room. */
const THREAD_BYTES = 16 * 2 ** 20;

/** A WebAssembly memory holds at most 65,536 pages of 64 KiB: every byte a kernel addresses must lie below 4 GiB. */
const MAX_ARENA_BYTES = 65536 * PAGE;

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;

/** Bytes an engine of `plan` takes: its arena and its pool's threads. */
export const engineBytes = (plan: ArenaPlan): number => plan.bytes + plan.workers * THREAD_BYTES;

/**
 * Refuses, before anything is allocated, a plan whose arena would not fit the 4 GiB a
 * WebAssembly memory can address, or whose engine would not fit the machine's memory,
 * naming what it would need.
 */
function checkPlanFits(plan: ArenaPlan, memory = totalmem()): void {
  const net = `this network (${plan.paramCount.toLocaleString('en-US')} parameters, chunks of ${plan.chunk} samples) with its data`;
  const smaller = 'use smaller --hidden layers or a smaller --chunk (samples processed together)';
  if (plan.bytes > MAX_ARENA_BYTES) throw new UserError(`${net} needs ${gib(plan.bytes)} of shared memory, more than the 4 GiB WebAssembly can address; ${smaller}`, 2);
  checkMemory(engineBytes(plan), `${net} on ${plan.workers} worker thread(s)`, `${smaller}, or fewer --workers`, memory);
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
 * The split with its pixel bytes copied into the arena at byte offset `at` (the WebAssembly
 * kernels read pixels only from their own memory); the labels stay where they are.
 */
export function splitInArena(memory: WebAssembly.Memory, split: Split, at: number): Split {
  const x = new Uint8Array(memory.buffer, at, split.x.length);
  x.set(split.x);
  return { ...split, x };
}
