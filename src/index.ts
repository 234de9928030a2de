// threadgrad as a library:
//   import { train, evaluate, predict, loadCheckpoint, loadIdx, loadCsv } from 'threadgrad';
// The command line is a thin layer over these functions; the settings are the config
// file's (config.ts), checked the same way.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { DEFAULTS, configOf, savedConfig, type TrainConfig } from './config.js';
import { loadCsvDataset, type CsvOptions } from './data/csv.js';
import { checkFitsModel, checkLabels, dataPaths, emptySplit, loadIdxDataset, loadMnist, makeDataset, type DataPaths, type Dataset, type Samples, type Split } from './data/dataset.js';
import { netInput, normalizeSplit } from './data/normalize.js';
import { layerViews, modelShape } from './model/model.js';
import { modelOf, readCheckpoint, type Checkpoint, type Model } from './model/checkpoint.js';
import { Engine, type EvalStats } from './parallel/engine.js';
import { referenceForward, softmax } from './reference.js';
import { loadFiles, prepare } from './sources.js';
import { checkSameNormalization, resumedConfig } from './run-settings.js';
import { train as run, type EpochRecord, type TrainProgress, type TrainResult } from './train.js';
import { UserError } from './util/errors.js';

export { DEFAULTS, loadMnist, makeDataset, modelOf, UserError };
export type { Checkpoint, DataPaths, Dataset, EpochRecord, EvalStats, Model, Samples, Split, TrainConfig, TrainProgress };
export type { InputSpec, Normalization } from './data/dataset.js';
export type { CsvOptions } from './data/csv.js';

export interface TrainOptions extends Partial<TrainConfig> {
  /** The samples, as loadIdx, loadCsv or makeDataset give them; default: the files the settings name (the bundled MNIST). The limits, the validation split and the normalisation are applied here. */
  data?: Dataset;
  /** Continue a run from its checkpoint (a path, or loadCheckpoint's): its settings, under any given here, and its weights, optimizer state and place in the data. */
  resume?: string | Checkpoint;
  /** Called after each epoch, with its record (losses, accuracies, time). */
  onEpoch?: (record: EpochRecord) => void;
  /** Called after every call of steps, a few times a second. */
  onProgress?: (progress: TrainProgress) => void;
  /** Aborting it stops the run after the steps in flight: a checkpoint is written where `checkpoint` (or rescuePath) names one, and the result says where it stopped. */
  signal?: AbortSignal;
  /** Where an aborted run without a `checkpoint` setting saves; default: nowhere. */
  rescuePath?: () => string;
  /** A pino logger for the run's records; silent without one. */
  log?: Logger;
}

export interface Trained {
  model: Model;
  /** One record per epoch trained (a resumed run: the epochs trained now). */
  history: EpochRecord[];
  /** The test set on the model; absent where the run was aborted. */
  test?: EvalStats;
  stop: TrainResult['stop'];
}

/**
 * Trains with the config file's settings (defaults for the rest), checked as the config
 * file's are, and returns the model (its best epoch's weights where early stopping kept one)
 * and its history.
 */
