// The checkpoint file: it round-trips bit for bit, is replaced atomically, and every kind
// of damage is reported as what it is (not a checkpoint, newer version, truncated, corrupt).
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FORMAT_VERSION, checkResumable, decodeCheckpoint, encodeCheckpoint, readCheckpoint, writeCheckpoint, type CheckpointHeader, modelParams, type Checkpoint,
} from '../src/model/checkpoint.js';
import { DEFAULTS, parseCheckpointEvery, resolveConfig } from '../src/config.js';
import { UserError } from '../src/util/errors.js';
import { modelShape } from '../src/model/model.js';
import type { InputSpec } from '../src/data/dataset.js';
import { tempDir } from './synthetic.js';

const shape = modelShape([784, 8, 4, 10]);
const MNIST: InputSpec = { kind: 'pixels', shape: [28, 28] };

/** A checkpoint of Adam (two slots of state) with a best epoch kept. */
function sample(): Omit<Checkpoint, 'path'> {
  const params = new Float32Array(shape.paramCount).map((_, i) => Math.sin(i) * 1e-3);
  params[5] = -0; // bit-exactness, not just equality
  const state = new Float32Array(2 * shape.paramCount).map((_, i) => Math.cos(i) * 1e-4);
  const best = params.map((v) => v + 1e-6);
  const header: CheckpointHeader = {
    sizes: shape.sizes, input: { kind: 'pixels', shape: [28, 28] }, epoch: 2, step: 7, epochLossSum: 12.25, epochCorrect: 90, trainCount: 480, batchSize: 16, stepsDone: 37,
    rng: [1, 2, 3, 0xffffffff], early: { bestEpoch: 1, best: 0.31, badEpochs: 0 }, config: { ...DEFAULTS, hidden: [8, 4], optimizer: 'adam' },
    savedAt: '2025-01-01T00:00:00.000Z',
  };
  return { header, params, state, best };
}

const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const decode = (bytes: Buffer) => decodeCheckpoint(bytes, 'x.ckpt');

describe('checkpoint format', () => {
  it('round-trips the header and every bit of the parameters, the optimizer state and the best epoch\'s parameters', () => {
    const ckpt = sample();
    const back = decode(encodeCheckpoint(ckpt));
    expect(back.header).toEqual(ckpt.header);
    for (const k of ['params', 'state', 'best'] as const) expect(bits(back[k]).equals(bits(ckpt[k])), k).toBe(true);
    expect(modelParams(back)).toBe(back.best);
    const plain = decode(encodeCheckpoint({ ...ckpt, state: new Float32Array(0), best: new Float32Array(0) }));
    expect([plain.state.length, plain.best.length]).toEqual([0, 0]);
    expect(modelParams(plain)).toBe(plain.params);
  });

  it('writes atomically into a new folder and replaces the old file, leaving no temp file', () => {
    const dir = join(tempDir(), 'runs');
    const path = join(dir, 'a.ckpt');
    const ckpt = sample();
    writeCheckpoint(path, ckpt);
    writeCheckpoint(path, { ...ckpt, header: { ...ckpt.header, step: 8 } });
    expect(readCheckpoint(path).header.step).toBe(8);
    expect(readdirSync(dir)).toEqual(['a.ckpt']);
  });

  it('names each kind of damage', () => {
    const good = encodeCheckpoint(sample());
    const damaged = (edit: (b: Buffer) => Buffer | void): Buffer => {
      const b = Buffer.from(good);
      return edit(b) ?? b;
    };
    const cases: [Buffer, RegExp][] = [
      [Buffer.from('{"epochs": 3}'), /not a threadgrad checkpoint/],
      [good.subarray(0, 6), /not a threadgrad checkpoint/],
      [damaged((b) => void b.writeUInt32LE(FORMAT_VERSION + 1, 8)), /is a version 3 checkpoint; this threadgrad reads version 2 only/],
      [damaged((b) => void b.writeUInt32LE(1, 8)), /is a version 1 checkpoint; this threadgrad reads version 2 only/],
      [good.subarray(0, 12), /truncated/],
      [good.subarray(0, good.length - 100), /truncated: it has only \d+ bytes of the \d+ its header promises/],
      [good.subarray(0, good.length - 1), /truncated/],
      [Buffer.concat([good, Buffer.from([0])]), /corrupt checkpoint \(1 unexpected bytes at the end\)/],
      [damaged((b) => void (b[b.length - 50] ^= 0x10)), /corrupt checkpoint \(checksum mismatch\)/],
      [damaged((b) => void (b[20] ^= 0x01)), /corrupt checkpoint/],
      [encodeCheckpoint({ ...sample(), header: { ...sample().header, input: { kind: 'pixels', shape: [14, 14] } } }), /its input of shape 14x14 does not fit layer sizes 784-8-4-10/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => decode(bytes)).toThrow(UserError);
      expect(() => decode(bytes)).toThrow(message);
    }
  });

  it('reports a missing file as a user error', () => {
    expect(() => readCheckpoint(join(tempDir(), 'none.ckpt'))).toThrow(/cannot read checkpoint .*none\.ckpt: ENOENT/);
  });

  it('refuses to resume with other layer sizes, or mid-epoch with other batches', () => {
    const ckpt = { path: 'x.ckpt', ...sample() };
    const { header } = ckpt;
    expect(() => checkResumable(ckpt, [784, 8, 4, 10], MNIST, 480, 16)).not.toThrow();
    expect(() => checkResumable(ckpt, [784, 16, 10], MNIST, 480, 16)).toThrow(/holds a 784-8-4-10 network but the settings ask for 784-16-10/);
    expect(() => checkResumable(ckpt, shape.sizes, MNIST, 480, 32)).toThrow(/stopped mid-epoch \(step 7\) .* batches of 16.* batches of 32/);
    expect(() => checkResumable(ckpt, [784, 8, 4, 10], { kind: 'pixels', shape: [14, 56] }, 480, 16)).toThrow(
      /x\.ckpt was trained on 28x28 unsigned-byte values but the data holds 14x56 unsigned-byte values/,
    );
    // At an epoch boundary nothing refers to the old batches.
    expect(() => checkResumable({ ...ckpt, header: { ...header, step: 0 } }, shape.sizes, MNIST, 100, 32)).not.toThrow();
  });
});

describe('--checkpoint-every', () => {
  it.each([
    ['epoch', { unit: 'epochs', count: 1 }],
    ['3e', { unit: 'epochs', count: 3 }],
    ['500', { unit: 'steps', count: 500 }],
    ['end', { unit: 'end' }],
  ])('reads %s', (text, every) => expect(parseCheckpointEvery(text)).toEqual(every));

  it.each(['0', '-1', 'e', '2x', '1.5', 'epochs', ''])('refuses %o', (text) => expect(parseCheckpointEvery(text)).toBeUndefined());

  it('is validated like every setting, from any source', () => {
    expect(resolveConfig({ flags: { checkpointEvery: '2E' } }).checkpointEvery).toBe('2e');
    expect(() => resolveConfig({ flags: { checkpointEvery: 'often' } })).toThrow(/--checkpoint-every must be "epoch", "<N>e".*got "often"/);
    const dir = tempDir();
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ checkpointEvery: 250, checkpoint: 'runs/x.ckpt' }));
    expect(resolveConfig({ file: join(dir, 'c.json') })).toMatchObject({ checkpointEvery: '250', checkpoint: resolve('runs/x.ckpt') });
  });
});
