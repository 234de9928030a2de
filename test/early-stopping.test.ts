// Stopping at the plateau, on a validation set held out of the training set by the seed;
// and the settings that steer it refused when out of range.
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config.js';
import { EarlyStopping } from '../src/early-stopping.js';
import type { Split } from '../src/data/dataset.js';
import { prepare } from '../src/sources.js';
import { expectOneLineError, runCli, syntheticData, tempDir, writeDataDir } from './synthetic.js';

describe('the validation set', () => {
  const data = syntheticData(600, 60);
  const keys = (s: Split): string[] => Array.from({ length: s.count }, (_, i) => s.x.subarray(i * 784, (i + 1) * 784).join());

  it('is chosen by the seed, never overlaps the training samples, and together they are the training set', () => {
    const a = prepare({ ...DEFAULTS, valSplit: 50, seed: 1 }, data);
    expect([a.train.count, a.val!.count]).toEqual([550, 50]);
    expect([...keys(a.train), ...keys(a.val!)].sort()).toEqual(keys(data.train).sort());
    const trainSet = new Set(keys(a.train));
    expect(keys(a.val!).some((k) => trainSet.has(k))).toBe(false);
    expect(keys(prepare({ ...DEFAULTS, valSplit: 50, seed: 1 }, data).val!)).toEqual(keys(a.val!));
    expect(keys(prepare({ ...DEFAULTS, valSplit: 50, seed: 2 }, data).val!)).not.toEqual(keys(a.val!));
    expect(a.test).toBe(data.test); // the test set is left alone
  });

  it('takes a count or a fraction; 0 holds none out; what leaves no training sample is refused', () => {
    expect(prepare({ ...DEFAULTS, valSplit: 0.1 }, data).val!.count).toBe(60);
    expect(prepare({ ...DEFAULTS }, data).val!.count).toBe(50); // a twelfth, as 5,000 of MNIST's 60,000
    expect(prepare({ ...DEFAULTS, valSplit: 0 }, data).val).toBeUndefined();
    expect(() => prepare({ ...DEFAULTS, valSplit: 600 }, data)).toThrow(/--val-split 600 leaves no training samples: the training set holds 600/);
  });
});

describe('early stopping', () => {
  const params = new Float32Array([1, 2, 3]);
  const feed = (stop: EarlyStopping, figures: number[]): boolean[] =>
    figures.map((f, i) => stop.update(i + 1, { loss: f, accuracy: f }, params.map((v) => v * (i + 1))));

  it('keeps the best epoch and its weights, and reaches the plateau after `patience` epochs without improvement', () => {
    const stop = new EarlyStopping('val-loss', 2, 0);
    expect(feed(stop, [0.5, 0.4, 0.45, 0.39, 0.41])).toEqual([true, true, false, true, false]);
    expect(stop.plateau).toBe(false);
    expect(stop.update(6, { loss: 0.39, accuracy: 0 }, params)).toBe(false); // equal is no better
    expect(stop.plateau).toBe(true);
    expect(stop.state).toEqual({ bestEpoch: 4, best: 0.39, badEpochs: 2 });
    expect(Array.from(stop.bestParams!)).toEqual([4, 8, 12]);
    expect(stop.reason).toBe('validation loss no better for 2 epochs');
  });

  it('watches accuracy upwards, ignores improvements below minDelta, and is off with patience 0', () => {
    const acc = new EarlyStopping('val-acc', 1, 0.01);
    expect(feed(acc, [0.9, 0.905, 0.92])).toEqual([true, false, true]);
    expect(acc.state.bestEpoch).toBe(3);
    const off = new EarlyStopping('val-loss', 0, 0);
    feed(off, [1, 2, 3, 4]);
    expect(off.plateau).toBe(false);
  });
});

describe('the settings of optimizers, schedules and early stopping', () => {
  const dir = writeDataDir(tempDir(), syntheticData(120, 30));
  it.each([
    [['--patience', '-1'], /--patience must be an integer from 0 to 1000000, got "?-1"?/],
    [['--val-split', '70000'], /--val-split 70000 leaves no training samples: the training set holds 120/],
    [['--val-split', '1.5'], /--val-split must be a count of training samples \(0 for none\) or a fraction below 1, got "?1.5"?/],
    [['--beta1', '1.5'], /--beta1 must be a number from 0 up to \(not including\) 1, got "?1.5"?/],
    [['--momentum', '-0.1'], /--momentum must be a number from 0 up to/],
    [['--optimizer', 'rmsprop'], /--optimizer must be one of sgd, momentum, nesterov, adam, adamw, got "rmsprop"/],
    [['--lr-schedule', 'linear'], /--lr-schedule must be one of constant, step, cosine, one-cycle, got "linear"/],
    [['--warmup', 'soon'], /--warmup must be "<N>" \(steps\) or "<N>e" \(epochs\)/],
    [['--lr-schedule', 'one-cycle', '--warmup', '2e'], /--warmup does not apply to --lr-schedule one-cycle/],
    [['--gamma', '0'], /--gamma must be a number above 0 and at most 1, got "?0"?/],
    [['--monitor', 'test-acc'], /--monitor must be one of val-loss, val-acc, got "test-acc"/],
    [['--eps', '0'], /--eps must be a number greater than 0/],
    [['--weight-decay', '-1'], /--weight-decay must be a number of at least 0/],
  ])('%o is refused with one line and exit status 2', async (args, message) => {
    const r = await runCli(['train', '--data-dir', dir, '--hidden', '8', ...args]);
    expectOneLineError(r, message, { afterLogs: true });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('"msg":"epoch"');
  });
});
