// Any data set: images of any size, float vectors, CSV files, a library user's own arrays.
// The input layer and the outputs follow the data, the checkpoint keeps what the model takes,
// and every command checks data against it; 1 worker and N give the same bits on any shape.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeIdx } from '../src/data/idx.js';
import { UserError, evaluate, loadCheckpoint, loadCsv, loadIdx, makeDataset, predict, train, type Dataset, type Split } from '../src/index.js';
import { readCheckpoint } from '../src/model/checkpoint.js';
import { fitNormalization, normalizeSplit } from '../src/data/normalize.js';
import { encodePng } from './png.js';
import { blobSplit, expectOneLineError, runCli, runMain, stripeSplit, tempDir, type CliResult } from './synthetic.js';

const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** 20 rows of 12 pixels (240, neither square nor a multiple of 16), 5 classes. */
const SHAPE: [number, number] = [20, 12];
const stripes = (): Dataset => ({ train: stripeSplit(800, 1, SHAPE, 5), test: stripeSplit(200, 2, SHAPE, 5), classes: 5, input: { kind: 'pixels', shape: SHAPE } });

/** The four files of a split pair in a folder, under EMNIST's names, gzipped. */
function writeEmnistLike(dir: string, data: Dataset): string {
  const save = (name: string, split: Split): void => {
    writeFileSync(join(dir, `emnist-stripes-${name}-images-idx3-ubyte.gz`), gzipSync(encodeIdx([split.count, ...data.input.shape], split.x)));
    writeFileSync(join(dir, `emnist-stripes-${name}-labels-idx1-ubyte.gz`), gzipSync(encodeIdx([split.count], split.labels)));
  };
  save('train', data.train);
  save('test', data.test);
  return dir;
}

/** A CSV of a split with a header; the label, named "species", third of the columns; `label: false` leaves it out. */
function csvOf(split: Split, { label = true } = {}): string {
  const F = split.features;
  const names = Array.from({ length: F }, (_, j) => `f${j}`);
  const head = label ? [...names.slice(0, 2), 'species', ...names.slice(2)] : names;
  const rows = Array.from({ length: split.count }, (_, i) => {
    const values = Array.from(split.x.subarray(i * F, (i + 1) * F), String);
    return (label ? [...values.slice(0, 2), String(split.labels[i]), ...values.slice(2)] : values).join(',');
  });
  return [head.join(','), ...rows].join('\n') + '\n';
}

