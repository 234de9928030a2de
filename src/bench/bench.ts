// Throughput and scaling benchmark: the same batches, from the same weights, on 1..N
// workers. Every number in the report is derived from times measured in this run: the
// coordinator's clock around a block of steps, and the per-step times the workers report.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { checkMemory, engineBytes } from '../parallel/arena.js';
import { Engine, planEngine, type StepStats } from '../parallel/engine.js';
import { coreRoundTrips } from './probe.js';
import type { Dataset } from '../data/dataset.js';
import { flopsPerSample, initParams } from '../model/model.js';
import type { KernelKind } from '../kernels/kernels.js';
import type { OptimizerSpec } from '../model/optimizer.js';
import { Rng } from '../util/rng.js';
import { median, rate, sum, summarize, type BenchReport, type Cell, type Measurement } from './summary.js';

export interface BenchOptions {
  hidden: number[];
  kernels: KernelKind;
  chunk: number;
  /** The update rule the steps apply (default plain SGD): a stateful optimizer touches every row and its state every step. */
  optimizer?: OptimizerSpec;
  seed: number;
  lr: number;
  workersList: number[];
  batchSizes: number[];
  /** Measured steps per repeat, after `warmup` unmeasured ones. */
  steps: number;
  warmup: number;
  repeats: number;
  /** Also run as many independent 1-worker engines at once as each cell has workers (the ceiling). */
  independent?: boolean;
  /** Measure the core-to-core round trip before and after the cells (see probe.ts); its two threads spin, so concurrent benchmarks turn it off. */
  roundTrip?: boolean;
}

/** Sorted, de-duplicated worker counts, always with 1: speedup is relative to one worker. */
export function withBaseline(workers: number[]): number[] {
  return [...new Set([1, ...workers])].sort((a, b) => a - b);
}

/** 1, 2, 4, ... up to `max`, and `max` itself. */
export function defaultWorkersList(max = availableParallelism()): number[] {
  const list: number[] = [];
  for (let w = 1; w < max; w *= 2) list.push(w);
  return [...list, max];
}

/**
 * Total time all threads of this process have spent runnable but waiting for a core,
 * from the second field of /proc/self/task/<tid>/schedstat. On a machine shared with
 * other work this is what separates our own overhead from being crowded out.
 */
export function runQueueWaitMs(): number {
  try {
    let ns = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        ns += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        // the thread ended between listing and reading
      }
    }
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

/**
 * Steps [from, from + count) at batch b over passes of the sample order (whole batches only,
 * no reshuffle between passes), as training runs them: in the engine's calls, none crossing
 * the end of a pass.
 */
async function runSteps(engine: Engine, b: number, from: number, count: number, lr: number, each: (call: StepStats[]) => void): Promise<void> {
  const n = engine.order.length;
  const perPass = Math.floor(n / b);
  for (let s = from; s < from + count; ) {
    const inPass = s % perPass;
    const k = Math.min(from + count - s, perPass - inPass);
    await engine.runSteps({ batch: b, from: inPass, to: inPass + k, end: n, lr }, each);
    s += k;
  }
}

/**
 * Steps a new pool runs before any cell is measured. V8 compiles the workers' JavaScript
 * on background threads in a pool's first 200-300 steps (about 100 ms of CPU on the 2-core
 * VM), which takes cores from a pool of as many workers as cores but not from one worker.
 */
export const JIT_WARMUP_STEPS = 400;

async function warmUp(engine: Engine, opts: BenchOptions): Promise<void> {
  reseed(engine, opts.seed);
  await runSteps(engine, Math.min(64, engine.order.length), 0, JIT_WARMUP_STEPS, opts.lr, () => {});
}

/** Fresh weights and sample order from the seed, so that every repeat starts alike. */
function reseed(engine: Engine, seed: number): void {
  const rng = new Rng(seed);
  initParams(engine.params, engine.shape, rng);
  rng.permute(engine.order);
}

