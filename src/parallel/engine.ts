// The coordinator side of data parallelism. It owns the Piscina pool and the shared
// arena; in a step the workers share out the batch's samples (forward and backward to the
// deltas), meet at a barrier, then share out the parameter rows, each reducing the
// gradient of the rows it takes over all samples and applying SGD to them (reduce-scatter,
// see pass.ts), read from one copy of the parameters and written to the other (see
// ArenaPlan.copies). The coordinator never touches a gradient: its cost per step does not
// grow with the worker count. Steps reach the workers through the step loop
// (step-loop.ts), in calls of many steps (runSteps); evaluations go as Piscina tasks.
import { Piscina } from 'piscina';
import { allocateArena, planArena, splitInArena, type ArenaPlan } from './arena.js';
import type { Dataset, Split, SplitName } from '../data/dataset.js';
import { modelShape, type ModelShape } from '../model/model.js';
import {
  COMMAND_WORDS, MAX_STEPS_PER_COMMAND, controlWords, resultWords, shareOf,
  type EvalResult, type EvalTask, type StepResult, type WorkerData,
} from './protocol.js';
import { StepLoop } from './step-loop.js';
import type { KernelKind } from '../kernels/kernels.js';
import { CONSTANT, PLAIN_SGD, stateSlots, type OptimizerSpec, type ScheduleSpec } from '../model/optimizer.js';
import { kernelsWasmFile } from '../kernels/load.js';
import { builtFile } from '../util/built.js';
import { UserError } from '../util/errors.js';
import { faultHookFromEnv } from './fault-hook.js';
import { STEP_SYNC, roundOf, type SyncSpec } from './sync.js';

export interface EngineOptions {
  /** Its sample size and class count size the net's first and last layers. */
  data: Dataset;
  hidden: number[];
  workers: number;
  kernels: KernelKind;
  /** Samples processed together: a larger batch is processed in chunks of this many (see ArenaPlan.chunk). */
  chunk: number;
  /** How steps update the weights (default: plain SGD at a constant rate). */
  optimizer?: OptimizerSpec;
  schedule?: ScheduleSpec;
  /** How the workers' updates meet (default step: every batch shared by all, the same bits for any worker count). */
  sync?: SyncSpec;
  /** How many times a step whose worker failed is retried before giving up. */
  maxRetries?: number;
  onRetry?: (attempt: number, error: Error) => void;
}

export interface StepStats {
  lossSum: number;
  correct: number;
  samples: number;
  /** Coordinator wall time of the step: its share of the engine call that ran it. */
  wallMs: number;
  /** Slowest worker's phase 1: forward and backward to the deltas of its samples. */
  computeMs: number;
  /** Slowest worker's phase 2: weight gradients of its parameter rows, reduced over the samples, and their update. */
  reduceMs: number;
  /** Slowest worker's whole task (compute + barrier wait + reduce); wallMs minus this is the coordinator's share. */
  busyMs: number;
  /** Longest and mean barrier wait over the workers: load imbalance and late starts. */
  waitMaxMs: number;
  waitMeanMs: number;
}

export interface EvalStats {
  loss: number;
  accuracy: number;
  confusion: Int32Array;
}

/** The engine gave up on a step; `completed` are the steps of the call that did happen, in order. */
export class StepsFailed extends UserError {
  constructor(message: string, readonly completed: StepStats[]) {
    super(message);
  }
}

/** Consecutive steps of an epoch, for Engine.runSteps. */
export interface StepRange {
  /** Samples per step: step s trains on order[s * batch .. (s + 1) * batch), cut at `end`. */
  batch: number;
  /** Steps [from, to). */
  from: number;
  to: number;
  /** Where the sample order ends (the training set's size). */
  end: number;
  /** The base learning rate; the engine's schedule scales it step by step. */
  lr: number;
  /** The run's count of steps before step `from` (default `from`): the schedule and Adam's bias correction go by it. */
  stepsBefore?: number;
  /** The most steps one call may run from step s, below stepsPerCall(batch): a call ends early where the caller must look, e.g. to save. */
  callLimit?: (step: number) => number;
}

/** The net's shape for `data` (its sample size in, its classes out) and the arena of an engine of it. */
export function planEngine(data: Dataset, hidden: number[], workers: number, chunk: number, optimizer = PLAIN_SGD, sync = STEP_SYNC): { shape: ModelShape; plan: ArenaPlan } {
  const shape = modelShape([data.train.features, ...hidden, data.classes]);
  // Pixel bytes are copied in, since the WebAssembly kernels read them only from their own memory; float features are copied per chunk from where they are.
  const splits = [data.train, data.test, ...(data.val ? [data.val] : [])];
  const pixelBytes = data.train.x instanceof Uint8Array ? sum(splits.map((s) => s.x.length)) : 0;
  return { shape, plan: planArena(shape, workers, chunk, pixelBytes, stateSlots(optimizer.kind), sync.mode) };
}

/**
 * Steps per call to the workers, who run them without waking the coordinator; it looks at
 * losses, signals and progress between calls. About 16k samples keeps that under a quarter
 * of a second.
 */
