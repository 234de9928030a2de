// The IDX reader accepts well-formed files and names the problem with any other.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx, readIdx } from '../src/data/idx.js';
import { loadIdxSplit, loadMnist } from '../src/data/dataset.js';
import { UserError } from '../src/util/errors.js';

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

  it('reads plain and gzip-compressed files, into shared memory', async () => {
    for (const [name, bytes] of [['images', encodeIdx([2, 28, 28], pixels)], ['images.gz', gzipSync(encodeIdx([2, 28, 28], pixels))]] as const) {
      const { dims, data } = await readIdx(file(name, bytes));
      expect(dims).toEqual([2, 28, 28]);
      expect(Array.from(data)).toEqual(Array.from(pixels));
      expect(data.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
  });

  it('reads big-endian float32 data, any value bit for bit, into shared memory', () => {
    const values = Float32Array.of(0, -0, 1.5, -3.25e-7, 65504, Math.fround(Math.PI), 1e-45);
    const { dims, data } = parseIdx(encodeIdx([7], values));
    expect(dims).toEqual([7]);
    expect(data).toBeInstanceOf(Float32Array);
    expect(Buffer.from(data.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    expect(data.buffer).toBeInstanceOf(SharedArrayBuffer);
    // The file is big-endian whatever the host: 1.5 is 3f c0 00 00.
    expect([...encodeIdx([1], Float32Array.of(1.5)).subarray(8)]).toEqual([0x3f, 0xc0, 0, 0]);
  });

  it('rejects a bad magic number', () => {
    const bytes = encodeIdx([2, 28, 28], pixels);
    bytes[0] = 0x50; // e.g. a PNG or text file
    expect(() => parseIdx(bytes, 'x.idx')).toThrow(/x\.idx: bad IDX magic number 0x50/);
  });

  it('rejects an unsupported element type', () => {
    const bytes = encodeIdx([2, 28, 28], pixels);
    bytes[2] = 0x0e; // float64 data
    expect(() => parseIdx(bytes)).toThrow(/element type 0xe is not supported \(only unsigned bytes, 0x08, and float32, 0x0d\)/);
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

  it('rejects a missing file and a corrupt gzip with a UserError', async () => {
    await expect(readIdx(join(dir, 'nope'))).rejects.toThrow(UserError);
    await expect(readIdx(join(dir, 'nope'))).rejects.toThrow(/ENOENT/);
    const path = file('bad.gz', gzipSync(encodeIdx([2, 28, 28], pixels)).subarray(0, 50));
    await expect(readIdx(path)).rejects.toThrow(/does not decompress/);
  });

  it('reads only regular files: a FIFO would block for ever, a device never end', async () => {
    await expect(readIdx('/dev/zero')).rejects.toThrow(/cannot read IDX file \/dev\/zero: it is not a regular file/);
    await expect(readIdx(dir)).rejects.toThrow(/it is a folder, not a file/);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(readIdx(fifo)).rejects.toThrow(/fifo: it is not a regular file/);
  });

  it('checks a plain file against its header before reading it', async () => {
    const bytes = encodeIdx([2, 28, 28], pixels);
    await expect(readIdx(file('short', bytes.subarray(0, 1000)))).rejects.toThrow(/short: truncated: header promises 2x28x28 = 1568 bytes of data, file has 984/);
    await expect(readIdx(file('long', Buffer.concat([bytes, Buffer.from([1, 2, 3])])))).rejects.toThrow(/long: 3 unexpected bytes after the 2x28x28 data/);
  });

  it('inflates a compressed file no further than its header allows (a decompression bomb costs nothing)', async () => {
    const header = encodeIdx([10, 28, 28], new Uint8Array(0));
    // 64 MB of zeros compress to ~60 KB; the header allows 7,840 bytes.
    const bomb = file('bomb.gz', gzipSync(Buffer.concat([header, Buffer.alloc(64 * 2 ** 20)]), { level: 9 }));
    const rss = process.memoryUsage().rss;
    await expect(readIdx(bomb)).rejects.toThrow(/bomb\.gz: decompresses to more than the 10x28x28 = 7840 bytes of data its header declares/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(32 * 2 ** 20);
    const huge = encodeIdx([100_000_000, 28, 28], new Uint8Array(0));
    await expect(readIdx(file('huge.gz', gzipSync(huge)))).rejects.toThrow(/declares 100000000x28x28 = 78400000000 bytes of data, more than the 4 GiB/);
    await expect(readIdx(file('short.gz', gzipSync(encodeIdx([2, 28, 28], pixels).subarray(0, 1000))))).rejects.toThrow(/truncated: header promises 2x28x28 = 1568 bytes of data, the decompressed file has 984/);
  });
});

describe('IDX splits', () => {
  it('takes images of any size and vectors of bytes or floats; rejects a count mismatch and label files of another shape', async () => {
    const labels = file('l2', encodeIdx([2], Uint8Array.from([1, 2])));
    const images = file('i', encodeIdx([2, 28, 28], pixels));
    expect((await loadIdxSplit(images, labels)).input).toEqual({ kind: 'pixels', shape: [28, 28] });
    const wide = await loadIdxSplit(file('w', encodeIdx([2, 14, 56], pixels)), labels);
    expect([wide.input, wide.split.features, wide.split.count]).toEqual([{ kind: 'pixels', shape: [14, 56] }, 784, 2]);
    const floats = await loadIdxSplit(file('f', encodeIdx([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6))), labels);
    expect(floats.input).toEqual({ kind: 'floats', shape: [3] });
    expect(floats.split.x).toEqual(Float32Array.of(1, 2, 3, 4, 5, 6));
    const threeLabels = file('l3', encodeIdx([3], Uint8Array.from([1, 2, 3])));
    await expect(loadIdxSplit(images, threeLabels)).rejects.toThrow(/count mismatch: .* 2 images, .* 3 labels/);
    await expect(loadIdxSplit(images, file('lf', encodeIdx([2], Float32Array.of(1, 2))))).rejects.toThrow(/lf: expected a 1-dimensional file of unsigned-byte labels/);
    await expect(loadIdxSplit(labels, labels)).rejects.toThrow(/l2: expected samples of shape N x h x w or N x features, found 2/);
  });

  it('rejects a set with no images, which would "train" to a meaningless accuracy', async () => {
    const none = file('none', encodeIdx([0, 28, 28], new Uint8Array(0)));
    await expect(loadIdxSplit(none, file('l0', encodeIdx([0], new Uint8Array(0))))).rejects.toThrow(/none holds no images/);
  });

  it('loads the bundled MNIST: 60,000 + 10,000 images with every digit present', async () => {
    const { train, test, classes, input } = await loadMnist();
    expect([train.count, test.count, classes]).toEqual([60_000, 10_000, 10]);
    expect(input).toEqual({ kind: 'pixels', shape: [28, 28] });
    expect(train.x.length).toBe(60_000 * 784);
    expect(new Set(test.labels).size).toBe(10);
  });
});