/** Runs warm-up then measured steps from freshly seeded weights and sample order. */
export async function measure(engine: Engine, batchSize: number, opts: BenchOptions): Promise<Measurement> {
  reseed(engine, opts.seed);
  const b = Math.min(batchSize, engine.order.length);
  const run = (from: number, count: number, each: (call: StepStats[]) => void) => runSteps(engine, b, from, count, opts.lr, each);
  await run(0, opts.warmup, () => {});
  const m: Measurement = { steps: opts.steps, samples: opts.steps * b, wallMs: 0, computeMs: 0, reduceMs: 0, busyMs: 0, waitMaxMs: 0, coordinatorP50Ms: 0, cpuWaitMs: 0 };
  const coordinator: number[] = [];
  const cpuWait0 = runQueueWaitMs();
  const t0 = performance.now();
  await run(opts.warmup, opts.steps, (call) => {
    for (const st of call) {
      m.computeMs += st.computeMs;
      m.reduceMs += st.reduceMs;
      m.busyMs += st.busyMs;
      m.waitMaxMs += st.waitMaxMs;
    }
    // The engine times a call, not its steps one by one: the coordinator's share per step of each call.
    coordinator.push(call.reduce((sum, st) => sum + st.wallMs - st.busyMs, 0) / call.length);
  });
  m.wallMs = performance.now() - t0;
  m.cpuWaitMs = runQueueWaitMs() - cpuWait0;
  m.coordinatorP50Ms = median(coordinator);
  return m;
}

/** Every pool of the run (one per worker count, and the independent copies) is alive at once: refuse up front what would not fit in memory. */
function checkBenchFits(data: Dataset, opts: BenchOptions, workersList: number[]): void {
  const bytes = (workers: number): number => engineBytes(planEngine(data, opts.hidden, workers, opts.chunk, opts.optimizer).plan);
  const copies = opts.independent ? Math.max(...workersList) - 1 : 0;
  checkMemory(
    sum(workersList.map(bytes)) + copies * bytes(1),
    `a benchmark of ${workersList.join(', ')} workers${copies ? ` and ${copies} independent 1-worker copies` : ''}, every pool alive at once,`,
    'measure fewer or smaller worker counts in --workers-list (or --no-independent)',
  );
}

/**
 * Every worker count keeps its own pool alive for the whole run, and the repeats go round
 * all cells in turn, so that a slow spell on a shared machine hits every cell alike
 * instead of one cell's every repeat.
 */
export async function runBench(data: Dataset, opts: BenchOptions, onCell?: (cell: Cell, repeat: number) => void): Promise<BenchReport> {
  const workersList = withBaseline(opts.workersList);
  checkBenchFits(data, opts, workersList);
  const roundTrip = async (): Promise<number | null> => (opts.roundTrip ? median(await coreRoundTrips()) : null);
  const roundTripBefore = await roundTrip();
  const batchSizes = [...new Set(opts.batchSizes.map((b) => Math.min(b, data.train.count)))];
  const engines = new Map<number, Engine>();
  const cells: Cell[] = batchSizes.flatMap((batchSize) => workersList.map((workers) => ({ batchSize, workers, repeats: [] })));
  const engine = (workers: number): Engine => new Engine({ data, hidden: opts.hidden, workers, kernels: opts.kernels, chunk: opts.chunk, optimizer: opts.optimizer });
  // 1-worker engines for the independent copies; the first is the 1-worker cell's own.
  const copies: Engine[] = [];
  try {
    for (const workers of workersList) engines.set(workers, engine(workers));
    copies.push(engines.get(1)!);
    if (opts.independent) while (copies.length < workersList[workersList.length - 1]) copies.push(engine(1));
    for (const e of [...engines.values(), ...copies.slice(1)]) await warmUp(e, opts);
    for (let r = 0; r < opts.repeats; r++) {
      for (const cell of cells) {
        cell.repeats.push(await measure(engines.get(cell.workers)!, cell.batchSize, opts));
        if (opts.independent && cell.workers > 1) {
          const together = await Promise.all(copies.slice(0, cell.workers).map((e) => measure(e, cell.batchSize, opts)));
          (cell.independent ??= []).push(together.map(rate));
        }
        onCell?.(cell, r);
      }
    }
  } finally {
    await Promise.all([...engines.values(), ...copies.slice(1)].map((e) => e.close()));
  }
  const roundTripAfter = await roundTrip();
  const flops = flopsPerSample(planEngine(data, opts.hidden, 1, opts.chunk).shape);
  return {
    meta: {
      ...opts, workersList, batchSizes, trainSamples: data.train.count, flopsPerSample: flops,
      flopsNote: 'dense-equivalent: every multiply-add of forward and backward counted, no zero skipping',
      node: process.version, cpu: cpus()[0]?.model, cores: availableParallelism(), date: new Date().toISOString(),
      // Other processes competing for the cores skew multi-worker cells most; this shows whether they were there.
      loadAverage1mAtEnd: loadavg()[0],
      // What a shared cache line costs between two cores, before and after the cells (see probe.ts).
      coreRoundTripNs: { before: roundTripBefore, after: roundTripAfter },
    },
    rows: summarize(cells, flops),
    cells,
  };
}
