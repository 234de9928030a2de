// The training loop: every epoch reshuffles the sample order with the seeded RNG, walks
// it in mini-batches (or in one full batch), and reports loss and accuracy so that a
// user can stop at a plateau.
import { availableParallelism } from 'node:os';
import { checkResumable, checkWritable, parseCheckpointEvery, writeCheckpoint, type Checkpoint, type CheckpointHeader } from './model/checkpoint.js';
import type { TrainConfig } from './config.js';
import { Engine, StepsFailed, type EvalStats, type StepStats } from './parallel/engine.js';
import { MAX_STEPS_PER_COMMAND } from './parallel/protocol.js';
import { Diverged, Stopped, UserError } from './util/errors.js';
import { displayPath } from './util/files.js';
import type { Logger } from './cli/log.js';
import { dataPaths, head, loadMnist, type Dataset } from './data/mnist.js';
import { initParams, modelShape } from './model/model.js';
import { Progress } from './cli/progress.js';
import { Rng, type RngState } from './model/rng.js';
import { exitCodeFor, rescuePath, resumeCommand } from './cli/signals.js';

export interface EpochRecord {
  epoch: number;
  steps: number;
  batchSize: number;
  /** Mean training loss and accuracy over the epoch's batches (as the weights moved). */
  loss: number;
  trainAcc: number;
  testLoss: number;
  testAcc: number;
  /** Training time of the epoch, evaluation excluded. */
  seconds: number;
  samplesPerSec: number;
  msPerStep: number;
  workers: number;
}

export interface TrainResult {
  epochs: EpochRecord[];
  test: EvalStats;
  /** A copy of the final parameters. */
  params: Float32Array;
}

export async function loadDataset(cfg: TrainConfig): Promise<Dataset> {
  const paths = dataPaths(cfg.dataDir, cfg);
  const data = await loadMnist(paths);
  return {
    train: cfg.trainLimit ? head(data.train, cfg.trainLimit) : data.train,
    test: cfg.testLimit ? head(data.test, cfg.testLimit) : data.test,
  };
}

export function batchSizeOf(cfg: TrainConfig, trainCount: number): number {
  return cfg.fullBatch ? trainCount : Math.min(cfg.batchSize, trainCount);
}

/** Steps of an epoch: the last one takes the n mod batch samples left over, unless dropLast skips them. */
export function stepsPerEpoch(cfg: TrainConfig, trainCount: number): number {
  const batch = batchSizeOf(cfg, trainCount);
  return cfg.dropLast ? Math.floor(trainCount / batch) : Math.ceil(trainCount / batch);
}

/**
 * A batch whose mean cross-entropy exceeds this has logits ~100 apart on wrong answers:
 * the weights have blown up. Too high a learning rate rarely reaches NaN: the ReLUs die
 * first and the loss settles at a finite, useless value, so NaN alone would miss it.
 * Healthy runs stay below 10.
 */
export const EXPLODED_LOSS = 100;

export interface RunOptions {
  /** Continue from this checkpoint instead of initialising; cfg must already hold its settings (see cli/train.ts). */
  resume?: Checkpoint;
  /** Polled after every call of steps and every epoch: a signal name stops the run with a checkpoint (see signals.ts). */
  stopRequested?: () => NodeJS.Signals | undefined;
  /** Called after each epoch's evaluation. */
  onEpoch?: (record: EpochRecord) => void;
  /** Steps per engine call, between which stops are polled; default stepsPerCall(batch). */
  stepsPerCall?: number;
}

/** Where training stands: the epoch to continue, its steps done and their sums, and the RNG state before its shuffle. */
interface Position {
  epoch: number;
  step: number;
  lossSum: number;
  correct: number;
  rng: RngState;
}

