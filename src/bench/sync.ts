// `threadgrad bench --sync step,local:8,hogwild`: scaling as users feel it. For every sync
// mode and worker count, a real training run that evaluates the test set a few times an
// epoch and stops at the first evaluation at or above the target: samples/s, its speedup
// over the same mode on one worker, and the training seconds and epochs it took to reach
// the target (the statistical cost of a mode shows there, not in samples/s). Rounds run
// every cell once each, so a slow spell of the machine falls on all of them; medians.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import { train } from '../train.js';
import { ensureFolder } from '../util/files.js';
import { lineChart } from './svg.js';
import { median } from './summary.js';

export interface SyncBenchOptions {
  /** The run's settings; sync and workers are set per cell. */
  cfg: TrainConfig;
  syncs: string[];
  workersList: number[];
  /** Test accuracy to reach (0.97). */
  target: number;
  /** Test evaluations an epoch. */
  evalsPerEpoch: number;
  repeats: number;
}

export interface SyncRun {
  sync: string;
  workers: number;
  round: number;
  /**
   * Samples trained per second of training (evaluations excluded) from the first evaluation
   * after epoch 1 to the stop: V8 compiles the workers' code during the first epoch, which
   * the seconds to the target include and the rate leaves out. Over the whole run where the
   * run stopped before that evaluation.
   */
  samplesPerSec: number;
  /** Training seconds and epochs (fractional) to the first evaluation at or above the target; null when the run ended below it. */
  seconds: number | null;
  epochs: number | null;
  best: number;
}

export interface SyncRow {
  sync: string;
  workers: number;
  samplesPerSec: number;
  /** samples/s over this mode's on 1 worker. */
  speedup: number;
  /** Medians over the repeats that reached the target; null when fewer than half did. */
  seconds: number | null;
  epochs: number | null;
  reached: number;
  repeats: number;
  best: number;
}

export async function runSyncBench(data: Dataset, opts: SyncBenchOptions, onRun: (run: SyncRun) => void = () => {}): Promise<{ runs: SyncRun[]; rows: SyncRow[] }> {
  const runs: SyncRun[] = [];
  for (let round = 1; round <= opts.repeats; round++) {
    for (const sync of opts.syncs) {
      for (const workers of opts.workersList) {
        const run = await timeToTarget({ ...opts.cfg, sync, workers }, data, opts, round);
        runs.push(run);
        onRun(run);
      }
    }
  }
  return { runs, rows: summarize(runs, opts) };
}

async function timeToTarget(cfg: TrainConfig, data: Dataset, opts: SyncBenchOptions, round: number): Promise<SyncRun> {
  const stop = new AbortController();
  let reached: { epoch: number; seconds: number } | undefined;
  let last = { epoch: 0, seconds: 0 };
  let warm = last;
  let best = 0;
  await train(cfg, {
    data, testEvery: opts.evalsPerEpoch, signal: stop.signal,
    onTest: (p) => {
      if (warm.epoch < 1) warm = p;
      last = p;
      best = Math.max(best, p.testAcc);
      if (p.testAcc >= opts.target && !reached) {
        reached = p;
        stop.abort('target reached');
      }
    },
  });
  const from = last.epoch > warm.epoch && warm.epoch >= 1 ? warm : { epoch: 0, seconds: 0 };
  const samplesPerSec = ((last.epoch - from.epoch) * data.train.count) / (last.seconds - from.seconds);
  return { sync: cfg.sync, workers: cfg.workers, round, samplesPerSec, seconds: reached?.seconds ?? null, epochs: reached?.epoch ?? null, best };
}

function summarize(runs: SyncRun[], opts: SyncBenchOptions): SyncRow[] {
  const rows: SyncRow[] = [];
  for (const sync of opts.syncs) {
    const one = median(runs.filter((r) => r.sync === sync && r.workers === Math.min(...opts.workersList)).map((r) => r.samplesPerSec));
    for (const workers of opts.workersList) {
      const cell = runs.filter((r) => r.sync === sync && r.workers === workers);
      const hit = cell.filter((r) => r.seconds !== null);
      const enough = hit.length * 2 >= cell.length;
      const samplesPerSec = median(cell.map((r) => r.samplesPerSec));
      rows.push({
        sync, workers, samplesPerSec, speedup: samplesPerSec / one,
        seconds: enough ? median(hit.map((r) => r.seconds!)) : null, epochs: enough ? median(hit.map((r) => r.epochs!)) : null,
        reached: hit.length, repeats: cell.length, best: Math.max(...cell.map((r) => r.best)),
      });
    }
  }
  return rows;
}

export function formatSyncTable(rows: SyncRow[], target: number): string {
  const pct = `${(100 * target).toFixed(0)}%`;
  const head = ['sync', 'workers', 'samples/s', 'speedup', `s to ${pct}`, `epochs to ${pct}`, 'reached', 'best acc'];
  const body = rows.map((r) => [
    r.sync, String(r.workers), Math.round(r.samplesPerSec).toLocaleString('en-US'), `${r.speedup.toFixed(2)}x`,
    r.seconds === null ? 'not reached' : r.seconds.toFixed(2), r.epochs === null ? '-' : r.epochs.toFixed(2), `${r.reached}/${r.repeats}`, `${(100 * r.best).toFixed(2)}%`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), ...body.map(line)].join('\n') + '\n';
}

/** sync.json (settings, every run, the rows) and time-to-target.svg in `dir`; returns the paths. */
export function writeSyncOutputs(dir: string, report: { meta: Record<string, unknown>; runs: SyncRun[]; rows: SyncRow[] }, target: number): string[] {
  ensureFolder(dir, 'benchmark results');
  const json = join(dir, 'sync.json');
  const svg = join(dir, 'time-to-target.svg');
  writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  const syncs = [...new Set(report.rows.map((r) => r.sync))];
  writeFileSync(svg, lineChart({
    title: `Training seconds to ${(100 * target).toFixed(0)}% test accuracy`,
    xLabel: 'workers', yLabel: 'seconds (evaluations excluded)',
    series: syncs.map((sync) => ({
      name: sync, points: report.rows.filter((r) => r.sync === sync && r.seconds !== null).map((r): [number, number] => [r.workers, r.seconds!]),
    })),
  }));
  return [json, svg];
}
