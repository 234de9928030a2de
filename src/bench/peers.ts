// Time to accuracy against the peers (scripts/bench-peers.ts): what the runs' test points come
// to. For every system, configuration and thread count, the training seconds and epochs until
// the test accuracy first reached each target, as the median over the repeats, with the table
// and the chart of them. Pure functions of the points, so a test can check them on made-up runs.
import { median } from './summary.js';
import { lineChart, type Series } from './svg.js';

/** A test evaluation during training, as threadgrad's onTest and the peers' JSON give it. */
export interface PeerPoint {
  epoch: number;
  step: number;
  /** Training seconds since the run began, evaluations excluded. */
  seconds: number;
  testAcc: number;
  testLoss: number;
}

/** One training run of one system in one configuration. */
export interface PeerRun {
  /** threadgrad, numpy, pytorch or tfjs. */
  system: string;
  /** The name of the settings: the preset (fast) or the paper's plain SGD (sgd). */
  config: string;
  /** threadgrad's workers, or the peer's compute threads. */
  threads: number;
  /** 1-based: the round of the repeats this run belongs to. */
  round: number;
  points: PeerPoint[];
  /** Why it ended: the highest target reached, its last epoch, or early stopping. */
  stopReason: string;
}

export interface PeerRow {
  system: string;
  config: string;
  threads: number;
  runs: number;
  /** Per target: the median over the runs of the training seconds until the first point at or above it; null where most runs never got there. */
  seconds: (number | null)[];
  /** Per target: the median epochs trained by then (fractions of an epoch: 4 evaluations an epoch). */
  epochs: (number | null)[];
  /** The median over the runs of each run's best test accuracy. */
  bestAcc: number;
  /** The median over the runs of training seconds over epochs trained, at each run's last point. */
  secondsPerEpoch: number;
}

/** The first point at or above `target`, if any. */
export function firstReach(points: PeerPoint[], target: number): PeerPoint | undefined {
  return points.find((p) => p.testAcc >= target);
}

/** A median where a run that never got there counts as taking forever: null once half the runs or more missed. */
function medianReached(values: (number | undefined)[]): number | null {
  const m = median(values.map((v) => v ?? Infinity));
  return Number.isFinite(m) ? m : null;
}

const keyOf = (r: Pick<PeerRun, 'system' | 'config' | 'threads'>): string => `${r.system}\u0000${r.config}\u0000${r.threads}`;

/** The runs grouped by system, configuration and threads, in the order each group first ran. */
export function groupRuns(runs: PeerRun[]): PeerRun[][] {
  const groups = new Map<string, PeerRun[]>();
  for (const r of runs) {
    const g = groups.get(keyOf(r));
    if (g) g.push(r);
    else groups.set(keyOf(r), [r]);
  }
  return [...groups.values()];
}

export function summarizePeers(runs: PeerRun[], targets: number[]): PeerRow[] {
  return groupRuns(runs).map((g) => {
    const last = (r: PeerRun): PeerPoint | undefined => r.points[r.points.length - 1];
    return {
      system: g[0].system,
      config: g[0].config,
      threads: g[0].threads,
      runs: g.length,
      seconds: targets.map((t) => medianReached(g.map((r) => firstReach(r.points, t)?.seconds))),
      epochs: targets.map((t) => medianReached(g.map((r) => firstReach(r.points, t)?.epoch))),
      bestAcc: median(g.map((r) => Math.max(...r.points.map((p) => p.testAcc)))),
      secondsPerEpoch: median(g.map((r) => (last(r) && last(r)!.epoch > 0 ? last(r)!.seconds / last(r)!.epoch : NaN))),
    };
  });
}

/** The run of a group to draw: the median one by its time to the highest target it reached (the lower median of an even count). */
export function medianRun(group: PeerRun[], targets: number[]): PeerRun {
  const score = (r: PeerRun): [number, number] => {
    for (let i = targets.length - 1; i >= 0; i--) {
      const p = firstReach(r.points, targets[i]);
      if (p) return [-i, p.seconds];
    }
    return [1, -Math.max(0, ...r.points.map((p) => p.testAcc))];
  };
  const sorted = [...group].sort((a, b) => score(a)[0] - score(b)[0] || score(a)[1] - score(b)[1]);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export const SYSTEM_NAMES: Record<string, string> = { threadgrad: 'threadgrad', numpy: 'NumPy', pytorch: 'PyTorch', tfjs: 'TF.js wasm' };

const systemName = (s: string): string => SYSTEM_NAMES[s] ?? s;
export const threadsName = (r: Pick<PeerRun, 'system' | 'threads'>): string =>
  r.system === 'threadgrad' ? `${r.threads} worker${r.threads === 1 ? '' : 's'}` : `${r.threads} thread${r.threads === 1 ? '' : 's'}`;
export const percent = (t: number): string => `${Number((100 * t).toFixed(2))}%`;

/** The rows as a Markdown table, padded to line up in a terminal too. */
export function formatPeersTable(rows: PeerRow[], targets: number[]): string {
  const head = ['system', 'config', 'workers/threads', ...targets.map((t) => `s to ${percent(t)}`), ...targets.map((t) => `epochs to ${percent(t)}`), 'best acc', 's/epoch'];
  const reached = (v: number | null, digits: number): string => (v === null ? 'not reached' : v.toFixed(digits));
  const body = rows.map((r) => [
    systemName(r.system), r.config, threadsName(r),
    ...r.seconds.map((s) => reached(s, 2)), ...r.epochs.map((e) => reached(e, 2)),
    (100 * r.bestAcc).toFixed(2) + '%', Number.isFinite(r.secondsPerEpoch) ? r.secondsPerEpoch.toFixed(3) : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  // Text columns left, numbers right.
  const line = (cols: string[]): string => `| ${cols.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 3 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n') + '\n';
}

/** Test accuracy (%) against training seconds on a log axis: one line per system, configuration and threads (its median run), and the targets dashed. */
export function peersChart(runs: PeerRun[], targets: number[], title: string): string {
  const drawn = groupRuns(runs).map((g) => medianRun(g, targets));
  const series: Series[] = drawn.map((r) => ({
    name: `${systemName(r.system)} ${r.config}, ${threadsName(r)}`,
    points: r.points.filter((p) => p.seconds > 0).map((p): [number, number] => [p.seconds, 100 * p.testAcc]),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [1, 10];
  for (const t of targets) series.push({ name: `${percent(t)} target`, points: [[x0, 100 * t], [x1, 100 * t]], dashed: true });
  // Accuracy below 90% is the first fraction of an epoch; a full 0-100 axis would squeeze 97% and 98% into a few pixels.
  const yMin = Math.min(90, Math.floor(100 * Math.min(...targets)) - 5);
  return lineChart({ title, xLabel: 'training seconds (log scale, evaluations excluded)', yLabel: 'test accuracy %', series, xLog: true, yMin });
}