describe('images of another size', () => {
  it('1 worker and 3 give the same weights, bit for bit, on 20x12 images in 5 classes; the net learns them', async () => {
    const data = stripes();
    const run = (workers: number) => train({ data, workers, hidden: [24, 12], epochs: 3, batchSize: 32, optimizer: 'momentum', lr: 0.05, patience: 0, chunk: 16 });
    const [one, three] = [await run(1), await run(3)];
    expect(one.model.sizes).toEqual([240, 24, 12, 5]);
    expect(bits(three.model.params).equals(bits(one.model.params))).toBe(true);
    expect(one.test!.accuracy).toBeGreaterThan(0.9);
    expect(one.test!.confusion.length).toBe(25);
  });

  describe('on the command line, from a folder with EMNIST-style names', () => {
    const dir = writeEmnistLike(tempDir(), stripes());
    const ckpt = join(dir, 'stripes.ckpt');
    let trained: Awaited<ReturnType<typeof runCli>>;
    beforeAll(async () => {
      trained = await runCli(['train', '--data-dir', dir, '--hidden', '24,12', '--epochs', '3', '--patience', '0', '--batch-size', '32', '--checkpoint', ckpt]);
    });

    it('trains, sized from the data, and the checkpoint says what the model takes', () => {
      expect(trained.code, trained.stderr).toBe(0);
      expect(Number(/test accuracy ([\d.]+)%/.exec(trained.stdout)![1])).toBeGreaterThan(90);
      const { header } = readCheckpoint(ckpt);
      expect(header.sizes).toEqual([240, 24, 12, 5]);
      expect(header.input).toEqual({ kind: 'pixels', shape: [20, 12] });
    });

    it('eval and predict take data of the model\'s shape, and refuse any other in one line', async () => {
      const image = stripeSplit(1, 9, SHAPE, 5);
      const png = join(dir, 'one.png');
      writeFileSync(png, encodePng(12, 20, 0, image.x as Uint8Array));
      const [evaluated, predicted] = await Promise.all([runCli(['eval', '--checkpoint', ckpt]), runCli(['predict', '--checkpoint', ckpt, png])]);
      expect(evaluated.stdout).toMatch(/240-24-12-5 network/);
      expect(evaluated.stdout).toMatch(/test accuracy [\d.]+% \(\d+\/200\)/);
      expect(predicted.stdout).toBe(`${png}\t${image.labels[0]}\t${predicted.stdout.split('\t')[2]}`);
      const mnistPng = join(dir, 'mnist.png');
      writeFileSync(mnistPng, encodePng(28, 28, 0, new Uint8Array(784)));
      const mnist = join(dir, 'mnist');
      mkdirSync(mnist);
      writeEmnistLike(mnist, { ...stripes(), input: { kind: 'pixels', shape: [28, 28] }, train: stripeSplit(10, 1, [28, 28], 5), test: stripeSplit(10, 2, [28, 28], 5) });
      const [wrongPng, wrongEval] = await Promise.all([runCli(['predict', '--checkpoint', ckpt, mnistPng]), runCli(['eval', '--checkpoint', ckpt, '--data-dir', mnist])]);
      expectOneLineError(wrongPng, /mnist\.png is 28x28 pixels; the model takes 12x20 images/);
      expectOneLineError(wrongEval, /emnist-stripes-test-images-idx3-ubyte\.gz holds 28x28 unsigned-byte values but the model takes 20x12 unsigned-byte values/);
      // As many pixels, another shape: the images are not the ones the model knows.
      const turned = join(dir, 'turned');
      mkdirSync(turned);
      writeEmnistLike(turned, { ...stripes(), input: { kind: 'pixels', shape: [12, 20] }, train: stripeSplit(10, 1, [12, 20], 5), test: stripeSplit(10, 2, [12, 20], 5) });
      expectOneLineError(await runMain(['eval', '--checkpoint', ckpt, '--data-dir', turned]), /holds 12x20 unsigned-byte values but the model takes 20x12 unsigned-byte values/);
    });

    it('a data file named on eval or resume replaces its own kind only: the saved others stay; export will not overwrite a checkpoint', async () => {
      const images = join(tempDir(), 'test-images');
      copyFileSync(join(dir, 'emnist-stripes-test-images-idx3-ubyte.gz'), images);
      const [saved, named] = await Promise.all([runCli(['eval', '--checkpoint', ckpt]), runCli(['eval', '--checkpoint', ckpt, '--test-images', images])]);
      const accuracy = (r: CliResult) => /test accuracy ([\d.]+%)/.exec(r.stdout)?.[1];
      expect(accuracy(named), named.stderr).toBe(accuracy(saved)); // the labels still come from the saved folder
      const copy = join(tempDir(), 'copy.ckpt');
      copyFileSync(ckpt, copy);
      const resumed = await runCli(['train', '--resume', copy, '--test-images', images, '--epochs', '4']);
      expect(resumed.code, resumed.stderr).toBe(0); // trained on the saved folder's images, not the bundled MNIST
      const other = join(tempDir(), 'other.ckpt');
      copyFileSync(ckpt, other);
      expectOneLineError(await runMain(['export', '--checkpoint', ckpt, '--format', 'json', '--out', other]), /--out .*other\.ckpt would overwrite .*other\.ckpt, a threadgrad checkpoint: name another path/);
      expect(readFileSync(other).equals(readFileSync(ckpt))).toBe(true);
      // The library's predict takes a pixel model's samples as whole numbers 0..255.
      const { model } = loadCheckpoint(ckpt);
      expect(() => predict(model, new Float32Array(240).fill(0.5))).toThrow(/the model takes pixel values, whole numbers 0 to 255; value 0\.5 at index 0 \(sample 0\) is not one/);
    });

    it('a folder with two candidates for a file asks which one', async () => {
      const twice = tempDir();
      writeEmnistLike(twice, stripes());
      writeFileSync(join(twice, 'other-train-images-idx3-ubyte'), readFileSync(join(dir, 'emnist-stripes-train-images-idx3-ubyte.gz')));
      expectOneLineError(await runMain(['train', '--data-dir', twice]), /holds several files that look like the training images \(.*\); name one with --train-images/);
    });
  });
});

