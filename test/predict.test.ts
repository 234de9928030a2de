// `eval` and `predict`: the PNG reader undoes every row filter and colour type it claims,
// and predict's own forward pass agrees with the worker pool's evaluation image by image.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config.js';
import { UserError } from '../src/util/errors.js';
import { encodeIdx } from '../src/data/idx.js';
import { decodePng } from '../src/data/png.js';
import { train } from '../src/train.js';
import { encodePng, widen } from './png.js';
import { expectOneLineError, runCli, syntheticData, tempDir, writeDataDir } from './synthetic.js';

const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 97 + ((i * i) % 13) * 31) & 0xff);

describe('PNG reader', () => {
  const gray = noise(28 * 28);

  it.each([0, 1, 2, 3, 4])('undoes row filter %i', (filter) => {
    expect(decodePng(encodePng(28, 28, 0, gray, () => filter), 'x.png').pixels).toEqual(gray);
  });

  it.each([[0], [2], [4], [6]])('reads colour type %i, every filter mixed', (colorType) => {
    const png = encodePng(28, 28, colorType, widen(gray, colorType), (y) => y % 5);
    expect(decodePng(png, 'x.png')).toEqual({ width: 28, height: 28, pixels: gray });
  });

  it('lays transparency over black and turns colour into luminance', () => {
    const transparent = encodePng(2, 1, 6, Uint8Array.from([255, 255, 255, 0, 255, 255, 255, 128]));
    expect(decodePng(transparent, 'x.png').pixels).toEqual(Uint8Array.from([0, 128]));
    const red = encodePng(1, 1, 2, Uint8Array.from([255, 0, 0]));
    expect(decodePng(red, 'x.png').pixels).toEqual(Uint8Array.from([76]));
  });

  it.each([
    ['a corrupt chunk', () => { const b = encodePng(28, 28, 0, gray); b[45] ^= 1; return b; }, /x\.png: corrupt PNG \(IDAT chunk fails its CRC\)/],
    ['a truncated file', () => encodePng(28, 28, 0, gray).subarray(0, 60), /x\.png: truncated PNG/],
    ['16-bit samples', () => encodePng(28, 28, 0, gray, () => 0, 16), /unsupported PNG \(bit depth 16, colour type 0\)/],
    ['a palette', () => encodePng(28, 28, 3, gray), /unsupported PNG \(bit depth 8, colour type 3\)/],
    ['interlacing', () => encodePng(28, 28, 0, gray, () => 0, 8, 1), /unsupported PNG .*interlaced/],
    ['something else', () => Buffer.from('GIF89a....'), /x\.png: not a PNG file/],
  ])('refuses %s', (_, make, message) => {
    expect(() => decodePng(make(), 'x.png')).toThrow(UserError);
    expect(() => decodePng(make(), 'x.png')).toThrow(message);
  });
});

describe('eval and predict', () => {
  // Heavy speckle makes some digits ambiguous, so the confusion matrix has off-diagonal counts.
  const data = syntheticData(600, 150, 0.45);
  const dir = writeDataDir(tempDir(), data);
  const ckpt = join(dir, 'model.ckpt');
  const testImages = join(dir, 't10k-images-idx3-ubyte');
  const image0 = (data.test.x as Uint8Array).slice(0, 784);

  beforeAll(async () => {
    await train({ ...DEFAULTS, patience: 0, dataDir: dir, hidden: [32, 16], epochs: 1, batchSize: 32, checkpoint: ckpt }, { data });
  });

  it('predict classifies every image of an IDX file exactly as eval counts them', async () => {
    const [evaluated, predicted] = await Promise.all([runCli(['eval', '--checkpoint', ckpt]), runCli(['predict', '--checkpoint', ckpt, testImages])]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(evaluated.stdout).toMatch(/^checkpoint .*model\.ckpt: 784-32-16-10 network, 1 epoch\(s\) trained/);
    const rows = evaluated.stdout.split('\n').filter((l) => /^ +\d( +\d+){10} /.test(l)).map((l) => l.trim().split(/ +/).slice(1, 11).map(Number));
    expect(rows).toHaveLength(10);
    const lines = predicted.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(lines).toHaveLength(150);
    const counted = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    lines.forEach(([name, digit, probability], i) => {
      expect(name).toBe(`${testImages}[${i}]`);
      expect(Number(probability)).toBeGreaterThan(0.1);
      expect(Number(probability)).toBeLessThanOrEqual(1);
      counted[data.test.labels[i]][Number(digit)]++;
    });
    expect(counted).toEqual(rows);
    expect(rows.some((row, truth) => row.some((count, guess) => guess !== truth && count > 0))).toBe(true);
    const correct = rows.reduce((sum, row, d) => sum + row[d], 0);
    expect(evaluated.stdout).toContain(`test accuracy ${((100 * correct) / 150).toFixed(2)}% (${correct}/150)`);
  });

  it('a PNG of an image gets the same answer as the image in its IDX file, in gray, colour or inverted', async () => {
    const files = {
      gray: join(dir, 'gray.png'), rgba: join(dir, 'rgba.png'), inverted: join(dir, 'inverted.png'), single: join(dir, 'single-idx'),
    };
    writeFileSync(files.gray, encodePng(28, 28, 0, image0, (y) => y % 5));
    writeFileSync(files.rgba, encodePng(28, 28, 6, widen(image0, 6)));
    writeFileSync(files.inverted, encodePng(28, 28, 0, image0.map((v) => 255 - v)));
    writeFileSync(files.single, encodeIdx([28, 28], image0));
    const [plain, inverted, idx] = await Promise.all([
      runCli(['predict', '--checkpoint', ckpt, files.gray, files.rgba, files.single]),
      runCli(['predict', '--checkpoint', ckpt, '--invert', files.inverted]),
      runCli(['predict', '--checkpoint', ckpt, testImages]),
    ]);
    const answer = idx.stdout.split('\n')[0].split('\t').slice(1).join('\t');
    expect(plain.stdout).toBe(`${files.gray}\t${answer}\n${files.rgba}\t${answer}\n${files.single}\t${answer}\n`);
    expect(inverted.stdout).toBe(`${files.inverted}\t${answer}\n`);
  });

  it.each([
    ['a PNG of another size', () => encodePng(32, 20, 0, noise(640)), /wrong\.img is 32x20 pixels; the model takes 28x28 images/],
    ['IDX data of another shape', () => encodeIdx([3, 10, 10], new Uint8Array(300)), /wrong\.img holds IDX data of shape 3x10x10 unsigned-byte values; the model takes 28x28 PNG images or IDX files of N x 28x28 unsigned bytes/],
    ['a corrupt PNG', () => { const b = encodePng(28, 28, 0, image0); b[50] ^= 1; return b; }, /wrong\.img: corrupt PNG/],
  ])('predict refuses %s', async (_, make, message) => {
    writeFileSync(join(dir, 'wrong.img'), make());
    expectOneLineError(await runCli(['predict', '--checkpoint', ckpt, join(dir, 'wrong.img')]), message);
  });
});
