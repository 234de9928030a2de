// The coordinator side of data parallelism. It owns the Piscina pool and the shared
// arena; a step splits the batch into one shard per worker, each worker writes its
// gradient sum into its own slot, meets the others at a barrier, then reduces and
// applies SGD to its own slice of the parameters (reduce-scatter). The coordinator
// never touches a gradient: its cost per step does not grow with the worker count.
// Steps reach the threads through the step loop (step-loop.ts), evaluations as Piscina tasks.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { allocateArena, planArena, shardRange, type ArenaPlan } from './arena.js';
import type { Dataset } from './mnist.js';
import { CLASSES } from './mnist.js';
import { modelShape, type ModelShape } from './model.js';
import {
  CONTROL_WORDS, RESULT_FIELDS,
  type EvalResult, type EvalTask, type KernelKind, type StepResult, type WorkerData,
} from './protocol.js';
import { StepLoop } from './step-loop.js';
import { UserError } from './errors.js';
import { faultHookFromEnv } from './fault-hook.js';

export interface EngineOptions {
  data: Dataset;
  hidden: number[];
  workers: number;
  kernels: KernelKind;
  /** Samples per kernel call inside a shard. */
  chunk: number;
  /** How many times a step whose worker failed is retried before giving up. */
  maxRetries?: number;
  onRetry?: (attempt: number, error: Error) => void;
}

export interface StepStats {
  lossSum: number;
  correct: number;
  samples: number;
  /** Coordinator wall time of the whole step. */
  wallMs: number;
  /** Slowest worker's forward + backward time. */
  computeMs: number;
  /** Slowest worker's reduce + update of its parameter slice. */
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

export function workerFile(): string {
  // Compiled: dist/src/engine.js next to dist/workers/. From source (vitest): use dist/.
  const compiled = new URL('../workers/worker.js', import.meta.url);
  if (existsSync(compiled)) return fileURLToPath(compiled);
  const fromSource = new URL('../dist/workers/worker.js', import.meta.url);
  if (existsSync(fromSource)) return fileURLToPath(fromSource);
  throw new Error('worker script not found: run `npm run build` first');
}

export class Engine {
  readonly shape: ModelShape;
  readonly plan: ArenaPlan;
  /** The parameter block, a view into shared memory that every worker reads. */
  readonly params: Float32Array;
  /** Sample order of the current epoch; the trainer shuffles it in place between epochs. */
  readonly order: Int32Array;
  private readonly pool: Piscina;
  private readonly loop: StepLoop;

  constructor(private readonly opts: EngineOptions) {
    this.shape = modelShape(opts.hidden);
    this.plan = planArena(this.shape, opts.workers, opts.chunk);
    const memory = allocateArena(this.plan);
    this.params = new Float32Array(memory.buffer, this.plan.params * 4, this.plan.paramCount);
    this.order = new Int32Array(new SharedArrayBuffer(opts.data.train.count * 4));
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
    const command = new Float64Array(new SharedArrayBuffer(3 * 8));
    const results = new Float64Array(new SharedArrayBuffer(opts.workers * RESULT_FIELDS * 8));
    const workerData: WorkerData = {
      memory, plan: this.plan, hidden: opts.hidden, kernels: opts.kernels,
      train: opts.data.train, test: opts.data.test, order: this.order, control, command, results,
      faultHook: faultHookFromEnv(),
    };
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      // Threads must stay alive between steps: the step barrier needs one per shard.
      idleTimeout: 2 ** 31 - 1,
      workerData,
    });
    this.loop = new StepLoop(this.pool, opts.workers, control, command, results);
  }

  get workers(): number {
    return this.plan.slotCount;
  }

  /** One SGD update on the batch order[lo..hi), averaged over its hi - lo samples. */
  async step(lo: number, hi: number, lr: number): Promise<StepStats> {
    const maxRetries = this.opts.maxRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      let results: StepResult[];
      try {
        results = await this.loop.step(lo, hi, lr / (hi - lo));
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        if (attempt >= maxRetries) {
          throw new UserError(`a worker failed ${attempt + 1} times in a row on the same step; last error: ${error.message}`);
        }
        this.opts.onRetry?.(attempt + 1, error);
        continue;
      }
      return {
        lossSum: sum(results.map((r) => r.lossSum)),
        correct: sum(results.map((r) => r.correct)),
        samples: hi - lo,
        wallMs: performance.now() - t0,
        computeMs: Math.max(...results.map((r) => r.computeMs)),
        reduceMs: Math.max(...results.map((r) => r.reduceMs)),
        busyMs: Math.max(...results.map((r) => r.computeMs + r.waitMs + r.reduceMs)),
        waitMaxMs: Math.max(...results.map((r) => r.waitMs)),
        waitMeanMs: sum(results.map((r) => r.waitMs)) / results.length,
      };
    }
  }

  /** Loss, accuracy and confusion matrix over a whole split, sharded across the workers. */
  async evaluate(split: 'train' | 'test'): Promise<EvalStats> {
    const count = this.opts.data[split].count;
    const shards = this.plan.slotCount;
    await this.loop.stop(); // frees the threads for evaluation tasks
    const results: EvalResult[] = await Promise.all(
      Array.from({ length: shards }, (_, slot) => {
        const [lo, hi] = shardRange(slot, shards, count);
        const task: EvalTask = { slot, split, lo, hi };
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

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
