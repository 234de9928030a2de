// The peer benchmark: its arithmetic on made-up runs (time to a target, medians over repeats,
// runs that never get there), and one tiny real run of scripts/bench-peers.ts whose table, JSON
// and chart must agree with each other.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstReach, formatPeersTable, medianRun, summarizePeers, type PeerPoint, type PeerRow, type PeerRun } from '../src/bench/peers.js';
import { findAll, parseXml } from './xml.js';

/** A run whose accuracy after each quarter epoch is `accs`, a quarter epoch taking `quarter` seconds. */
const run = (system: string, threads: number, round: number, quarter: number, accs: number[]): PeerRun => ({
  system, config: 'sgd', threads, round, stopReason: 'epochs',
  points: accs.map((testAcc, i) => ({ epoch: (i + 1) / 4, step: 10 * (i + 1), seconds: quarter * (i + 1), testAcc, testLoss: 1 - testAcc })),
});

describe('time to accuracy', () => {
  it('is the first evaluation at or above the target, not the best one', () => {
    const r = run('numpy', 1, 1, 0.5, [0.9, 0.97, 0.96, 0.98, 0.99]);
    expect(firstReach(r.points, 0.97)?.seconds).toBe(1);
    expect(firstReach(r.points, 0.975)?.epoch).toBe(1);
    expect(firstReach(r.points, 0.995)).toBeUndefined();
  });

  it('takes the median over the repeats, a miss counting as forever, and groups in the order first run', () => {
    const runs = [
      run('threadgrad', 2, 1, 0.1, [0.9, 0.97, 0.98]),
      run('numpy', 1, 1, 0.3, [0.9, 0.97, 0.975]),
      run('threadgrad', 2, 2, 0.2, [0.9, 0.97, 0.98]),
      run('numpy', 1, 2, 0.3, [0.97, 0.98]),
      run('threadgrad', 2, 3, 0.15, [0.97, 0.975, 0.976]),
      run('numpy', 1, 3, 0.3, [0.9, 0.95, 0.96]),
    ];
    const [tg, np] = summarizePeers(runs, [0.97, 0.98]);
    expect([tg.system, np.system]).toEqual(['threadgrad', 'numpy']);
    expect(tg.runs).toBe(3);
    expect(tg.seconds[0]).toBeCloseTo(0.2); // 0.2, 0.4, 0.15
    expect(tg.seconds[1]).toBeCloseTo(0.6); // 0.3, 0.6, never
    expect(tg.epochs).toEqual([0.5, 0.75]);
    expect(tg.bestAcc).toBe(0.98);
    expect(tg.secondsPerEpoch).toBeCloseTo(0.6); // 0.4, 0.8, 0.6 s per epoch
    expect(np.seconds[0]).toBeCloseTo(0.6); // 0.6, 0.3, never
    expect(np.seconds[1]).toBeNull(); // never, 0.6, never
  });

  it('draws the median run of a group, judged by the highest target reached', () => {
    const runs = [run('tfjs', 1, 1, 1, [0.97, 0.98]), run('tfjs', 1, 2, 3, [0.97, 0.98]), run('tfjs', 1, 3, 1, [0.97, 0.975])];
    expect(medianRun(runs, [0.97, 0.98]).round).toBe(2);
  });

  it('tabulates each target twice (seconds, epochs) and says "not reached"', () => {
    const row: PeerRow = { system: 'tfjs', config: 'sgd', threads: 1, runs: 1, seconds: [12.5, null], epochs: [2.25, null], bestAcc: 0.9791, secondsPerEpoch: 5.123 };
    const lines = formatPeersTable([row], [0.97, 0.98]).trim().split('\n');
    expect(lines).toHaveLength(3);
    const cells = lines[2].split('|').slice(1, -1).map((c) => c.trim());
    expect(cells).toEqual(['TF.js wasm', 'sgd', '1 thread', '12.50', 'not reached', '2.25', 'not reached', '97.91%', '5.123']);
    expect(lines[0].split('|').slice(1, -1).map((c) => c.trim())).toEqual(['system', 'config', 'workers/threads', 's to 97%', 's to 98%', 'epochs to 97%', 'epochs to 98%', 'best acc', 's/epoch']);
  });
});