export function stepsPerCall(batch: number): number {
  return Math.max(1, Math.min(MAX_STEPS_PER_COMMAND, Math.floor(16384 / batch)));
}

export class Engine {
  readonly shape: ModelShape;
  readonly plan: ArenaPlan;
  /** Both copies of the parameters, views into shared memory by their offset (plan.copies). */
  private readonly copies: Map<number, Float32Array>;
  /** The offset of the copy that holds the weights: each step reads it and writes the other. */
  private weightsAt: number;
  /** Per layer, which rows' two copies may differ (see ArenaPlan.moved). */
  private readonly moved: Uint8Array[];
  /** The data set as the workers see it: the same labels, the pixels copied into the arena. */
  readonly data: Dataset;
  /** Sample order of the current epoch; the trainer shuffles it in place between epochs. */
  readonly order: Int32Array;
  /** Gradient sums between the chunks of a step (see ArenaPlan.grad), and each replica's under local and hogwild. */
  private readonly grads: Float32Array[];
  private readonly pool: Piscina;
  private readonly loop: StepLoop;
  readonly sync: SyncSpec;
  /** Batches per round (sync.ts roundOf): calls cover whole rounds, but for an epoch's last. */
  readonly round: number;

  constructor(private readonly opts: EngineOptions) {
    if (opts.kernels === 'wasm') kernelsWasmFile(); // a missing build fails here, not in every worker
    const { train, test, val } = opts.data;
    const optimizer = opts.optimizer ?? PLAIN_SGD;
    this.sync = opts.sync ?? STEP_SYNC;
    this.round = roundOf(this.sync, opts.workers);
    if (this.round > MAX_STEPS_PER_COMMAND) {
      throw new UserError(`--sync local:${this.sync.k} on ${opts.workers} workers makes rounds of ${this.round} batches; at most ${MAX_STEPS_PER_COMMAND} fit a call: take a smaller K`, 2);
    }
    ({ shape: this.shape, plan: this.plan } = planEngine(opts.data, opts.hidden, opts.workers, opts.chunk, optimizer, this.sync));
    const pixels = train.x instanceof Uint8Array;
    const memory = allocateArena(this.plan);
    this.copies = new Map(this.plan.copies.map((at) => [at, new Float32Array(memory.buffer, at * 4, (1 + this.plan.stateSlots) * this.plan.paramCount)]));
    this.weightsAt = this.plan.copies[0];
    this.moved = this.plan.moved.map((at, l) => new Uint8Array(memory.buffer, at * 4, this.shape.layers[l].inDim + 1));
    let pixelsAt = this.plan.pixels;
    const inArena = (split: Split): Split => {
      if (!pixels) return split;
      const copy = splitInArena(memory, split, pixelsAt);
      pixelsAt += split.x.length;
      return copy;
    };
    this.data = { ...opts.data, train: inArena(train), test: inArena(test), ...(val && { val: inArena(val) }) };
    this.order = new Int32Array(new SharedArrayBuffer(train.count * 4));
    const control = new Int32Array(new SharedArrayBuffer(controlWords(opts.workers) * 4));
    const command = new Float64Array(new SharedArrayBuffer(COMMAND_WORDS * 8));
    const results = new Float64Array(new SharedArrayBuffer(resultWords(opts.workers) * 8));
    const sampleLoss = new Float64Array(new SharedArrayBuffer(this.plan.chunk * 8));
    this.grads = [this.plan.grad, ...this.plan.replicas.map((r) => r.grad)].map((at) => new Float32Array(memory.buffer, at * 4, this.plan.paramCount));
    const workerData: WorkerData = {
      memory, plan: this.plan, sizes: this.shape.sizes, pixels, kernels: opts.kernels, optimizer, schedule: opts.schedule ?? CONSTANT, sync: this.sync,
      train: this.data.train, test: this.data.test, val: this.data.val, order: this.order, control, command, results, sampleLoss,
      faultHook: faultHookFromEnv(),
    };
    this.pool = new Piscina({
      filename: builtFile('src/parallel/worker.js'),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      // Workers must stay alive between steps: the step barrier counts every one.
      idleTimeout: 2 ** 31 - 1,
      workerData,
    });
    this.loop = new StepLoop(this.pool, opts.workers, control, command, results);
  }

  /** The weights, a view into the shared memory that every worker reads; a step moves them to the other copy. */
  get params(): Float32Array {
    return this.copies.get(this.weightsAt)!.subarray(0, this.plan.paramCount);
  }

  /** The optimizer's state beside the weights: stateSlots blocks laid out like the parameters (empty for plain SGD). */
  get state(): Float32Array {
    return this.copies.get(this.weightsAt)!.subarray(this.plan.paramCount);
  }

