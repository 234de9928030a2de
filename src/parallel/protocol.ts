// Everything the coordinator and the workers agree on: what a worker is given once at
// start-up, the shared words through which the step loop hands over runs of steps (only
// ranges and scalars, never data), what comes back, the barrier the workers meet at, and
// how they share out a round's work.
import { shardRange, type ArenaPlan } from './arena.js';
import type { FaultHook } from './fault-hook.js';
import type { Split } from '../data/mnist.js';

export const KERNEL_KINDS = ['ts', 'wasm'] as const;
export type KernelKind = (typeof KERNEL_KINDS)[number];

/** Handed to every worker thread once, as Piscina's workerData. All buffers are shared. */
export interface WorkerData {
  memory: WebAssembly.Memory;
  plan: ArenaPlan;
  hidden: number[];
  kernels: KernelKind;
  train: Split;
  test: Split;
  /** The current epoch's shuffled sample order, written by the coordinator between epochs. */
  order: Int32Array;
  /** Barrier and step-loop words, see below. */
  control: Int32Array;
  /** The published run of steps, COMMAND_FIELDS numbers (see StepLoop.run). */
  command: Float64Array;
  /** RESULT_FIELDS numbers per step and slot, written by the step loop (see StepResult). */
  results: Float64Array;
  /** Loss of each sample of the current round, by its row: summed in row order, so the reported loss never depends on the sharding. */
  sampleLoss: Float64Array;
  /** TEST HOOK: set only when THREADGRAD_INJECT_FAULT is (see fault-hook.ts). */
  faultHook?: FaultHook;
}

export interface StepResult {
  /** The whole step's loss sum in slot 0's result, 0 in the others'. */
  lossSum: number;
  /** Samples this worker classified correctly. */
  correct: number;
  /** Milliseconds this worker spent in phase 1 (forward + backward to the deltas), waiting at barriers, and in phase 2 (weight gradients + update). */
  computeMs: number;
  waitMs: number;
  reduceMs: number;
}

export interface EvalTask {
  slot: number;
  split: 'train' | 'test';
  lo: number;
  hi: number;
  /** The copy of the parameters that holds the current weights (ArenaPlan.params or paramsB). */
  params: number;
}

export interface EvalResult {
  lossSum: number;
  correct: number;
  /** 10 x 10 counts, truth-major. */
  confusion: Int32Array;
}

// control[ARRIVED] counts workers at the barrier; the last one resets it and bumps
// control[GENERATION], which releases the others. control[ABORT] is set by the coordinator
// when a worker failed, so that workers already waiting give up instead of hanging.
export const ARRIVED = 0;
export const GENERATION = 1;
export const ABORT = 2;
// The step loop (see src/step-loop.ts): the coordinator writes `command`, sets OPCODE and
// bumps SEQUENCE; the workers run the steps it names, the last one through each step's
// final barrier counts it in STEPS_DONE, and each worker counts itself into DONE at the end.
export const SEQUENCE = 3;
export const OPCODE = 4;
export const DONE = 5;
export const STEPS_DONE = 6;
// Work counters of a round's two phases (see Shares below): per thread, how
// far its share of the round's rows (phase 1) and of the parameter blocks (phase 2) has been
// taken. A thread's two counters share a cache line of their own, away from the words the
// barrier spins on and from the other threads' counters.
const COUNTERS = 16;
const LINE_WORDS = 16;
export const sampleCounter = (thread: number): number => COUNTERS + LINE_WORDS * thread;
export const blockCounter = (thread: number): number => COUNTERS + LINE_WORDS * thread + LINE_WORDS / 2;
export const controlWords = (threads: number): number => COUNTERS + LINE_WORDS * threads;

/**
 * A round's work items [0, n) in shares, one per thread (shardRange), taken a piece at a
 * time: a thread takes from its own share first, then from what is left of the others'.
 * In steady state each thread thus computes the same rows of the round buffer and updates
 * the same weight rows every step, so those cache lines stay in its core's cache instead of
 * moving between cores (a few % more samples/s at batch 64 than one counter for all), while
 * a slower core still gets help with its share.
 */
export class Shares {
  lo = 0;
  hi = 0;
  private n = 0;
  private piece = 1;
  private k = 0;

  constructor(
    private readonly control: Int32Array,
    private readonly counter: (thread: number) => number,
    private readonly slot: number,
    private readonly threads: number,
  ) {}

