// Bad input on the real command line: a clear one-line error and a non-zero exit, never a
// stack trace. Tiny synthetic IDX files keep every case well under a second.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config.js';
import { encodeIdx } from '../src/data/idx.js';
import { train } from '../src/train.js';
import { expectOneLineError, runCli, runMain, syntheticData, tempDir, writeDataDir } from './synthetic.js';

const data = syntheticData(320, 80);
const dir = writeDataDir(tempDir(), data);
const good = join(dir, 'good.ckpt');
const file = (name: string, bytes: Uint8Array | string): string => {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
};
const trainArgs = ['train', '--data-dir', dir, '--hidden', '32,16', '--epochs', '1', '--batch-size', '16'];

beforeAll(async () => {
  await train({ ...DEFAULTS, patience: 0, dataDir: dir, hidden: [32, 16], epochs: 1, batchSize: 16, checkpoint: good }, { data });
});

describe('bad data files', () => {
  const images = readFileSync(join(dir, 'train-images-idx3-ubyte'));
  it.each([
    ['a truncated IDX file', () => file('trunc-idx', images.subarray(0, images.length - 100)), /trunc-idx: truncated: header promises 320x28x28 = 250880 bytes of data, file has 250780/],
    ['an IDX file with a bad magic number', () => file('magic-idx', Buffer.concat([Buffer.from([1, 2, 8, 3]), images.subarray(4)])), /bad IDX magic number/],
    ['a file that is not IDX at all', () => file('text-idx', 'hello world, not pixels'), /not an IDX file/],
    ['images of another shape than the test images', () => file('shape-idx', encodeIdx([320, 20, 20], new Uint8Array(320 * 400))), /t10k-images-idx3-ubyte holds 28x28 unsigned-byte values but .*shape-idx holds 20x20 unsigned-byte values: the test set must match the training set/],
  ])('refuses %s', async (_, make, message) => {
    expectOneLineError(await runMain([...trainArgs, '--train-images', make()]), message);
  });

  it('refuses images and labels of different counts', async () => {
    const labels = file('labels-idx', encodeIdx([319], data.train.labels.slice(0, 319)));
    expectOneLineError(await runMain([...trainArgs, '--train-labels', labels]), /image\/label count mismatch: .* has 320 images, .*labels-idx has 319 labels/);
  });

  it('refuses a label outside the classes given', async () => {
    const labels = file('label10-idx', encodeIdx([320], new Uint8Array(320).fill(10)));
    expectOneLineError(await runMain([...trainArgs, '--classes', '10', '--train-labels', labels]), /label10-idx: label 10 at index 0 is not one of the 10 classes \(0-9\)/);
  });
});

describe('bad checkpoints', () => {
  const damage = (name: string, edit: (b: Buffer) => Buffer): string => file(name, edit(Buffer.from(readFileSync(good))));
  it.each([
    ['corrupt', () => damage('corrupt.ckpt', (b) => ((b[b.length - 99] ^= 0x40), b)), /corrupt\.ckpt is a corrupt checkpoint \(checksum mismatch\)/],
    ['truncated', () => damage('short.ckpt', (b) => b.subarray(0, b.length - 1000)), /short\.ckpt is truncated: it has only \d+ bytes of the \d+ its header promises/],
    ['of another version', () => damage('v9.ckpt', (b) => (b.writeUInt32LE(9, 8), b)), /v9\.ckpt is a version 9 checkpoint; this threadgrad reads version 2 only/],
    ['not a checkpoint', () => join(dir, 'train-images-idx3-ubyte'), /train-images-idx3-ubyte is not a threadgrad checkpoint/],
    ['missing', () => join(dir, 'none.ckpt'), /cannot read checkpoint .*none\.ckpt: ENOENT/],
  ])('train --resume, eval and predict refuse a checkpoint that is %s', async (_, make, message) => {
    const path = make();
    const results = await Promise.all([
      runCli(['train', '--resume', path]),
      runCli(['eval', '--checkpoint', path]),
      runCli(['predict', '--checkpoint', path, join(dir, 't10k-images-idx3-ubyte')]),
    ]);
    for (const r of results) expectOneLineError(r, message);
  });

  it('refuses to resume with other layer sizes', async () => {
    expectOneLineError(
      await runCli(['train', '--resume', good, '--hidden', '64']),
      /good\.ckpt holds a 784-32-16-10 network but the settings ask for 784-64-10; resume without --hidden/,
    );
  });

  it('refuses a checkpoint path that cannot be written before training starts', async () => {
    const blocker = file('a-file', 'not a folder');
    expectOneLineError(await runMain([...trainArgs, '--checkpoint', join(blocker, 'x.ckpt')]), /cannot write checkpoint .*a-file\/x\.ckpt: .*a-file is not a folder/);
  });
});

describe('a diverging run', () => {
  it('stops at once, names where and why, and keeps the last good checkpoint untouched', async () => {
    const path = join(dir, 'diverge.ckpt');
    copyFileSync(good, path);
    const before = readFileSync(path);
    // A resumed run saves on to the file it came from, here after every step: the step-1
    // weights are blown up but only the loss of step 2 shows it, so they must never be saved.
    const r = await runCli(['train', '--resume', path, '--epochs', '3', '--lr', '50', '--checkpoint-every', '1']);
    expectOneLineError(
      r,
      /training diverged: at epoch 2, step 2 the mean loss is .* per sample .*; the learning rate 50 is probably too high \(try 5 or lower\); kept the last good checkpoint .*diverge\.ckpt \(the start of epoch 2\)$/,
      { afterLogs: true },
    );
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});

describe('bad config files', () => {
  it.each([
    ['that is not JSON', '{ epochs: 3 }', /config file .*\.json is not valid JSON/],
    ['that is not an object', '[1, 2]', /must hold a JSON object of settings/],
    ['with an unknown key', '{ "epochz": 3 }', /"epochz": unknown setting \(known: epochs, /],
    ['with an out-of-range value', '{ "workers": 0 }', /"workers" must be an integer from 1 to 1024, got 0/],
    ['with a bad checkpointEvery', '{ "checkpointEvery": "sometimes" }', /"checkpointEvery" must be "epoch", "<N>e" \(every N epochs\), "<N>" \(every N steps\) or "end", got "sometimes"/],
  ])('refuses a config file %s', async (what, text, message) => {
    expectOneLineError(await runMain([...trainArgs, '--config', file(`${what.replace(/\W+/g, '-')}.json`, text)]), message);
  });
});
