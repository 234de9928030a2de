// Full batch against mini-batch on a small slice of MNIST: the bookkeeping (updates per
// pass, points after whole passes, the budget point, time split) and the written files.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegimeResult } from '../src/bench/compare-batching.js';
import { findAll, parseXml } from './xml.js';

const cli = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const BUDGET = 0.4;
const quiet = { encoding: 'utf8' as const, env: { ...process.env, THREADGRAD_LOG_LEVEL: 'warn' } };
const small = ['--hidden', '32,16', '--train-limit', '600', '--test-limit', '300', '--workers', '2'];

describe('a tiny real run of `threadgrad compare-batching`', () => {
  const out = mkdtempSync(join(tmpdir(), 'threadgrad-compare-'));
  let run: SpawnSyncReturns<string>;
  let results: RegimeResult[];
  beforeAll(() => {
    run = spawnSync(process.execPath, [cli, 'compare-batching', ...small, '--budget', String(BUDGET), '--passes', '2', '--out', out], quiet);
    if (run.status === 0) results = JSON.parse(readFileSync(join(out, 'compare-batching.json'), 'utf8')).results;
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('prints a row per regime', () => {
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^full batch, lr 0\.2\s+600\s+1\s/m);
    expect(run.stdout).toMatch(/^mini-batch 64, lr 0\.1\s+64\s+10\s/m);
  });

  it('reports whole passes at the right update counts and a budget point inside the run', () => {
    for (const r of results) {
      expect(r.afterPass.length).toBeGreaterThanOrEqual(2);
      r.afterPass.forEach((p, i) => expect(p.updates).toBe((i + 1) * r.updatesPerPass));
      const last = r.curve[r.curve.length - 1];
      expect(last.seconds).toBeGreaterThanOrEqual(BUDGET); // ran at least the budget
      expect(r.atBudget.updates).toBeLessThanOrEqual(last.updates);
      expect(r.atBudget.seconds).toBeLessThanOrEqual(last.seconds);
      expect(r.curve).toContainEqual(r.atBudget);
      // The training clock only moves forward, and pass time is update time times updates per pass.
      r.curve.slice(1).forEach((p, i) => expect(p.seconds).toBeGreaterThanOrEqual(r.curve[i].seconds));
      expect(r.secondsPerPass).toBeCloseTo(r.secondsPerUpdate * r.updatesPerPass, 9);
    }
  });

  it('learns in both regimes', () => {
    for (const r of results) expect(r.curve[r.curve.length - 1].testAcc).toBeGreaterThan(r.curve[0].testAcc + 0.2);
  });

  it('writes an accuracy-against-time SVG with one line per regime', () => {
    const svg = parseXml(readFileSync(join(out, 'accuracy-vs-time.svg'), 'utf8'));
    const lines = findAll(svg, 'polyline');
    expect(lines).toHaveLength(2);
    lines.forEach((l, i) => expect(l.attrs.points.split(' ')).toHaveLength(results[i].curve.length));
  });

  it('stops with an error naming the learning rate when a regime diverges', () => {
    // Three full-batch passes whatever the clock says: the first update's loss is still finite, a later one is not.
    const bad = spawnSync(process.execPath, [cli, 'compare-batching', ...small, '--budget', '0.1', '--passes', '3', '--full-batch-lr', '1e30', '--out', out], quiet);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/full batch, lr 1e\+30 diverged at update \d+ .*lower its learning rate/);
  });
});
