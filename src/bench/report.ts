// What the benchmark reports, from a finished BenchReport: the table printed on stdout, and
// bench.json with the SVG charts written to a folder.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureFolder } from '../util/files.js';
import { oneWorkerRow, type BenchReport, type BenchRow } from './summary.js';
import { lineChart, stackedBarChart } from './svg.js';

const HEAD = ['batch', 'workers', 'samples/s', 'speedup', 'effic.', 'ms/step', 'compute', 'wait+disp', 'reduce', 'barrier', 'coord', 'coord%', 'coord p50', 'cpu wait', 'GFLOP/s/core', 'indep.', 'bound', 'of indep.'];

export function formatTable(rows: BenchRow[]): string {
  const body = rows.map((r) => [
    String(r.batchSize), String(r.workers), Math.round(r.samplesPerSec).toLocaleString('en-US'),
    r.speedup.toFixed(2) + 'x', (100 * r.efficiency).toFixed(0) + '%', r.msPerStep.toFixed(3),
    r.computeMs.toFixed(3), r.waitDispatchMs.toFixed(3), r.reduceMs.toFixed(3), r.barrierWaitMs.toFixed(3),
    r.coordinatorMs.toFixed(3), (100 * r.coordinatorShare).toFixed(1) + '%', r.coordinatorP50Ms.toFixed(3), r.cpuWaitMs.toFixed(3), r.gflopsPerCore.toFixed(2),
    Number.isNaN(r.independentSpeedup) ? '-' : r.independentSpeedup.toFixed(2) + 'x', Number.isNaN(r.syncBound) ? '-' : r.syncBound.toFixed(2) + 'x',
    Number.isNaN(r.ofIndependent) ? '-' : (100 * r.ofIndependent).toFixed(0) + '%',
  ]);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cols: string[]): string => cols.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(HEAD), ...body.map(line)].join('\n') + '\n';
}

export const TABLE_NOTE =
  'Per-step times in ms. wait+disp = step - compute - reduce (barrier wait + coordinator); ' +
  'coord = step - slowest worker task (dispatch and hand-back), mean and median over steps; barrier = longest wait at the barrier; ' +
  'cpu wait = time our threads were ready but had no core (other load on the machine). ' +
  'GFLOP/s are dense-equivalent (every multiply-add counted). ' +
  'indep. = as many independent 1-worker engines as workers, run at once: their summed samples/s over the 1-worker figure, the most these cores gave just then; ' +
  'bound = workers x the slowest of them, the most a synchronous run could reach; ' +
  'of indep. = speedup / indep.: the share of what the cores gave just then that this run got.\n';

/** Below this share of the fastest core's speed, a core counts as slow (a 2-core VM's second core can run at half speed for minutes). */
export const UNEVEN_CORES = 0.8;

/**
 * A line for a run whose cores did not run at one speed, judged by the independent copies:
 * the slowest of a cell's copies, or the 1-worker cell itself, under UNEVEN_CORES of the
 * fastest copy. Speedups over 1 worker then measure the cores as much as the code, while
 * `of indep.` does not move with them. Undefined for an even run or one without copies.
 */
export function unevenCoresNote(rows: BenchRow[]): string | undefined {
  // Per row with copies: the slowest copy's and the 1-worker cell's share of the fastest copy.
  const shares = rows.filter((row) => row.fastestCopy > 0).map((row) => ({
    row,
    copies: row.slowestCopy / row.fastestCopy,
    solo: oneWorkerRow(rows, row.batchSize).samplesPerSec / row.fastestCopy,
  }));
  const lowest = (x: { copies: number; solo: number }): number => Math.min(x.copies, x.solo);
  const worst = shares.sort((a, b) => lowest(a) - lowest(b))[0];
  if (!worst || lowest(worst) >= UNEVEN_CORES) return undefined;
  const pct = (x: number): string => `${Math.round(100 * Math.min(x, 1))}%`;
  return `note: the cores did not run at one speed in this run: at batch ${worst.row.batchSize}, ${worst.row.workers} workers, ` +
    `the slowest independent copy ran at ${pct(worst.copies)} of the fastest and the 1-worker cell at ${pct(worst.solo)} of it; ` +
    `speedups over 1 worker then measure the cores as much as the code, "of indep." does not move with them (docs/measurements.md: The ceiling)\n`;
}

/** bench.json, speedup.svg and one breakdown-b<batch>.svg per batch size; returns the paths written. */
export function writeBenchOutputs(report: BenchReport, dir: string): string[] {
  ensureFolder(dir, 'benchmark results');
  const written: string[] = [];
  const put = (name: string, content: string): void => {
    const path = join(dir, name);
    writeFileSync(path, content);
    written.push(path);
  };
  put('bench.json', JSON.stringify(report, null, 2) + '\n');
  const { rows } = report;
  const workers = [...new Set(rows.map((r) => r.workers))];
  const batches = [...new Set(rows.map((r) => r.batchSize))];
  const kernels = String(report.meta.kernels);
  put('speedup.svg', lineChart({
    title: `Speedup over 1 worker (${kernels} kernels)`,
    xLabel: 'workers', yLabel: 'speedup (samples/s ÷ 1-worker samples/s)',
    series: [
      ...batches.map((b) => ({ name: `batch ${b}`, points: rows.filter((r) => r.batchSize === b).map((r): [number, number] => [r.workers, r.speedup]) })),
      { name: 'ideal', points: workers.map((w): [number, number] => [w, w]), dashed: true },
    ],
  }));
  for (const b of batches) {
    const rs = rows.filter((r) => r.batchSize === b);
    put(`breakdown-b${b}.svg`, stackedBarChart({
      title: `Time per step, batch ${b} (${kernels} kernels)`,
      xLabel: 'workers', yLabel: 'ms per step',
      categories: rs.map((r) => `${r.workers} worker${r.workers === 1 ? '' : 's'}`),
      segments: [
        { name: 'compute', values: rs.map((r) => r.computeMs) },
        { name: 'wait + dispatch', values: rs.map((r) => r.waitDispatchMs) },
        { name: 'reduce + update', values: rs.map((r) => r.reduceMs) },
      ],
    }));
  }
  return written;
}