describe('float features', () => {
  it('train from float IDX files: 2-D files of vectors', async () => {
    const dir = tempDir();
    const [trainSet, testSet] = [blobSplit(600, 1, 9, 4), blobSplit(150, 2, 9, 4)];
    for (const [name, split] of [['train', trainSet], ['t10k', testSet]] as const) {
      writeFileSync(join(dir, `${name}-images-idx3-ubyte`), encodeIdx([split.count, 9], split.x));
      writeFileSync(join(dir, `${name}-labels-idx1-ubyte`), encodeIdx([split.count], split.labels));
    }
    const data = await loadIdx(dir);
    expect([data.classes, data.input]).toEqual([4, { kind: 'floats', shape: [9] }]);
    expect(data.train.x).toEqual(trainSet.x);
    const { model, test } = await train({ data, normalize: 'standard', hidden: [16, 8], epochs: 5, patience: 0, batchSize: 16 });
    expect(model.sizes).toEqual([9, 16, 8, 4]);
    expect(test!.accuracy).toBeGreaterThan(0.9);
    // NaN or Infinity in a float file would poison every weight: refused where it is read, and predict refuses it too.
    const poisoned = Float32Array.from(trainSet.x);
    poisoned[13] = NaN;
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx([trainSet.count, 9], poisoned));
    await expect(loadIdx(dir)).rejects.toThrow(/train-images-idx3-ubyte: value 13 is NaN, not a finite number/);
    expect(() => predict(model, [1, 2, 3, 4, NaN, 6, 7, 8, 9])).toThrow(/value NaN at index 4 \(sample 0\) is not a finite number/);
  });

  it('normalisation is fitted on the training samples alone and applied to the others as it is', () => {
    const trainSet = blobSplit(300, 1, 3, 2);
    const testSet = blobSplit(100, 2, 3, 2);
    for (const kind of ['minmax', 'standard'] as const) {
      const n = fitNormalization(kind, trainSet);
      const input = { kind: 'floats' as const, shape: [3], normalize: n };
      const [a, b] = [normalizeSplit(trainSet, input), normalizeSplit(testSet, input)];
      for (let j = 0; j < 3; j++) {
        const column = (s: Split) => Array.from({ length: s.count }, (_, i) => s.x[i * 3 + j]);
        const values = column(a);
        if (kind === 'minmax') expect([Math.min(...values), Math.max(...values)].map((v) => +v.toFixed(5))).toEqual([0, 1]);
        else expect(Math.abs(values.reduce((s, v) => s + v, 0) / values.length)).toBeLessThan(1e-4);
        // The test set is scaled by the training set's numbers, not its own.
        column(b).forEach((v, i) => expect(v).toBeCloseTo((testSet.x[i * 3 + j] - n.offset[j]) * n.scale[j], 4));
      }
    }
  });
});

