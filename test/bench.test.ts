// The benchmark's derived numbers come from its own measured times, and a real run
// produces a table, JSON and SVG charts that parse.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQueueWaitMs, withBaseline } from '../src/bench/bench.js';
import { medianRepeat, summarize, type BenchReport, type Cell, type Measurement } from '../src/bench/summary.js';
import { formatTable, unevenCoresNote } from '../src/bench/report.js';
import { coreRoundTrips } from '../src/bench/probe.js';
import { findAll, parseXml } from './xml.js';

const rep = (wallMs: number, extra: Partial<Measurement> = {}): Measurement => ({
  steps: 100, samples: 6400, wallMs, computeMs: 400, reduceMs: 50, busyMs: 480, waitMaxMs: 20, coordinatorP50Ms: 0.05, cpuWaitMs: 10, ...extra,
});

describe('bench arithmetic on fixed timings', () => {
  const cells: Cell[] = [
    { batchSize: 64, workers: 1, repeats: [rep(1100), rep(900), rep(1000, { computeMs: 800, reduceMs: 60, busyMs: 900, waitMaxMs: 0, coordinatorP50Ms: 0.07 })] },
    { batchSize: 64, workers: 2, repeats: [rep(700), rep(600), rep(500)], independent: [[6000, 5000], [6400, 3200], [7000, 6000]] },
  ];
  const [one, two] = summarize(cells, 1e6);

  it('reports the median-throughput repeat whole', () => {
    expect(one.samplesPerSec).toBeCloseTo(6400, 6); // 6400 samples in 1000 ms
    expect(one.msPerStep).toBeCloseTo(10, 9);
    expect(one.computeMs).toBeCloseTo(8, 9);
    expect(one.reduceMs).toBeCloseTo(0.6, 9);
    expect(one.waitDispatchMs).toBeCloseTo(10 - 8 - 0.6, 9);
    expect(one.coordinatorMs).toBeCloseTo(10 - 9, 9);
    expect(one.coordinatorShare).toBeCloseTo(0.1, 9);
    expect(one.barrierWaitMs).toBe(0);
    expect(one.coordinatorP50Ms).toBe(0.07);
    expect(one.cpuWaitMs).toBeCloseTo(0.1, 9);
  });

  it('derives speedup, efficiency and GFLOP/s per core from the samples/s', () => {
    expect(two.samplesPerSec).toBeCloseTo(6400 / 0.6, 6);
    expect(two.speedup).toBeCloseTo(1000 / 600, 9);
    expect(two.efficiency).toBeCloseTo(1000 / 600 / 2, 9);
    expect(one.speedup).toBe(1);
    expect(two.gflopsPerCore).toBeCloseTo((1e6 * (6400 / 0.6)) / 2 / 1e9, 9);
    expect(two.coordinatorMs).toBeCloseTo(6 - 4.8, 9);
    expect(two.barrierWaitMs).toBeCloseTo(0.2, 9);
  });

  it('derives the ceiling from the independent copies of its median repeat', () => {
    // Repeat totals 11000, 9600, 13000: the median is [6000, 5000], against 6400 samples/s solo.
    expect(two.independentSpeedup).toBeCloseTo(11000 / 6400, 9);
    expect(two.syncBound).toBeCloseTo((2 * 5000) / 6400, 9);
    expect(two.ofIndependent).toBeCloseTo(1000 / 600 / (11000 / 6400), 9);
    expect([two.slowestCopy, two.fastestCopy]).toEqual([5000, 6000]);
    expect(one.independentSpeedup).toBeNaN();
    expect(one.ofIndependent).toBeNaN();
  });

  it('takes the lower middle of an even number of repeats, by throughput', () => {
    expect(medianRepeat([rep(400), rep(100), rep(300), rep(200)]).wallMs).toBe(300);
  });

  it.runIf(process.platform === 'linux')('reads run-queue wait from schedstat as a growing total', () => {
    const before = runQueueWaitMs();
    expect(Number.isFinite(before)).toBe(true);
    expect(runQueueWaitMs()).toBeGreaterThanOrEqual(before);
  });

  it('needs a 1-worker cell for every batch size, and always measures one', () => {
    expect(() => summarize([{ batchSize: 64, workers: 2, repeats: [rep(1)] }], 1)).toThrow(/1-worker/);
    expect(withBaseline([4, 2, 2])).toEqual([1, 2, 4]);
  });

  it('notes a run whose cores ran at unequal speeds, from the copies or the 1-worker cell', () => {
    const rowsOf = (soloMs: number, copies: number[] | undefined): ReturnType<typeof summarize> => summarize([
      { batchSize: 64, workers: 1, repeats: [rep(soloMs)] },
      { batchSize: 64, workers: 2, repeats: [rep(600)], independent: copies && [copies] },
    ], 1e6);
    // Copies within 20% of each other and a 1-worker cell as fast as the fastest: no note.
    expect(unevenCoresNote([one, two])).toBeUndefined();
    expect(unevenCoresNote(rowsOf(1000, undefined))).toBeUndefined();
    // One core at half speed while the copies ran.
    expect(unevenCoresNote(rowsOf(1000, [7000, 3500]))).toMatch(/batch 64, 2 workers, the slowest independent copy ran at 50% of the fastest and the 1-worker cell at 91% of it/);
    // The 1-worker cell landed on the slow core: its 3200 samples/s against copies of 6400 and 6000.
    expect(unevenCoresNote(rowsOf(2000, [6400, 6000]))).toMatch(/copy ran at 94% of the fastest and the 1-worker cell at 50% of it/);
  });

  it('prints the derived columns', () => {
    const table = formatTable([one, two]);
    expect(table.split('\n')[2]).toMatch(/^\s*64\s+2\s+10,667\s+1\.67x\s+83%\s+6\.000\s+4\.000\s+1\.500\s+0\.500/);
    expect(table.split('\n')[2]).toMatch(/\s1\.72x\s+1\.56x\s+97%$/);
    expect(table.split('\n')[1]).toMatch(/\s-\s+-\s+-$/);
  });
});

