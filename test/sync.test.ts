// --sync local:K and hogwild: local SGD is reproducible for a worker count, equals step mode
// on one worker, and averages exactly what K independent steps per worker give; both learn;
// checkpoints, resume, retries and early stopping work in them; bad values are one line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS, savedConfig, type TrainConfig } from '../src/config.js';
import { head, loadMnist, type Dataset } from '../src/data/dataset.js';
import { readCheckpoint } from '../src/model/checkpoint.js';
import { initParams } from '../src/model/model.js';
import { Engine } from '../src/parallel/engine.js';
import { FAULT_ENV } from '../src/parallel/fault-hook.js';
import { parseSync } from '../src/parallel/sync.js';
import { train } from '../src/train.js';
import * as api from '../src/index.js';
import { Rng } from '../src/util/rng.js';
import { expectOneLineError, runCli, runMain, syntheticData, tempDir, writeDataDir } from './synthetic.js';

const bits = (params: Float32Array): Buffer => Buffer.from(params.buffer, params.byteOffset, params.byteLength);
const data = syntheticData(480, 120); // 30 steps per epoch at batch 16
const base: TrainConfig = { ...DEFAULTS, patience: 0, epochs: 2, batchSize: 16, hidden: [32, 16], workers: 2, seed: 7 };

const engines: Engine[] = [];
afterAll(() => Promise.all(engines.map((e) => e.close())));
afterEach(() => {
  delete process.env[FAULT_ENV];
});

describe('local SGD', () => {
  it('the same run twice gives the same bits; on one worker it gives step mode\'s bits', async () => {
    const cfg = { ...base, sync: 'local:4', optimizer: 'momentum' as const, lr: 0.05 };
    const [a, b] = [await train(cfg, { data }), await train(cfg, { data })];
    expect(bits(a.params).equals(bits(b.params))).toBe(true);
    expect(a.epochs.map((e) => e.loss)).toEqual(b.epochs.map((e) => e.loss));
    const [one, step] = [await train({ ...cfg, workers: 1 }, { data }), await train({ ...cfg, workers: 1, sync: 'step' }, { data })];
    expect(bits(one.params).equals(bits(step.params))).toBe(true);
    expect(one.epochs.map((e) => e.loss)).toEqual(step.epochs.map((e) => e.loss));
    // Two workers differ from one: each trains half the batches between averages.
    expect(bits(a.params).equals(bits(one.params))).toBe(false);
  });

  it('a round is exact: the average of what each worker\'s K steps give alone, computed apart', async () => {
    const [workers, k, batch, lr] = [3, 4, 16, 0.1];
    const engine = (w: number, sync: string): Engine => {
      const e = new Engine({ data, hidden: [32, 16], workers: w, kernels: 'wasm', chunk: 8, sync: parseSync(sync) });
      engines.push(e);
      return e;
    };
    const local = engine(workers, `local:${k}`);
    initParams(local.params, local.shape, new Rng(3));
    new Rng(4).permute(local.order);
    const init = local.params.slice();
    await local.steps(0, batch, workers * k * batch, workers * k, lr);
    // Worker w trains batches w, w + 3, w + 6, w + 9 of the round: its own K steps, on one worker of its own.
    const alone = await Promise.all(Array.from({ length: workers }, async (_, w) => {
      const e = engine(1, 'step');
      e.params.set(init);
      for (let j = 0; j < k; j++) e.order.set(local.order.subarray((j * workers + w) * batch, (j * workers + w + 1) * batch), j * batch);
      await e.steps(0, batch, k * batch, k, lr);
      return e.params.slice();
    }));
    const expected = init.map((_, i) => (alone[0][i] + alone[1][i] + alone[2][i]) / 3);
    expect(bits(local.params).equals(bits(expected))).toBe(true);
    expect(bits(local.params).equals(bits(init))).toBe(false);
  });

  it('stopped mid-epoch and resumed, it ends with the weights of a run never stopped; another mode mid-epoch is refused', async () => {
    const cfg: TrainConfig = { ...base, sync: 'local:3', epochs: 2 };
    const clean = await train(cfg, { data });
    const path = join(tempDir(), 'local.ckpt');
    const controller = new AbortController();
    let calls = 0;
    const stopped = await train({ ...cfg, checkpoint: path }, { data, signal: controller.signal, stepsPerCall: 1, onProgress: () => ++calls === 4 && controller.abort('SIGINT') });
    expect(stopped.stop.aborted).toBe('SIGINT');
    const ckpt = readCheckpoint(path);
    // Calls end on whole rounds of 3 x 2 batches, whatever the call limit asks.
    expect(ckpt.header).toMatchObject({ epoch: 1, step: 24, config: { sync: 'local:3' } });
    const resumed = await train({ ...savedConfig(ckpt), epochs: 2 }, { data, resume: ckpt });
    expect(bits(resumed.params).equals(bits(clean.params))).toBe(true);
    await expect(train({ ...savedConfig(ckpt), sync: 'step' }, { data, resume: ckpt })).rejects.toThrow(
      /local\.ckpt stopped mid-epoch \(step 24\) under --sync local:3 on 2 worker\(s\); resume it with the same --sync and --workers/,
    );
    await expect(train({ ...savedConfig(ckpt), workers: 1 }, { data, resume: ckpt })).rejects.toThrow(/same --sync and --workers/);
  });

  it.each([256, 8])('a worker that fails mid-round is retried from the round\'s start and changes nothing (chunks of %i)', async (chunk) => {
    const cfg: TrainConfig = { ...base, sync: 'local:4', chunk };
    const clean = await train(cfg, { data });
    for (const phase of [1, 2]) {
      process.env[FAULT_ENV] = `throw:step=5:phase=${phase}`;
      const warnings: string[] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
      const faulted = await train(cfg, { data, log });
      expect(warnings).toEqual(['a worker failed mid-step; retrying the step']);
      expect(bits(faulted.params).equals(bits(clean.params)), `phase ${phase}`).toBe(true);
    }
  });
});

