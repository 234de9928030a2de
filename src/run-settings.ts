// What a run's settings come to in numbers: its batch size and steps an epoch, the update
// rule and the learning-rate schedule the workers apply, its sync mode, and the steps after
// which the test set is evaluated; and a resumed run's settings, and whether a checkpoint
// may go on under them.
import { configOf, parseWarmup, savedConfig, type TrainConfig } from './config.js';
import type { Checkpoint } from './model/checkpoint.js';
import { stateSlots, type OptimizerSpec, type ScheduleSpec } from './model/optimizer.js';
import { STEP_SYNC, parseSync, type SyncSpec } from './parallel/sync.js';
import { UserError } from './util/errors.js';

/** The samples of a step: all of them in full-batch mode. */
export function batchSizeOf(cfg: TrainConfig, trainCount: number): number {
  return cfg.fullBatch ? trainCount : Math.min(cfg.batchSize, trainCount);
}

/** Steps of an epoch: the last one takes the n mod batch samples left over, unless dropLast skips them. */
export function stepsPerEpoch(cfg: TrainConfig, trainCount: number): number {
  const batch = batchSizeOf(cfg, trainCount);
  return cfg.dropLast ? Math.floor(trainCount / batch) : Math.ceil(trainCount / batch);
}

export function optimizerOf(cfg: TrainConfig): OptimizerSpec {
  return { kind: cfg.optimizer, momentum: cfg.momentum, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay };
}

/** The learning-rate schedule of a run of cfg.epochs epochs of `steps` steps. */
export function scheduleOf(cfg: TrainConfig, steps: number): ScheduleSpec {
  return { kind: cfg.lrSchedule, totalSteps: cfg.epochs * steps, warmupSteps: parseWarmup(cfg.warmup, steps) ?? 0, stepSize: cfg.stepSize * steps, gamma: cfg.gamma };
}

export function syncOf(cfg: TrainConfig): SyncSpec {
  return parseSync(cfg.sync) ?? STEP_SYNC;
}

/**
 * A run stopped mid-epoch goes on from where the workers left the batches: in the same sync
 * mode, and under local SGD on as many workers (its rounds are K x workers batches). From an
 * epoch's start any mode goes.
 */
export function checkSameSync(ckpt: Checkpoint, cfg: TrainConfig): void {
  const saved = { sync: String(ckpt.header.config.sync ?? 'step'), workers: Number(ckpt.header.config.workers) };
  if (ckpt.header.step === 0) return;
  if (saved.sync !== cfg.sync || (cfg.sync.startsWith('local') && saved.workers !== cfg.workers)) {
    throw new UserError(
      `${ckpt.path} stopped mid-epoch (step ${ckpt.header.step}) under --sync ${saved.sync} on ${saved.workers} worker(s); ` +
        `resume it with the same --sync${saved.sync.startsWith('local') ? ' and --workers' : ''}, or from a checkpoint at an epoch's start`,
      2,
    );
  }
}

/**
 * The optimizer state in a checkpoint (a velocity, or Adam's two moments) is its optimizer's:
 * another one would read it as its own, so a run goes on under the optimizer it began with.
 */
export function checkSameOptimizer(ckpt: Checkpoint, cfg: TrainConfig): void {
  const saved = String(ckpt.header.config.optimizer ?? 'sgd');
  if (saved !== cfg.optimizer || ckpt.state.length !== stateSlots(cfg.optimizer) * ckpt.params.length) {
    throw new UserError(`${ckpt.path} was trained with --optimizer ${saved}, whose state it holds; resume it with --optimizer ${saved} (or without --optimizer)`, 2);
  }
}

/**
 * A model learns on its inputs as scaled when it began: a resumed run keeps the checkpoint's
 * fitted normalisation (prepare's `fitted`), and another kind is refused.
 */
export function checkSameNormalization(ckpt: Checkpoint, cfg: TrainConfig): void {
  const saved = ckpt.header.input.normalize?.kind ?? 'none';
  if (saved !== cfg.normalize) {
    throw new UserError(`${ckpt.path} was trained on features with --normalize ${saved}; resume it with --normalize ${saved} (or without --normalize)`, 2);
  }
}

const IDX_FILES = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;
const CSV_FILES = ['trainCsv', 'testCsv'] as const;

/**
 * Saved settings (a checkpoint's) under the data settings given now: each file given replaces
 * the same one saved, and the others saved stay (--test-images alone keeps the saved labels);
 * a --data-dir replaces every saved data setting; CSV files replace saved IDX files, and IDX
 * files saved CSV files (a --data-dir given on resume must not lose to saved CSV files).
 */
export function savedDataUnder<T extends Partial<TrainConfig>>(saved: T, given: Partial<TrainConfig>): T {
  const out: Partial<TrainConfig> = { ...saved };
  const drop = (keys: readonly (keyof TrainConfig)[]): void => keys.forEach((key) => delete out[key]);
  if (given.dataDir !== undefined) drop(['dataDir', ...IDX_FILES, ...CSV_FILES]);
  if (IDX_FILES.some((key) => given[key] !== undefined)) drop(CSV_FILES);
  if (CSV_FILES.some((key) => given[key] !== undefined)) drop(IDX_FILES);
  return out as T;
}

/** A resumed run's settings: the checkpoint's, under those given now (its data as savedDataUnder says). */
export function resumedConfig(ckpt: Checkpoint, given: Partial<TrainConfig>): TrainConfig {
  return configOf({ ...savedDataUnder(savedConfig(ckpt), given), ...given });
}

/** The steps of an epoch (1..S) after which the test set is evaluated k times an epoch: floor(j * S / k + 1/2), j = 1..k, as the peer benchmarks do. */
export function testSteps(steps: number, k: number): number[] {
  return [...new Set(Array.from({ length: k }, (_, j) => Math.floor((2 * (j + 1) * steps + k) / (2 * k))))].filter((s) => s > 0);
}