describe('the core-to-core round trip probe', () => {
  it('times round trips of a cache line to a pool thread and back, one figure per probe', async () => {
    const times = await coreRoundTrips(2000, 3);
    expect(times).toHaveLength(3);
    for (const ns of times) expect(ns).toBeGreaterThan(0);
  });

  it('stops a probe at its time budget instead of running every round', async () => {
    const t0 = performance.now();
    const [ns] = await coreRoundTrips(1e9, 1, 20); // a billion round trips would take minutes
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(Number.isFinite(ns)).toBe(true);
  });
});

describe('a tiny real run of `threadgrad bench`', () => {
  const out = mkdtempSync(join(tmpdir(), 'threadgrad-bench-'));
  let run: SpawnSyncReturns<string>;
  beforeAll(() => {
    const cli = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
    run = spawnSync(process.execPath, [cli, 'bench', '--workers-list', '2', '--batch-sizes', '64,128', '--steps', '5', '--warmup', '2',
      '--repeats', '3', '--hidden', '32,16', '--train-limit', '512', '--out', out], { encoding: 'utf8', env: { ...process.env, THREADGRAD_LOG_LEVEL: 'warn' } });
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('prints a table with a row per batch size and worker count', () => {
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.split('\n').filter((l) => /^\s*(64|128)\s+[12]\s/.test(l));
    expect(rows).toHaveLength(4);
    expect(run.stdout).toMatch(/core-to-core round trip of a cache line: \d+ ns before the cells, \d+ ns after/);
  });

  it('writes JSON whose speedups follow from its own measurements', () => {
    const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchReport;
    expect(report.rows.map((r) => [r.batchSize, r.workers])).toEqual([[64, 1], [64, 2], [128, 1], [128, 2]]);
    for (const c of report.cells) expect(c.repeats).toHaveLength(3);
    const sps = (c: Cell): number => { const m = medianRepeat(c.repeats); return (1000 * m.samples) / m.wallMs; };
    const [c1, c2] = report.cells;
    expect(report.rows[1].speedup).toBeCloseTo(sps(c2) / sps(c1), 9);
    for (const c of report.cells) if (c.workers === 2) expect(c.independent!.map((r) => r.length)).toEqual([2, 2, 2]);
    expect(report.rows[1].independentSpeedup).toBeGreaterThan(0);
    const { before, after } = report.meta.coreRoundTripNs;
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(0);
    for (const r of report.rows) {
      expect(r.samplesPerSec).toBeGreaterThan(0);
      expect(r.computeMs).toBeGreaterThan(0);
      expect(r.computeMs + r.reduceMs).toBeLessThanOrEqual(r.msPerStep);
      // A worker's task lies inside the coordinator's step, so what is left over cannot be negative.
      expect(r.coordinatorP50Ms).toBeGreaterThanOrEqual(0);
      expect(r.coordinatorMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('skips the round-trip probe on --no-round-trip, and says so by leaving it out', () => {
    const quiet = mkdtempSync(join(tmpdir(), 'threadgrad-bench-'));
    try {
      const cli = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
      const r = spawnSync(process.execPath, [cli, 'bench', '--workers-list', '2', '--batch-sizes', '64', '--steps', '2', '--warmup', '0', '--repeats', '1',
        '--no-independent', '--no-round-trip', '--hidden', '32,16', '--train-limit', '512', '--out', quiet], { encoding: 'utf8', env: { ...process.env, THREADGRAD_LOG_LEVEL: 'warn' } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/round trip/);
      const report = JSON.parse(readFileSync(join(quiet, 'bench.json'), 'utf8')) as BenchReport;
      expect(report.meta.coreRoundTripNs).toEqual({ before: null, after: null });
    } finally {
      rmSync(quiet, { recursive: true, force: true });
    }
  });

  it('writes SVG charts that parse: speedup lines with the ideal, stacked breakdown bars', () => {
    const speedup = parseXml(readFileSync(join(out, 'speedup.svg'), 'utf8'));
    expect(findAll(speedup, 'polyline')).toHaveLength(3); // batch 64, batch 128, ideal
    for (const b of [64, 128]) {
      const breakdown = parseXml(readFileSync(join(out, `breakdown-b${b}.svg`), 'utf8'));
      const bars = findAll(breakdown, 'rect').filter((r) => r.children.some((c) => c.name === 'title'));
      expect(bars).toHaveLength(2 * 3);
    }
  });
});