  /**
   * Runs steps [from, to) in calls of many (see stepsPerCall). After each call `after` gets
   * its steps' stats and the next step's index, and ends the run early by returning false
   * (or by throwing). Where a worker kept failing, `after` gets the steps of the call that
   * completed, and then StepsFailed is thrown. Returns the index of the next step.
   */
  async runSteps(range: StepRange, after: (done: StepStats[], next: number) => boolean | void | Promise<boolean | void>): Promise<number> {
    const { batch, from, to, end, lr } = range;
    const stepsBeforeEpoch = (range.stepsBefore ?? from) - from;
    let s = from;
    while (s < to) {
      const wanted = Math.max(1, Math.min(to - s, stepsPerCall(batch), range.callLimit?.(s) ?? Infinity));
      // Local SGD's rounds are whole: a call that should end inside one runs to its end.
      const count = Math.min(to - s, Math.ceil(wanted / this.round) * this.round);
      let done: StepStats[];
      let failure: StepsFailed | undefined;
      try {
        done = await this.steps(s * batch, batch, end, count, lr, stepsBeforeEpoch + s);
      } catch (e) {
        if (!(e instanceof StepsFailed)) throw e;
        failure = e;
        done = e.completed;
      }
      s += done.length;
      const goOn = await after(done, s);
      if (failure) throw failure;
      if (goOn === false) break;
    }
    return s;
  }

  /**
   * One call of `count` updates on consecutive batches: update i averages over
   * order[first + i * batch ..] (`batch` samples, never past `end`), and is step
   * `stepsBefore + i + 1` of the run. A step whose worker failed is run again; after maxRetries
   * failures in a row this throws StepsFailed holding the steps that completed.
   */
  async steps(first: number, batch: number, end: number, count: number, lr: number, stepsBefore = 0): Promise<StepStats[]> {
    const maxRetries = this.opts.maxRetries ?? 3;
    const stats: StepStats[] = [];
    let failures = 0;
    while (stats.length < count) {
      const at = first + stats.length * batch;
      const todo = Math.min(count - stats.length, Math.floor(MAX_STEPS_PER_COMMAND / this.round) * this.round);
      const t0 = performance.now();
      // Whatever was written to the weights since (initialisation, a checkpoint, a failed
      // step), the first step of a command copies every row it does not update.
      for (const rows of this.moved) rows.fill(1);
      const { results, weights, error } = await this.loop.run({ first: at, batch, end, count: todo, lr, stepsBefore: stepsBefore + stats.length, weights: this.weightsAt });
      this.weightsAt = weights;
      // Steps within one command are not timed one by one on this side: share the wall time.
      const wallMs = (performance.now() - t0) / Math.max(1, results.length);
      results.forEach((r, i) => stats.push(stepStats(r, Math.min(end, at + (i + 1) * batch) - (at + i * batch), wallMs)));
      if (!error) continue;
      for (const grad of this.grads) grad.fill(0); // a failed step may have left sums of its earlier chunks
      failures = results.length > 0 ? 1 : failures + 1;
      if (failures > maxRetries) {
        throw new StepsFailed(`a worker failed ${failures} times in a row on the same step; last error: ${error.message}`, stats);
      }
      this.opts.onRetry?.(failures, error);
    }
    return stats;
  }

  /** Loss, accuracy and confusion matrix over a whole split, shared out among the workers. */
  async evaluate(split: SplitName): Promise<EvalStats> {
    const count = this.data[split]?.count ?? 0;
    if (count === 0) throw new Error(`no ${split} set to evaluate`);
    const workers = this.plan.workers;
    await this.loop.stop(); // frees the workers for evaluation tasks
    const results: EvalResult[] = await Promise.all(
      Array.from({ length: workers }, (_, worker) => {
        const [lo, hi] = shareOf(worker, workers, count);
        const task: EvalTask = { worker, split, lo, hi, weights: this.weightsAt };
        return this.pool.run(task, { name: 'evaluate' });
      }),
    );
    const classes = this.data.classes;
    const confusion = new Int32Array(classes * classes);
    for (const r of results) r.confusion.forEach((v, i) => (confusion[i] += v));
    return {
      loss: sum(results.map((r) => r.lossSum)) / count,
      accuracy: sum(results.map((r) => r.correct)) / count,
      confusion,
    };
  }

  /** Waits until every worker has started and is ready for steps: start-up, kept out of the first step's time. */
  async ready(): Promise<void> {
    await this.loop.ready();
  }

  async close(): Promise<void> {
    await this.loop.stop();
    await this.pool.destroy();
  }
}

function stepStats(results: StepResult[], samples: number, wallMs: number): StepStats {
  return {
    lossSum: sum(results.map((r) => r.lossSum)),
    correct: sum(results.map((r) => r.correct)),
    samples,
    wallMs,
    computeMs: Math.max(...results.map((r) => r.computeMs)),
    reduceMs: Math.max(...results.map((r) => r.reduceMs)),
    busyMs: Math.max(...results.map((r) => r.computeMs + r.waitMs + r.reduceMs)),
    waitMaxMs: Math.max(...results.map((r) => r.waitMs)),
    waitMeanMs: sum(results.map((r) => r.waitMs)) / results.length,
  };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