export async function train(cfg: TrainConfig, log: Logger, data?: Dataset, run: RunOptions = {}): Promise<TrainResult> {
  data ??= await loadDataset(cfg);
  const n = data.train.count;
  const batch = batchSizeOf(cfg, n);
  const steps = stepsPerEpoch(cfg, n);
  /** Samples an epoch trains on: all n, or the whole batches of them with dropLast. */
  const epochSamples = Math.min(n, steps * batch);
  if (run.resume) checkResumable(run.resume, modelShape(cfg.hidden).sizes, n, batch);
  if (cfg.checkpoint) checkWritable(cfg.checkpoint);
  const every = parseCheckpointEvery(cfg.checkpointEvery) ?? { unit: 'end' };
  const engine = new Engine({
    data, hidden: cfg.hidden, workers: cfg.workers, kernels: cfg.kernels, chunk: cfg.chunk,
    onRetry: (attempt, error) => log.warn({ attempt, error: error.message }, 'a worker failed mid-step; retrying the step'),
  });
  data = engine.data; // the engine's copy; the loaded pixels can be freed unless the caller keeps them
  const progress = new Progress();
  const where = (at: { epoch: number; step: number }): string =>
    at.step === 0 ? `the start of epoch ${at.epoch}` : `epoch ${at.epoch}, step ${at.step} of ${steps}`;
  let lastSaved = run.resume && `${displayPath(run.resume.path)} (${where(run.resume.header)})`;
  // A step's loss measures the weights from before its update, so a save due after a step
  // waits here, with a copy of the weights, until the next loss has vetted them.
  let pending: { at: Position; params: Float32Array } | undefined;

  const save = (path: string, at: Position, params: Float32Array = engine.params): void => {
    if (!params.every(Number.isFinite)) throw diverged(`after ${where(at)} the weights are no longer finite`);
    const header: CheckpointHeader = {
      sizes: engine.shape.sizes, epoch: at.epoch, step: at.step, epochLossSum: at.lossSum, epochCorrect: at.correct,
      trainCount: n, batchSize: batch, optimizer: { kind: 'sgd', lr: cfg.lr }, rng: at.rng, config: cfg, savedAt: new Date().toISOString(),
    };
    writeCheckpoint(path, header, params);
    lastSaved = `${displayPath(path)} (${where(at)})`;
    log.info({ checkpoint: path, epoch: at.epoch, step: at.step }, 'checkpoint saved');
  };
  /** Stop at once on an exploded loss, before any save can store the weights behind it. */
  const vet = (meanLoss: number, what: string): void => {
    if (!(meanLoss <= EXPLODED_LOSS)) {
      progress.clear();
      throw diverged(`${what} is ${meanLoss.toPrecision(3)} per sample (a blind guess scores ln 10 = 2.3)`);
    }
    if (pending && cfg.checkpoint) save(cfg.checkpoint, pending.at, pending.params);
    pending = undefined;
  };
  const diverged = (what: string): Diverged =>
    new Diverged(
      `training diverged: ${what}; the learning rate ${cfg.lr} is probably too high (try ${Number((cfg.lr / 10).toPrecision(3))} or lower); ` +
        (lastSaved ? `kept the last good checkpoint ${lastSaved}` : 'no checkpoint was saved'),
    );
  /**
   * Save where training stands (to a new rescue file without --checkpoint) and say how to go
   * on. A stop asked for by a signal is no error (Stopped); a save that fails is said in the
   * message, and the exit status stays the one of the stop.
   */
  const stopWith = (stopped: string, at: Position, exitCode: number, asked: boolean): UserError => {
    progress.clear();
    const make = (message: string): UserError => (asked ? new Stopped(message, exitCode) : new UserError(message, exitCode));
    let path: string;
    try {
      path = cfg.checkpoint ?? rescuePath();
      save(path, at);
    } catch (e) {
      if (!(e instanceof UserError) || e instanceof Diverged) throw e;
      return make(`${stopped} at ${where(at)}; the checkpoint was not saved: ${e.message}`);
    }
    return make(`${stopped} at ${where(at)}; saved a checkpoint to ${displayPath(path)}; resume with: ${resumeCommand(displayPath(path))}`);
  };

  try {
    let at: Position;
    if (run.resume) {
      engine.params.set(run.resume.params);
      const h = run.resume.header;
      at = { epoch: h.epoch, step: h.step, lossSum: h.epochLossSum, correct: h.epochCorrect, rng: h.rng };
    } else {
      const rng = new Rng(cfg.seed);
      initParams(engine.params, engine.shape, rng);
      at = { epoch: 1, step: 0, lossSum: 0, correct: 0, rng: rng.state() };
    }
    log.info(
      { train: n, test: data.test.count, batchSize: batch, stepsPerEpoch: steps, workers: cfg.workers, hidden: cfg.hidden, lr: cfg.lr, kernels: cfg.kernels,
        ...(run.resume && { resumeFrom: run.resume.path, epoch: at.epoch, step: at.step }) },
      'training',
    );
    const cores = availableParallelism();
    if (cfg.workers > cores) {
      log.warn({ workers: cfg.workers, cores }, `${cfg.workers} workers on ${cores} cores: threads take turns on the cores, which is slower than ${cores} workers (the weights come out the same)`);
    }
    const epochs: EpochRecord[] = [];
    let test: EvalStats | undefined;
    while (at.epoch <= cfg.epochs) {
      const epoch = at.epoch;
      // Shuffling from the state saved before the epoch's shuffle recreates its order, so a run resumed mid-epoch goes on with the same batches.
      const rng = new Rng(at.rng);
      shuffleEpoch(engine.order, rng);
      const firstStep = at.step;
      const t0 = performance.now();
      for (let s = firstStep; s < steps; ) {
        // Steps run in calls of many; a call ends early where a checkpoint is due.
        const globalStep = (epoch - 1) * steps + s;
        const untilSave = cfg.checkpoint && every.unit === 'steps' ? every.count - (globalStep % every.count) : Infinity;
        const count = Math.min(steps - s, run.stepsPerCall ?? stepsPerCall(batch), untilSave);
        let done: StepStats[];
        let failure: StepsFailed | undefined;
        try {
          done = await engine.steps(s * batch, batch, n, count, cfg.lr);
        } catch (e) {
          if (!(e instanceof StepsFailed)) throw e;
          failure = e;
          done = e.completed;
        }
        for (const stats of done) {
          vet(stats.lossSum / stats.samples, `at epoch ${epoch}, step ${s + 1} the mean loss`);
          s++;
          at = { ...at, step: s, lossSum: at.lossSum + stats.lossSum, correct: at.correct + stats.correct };
        }
        // The engine gave up after retries; the failed step wrote only the copy it did not read, so the weights are those of the completed steps.
        if (failure) throw stopWith(`${failure.message}; stopped`, at, failure.exitCode, false);
        if (cfg.checkpoint && every.unit === 'steps' && ((epoch - 1) * steps + at.step) % every.count === 0) {
          pending = { at, params: engine.params.slice() };
        }
        const seen = Math.min(epochSamples, s * batch);
        progress.update(seen, epochSamples, `epoch ${epoch}/${cfg.epochs} loss ${(at.lossSum / seen).toFixed(4)} ${rate(seen - firstStep * batch, t0)} samples/s`);
        const signal = run.stopRequested?.();
        if (signal) throw stopWith(`stopped by ${signal}`, at, exitCodeFor(signal), true);
      }
      const seconds = (performance.now() - t0) / 1000;
      const trained = epochSamples - Math.min(epochSamples, firstStep * batch);
      progress.clear();
      test = await engine.evaluate('test');
      vet(data.test.count > 0 ? test.loss : 0, `after epoch ${epoch} the test loss`); // an empty test set vets nothing
      const record: EpochRecord = {
        epoch, steps, batchSize: batch,
        loss: at.lossSum / epochSamples, trainAcc: at.correct / epochSamples, testLoss: test.loss, testAcc: test.accuracy,
        seconds, samplesPerSec: trained / seconds, msPerStep: (1000 * seconds) / Math.max(1, steps - firstStep), workers: cfg.workers,
      };
      log.info(round(record), 'epoch');
      epochs.push(record);
      run.onEpoch?.(record);
      at = { epoch: epoch + 1, step: 0, lossSum: 0, correct: 0, rng: rng.state() };
      const last = at.epoch > cfg.epochs;
      if (cfg.checkpoint && (last || (every.unit === 'epochs' && epoch % every.count === 0))) save(cfg.checkpoint, at);
      const signal = run.stopRequested?.();
      if (signal && !last) throw stopWith(`stopped by ${signal}`, at, exitCodeFor(signal), true);
    }
    test ??= await engine.evaluate('test');
    return { epochs, test, params: engine.params.slice() };
  } finally {
    progress.clear();
    await engine.close();
  }
}

/**
 * Steps per call to the engine: the workers run them without waking the coordinator, which
 * checks losses, signals and progress between calls; about 16k samples keeps that under a
 * quarter of a second.
 */
export function stepsPerCall(batch: number): number {
  return Math.max(1, Math.min(MAX_STEPS_PER_COMMAND, Math.floor(16384 / batch)));
}

/** Identity then Fisher-Yates: the order depends only on the RNG state, not on the last epoch. */
export function shuffleEpoch(order: Int32Array, rng: Rng): void {
  for (let i = 0; i < order.length; i++) order[i] = i;
  rng.shuffle(order);
}

function rate(samples: number, t0: number): string {
  return Math.round((1000 * samples) / (performance.now() - t0)).toLocaleString('en-US');
}

function round<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v;
  return out as T;
}