export async function train(options: TrainOptions = {}): Promise<Trained> {
  if (typeof options !== 'object' || options === null) throw new UserError(`train takes an object of settings, not ${String(options)}`);
  const { data, resume, onEpoch, onProgress, signal, rescuePath, log, ...settings } = options;
  for (const [name, f] of Object.entries({ onEpoch, onProgress, rescuePath })) {
    if (f !== undefined && typeof f !== 'function') throw new UserError(`\`${name}\` must be a function`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new UserError('`signal` must be an AbortSignal');
  if (data !== undefined && !isDataset(data)) throw new UserError('`data` must be a data set, as loadIdx, loadCsv or makeDataset give it');
  if (resume !== undefined && typeof resume !== 'string' && !(typeof resume === 'object' && resume !== null && 'header' in resume && 'params' in resume)) {
    throw new UserError('`resume` must be a checkpoint\'s path, or the checkpoint loadCheckpoint gives');
  }
  const ckpt = typeof resume === 'string' ? readCheckpoint(resume) : resume;
  const cfg = ckpt ? resumedConfig(ckpt, { checkpoint: resolve(ckpt.path), ...settings }) : configOf(settings);
  if (ckpt) checkSameNormalization(ckpt, cfg);
  // Data given as it is takes the class count of the settings where they name one.
  const given = data && cfg.classes !== undefined ? { ...data, classes: checkLabels(data, { train: 'the training set', test: 'the test set' }, cfg.classes) } : data;
  const prepared = prepare(cfg, given ?? (await loadFiles(cfg)), ckpt?.header.input.normalize);
  const result = await run(cfg, { data: prepared, resume: ckpt, onEpoch, onProgress, signal, rescuePath, log });
  const sizes = [prepared.train.features, ...cfg.hidden, prepared.classes];
  return { model: { sizes, params: result.params, input: prepared.input }, history: result.epochs, test: result.test, stop: result.stop };
}

/**
 * Loss, accuracy and confusion matrix of `model` on `split` (as loadIdx or loadCsv give it,
 * labels and all; the model's own normalisation is applied here), computed by the worker pool.
 */
export async function evaluate(model: Model, split: Split, options: Partial<Pick<TrainConfig, 'workers' | 'kernels' | 'chunk'>> = {}): Promise<EvalStats> {
  const { workers, kernels, chunk } = configOf({ ...options });
  if (!isSplit(split)) throw new UserError('evaluate takes a split of samples and labels, as the data sets of loadIdx, loadCsv or makeDataset hold them');
  if (split.count === 0) throw new UserError('the split holds no samples');
  const classes = model.sizes[model.sizes.length - 1];
  const features = model.sizes[0];
  checkFitsModel(split, model.input, classes, 'the split');
  const kind = model.input.kind;
  const test = normalizeSplit(split, model.input);
  const data: Dataset = { train: emptySplit(kind, 0, features), test, classes, input: model.input };
  const engine = new Engine({ data, hidden: model.sizes.slice(1, -1), workers, kernels, chunk });
  try {
    engine.params.set(model.params);
    return await engine.evaluate('test');
  } finally {
    await engine.close();
  }
}

export interface Predictions {
  /** The most probable class of each sample. */
  classes: Uint8Array;
  /** count x classes probabilities, row by row. */
  probabilities: Float32Array;
}

/**
 * Class probabilities of samples as they are read: pixel bytes (Uint8Array) or float
 * features, `count` rows of the model's input size, row-major; the model's own scaling
 * and normalisation are applied here. A plain forward pass in float64 (src/reference.ts).
 */
export function predict(model: Model, samples: Uint8Array | Float32Array | number[]): Predictions {
  if (!(samples instanceof Uint8Array || samples instanceof Float32Array || Array.isArray(samples))) throw new UserError('predict takes samples as a Uint8Array, a Float32Array or an array of numbers');
  const features = model.sizes[0];
  const classes = model.sizes[model.sizes.length - 1];
  if (samples.length % features !== 0) throw new UserError(`${samples.length} values are no whole number of samples of ${features}`);
  const bad = Array.prototype.findIndex.call(samples, (v: unknown) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad >= 0) throw new UserError(`value ${String(samples[bad])} at index ${bad} (sample ${Math.floor(bad / features)}) is not a finite number`);
  if (model.input.kind === 'pixels' && !(samples instanceof Uint8Array)) {
    const off = samples.findIndex((v) => !(Number.isInteger(v) && v >= 0 && v <= 255));
    if (off >= 0) throw new UserError(`the model takes pixel values, whole numbers 0 to 255; value ${samples[off]} at index ${off} (sample ${Math.floor(off / features)}) is not one`);
  }
  const count = samples.length / features;
  const net = { sizes: model.sizes, ...layerViews(model.params, modelShape(model.sizes)) };
  const pixels = model.input.kind === 'pixels';
  const out: Predictions = { classes: new Uint8Array(count), probabilities: new Float32Array(count * classes) };
  for (let i = 0; i < count; i++) {
    const p = softmax(referenceForward(net, netInput(samples.slice(i * features, (i + 1) * features), pixels, model.input)).logits);
    out.probabilities.set(p, i * classes);
    out.classes[i] = p.indexOf(Math.max(...p));
  }
  return out;
}

function isSplit(s: unknown): s is Split {
  if (typeof s !== 'object' || s === null) return false;
  const { x, labels, count, features } = s as Split;
  return (x instanceof Uint8Array || x instanceof Float32Array) && labels instanceof Uint8Array && Number.isInteger(count) && Number.isInteger(features) &&
    x.length === count * features && labels.length === count;
}

function isDataset(d: unknown): d is Dataset {
  if (typeof d !== 'object' || d === null) return false;
  const { train, test, classes, input } = d as Dataset;
  return isSplit(train) && isSplit(test) && Number.isInteger(classes) && typeof input === 'object' && input !== null;
}

/** A checkpoint's model (its best epoch's weights where early stopping kept one) and the settings it trained with. */
export function loadCheckpoint(path: string): { model: Model; config: TrainConfig; checkpoint: Checkpoint } {
  const checkpoint = readCheckpoint(path);
  return { model: modelOf(checkpoint), config: savedConfig(checkpoint), checkpoint };
}

/** Training and test CSV files: numeric features and an integer label per row (see CsvOptions for the label column and the header). */
export const loadCsv: (trainPath: string, testPath: string, options?: CsvOptions) => Promise<Dataset> = loadCsvDataset;

/** The four IDX files of a folder (MNIST's names, or names like EMNIST's), or the four paths; `classes` defaults to the largest label + 1. */
export function loadIdx(source: string | DataPaths, options: { classes?: number } = {}): Promise<Dataset> {
  return loadIdxDataset(typeof source === 'string' ? dataPaths(source) : source, options.classes);
}