describe('CSV files', () => {
  const dir = tempDir();
  const [trainSet, testSet] = [blobSplit(600, 1, 6, 3), blobSplit(150, 2, 6, 3)];
  const files = { train: join(dir, 'train.csv'), test: join(dir, 'test.csv'), rows: join(dir, 'rows.csv') };
  writeFileSync(files.train, csvOf(trainSet));
  writeFileSync(files.test, csvOf(testSet));
  writeFileSync(files.rows, csvOf(testSet, { label: false }));
  const ckpt = join(dir, 'csv.ckpt');
  const csvArgs = ['--train-csv', files.train, '--test-csv', files.test, '--label-column', 'species'];

  it('read by name, a label column in the middle: the same samples as the arrays they were written from', async () => {
    const data = await loadCsv(files.train, files.test, { labelColumn: 'species' });
    expect([data.classes, data.input.shape, data.input.columns, data.input.labelColumn]).toEqual([3, [6], ['f0', 'f1', 'f2', 'f3', 'f4', 'f5'], { index: 2, name: 'species' }]);
    expect(data.train.x).toEqual(trainSet.x);
    expect(data.test.labels).toEqual(testSet.labels);
  });

  it('train, eval and predict on the command line; predict reads rows with or without the label and agrees with eval', async () => {
    const trained = await runCli(['train', ...csvArgs, '--normalize', 'standard', '--hidden', '16,8', '--epochs', '8', '--patience', '0', '--batch-size', '16', '--checkpoint', ckpt]);
    expect(trained.code, trained.stderr).toBe(0);
    const { model } = loadCheckpoint(ckpt);
    expect(model.input.normalize?.kind).toBe('standard');
    expect(model.input.normalize!.offset[0]).toBeGreaterThan(900); // the features sit near 1000: the fit is stored
    const [evaluated, withLabel, without] = await Promise.all([
      runCli(['eval', '--checkpoint', ckpt]),
      runCli(['predict', '--checkpoint', ckpt, files.test]),
      runCli(['predict', '--checkpoint', ckpt, files.rows]),
    ]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const classes = (out: string) => out.trim().split('\n').map((l) => Number(l.split('\t')[1]));
    expect(classes(withLabel.stdout)).toEqual(classes(without.stdout));
    const correct = classes(without.stdout).filter((c, i) => c === testSet.labels[i]).length;
    expect(evaluated.stdout).toContain(`(${correct}/150)`);
    expect(correct / 150).toBeGreaterThan(0.9);
    // The library gives the same answers, normalising by the model's own fit.
    expect(Array.from(predict(model, testSet.x).classes)).toEqual(classes(without.stdout));
    expect((await evaluate(model, testSet)).accuracy).toBe(correct / 150);
    // A resumed run keeps the fit it began with, on fewer samples too; another kind of scaling is refused.
    const saved = readFileSync(ckpt);
    expectOneLineError(await runMain(['train', '--resume', ckpt, '--normalize', 'minmax', '--epochs', '9']), /was trained on features with --normalize standard; resume it with --normalize standard/);
    expect(readFileSync(ckpt).equals(saved)).toBe(true);
    const resumed = await runCli(['train', '--resume', ckpt, '--train-limit', '100', '--epochs', '9']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(loadCheckpoint(ckpt).model.input.normalize).toEqual(model.input.normalize);
    // Data named on resume replaces the saved CSV files: here images, which the model does not take.
    const images = writeEmnistLike(tempDir(), stripes());
    expectOneLineError(await runMain(['train', '--resume', ckpt, '--data-dir', images, '--normalize', 'standard']), /was trained on 6 float values but the data holds 20x12 unsigned-byte values/);
  });

  it('a file with a header is read by column name, one without by position; a column the model lacks or misses is named', async () => {
    // After the test above: ckpt holds a model of the columns f0..f5 with the label "species" third.
    const rows = readFileSync(files.test, 'utf8').trim().split('\n').map((line) => line.split(','));
    const write = (name: string, table: string[][]): string => {
      const path = join(tempDir(), name);
      writeFileSync(path, table.map((r) => r.join(',')).join('\n') + '\n');
      return path;
    };
    const reversed = write('reversed.csv', rows.map((r) => [...r].reverse()));
    const headless = write('headless.csv', rows.slice(1));
    const [asWritten, byName, byPosition, predicted, predictedByName] = await Promise.all([
      runCli(['eval', '--checkpoint', ckpt]),
      runCli(['eval', '--checkpoint', ckpt, '--test-csv', reversed]),
      runCli(['eval', '--checkpoint', ckpt, '--test-csv', headless]),
      runCli(['predict', '--checkpoint', ckpt, files.test]),
      runCli(['predict', '--checkpoint', ckpt, reversed]),
    ]);
    const accuracy = (r: CliResult) => /test accuracy [\d.]+% \(\d+\/150\)/.exec(r.stdout)?.[0];
    expect(accuracy(asWritten)).toBeDefined();
    expect([accuracy(byName), accuracy(byPosition)]).toEqual([accuracy(asWritten), accuracy(asWritten)]);
    const classes = (r: CliResult) => r.stdout.trim().split('\n').map((l) => l.split('\t')[1]);
    expect(classes(predictedByName)).toEqual(classes(predicted));
    const lacking = write('lacking.csv', rows.map((r) => r.filter((_, i) => i !== 4)));
    expectOneLineError(await runMain(['eval', '--checkpoint', ckpt, '--test-csv', lacking]), /lacking\.csv has no column "f3" \(the feature columns are f0, f1, f2, f3, f4, f5\)/);
    const huge = write('huge.csv', rows.map((r, i) => (i === 3 ? ['3.5e38', ...r.slice(1)] : r)));
    expectOneLineError(await runMain(['train', '--train-csv', huge, '--test-csv', files.test, '--label-column', 'species']), /huge\.csv: line 4, column "f0": 3\.5e38 is beyond the range of float32/);
  });

  it('a folder holding train.csv and test.csv is a data set', async () => {
    const r = await runCli(['train', '--data-dir', dir, '--label-column', '2', '--normalize', 'minmax', '--hidden', '8', '--epochs', '1', '--patience', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/test accuracy/);
    const half = tempDir();
    writeFileSync(join(half, 'train.csv'), readFileSync(files.train));
    expectOneLineError(await runMain(['train', '--data-dir', half]), /holds train\.csv but no test\.csv: a CSV data folder needs both/);
    // Features near 1000, unscaled, blow up plain SGD at 0.1: the message says what to change.
    expectOneLineError(
      await runCli(['train', '--data-dir', dir, '--label-column', 'species', '--hidden', '8', '--epochs', '1']),
      /training diverged: .* \(a blind guess scores ln 3 = 1\.10\); .*, or the features need scaling \(--normalize standard\); no checkpoint was saved/,
      { afterLogs: true },
    );
  });

  it.each([
    ['a row with a field missing', 'a,b,label\n1,2,0\n3,4,1\n5,6\n', [], /bad\.csv: line 4 has 2 fields, not the 3 of the header/],
    ['a value that is no number', 'a,b,label\n1,2,0\n3,x,1\n', [], /bad\.csv: line 3, column "b": "x" is not a number/],
    ['an empty value', 'a,b,label\n1,,0\n', [], /bad\.csv: line 2, column "b": "" is not a number/],
    ['a label that is no class', 'a,b,label\n1,2,0\n3,4,1.5\n', [], /bad\.csv: line 3, the label column: "1\.5" is not a class/],
    ['a label outside --classes', 'a,b,label\n1,2,0\n3,4,7\n', ['--classes', '3'], /bad\.csv: line 3, the label column: "7" is not a class \(one of the 3 classes, 0-2\)/],
    ['a label column that is not there', 'a,b,c\n1,2,0\n', ['--label-column', 'species'], /bad\.csv: no column named "species" for the label \(the header names a, b, c\)/],
    ['no rows', 'a,b,label\n', [], /bad\.csv holds no rows of data/],
  ])('training data with %s stops at once with one line naming file, line and column', async (_, text, flags, message) => {
    const bad = join(tempDir(), 'bad.csv');
    writeFileSync(bad, text);
    expectOneLineError(await runMain(['train', '--train-csv', bad, '--test-csv', files.test, ...flags]), message);
  });

  it('a test label beyond the training labels\' classes is named by its line; a test file of other columns is refused', async () => {
    const small = join(tempDir(), 'small.csv');
    writeFileSync(small, 'a,b,label\n1,2,0\n3,4,1\n');
    const beyond = join(tempDir(), 'beyond.csv');
    writeFileSync(beyond, 'a,b,label\n1,2,0\n3,4,2\n');
    expectOneLineError(await runMain(['train', '--train-csv', small, '--test-csv', beyond]), /beyond\.csv: line 3, the label column: "2" is not a class \(one of the 2 classes, 0-1\)/);
    const wide = join(tempDir(), 'wide.csv');
    writeFileSync(wide, 'a,b,c,label\n1,2,3,0\n');
    expectOneLineError(await runMain(['train', '--train-csv', small, '--test-csv', wide]), /wide\.csv: column "c" is not among the feature columns a, b/);
    // A test file without a header is read by the training file's positions, its label where the training file's was.
    const headless = join(tempDir(), 'headless.csv');
    writeFileSync(headless, readFileSync(files.test, 'utf8').split('\n').slice(1).join('\n'));
    const run = (test: string) => runCli(['train', ...csvArgs.slice(0, 2), '--test-csv', test, '--label-column', 'species', '--normalize', 'standard', '--hidden', '8', '--epochs', '2', '--patience', '0']);
    const [headed, bare] = await Promise.all([run(files.test), run(headless)]);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout.replace(/ \(.*/, '')).toBe(headed.stdout.replace(/ \(.*/, ''));
    const named = join(tempDir(), 'named.csv');
    writeFileSync(named, 'a,species,b\n1,0,2\n');
    const [eval3, predict3] = await Promise.all([runCli(['eval', '--checkpoint', ckpt, '--test-csv', named]), runCli(['predict', '--checkpoint', ckpt, small])]);
    expectOneLineError(eval3, /named\.csv: column "a" is not among the feature columns f0, f1, f2, f3, f4, f5/);
    expectOneLineError(predict3, /small\.csv: column "a" is not among the feature columns f0, f1, f2, f3, f4, f5/);
  });
});

describe('the library', () => {
  it('makeDataset checks what it is given', () => {
    const ok = { x: [0, 1, 2, 3], labels: [0, 1] };
    expect(makeDataset(ok, ok, { shape: [2] })).toMatchObject({ classes: 2, input: { kind: 'floats', shape: [2] } });
    expect(() => makeDataset({ x: [0, 1, 2], labels: [0, 1] }, ok, { shape: [2] })).toThrow(/the training set has 3 values for 2 labels; samples of shape 2 need 4/);
    expect(() => makeDataset({ x: [0, NaN, 2, 3], labels: [0, 1] }, ok, { shape: [2] })).toThrow(/value NaN at index 1 \(sample 0\) is not a finite float32/);
    expect(() => makeDataset({ x: [0, 1, 2, 1e39], labels: [0, 1] }, ok, { shape: [2] })).toThrow(/value 1e\+39 at index 3 \(sample 1\) is not a finite float32/);
    expect(() => makeDataset(ok, { x: [0, 1, 2, 3], labels: [0, 2] }, { shape: [2], classes: 2 })).toThrow(/the test set: label 2 at index 1 is not one of the 2 classes/);
    expect(() => makeDataset({ x: Uint8Array.of(1, 2), labels: [0] }, ok, { shape: [2] })).toThrow(/both be pixel bytes \(Uint8Array\) or both floats/);
  });

  it('train, evaluate and predict refuse what is not theirs with a UserError, and a run aborted before it starts trains nothing', async () => {
    const data = makeDataset(stripeSplit(60, 1, SHAPE, 5), stripeSplit(20, 2, SHAPE, 5), { shape: SHAPE });
    const refuse = async (p: Promise<unknown>, message: RegExp) => {
      await expect(p).rejects.toThrow(message);
      await expect(p).rejects.toBeInstanceOf(UserError);
    };
    await refuse(train(null as never), /train takes an object of settings, not null/);
    await refuse(train({ data: {} as never }), /`data` must be a data set, as loadIdx, loadCsv or makeDataset give it/);
    await refuse(train({ data, onEpoch: 5 as never }), /`onEpoch` must be a function/);
    await refuse(train({ data, resume: { foo: 1 } as never }), /`resume` must be a checkpoint's path/);
    await refuse(train({ data, classes: 3 }), /the training set: label [34] at index \d+ is not one of the 3 classes \(0-2\)/);
    const { model } = await train({ data, classes: 7, hidden: [8], epochs: 1, patience: 0 });
    expect(model.sizes).toEqual([240, 8, 7]);
    await refuse(evaluate(model, data.test, { workers: 0 }), /setting "workers" must be an integer from 1 to 1024, got 0/);
    await refuse(evaluate(model, null as never), /evaluate takes a split of samples and labels/);
    expect(() => predict(model, null as never)).toThrow(/predict takes samples as a Uint8Array, a Float32Array or an array of numbers/);
    const checkpoint = join(tempDir(), 'never.ckpt');
    const stopped = await train({ data, checkpoint, signal: AbortSignal.abort('enough'), epochs: 1 });
    expect(stopped.stop).toMatchObject({ reason: 'stopped by enough before the first step; nothing was saved', aborted: 'enough', epoch: 0 });
    expect(stopped.history).toEqual([]);
    expect(existsSync(checkpoint)).toBe(false);
  });

  it('the example in examples/ trains on its generated data through the package\'s own name', () => {
    const out = execFileSync(process.execPath, [join(import.meta.dirname, '..', 'examples', 'spirals.mjs')], { encoding: 'utf8' });
    expect(Number(/^test accuracy ([\d.]+)%$/m.exec(out)![1])).toBeGreaterThan(95);
    expect(out).toMatch(/^evaluate: [\d.]+%; predict \(0\.5, 0\.1\) -> class \d/m);
  });

  it('the EMNIST-format folder that examples/make-shapes.mjs writes trains with --data-dir', async () => {
    const dir = join(tempDir(), 'shapes');
    execFileSync(process.execPath, [join(import.meta.dirname, '..', 'examples', 'make-shapes.mjs'), dir], { encoding: 'utf8' });
    const r = await runCli(['train', '--data-dir', dir, '--lr', '0.3', '--patience', '2']); // to the plateau, sooner than with the defaults
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^stopped after epoch \d+: validation loss no better for 2 epochs; best epoch \d+: test accuracy/);
    expect(Number(/test accuracy ([\d.]+)%/.exec(r.stdout)![1])).toBeGreaterThan(95);
    expect(r.stderr).toMatch(/"input":"24x16 unsigned-byte values","classes":5/);
  });

  it('an aborted run returns where it stopped, and resuming from its checkpoint ends with the same weights as a run never stopped', async () => {
    const data = makeDataset(stripeSplit(400, 1, SHAPE, 5), stripeSplit(50, 2, SHAPE, 5), { shape: SHAPE });
    const settings = { data, hidden: [16], epochs: 3, batchSize: 20, patience: 0, workers: 2 };
    const clean = await train(settings);
    const controller = new AbortController();
    const checkpoint = join(tempDir(), 'api.ckpt');
    const stopped = await train({ ...settings, checkpoint, signal: controller.signal, onEpoch: (e) => e.epoch === 1 && controller.abort('enough') });
    expect(stopped.stop).toMatchObject({ aborted: 'enough', epoch: 1, checkpoint });
    expect(stopped.test).toBeUndefined();
    const resumed = await train({ data, resume: checkpoint });
    expect(resumed.history.map((e) => e.epoch)).toEqual([2, 3]);
    expect(bits(resumed.model.params).equals(bits(clean.model.params))).toBe(true);
  });
});
