// The coordinator side of data parallelism. It owns the Piscina pool and the shared
// arena; in a step the workers share out the batch's samples (forward and backward to
// the deltas), meet at a barrier, then share out the parameter rows, each reducing the
// gradient of the rows it takes over all samples and applying SGD to them (reduce-scatter,
// see pass.ts), read from one copy of the parameters and written to the other (see
// ArenaPlan.paramsB). The coordinator never touches a gradient: its cost per step does not
// grow with the worker count.
// Steps reach the threads through the step loop (step-loop.ts), evaluations as Piscina tasks.
import { Piscina } from 'piscina';
import { allocateArena, otherCopy, planArena, shardRange, splitInArena, type ArenaPlan } from './arena.js';
import type { Dataset } from '../data/mnist.js';
import { CLASSES } from '../data/mnist.js';
import { modelShape, type ModelShape } from '../model/model.js';
import {
  COMMAND_FIELDS, MAX_STEPS_PER_COMMAND, RESULT_FIELDS, controlWords,
  type EvalResult, type EvalTask, type KernelKind, type StepResult, type WorkerData,
} from './protocol.js';
import { StepLoop } from './step-loop.js';
import { kernelsWasmFile } from '../kernels/load.js';
import { builtFile } from '../util/built.js';
import { UserError } from '../util/errors.js';
import { faultHookFromEnv } from './fault-hook.js';

export interface EngineOptions {
  data: Dataset;
  hidden: number[];
  workers: number;
  kernels: KernelKind;
  /** Samples per round (see ArenaPlan.rows). */
  chunk: number;
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

export class Engine {
  readonly shape: ModelShape;
  readonly plan: ArenaPlan;
  /** Both copies of the parameters, views into shared memory by their offset (plan.params, plan.paramsB). */
  private readonly copies: Record<number, Float32Array>;
  /** The offset of the copy that holds the weights: each step reads it and writes the other. */
  private paramsAt: number;
  /** Per layer, which rows' two copies may differ (see ArenaPlan.moved). */
  private readonly moved: Uint8Array[];
  /** The data set as the workers see it: the same labels, the pixels copied into the arena. */
  readonly data: Dataset;
  /** Sample order of the current epoch; the trainer shuffles it in place between epochs. */
  readonly order: Int32Array;
  /** Gradient sums between the rounds of a step (see ArenaPlan.grad). */
  private readonly grad: Float32Array;
  private readonly pool: Piscina;
  private readonly loop: StepLoop;

  constructor(private readonly opts: EngineOptions) {
    if (opts.kernels === 'wasm') kernelsWasmFile(); // a missing build fails here, not in every thread
    this.shape = modelShape(opts.hidden);
    const { train, test } = opts.data;
    this.plan = planArena(this.shape, opts.workers, opts.chunk, train.images.length + test.images.length);
    const memory = allocateArena(this.plan);
    const view = (at: number): Float32Array => new Float32Array(memory.buffer, at * 4, this.plan.paramCount);
    this.copies = { [this.plan.params]: view(this.plan.params), [this.plan.paramsB]: view(this.plan.paramsB) };
    this.paramsAt = this.plan.params;
    this.moved = this.plan.moved.map((at, l) => new Uint8Array(memory.buffer, at * 4, this.shape.layers[l].inDim + 1));
    // Copied in once: the WebAssembly kernels read pixels only from their own memory.
    this.data = { train: splitInArena(memory, train, this.plan.pixels), test: splitInArena(memory, test, this.plan.pixels + train.images.length) };
    this.order = new Int32Array(new SharedArrayBuffer(train.count * 4));
    const control = new Int32Array(new SharedArrayBuffer(controlWords(opts.workers) * 4));
    const command = new Float64Array(new SharedArrayBuffer(COMMAND_FIELDS * 8));
    const results = new Float64Array(new SharedArrayBuffer(MAX_STEPS_PER_COMMAND * opts.workers * RESULT_FIELDS * 8));
    const sampleLoss = new Float64Array(new SharedArrayBuffer(this.plan.rows * 8));
    this.grad = new Float32Array(memory.buffer, this.plan.grad * 4, this.plan.paramCount);
    const workerData: WorkerData = {
      memory, plan: this.plan, hidden: opts.hidden, kernels: opts.kernels,
      train: this.data.train, test: this.data.test, order: this.order, control, command, results, sampleLoss,
      faultHook: faultHookFromEnv(),
    };
    this.pool = new Piscina({
      filename: builtFile('src/parallel/worker.js'),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      // Threads must stay alive between steps: the step barrier counts every one.
      idleTimeout: 2 ** 31 - 1,
      workerData,
    });
    this.loop = new StepLoop(this.pool, opts.workers, control, command, results);
  }

