// Everything the coordinator and the workers agree on, in one place: what a worker is given
// once at start-up, the records that pass between them (a command naming a run of steps, a
// result per step and worker, an evaluation task), the shared words through which the step
// loop hands over commands, the barrier the workers meet at, and how they share out a
// chunk's work. Only ranges and scalars cross: the data and the weights stay in the arena.
import type { Split, SplitName } from '../data/dataset.js';
import type { KernelKind } from '../kernels/kernels.js';
import type { OptimizerSpec, ScheduleSpec } from '../model/optimizer.js';
import type { ArenaPlan } from './arena.js';
import type { SyncSpec } from './sync.js';
import type { FaultHook } from './fault-hook.js';

/** Handed to every worker once, as Piscina's workerData. All buffers are shared. */
export interface WorkerData {
  memory: WebAssembly.Memory;
  plan: ArenaPlan;
  /** Layer sizes from input to output. */
  sizes: number[];
  /** The samples are pixel bytes in the arena (else float features): the first layer's inputs come from them. */
  pixels: boolean;
  kernels: KernelKind;
  /** How steps update the weights: the optimizer, and the schedule of the learning rate. */
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  /** How the workers' updates meet (sync.ts); local and hogwild train on plan.replicas. */
  sync: SyncSpec;
  train: Split;
  test: Split;
  val?: Split;
  /** The current epoch's shuffled sample order, written by the coordinator between epochs. */
  order: Int32Array;
  /** The words below: barrier, step loop, work counters. */
  control: Int32Array;
  /** The published command (StepsCommand). */
  command: Float64Array;
  /** A StepResult per step and worker of the command. */
  results: Float64Array;
  /** Loss of each sample of the current chunk, by its position: summed in that order, so the reported loss never depends on the sharing. */
  sampleLoss: Float64Array;
  /** TEST HOOK: set only when THREADGRAD_INJECT_FAULT is (see fault-hook.ts). */
  faultHook?: FaultHook;
}

// ---- Records --------------------------------------------------------------------------

/** A run of SGD steps (see StepLoop.run). */
export interface StepsCommand {
  /** Step i trains on the samples order[first + i * batch ..]: `batch` of them, never past `end`. */
  first: number;
  batch: number;
  end: number;
  count: number;
  /** The base learning rate, which the schedule scales (see WorkerData.schedule). */
  lr: number;
  /** The run's count of steps before the first one: the schedule and Adam's bias correction go by it. */
  stepsBefore: number;
  /** The copy of the parameters the first step reads; each step writes the other copy, which the next step reads. */
  weights: number;
}

const COMMAND: readonly (keyof StepsCommand)[] = ['first', 'batch', 'end', 'count', 'lr', 'stepsBefore', 'weights'];
export const COMMAND_WORDS = COMMAND.length;

export function writeCommand(record: Float64Array, command: StepsCommand): void {
  COMMAND.forEach((field, i) => (record[i] = command[field]));
}

export function readCommand(record: Float64Array): StepsCommand {
  const [first, batch, end, count, lr, stepsBefore, weights] = record;
  return { first, batch, end, count, lr, stepsBefore, weights };
}

/** Batch j of a command: the samples order[lo..hi), the last batch of an epoch cut at `end`. */
export function batchOf(cmd: StepsCommand, j: number): { lo: number; hi: number } {
  const lo = cmd.first + j * cmd.batch;
  return { lo, hi: Math.min(cmd.end, lo + cmd.batch) };
}

/**
 * What one worker did in one step. Under local SGD and Hogwild a batch is one worker's: its
 * result holds the whole step (all of it in computeMs), and the others' stay 0.
 */
export interface StepResult {
  /** The whole step's loss sum in worker 0's result (step mode), 0 in the others'. */
  lossSum: number;
  /** Samples this worker classified correctly. */
  correct: number;
  /** Milliseconds in phase 1 (forward + backward to the deltas), waiting at barriers, and in phase 2 (weight gradients + update). */
  computeMs: number;
  waitMs: number;
  reduceMs: number;
}

const RESULT: readonly (keyof StepResult)[] = ['lossSum', 'correct', 'computeMs', 'waitMs', 'reduceMs'];
/** Steps one command may carry: bounds the results buffer and the time between the coordinator's checks (and so local SGD's rounds). */
export const MAX_STEPS_PER_COMMAND = 1024;
/** Words of the results of `steps` steps (default: as many as a command may carry). */
export const resultWords = (workers: number, steps = MAX_STEPS_PER_COMMAND): number => steps * workers * RESULT.length;

export function writeResult(results: Float64Array, step: number, worker: number, workers: number, r: StepResult): void {
  const at = (step * workers + worker) * RESULT.length;
  for (let i = 0; i < RESULT.length; i++) results[at + i] = r[RESULT[i]];
}

export function readResult(results: Float64Array, step: number, worker: number, workers: number): StepResult {
  const at = (step * workers + worker) * RESULT.length;
  const [lossSum, correct, computeMs, waitMs, reduceMs] = results.subarray(at, at + RESULT.length);
  return { lossSum, correct, computeMs, waitMs, reduceMs };
}

/** The step loop's task: one per worker, running every command until OP_STOP. */
export interface ServeTask {
  worker: number;
  /** SEQUENCE when the loop was started: any later value is a command to run. */
  sequence: number;
}

/** Forward only, over samples [lo, hi) of a split in file order. */
export interface EvalTask {
  worker: number;
  split: SplitName;
  lo: number;
  hi: number;
  /** The copy of the parameters that holds the current weights. */
  weights: number;
}

export interface EvalResult {
  lossSum: number;
  correct: number;
  /** classes x classes counts, truth-major. */
  confusion: Int32Array;
}

