// What a benchmark's timings come to: each cell's median repeat, the speedup over 1 worker,
// GFLOP/s per core, and the ceiling the independent copies show. Pure arithmetic on the
// measurements, so that it can be checked on fixed timings (test/bench.test.ts).
import type { StepStats } from '../parallel/engine.js';

/**
 * One repeat of one (batch size, workers) cell: the StepStats fields summed over its
 * measured steps, except wallMs, the coordinator's clock around the whole block of steps
 * (the throughput clock).
 */
export interface Measurement extends Pick<StepStats, 'samples' | 'wallMs' | 'computeMs' | 'reduceMs' | 'busyMs' | 'waitMaxMs'> {
  steps: number;
  /**
   * Median over the engine calls of the call's wall time minus its steps' slowest worker
   * tasks, per step.
   * Against the mean (from the sums) it tells a steady hand-off cost from occasional
   * stalls, e.g. the coordinator thread waiting for a core that other processes hold.
   */
  coordinatorP50Ms: number;
  /** Time this process's threads were ready to run but had no core (Linux schedstat; NaN elsewhere). */
  cpuWaitMs: number;
}

export interface Cell {
  batchSize: number;
  workers: number;
  repeats: Measurement[];
  /**
   * Per repeat, for workers > 1: samples/s of as many independent 1-worker engines run at
   * the same time. Nothing is shared between them but the machine, so their sum over the
   * 1-worker figure is the most any data-parallel run could get from these cores just then.
   */
  independent?: number[][];
}

export interface BenchRow {
  batchSize: number;
  workers: number;
  samplesPerSec: number;
  /** samples/s over the 1-worker samples/s at the same batch size. */
  speedup: number;
  /** speedup / workers. */
  efficiency: number;
  /** Per step, milliseconds. waitDispatch = step - compute - reduce = barrier wait + coordinator. */
  msPerStep: number;
  computeMs: number;
  waitDispatchMs: number;
  reduceMs: number;
  barrierWaitMs: number;
  /** Step time not covered by the slowest worker's task: hand-off out and back, promise plumbing. */
  coordinatorMs: number;
  coordinatorShare: number;
  coordinatorP50Ms: number;
  /** Per step: how long our threads sat runnable without a core, i.e. how much other load skewed this cell. */
  cpuWaitMs: number;
  /** Dense-equivalent FLOP/s (no zero skipping) per worker, in units of 1e9. */
  gflopsPerCore: number;
  /** Independent 1-worker copies, one per worker, run at once: summed samples/s over the 1-worker figure (median repeat). */
  independentSpeedup: number;
  /** workers x the slowest copy's share: a synchronous run moves at its slowest core's pace, so it cannot beat this. */
  syncBound: number;
  /** samples/s of the slowest and the fastest of those copies (median repeat): how evenly the cores ran. */
  slowestCopy: number;
  fastestCopy: number;
  /**
   * speedup / independentSpeedup: the share of what these cores gave just then that the
   * shared run got. Unlike the speedup, it does not move with how fast the cores happen to
   * be (on a VM, the core a 1-worker run lands on can be half as fast as the other).
   */
  ofIndependent: number;
}

export interface BenchReport {
  /** The run's options and machine; coreRoundTripNs is null where the probe was skipped. */
  meta: Record<string, unknown> & { coreRoundTripNs: { before: number | null; after: number | null } };
  rows: BenchRow[];
  cells: Cell[];
}

export const rate = (m: Measurement): number => (1000 * m.samples) / m.wallMs;
export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The repeat with the median throughput (lower middle for an even count); its breakdown is reported whole so the parts add up. */
export function medianRepeat(repeats: Measurement[]): Measurement {
  if (repeats.length === 0) throw new Error('no repeats to summarise');
  const sorted = [...repeats].sort((a, b) => rate(a) - rate(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** The row every speedup at this batch size is relative to. */
export function oneWorkerRow(rows: BenchRow[], batchSize: number): BenchRow {
  const base = rows.find((b) => b.batchSize === batchSize && b.workers === 1);
  if (!base) throw new Error(`no 1-worker measurement for batch size ${batchSize}`);
  return base;
}

export function summarize(cells: Cell[], flops: number): BenchRow[] {
  const rows = cells.map((c) => {
    const m = medianRepeat(c.repeats);
    const msPerStep = m.wallMs / m.steps;
    const computeMs = m.computeMs / m.steps;
    const reduceMs = m.reduceMs / m.steps;
    const coordinatorMs = msPerStep - m.busyMs / m.steps;
    const samplesPerSec = rate(m);
    return {
      batchSize: c.batchSize, workers: c.workers, samplesPerSec, speedup: NaN, efficiency: NaN,
      msPerStep, computeMs, waitDispatchMs: msPerStep - computeMs - reduceMs, reduceMs,
      barrierWaitMs: m.waitMaxMs / m.steps, coordinatorMs, coordinatorShare: coordinatorMs / msPerStep, coordinatorP50Ms: m.coordinatorP50Ms,
      cpuWaitMs: m.cpuWaitMs / m.steps,
      gflopsPerCore: (flops * samplesPerSec) / c.workers / 1e9,
      independentSpeedup: NaN, syncBound: NaN, slowestCopy: NaN, fastestCopy: NaN, ofIndependent: NaN,
    };
  });
  for (const r of rows) {
    r.speedup = r.samplesPerSec / oneWorkerRow(rows, r.batchSize).samplesPerSec;
    r.efficiency = r.speedup / r.workers;
  }
  cells.forEach((c, i) => {
    if (!c.independent?.length) return;
    const solo = oneWorkerRow(rows, c.batchSize).samplesPerSec;
    const byTotal = [...c.independent].sort((a, b) => sum(a) - sum(b));
    const mid = byTotal[Math.floor((byTotal.length - 1) / 2)];
    rows[i].slowestCopy = Math.min(...mid);
    rows[i].fastestCopy = Math.max(...mid);
    rows[i].independentSpeedup = sum(mid) / solo;
    rows[i].syncBound = (c.workers * rows[i].slowestCopy) / solo;
    rows[i].ofIndependent = rows[i].speedup / rows[i].independentSpeedup;
  });
  return rows;
}

