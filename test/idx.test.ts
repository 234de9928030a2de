// The IDX reader accepts well-formed files and names the problem with any other.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx, readIdx } from '../src/idx.js';
import { dataPaths, loadMnist, loadSplit } from '../src/mnist.js';
import { UserError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'threadgrad-idx-'));
const file = (name: string, bytes: Uint8Array): string => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
const pixels = Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 256);

describe('IDX reader', () => {
  it('round-trips dimensions and data, into shared memory', () => {
    const { dims, data } = parseIdx(encodeIdx([2, 28, 28], pixels));
    expect(dims).toEqual([2, 28, 28]);
    expect(Array.from(data)).toEqual(Array.from(pixels));
    expect(data.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('reads gzip-compressed files too', () => {
    const path = file('images.gz', gzipSync(encodeIdx([2, 28, 28], pixels)));
    expect(readIdx(path).dims).toEqual([2, 28, 28]);
  });

  it('rejects a bad magic number', () => {
    const bytes = encodeIdx([2, 28, 28], pixels);
    bytes[0] = 0x50; // e.g. a PNG or text file
    expect(() => parseIdx(bytes, 'x.idx')).toThrow(/x\.idx: bad IDX magic number 0x50/);
  });

  it('rejects an unsupported element type', () => {
    const bytes = encodeIdx([2, 28, 28], pixels);
    bytes[2] = 0x0d; // float32 data
    expect(() => parseIdx(bytes)).toThrow(/element type 0xd is not supported/);
  });

  it('rejects a truncated file, saying how much is missing', () => {
    const bytes = encodeIdx([2, 28, 28], pixels).subarray(0, 1000);
    expect(() => parseIdx(bytes, 't.idx')).toThrow(/t\.idx: truncated: header promises 2x28x28 = 1568 bytes of data, file has 984/);
    expect(() => parseIdx(bytes.subarray(0, 10), 't.idx')).toThrow(/truncated IDX header/);
  });

  it('rejects trailing garbage', () => {
    const bytes = Buffer.concat([encodeIdx([2, 28, 28], pixels), Buffer.from([1, 2, 3])]);
    expect(() => parseIdx(bytes)).toThrow(/3 unexpected bytes/);
  });

  it('rejects a missing file and a corrupt gzip with a UserError', () => {
    expect(() => readIdx(join(dir, 'nope'))).toThrow(UserError);
    expect(() => readIdx(join(dir, 'nope'))).toThrow(/ENOENT/);
    const path = file('bad.gz', gzipSync(encodeIdx([2, 28, 28], pixels)).subarray(0, 50));
    expect(() => readIdx(path)).toThrow(/does not decompress/);
  });
});

describe('MNIST splits', () => {
  it('rejects an image/label count mismatch and labels outside 0-9', () => {
    const images = file('i', encodeIdx([2, 28, 28], pixels));
    const threeLabels = file('l3', encodeIdx([3], Uint8Array.from([1, 2, 3])));
    expect(() => loadSplit(images, threeLabels)).toThrow(/count mismatch: .* 2 images, .* 3 labels/);
    const badLabel = file('lbad', encodeIdx([2], Uint8Array.from([1, 12])));
    expect(() => loadSplit(images, badLabel)).toThrow(/label 12 at index 1 is not a digit/);
    const wrongShape = file('i2', encodeIdx([2, 784], pixels));
    expect(() => loadSplit(wrongShape, file('l2', encodeIdx([2], Uint8Array.from([1, 2]))))).toThrow(/expected images of shape Nx28x28/);
  });

  it('loads the bundled MNIST: 60,000 + 10,000 images with every digit present', () => {
    const { train, test } = loadMnist(dataPaths(undefined));
    expect([train.count, test.count]).toEqual([60_000, 10_000]);
    expect(train.images.length).toBe(60_000 * 784);
    expect(new Set(test.labels).size).toBe(10);
  });
});