// ---- Shared words ---------------------------------------------------------------------

// The barrier: control[ARRIVED] counts workers at it; the last one resets it and bumps
// control[GENERATION], which releases the others. control[ABORT] is set by the coordinator
// when a worker failed, so that workers already waiting give up instead of hanging.
export const ARRIVED = 0;
export const GENERATION = 1;
export const ABORT = 2;
// The step loop: the coordinator writes the command, sets OPCODE and bumps SEQUENCE; the
// workers run the steps, and the last one through each step's final barrier records the
// copy the step wrote in WEIGHTS, then counts the step in STEPS_DONE (local SGD counts a
// round's batches at its end, Hogwild each batch as it is taken); each worker counts itself
// into DONE at the end.
export const SEQUENCE = 3;
export const OPCODE = 4;
export const DONE = 5;
export const STEPS_DONE = 6;
export const WEIGHTS = 7;
// Hogwild: the next batch of the command to take; the coordinator resets it with each command.
export const BATCHES = 8;

/** A worker is through the command: the last one in wakes the coordinator. */
export function countDone(control: Int32Array, workers: number): void {
  if (Atomics.add(control, DONE, 1) === workers - 1) Atomics.notify(control, DONE);
}

export const OP_STEPS = 0;
export const OP_STOP = 1;
/** Count yourself into DONE and wait for the next command: all workers are up and serving. */
export const OP_READY = 2;

// Work counters of a chunk's two phases (see Shares below): per worker, how far its share of
// the chunk's samples (phase 1) and of the parameter blocks (phase 2) has been taken. A
// worker's two counters share a cache line of their own, away from the words the barrier
// spins on and from the other workers' counters.
const COUNTERS = 16;
const LINE_WORDS = 16;
export const sampleCounter = (worker: number): number => COUNTERS + LINE_WORDS * worker;
export const blockCounter = (worker: number): number => COUNTERS + LINE_WORDS * worker + LINE_WORDS / 2;
export const controlWords = (workers: number): number => COUNTERS + LINE_WORDS * workers;

// ---- Sharing out work -----------------------------------------------------------------

/** Items [lo, hi) of n that worker `worker` of `workers` takes as its own; shares differ by at most one. */
export function shareOf(worker: number, workers: number, n: number): [number, number] {
  return [Math.floor((worker * n) / workers), Math.floor(((worker + 1) * n) / workers)];
}

/**
 * A chunk's work items [0, n) in shares, one per worker (shareOf), taken a piece at a time:
 * a worker takes from its own share first, then from what is left of the others'. In
 * steady state each worker thus computes the same samples' buffer rows and updates the
 * same weight rows every step, so those cache lines stay in its core's cache instead of
 * moving between cores, while a slower core still gets help with its share.
 */
export class Shares {
  lo = 0;
  hi = 0;
  private n = 0;
  private piece = 1;
  private k = 0;

  constructor(
    private readonly control: Int32Array,
    private readonly counter: (worker: number) => number,
    private readonly worker: number,
    private readonly workers: number,
  ) {}

  begin(n: number, piece: number): void {
    this.n = n;
    this.piece = piece;
    this.k = 0;
  }

  /** Claims the next piece into [lo, hi); false when every share is taken. */
  next(): boolean {
    for (; this.k < this.workers; this.k++) {
      const w = (this.worker + this.k) % this.workers;
      const [from, to] = shareOf(w, this.workers, this.n);
      const at = from + Atomics.add(this.control, this.counter(w), this.piece);
      if (at < to) {
        this.lo = at;
        this.hi = Math.min(to, at + this.piece);
        return true;
      }
    }
    return false;
  }

  /** Called by the last worker through a barrier, when no worker takes from these counters. */
  reset(): void {
    for (let w = 0; w < this.workers; w++) Atomics.store(this.control, this.counter(w), 0);
  }
}

// ---- The barrier ----------------------------------------------------------------------

export class StepAborted extends Error {
  constructor() {
    super('step abandoned: another worker failed');
  }
}

/**
 * Polls at a barrier before sleeping, shared out among the workers that wait there. Workers
 * of one phase finish within microseconds of each other when each has a core, and a futex
 * sleep + wake costs tens of microseconds per step. But the more workers a barrier waits
 * for, the likelier one of them is off its core (the coordinator, V8's helper threads and
 * the kernel take turns on the same cores), and then every poller burns its core for
 * nothing, so the polls are a budget shared by the waiting workers, not a count each
 * (docs/measurements.md: Polling at the barrier on 16 cores).
 */
export const SPIN_TOTAL = 40_000;

/** Polls per barrier wait for `workers` on `cores` cores; none when workers outnumber cores (a poller would hold the core a worker it waits for needs). */
export function barrierPolls(workers: number, cores: number): number {
  return workers <= cores ? Math.round(SPIN_TOTAL / workers) : 0;
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
// alone: in one function, the loop's code (compiled on stack, mid-loop) meets the sleep's
// calls without type feedback whenever a wait outlasts the poll, and is thrown away and
// compiled again, each time on a core the workers need (docs/measurements.md: V8 compilation).

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

/** Release any worker stuck at the barrier; the step will be run again from scratch. */
export function abortBarrier(control: Int32Array): void {
  Atomics.store(control, ABORT, 1);
  Atomics.notify(control, GENERATION);
}

export function resetBarrier(control: Int32Array): void {
  Atomics.store(control, ARRIVED, 0);
  for (let i = COUNTERS; i < control.length; i++) Atomics.store(control, i, 0);
  Atomics.store(control, ABORT, 0);
  Atomics.store(control, STEPS_DONE, 0);
  Atomics.store(control, BATCHES, 0);
}