  get workers(): number {
    return this.plan.slotCount;
  }

  /** The weights, a view into the shared memory that every worker reads; a step moves them to the other copy. */
  get params(): Float32Array {
    return this.copies[this.paramsAt];
  }

  /** One SGD update on the batch order[lo..hi), averaged over its hi - lo samples. */
  async step(lo: number, hi: number, lr: number): Promise<StepStats> {
    return (await this.steps(lo, hi - lo, hi, 1, lr))[0];
  }

  /**
   * `count` SGD updates on consecutive batches: update i averages over order[first + i * batch ..]
   * (`batch` samples, never past `end`). A step whose worker failed is retried; after
   * maxRetries failures in a row this throws StepsFailed holding the steps that completed.
   */
  async steps(first: number, batch: number, end: number, count: number, lr: number): Promise<StepStats[]> {
    const maxRetries = this.opts.maxRetries ?? 3;
    const stats: StepStats[] = [];
    let failures = 0;
    while (stats.length < count) {
      const at = first + stats.length * batch;
      const todo = Math.min(count - stats.length, MAX_STEPS_PER_COMMAND);
      const t0 = performance.now();
      // Whatever was written to the weights since (initialisation, a checkpoint, a failed
      // step), the first step of a command copies every row it does not update.
      for (const rows of this.moved) rows.fill(1);
      const { results, error } = await this.loop.run(at, batch, end, todo, lr, this.paramsAt);
      if (results.length % 2 === 1) this.paramsAt = otherCopy(this.plan, this.paramsAt);
      // Steps within one command are not timed one by one on this side: share the wall time.
      const wallMs = (performance.now() - t0) / Math.max(1, results.length);
      results.forEach((r, i) => stats.push(stepStats(r, Math.min(end, at + (i + 1) * batch) - (at + i * batch), wallMs)));
      if (!error) continue;
      this.grad.fill(0); // a failed step may have left sums of its earlier rounds
      failures = results.length > 0 ? 1 : failures + 1;
      if (failures > maxRetries) {
        throw new StepsFailed(`a worker failed ${failures} times in a row on the same step; last error: ${error.message}`, stats);
      }
      this.opts.onRetry?.(failures, error);
    }
    return stats;
  }

  /** Loss, accuracy and confusion matrix over a whole split, sharded across the workers. */
  async evaluate(split: 'train' | 'test'): Promise<EvalStats> {
    const count = this.data[split].count;
    const shards = this.plan.slotCount;
    await this.loop.stop(); // frees the threads for evaluation tasks
    const results: EvalResult[] = await Promise.all(
      Array.from({ length: shards }, (_, slot) => {
        const [lo, hi] = shardRange(slot, shards, count);
        const task: EvalTask = { slot, split, lo, hi, params: this.paramsAt };
        return this.pool.run(task, { name: 'evaluate' });
      }),
    );
    const confusion = new Int32Array(CLASSES * CLASSES);
    for (const r of results) r.confusion.forEach((v, i) => (confusion[i] += v));
    return {
      loss: sum(results.map((r) => r.lossSum)) / count,
      accuracy: sum(results.map((r) => r.correct)) / count,
      confusion,
    };
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
