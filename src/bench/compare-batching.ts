// Full-batch gradient descent against epoch-wise mini-batch SGD on the same net, data,
// seed and workers: how much data each update sees, how long updates and passes take,
// and what test accuracy each reaches in the same training time and the same passes.
// The test set is evaluated along the way; evaluation time is kept off the training clock.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureFolder } from '../util/files.js';
import { Engine } from '../parallel/engine.js';
import { UserError } from '../util/errors.js';
import type { Dataset } from '../data/dataset.js';
import { initParams } from '../model/model.js';
import type { KernelKind } from '../kernels/kernels.js';
import { Rng } from '../util/rng.js';
import { lineChart } from './svg.js';

export interface CompareOptions {
  hidden: number[];
  kernels: KernelKind;
  chunk: number;
  seed: number;
  workers: number;
  miniBatch: number;
  miniLr: number;
  fullLr: number;
  /** Training seconds (evaluation excluded) each regime gets at least. */
  budgetSec: number;
  /** Each regime also runs at least this many passes; accuracy is reported after 1 and after this many. */
  passes: number;
  /** Training seconds between test evaluations once past the start (also evaluated at every pass end). */
  evalEverySec: number;
}

export interface CurvePoint {
  /** Training clock: steps and shuffles only. */
  seconds: number;
  updates: number;
  testAcc: number;
  testLoss: number;
}

export interface RegimeResult {
  name: string;
  batchSize: number;
  lr: number;
  updatesPerPass: number;
  secondsPerUpdate: number;
  secondsPerPass: number;
  /** Weights as they were when the next update would have run past the budget (its seconds say when that was). */
  atBudget: CurvePoint;
  /** Index p-1 holds the point at the end of pass p. */
  afterPass: CurvePoint[];
  curve: CurvePoint[];
}

export async function runRegime(engine: Engine, name: string, batchSize: number, lr: number, opts: CompareOptions): Promise<RegimeResult> {
  const rng = new Rng(opts.seed);
  initParams(engine.params, engine.shape, rng);
  const n = engine.order.length;
  const b = Math.min(batchSize, n);
  const steps = Math.ceil(n / b);
  const budgetMs = 1000 * opts.budgetSec;
  let clockMs = 0;
  let updates = 0;
  const curve: CurvePoint[] = [];
  const afterPass: CurvePoint[] = [];
  let atBudget: CurvePoint | undefined;
  const evaluate = async (): Promise<CurvePoint> => {
    const e = await engine.evaluate('test');
    const point = { seconds: clockMs / 1000, updates, testAcc: e.accuracy, testLoss: e.loss };
    curve.push(point);
    return point;
  };
  await evaluate();
  // Mini-batch accuracy climbs within the first second, so the gaps start short and
  // double until they reach the interval asked for.
  const everyMs = 1000 * opts.evalEverySec;
  let nextEvalMs = everyMs / 16;
  let lastCallMs = 0;
  // Judged before each call by the last call's duration: evaluating after the fact would
  // credit a slow full-batch update that finished well past the budget.
  const beforeCall = async (): Promise<void> => {
    if (!atBudget && clockMs + lastCallMs > budgetMs) atBudget = await evaluate();
  };
  for (let pass = 1; pass <= opts.passes || clockMs < budgetMs; pass++) {
    const t = performance.now();
    rng.permute(engine.order);
    clockMs += performance.now() - t;
    await beforeCall();
    await engine.runSteps({ batch: b, from: 0, to: steps, end: n, lr }, async (done, next) => {
      lastCallMs = done.reduce((ms, stats) => ms + stats.wallMs, 0);
      clockMs += lastCallMs;
      for (const stats of done) {
        updates++;
        if (!Number.isFinite(stats.lossSum)) {
          throw new UserError(`${name} diverged at update ${updates} (loss ${stats.lossSum}); lower its learning rate ${lr}`);
        }
      }
      if (next === steps) return;
      if (clockMs >= nextEvalMs) {
        await evaluate();
        nextEvalMs = clockMs + Math.min(clockMs, everyMs);
      }
      await beforeCall();
    });
    afterPass.push(await evaluate());
  }
  // Only when the last update ran past the budget unforeseen (it took longer than the one
  // before); the point then says how far past the budget it is.
  atBudget ??= afterPass[afterPass.length - 1];
  return {
    name, batchSize: b, lr, updatesPerPass: steps,
    secondsPerUpdate: clockMs / 1000 / updates,
    secondsPerPass: clockMs / 1000 / afterPass.length,
    atBudget, afterPass, curve,
  };
}

export async function compareBatching(data: Dataset, opts: CompareOptions): Promise<RegimeResult[]> {
  const engine = new Engine({ data, hidden: opts.hidden, workers: opts.workers, kernels: opts.kernels, chunk: opts.chunk });
  try {
    const full = await runRegime(engine, `full batch, lr ${opts.fullLr}`, data.train.count, opts.fullLr, opts);
    const mini = await runRegime(engine, `mini-batch ${opts.miniBatch}, lr ${opts.miniLr}`, opts.miniBatch, opts.miniLr, opts);
    return [full, mini];
  } finally {
    await engine.close();
  }
}

const pct = (p: CurvePoint): string => `${(100 * p.testAcc).toFixed(2)}%`;

export function formatComparison(results: RegimeResult[], opts: Pick<CompareOptions, 'budgetSec' | 'passes'>): string {
  const head = ['regime', 'data/update', 'updates/pass', 's/update', 's/pass', `acc @ ${opts.budgetSec} s`, '(at s, updates)', 'acc @ 1 pass', `acc @ ${opts.passes} passes`];
  const body = results.map((r) => [
    r.name, r.batchSize.toLocaleString('en-US'), r.updatesPerPass.toLocaleString('en-US'),
    r.secondsPerUpdate.toPrecision(3), r.secondsPerPass.toPrecision(3),
    pct(r.atBudget), `${r.atBudget.seconds.toFixed(1)}, ${r.atBudget.updates.toLocaleString('en-US')}`, pct(r.afterPass[0]), pct(r.afterPass[opts.passes - 1]),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cols: string[]): string => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), ...body.map(line)].join('\n') + '\n';
}

/** compare-batching.json and accuracy-vs-time.svg; returns the paths written. */
export function writeComparison(results: RegimeResult[], meta: Record<string, unknown>, dir: string): string[] {
  ensureFolder(dir, 'comparison results');
  const json = join(dir, 'compare-batching.json');
  const svg = join(dir, 'accuracy-vs-time.svg');
  writeFileSync(json, JSON.stringify({ meta, results }, null, 2) + '\n');
  writeFileSync(svg, lineChart({
    title: 'Test accuracy against training time',
    xLabel: 'training seconds (evaluation excluded)', yLabel: 'test accuracy (%)',
    series: results.map((r) => ({ name: r.name, points: r.curve.map((p): [number, number] => [p.seconds, 100 * p.testAcc]) })),
  }));
  return [json, svg];
}