describe('hogwild', () => {
  it('on one worker it gives step mode\'s bits; on two it trains, saves and survives a failing worker', async () => {
    const one = await train({ ...base, workers: 1, sync: 'hogwild' }, { data });
    const step = await train({ ...base, workers: 1 }, { data });
    expect(bits(one.params).equals(bits(step.params))).toBe(true);
    // A failure re-applies no batch: on one worker the fault strikes after batch 5 is applied, and the retry goes on from batch 6.
    process.env[FAULT_ENV] = 'throw:step=5';
    const failedOnce = await train({ ...base, workers: 1, sync: 'hogwild' }, { data });
    expect(bits(failedOnce.params).equals(bits(step.params))).toBe(true);
    const path = join(tempDir(), 'hogwild.ckpt');
    process.env[FAULT_ENV] = 'throw:step=5';
    const two = await train({ ...base, sync: 'hogwild', checkpoint: path }, { data });
    expect(two.test!.accuracy).toBeGreaterThan(0.8);
    expect(readCheckpoint(path).header).toMatchObject({ epoch: 3, step: 0, config: { sync: 'hogwild' } });
  });
});

describe('learning on MNIST, 2 workers, a fixed seed', () => {
  let mnist: Dataset;
  it.each(['local:8', 'hogwild'])('%s: 2 epochs on 10,000 training images exceed 90% test accuracy, and early stopping works', async (sync) => {
    mnist ??= await loadMnist();
    const small = { ...mnist, train: head(mnist.train, 10_000) };
    const result = await api.train({ data: small, epochs: 2, batchSize: 16, workers: 2, seed: 1, sync, patience: 0, valSplit: 0 });
    expect(result.test!.accuracy).toBeGreaterThan(0.9);
    const early = await api.train({ data: { ...mnist, train: head(mnist.train, 6000) }, epochs: 50, workers: 2, seed: 1, sync, patience: 1, valSplit: 2000 });
    expect(early.stop.bestEpoch).toBeLessThan(early.stop.epoch);
    expect(early.stop.reason).toBe('validation loss no better for 1 epochs');
  });
});

describe('`threadgrad bench --sync`', () => {
  it('times each mode and worker count to the target, and writes a table, sync.json and a chart', async () => {
    const dir = writeDataDir(tempDir(), syntheticData(960, 200));
    const out = join(tempDir(), 'sync');
    const r = await runCli([
      'bench', '--data-dir', dir, '--sync', 'step,local:2,hogwild', '--workers-list', '2', '--target', '0.9', '--max-epochs', '6',
      '--batch-size', '16', '--hidden', '32,16', '--repeats', '1', '--out', out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^sync +workers +samples\/s +speedup +s to 90% +epochs to 90% +reached +best acc$/);
    const rows = lines.slice(1, 7).map((l) => l.trim().split(/ +/));
    expect(rows.map((c) => `${c[0]} ${c[1]}`)).toEqual(['step 1', 'step 2', 'local:2 1', 'local:2 2', 'hogwild 1', 'hogwild 2']);
    for (const c of rows) {
      expect(Number(c[4])).toBeGreaterThan(0); // reached 90%, in seconds
      expect(c[6]).toBe('1/1');
    }
    const report = JSON.parse(readFileSync(join(out, 'sync.json'), 'utf8'));
    expect(report.rows).toHaveLength(6);
    expect(report.meta.settings.warmup).toBe('0'); // bench's --warmup (unmeasured steps, default 10) is not the learning rate's
    expect(report.runs.every((run: { seconds: number }) => run.seconds > 0)).toBe(true);
    expect(readFileSync(join(out, 'time-to-target.svg'), 'utf8')).toMatch(/<svg[^>]*>[\s\S]*Training seconds to 90% test accuracy[\s\S]*<\/svg>\s*$/);
    expectOneLineError(await runMain(['bench', '--sync', 'step,local:0', '--out', join(tempDir(), 'x')]), /--sync must be step, local:K .* got "local:0"/);
  });
});

describe('bad --sync values', () => {
  it.each([
    ['local:0', /--sync must be step, local:K .* or hogwild, got "local:0"/],
    ['local:x', /--sync must be step, local:K .* or hogwild, got "local:x"/],
    ['gossip', /--sync must be step, local:K .* or hogwild, got "gossip"/],
  ])('%s is refused in one line', async (value, message) => {
    expectOneLineError(await runMain(['train', '--sync', value]), message);
  });

  it('rounds that do not fit a call are refused before training', async () => {
    expectOneLineError(await runCli(['train', '--sync', 'local:600', '--workers', '2', '--epochs', '1']), /--sync local:600 on 2 workers makes rounds of 1200 batches; at most 1024 fit a call: take a smaller K/, { afterLogs: true });
  });
});