describe('a tiny real run of bench-peers', () => {
  const out = mkdtempSync(join(tmpdir(), 'threadgrad-peers-'));
  const script = fileURLToPath(new URL('../dist/scripts/bench-peers.js', import.meta.url));
  let r: SpawnSyncReturns<string>;
  beforeAll(() => {
    r = spawnSync(process.execPath, [script, '--limit-train', '2000', '--targets', '0.3,0.5', '--systems', 'threadgrad,tfjs,numpy', '--tfjs-epochs', '2', '--out', out], { encoding: 'utf8' });
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  interface Report {
    targets: number[];
    rows: PeerRow[];
    runs: (PeerRun & { trainSamples: number })[];
    notes: string[];
    machine: { cores: number };
    versions: Record<string, unknown>;
    command: string;
  }
  const report = (): Report => JSON.parse(readFileSync(join(out, 'peers.json'), 'utf8')) as Report;
  const hasNumpy = (): boolean => !/numpy: skipped/.test(r.stdout);

  it('prints a row per system, configuration and thread count, NumPy skipped with a note where python3 lacks it', () => {
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| (threadgrad|NumPy|TF\.js wasm) /.test(l)).map((l) => l.split('|').slice(1, 4).map((c) => c.trim()).join(' '));
    expect(rows).toEqual([
      'threadgrad fast 1 worker', 'threadgrad fast 2 workers', 'TF.js wasm fast 1 thread',
      'threadgrad sgd 1 worker', 'threadgrad sgd 2 workers', ...(hasNumpy() ? ['NumPy sgd 1 thread'] : []), 'TF.js wasm sgd 1 thread',
    ]);
    expect(r.stdout).toMatch(/threadgrad trains on 1,833 images .* the peers on 2,000/);
  });

  it('writes every point of every run, in training seconds, 4 evaluations an epoch, stopped at the highest target', () => {
    const rep = report();
    expect(rep.targets).toEqual([0.3, 0.5]);
    expect(rep.runs).toHaveLength(hasNumpy() ? 7 : 6);
    expect(rep.versions).toHaveProperty('threadgrad');
    expect(rep.versions).toHaveProperty('tfjs');
    expect(rep.command).toMatch(/--systems threadgrad,tfjs,numpy/);
    for (const run of rep.runs) {
      const pts: PeerPoint[] = run.points.filter((p) => p.epoch > 0); // the peers also evaluate the untrained net
      for (let i = 1; i < pts.length; i++) expect(pts[i].seconds).toBeGreaterThan(pts[i - 1].seconds);
      // The j-th evaluation of an epoch comes after round(j/4) of its steps: a quarter epoch, to a step.
      for (const p of pts) expect(Math.abs(p.epoch * 4 - Math.round(p.epoch * 4))).toBeLessThan(0.2);
      const last = pts[pts.length - 1];
      if (last.testAcc >= 0.5) expect(run.points.filter((p) => p.testAcc >= 0.5)).toEqual([last]);
    }
    for (const row of rep.rows) {
      const runs = rep.runs.filter((x) => x.system === row.system && x.config === row.config && x.threads === row.threads);
      expect(row.seconds[0]).toBe(firstReach(runs[0].points, 0.3)?.seconds ?? null);
      expect(row.bestAcc).toBe(Math.max(...runs[0].points.map((p) => p.testAcc)));
    }
  });

  it('draws one line per row and one dashed line per target, in well-formed SVG', () => {
    const svg = parseXml(readFileSync(join(out, 'accuracy-vs-seconds.svg'), 'utf8'));
    const lines = findAll(svg, 'polyline');
    const rows = report().rows.length;
    expect(lines).toHaveLength(rows + 2);
    expect(lines.filter((l) => 'stroke-dasharray' in l.attrs)).toHaveLength(2);
    expect(findAll(svg, 'text').map((t) => t.text)).toEqual(expect.arrayContaining(['threadgrad fast, 2 workers', 'TF.js wasm sgd, 1 thread', '30% target', '50% target']));
  });
});