  begin(n: number, piece: number): void {
    this.n = n;
    this.piece = piece;
    this.k = 0;
  }

  /** Claims the next piece into [lo, hi); false when every share is taken. */
  next(): boolean {
    for (; this.k < this.threads; this.k++) {
      const t = (this.slot + this.k) % this.threads;
      const [from, to] = shardRange(t, this.threads, this.n);
      const at = from + Atomics.add(this.control, this.counter(t), this.piece);
      if (at < to) {
        this.lo = at;
        this.hi = Math.min(to, at + this.piece);
        return true;
      }
    }
    return false;
  }

  /** Called by the last thread through a barrier, when no thread takes from these counters. */
  reset(): void {
    for (let t = 0; t < this.threads; t++) Atomics.store(this.control, this.counter(t), 0);
  }
}

export const OP_STEPS = 0;
export const OP_STOP = 1;

/**
 * command = [first sample, batch size, end sample, step count, learning rate, the copy of
 * the parameters the first step reads]; each step writes the other copy, which the next reads.
 */
export const COMMAND_FIELDS = 6;
/** Steps one command may carry: bounds the results buffer and the time between the coordinator's checks. */
export const MAX_STEPS_PER_COMMAND = 256;
/** Per-step, per-slot result record of the step loop, in StepResult's field order. */
export const RESULT_FIELDS = 5;

export interface ServeTask {
  slot: number;
  /** SEQUENCE when the loop was started: any later value is a command to run. */
  sequence: number;
}

export class StepAborted extends Error {
  constructor() {
    super('step abandoned: another worker failed');
  }
}

/**
 * Polls at a barrier before sleeping, shared out among the threads that wait there. Workers
 * of one phase finish within microseconds of each other when each has a core, and a futex
 * sleep + wake costs tens of microseconds per step. But the more threads a barrier waits
 * for, the likelier one of them is off its core (the coordinator, V8's helper threads and
 * the kernel take turns on the same cores), and then every poller burns its core for
 * nothing. On a 16-core VM, 16 workers polling 20,000 times each stalled in some runs to
 * less than 1 worker's speed; 2,000 or 2,500 each did not (README: Polling at the barrier on 16 cores).
 */
export const SPIN_TOTAL = 40_000;

/** Polls per barrier wait for `threads` workers on `cores` cores; none when threads outnumber cores (a poller would hold the core a thread it waits for needs). */
export function barrierPolls(threads: number, cores: number): number {
  return threads <= cores ? Math.round(SPIN_TOTAL / threads) : 0;
}

/** Wait until all `parties` workers have arrived, polling `spin` times before sleeping. Returns true in the one that arrived last. */
export function barrier(control: Int32Array, parties: number, spin: number): boolean {
  const generation = Atomics.load(control, GENERATION);
  if (Atomics.add(control, ARRIVED, 1) === parties - 1) {
    Atomics.store(control, ARRIVED, 0);
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    return true;
  }
  if (!polled(control, generation, spin)) sleepUntilMoved(control, generation);
  return false;
}

// The poll loop and the sleep are separate functions so that V8 optimises the poll loop
// alone. In one function, the optimised loop (compiled on stack, mid-loop) met the sleep's
// calls without type feedback whenever a wait outlasted the poll, threw its code away, and
// was compiled again: about 80 times in 900 steps, each compile taking a core from the workers.

/** Polls up to `spin` times for the barrier's generation to move on; true if it did. */
function polled(control: Int32Array, generation: number, spin: number): boolean {
  for (let i = 0; i < spin; i++) if (Atomics.load(control, GENERATION) !== generation) return true;
  return false;
}

function sleepUntilMoved(control: Int32Array, generation: number): void {
  while (Atomics.load(control, GENERATION) === generation) {
    if (Atomics.load(control, ABORT) !== 0) throw new StepAborted();
    Atomics.wait(control, GENERATION, generation, 1000);
  }
}

/** Release any worker stuck at the barrier; the step will be retried from scratch. */
export function abortBarrier(control: Int32Array): void {
  Atomics.store(control, ABORT, 1);
  Atomics.notify(control, GENERATION);
}

export function resetBarrier(control: Int32Array): void {
  Atomics.store(control, ARRIVED, 0);
  for (let i = COUNTERS; i < control.length; i++) Atomics.store(control, i, 0);
  Atomics.store(control, ABORT, 0);
  Atomics.store(control, STEPS_DONE, 0);
}
