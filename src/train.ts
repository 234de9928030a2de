// The training API: every epoch reshuffles the sample order with the seeded RNG, walks it
// in mini-batches (or in one full batch) on the engine, evaluates, and reports loss and
// accuracy so that a user can stop at a plateau; checkpoints make any stop resumable. No
// terminal and no process signals here: the command line (cli/train.ts) draws progress from
// onProgress and turns Ctrl-C into an aborted signal.
import { availableParallelism } from 'node:os';
import { pino, type Logger } from 'pino';
import { checkResumable, checkWritable, writeCheckpoint, type Checkpoint, type CheckpointHeader } from './model/checkpoint.js';
import { parseCheckpointEvery, type TrainConfig } from './config.js';
import { Engine, StepsFailed, type EvalStats, type StepStats } from './parallel/engine.js';
import { Diverged, Stopped, UserError } from './util/errors.js';
import { displayPath } from './util/files.js';
import { dataPaths, head, loadMnist, type Dataset } from './data/mnist.js';
import { initParams, modelShape } from './model/model.js';
import { Rng, type RngState } from './model/rng.js';

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

/** Where a run is, for a progress display: after every call of steps. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Samples of the epoch trained so far, of `epochSamples`. */
  samples: number;
  epochSamples: number;
  /** Mean training loss of the epoch so far. */
  loss: number;
  /** Samples per second since the epoch (or the resumed run) began. */
  samplesPerSec: number;
}

export interface TrainOptions {
  /** The data set; loaded from the settings when not given. */
  data?: Dataset;
  /** Structured logs (a pino logger); silent when not given. */
  log?: Logger;
  /** Continue from this checkpoint instead of initialising; the settings must already hold its own (see cli/train.ts). */
  resume?: Checkpoint;
  /**
   * Aborting it stops the run after the steps in flight with a checkpoint, and train throws
   * Stopped; its reason (e.g. 'SIGINT') names the stop. Looked at after every call of steps
   * and every epoch.
   */
  signal?: AbortSignal;
  /** Where a run without a checkpoint setting saves when it stops early; without it, nothing is saved. */
  rescuePath?: () => string;
  /** Called after each epoch's evaluation. */
  onEpoch?: (record: EpochRecord) => void;
  /** Called after every call of steps. */
  onProgress?: (progress: TrainProgress) => void;
  /** Steps per engine call, between which the signal is looked at; default stepsPerCall(batch). */
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

export async function train(cfg: TrainConfig, run: TrainOptions = {}): Promise<TrainResult> {
  const log = run.log ?? pino({ level: 'silent' });
  let data = run.data ?? (await loadDataset(cfg));
  if (data.train.count === 0 || data.test.count === 0) throw new UserError(`the ${data.train.count === 0 ? 'training' : 'test'} set holds no samples`);
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
      trainCount: n, batchSize: batch, optimizer: { kind: 'sgd', lr: cfg.lr }, rng: at.rng, config: { ...cfg }, savedAt: new Date().toISOString(),
    };
    writeCheckpoint(path, header, params);
    lastSaved = `${displayPath(path)} (${where(at)})`;
    log.info({ checkpoint: path, epoch: at.epoch, step: at.step }, 'checkpoint saved');
  };
  /** Stop at once on an exploded loss, before any save can store the weights behind it. */
  const vet = (meanLoss: number, what: string): void => {
    if (!(meanLoss <= EXPLODED_LOSS)) throw diverged(`${what} is ${meanLoss.toPrecision(3)} per sample (a blind guess scores ln 10 = 2.3)`);
    if (pending && cfg.checkpoint) save(cfg.checkpoint, pending.at, pending.params);
    pending = undefined;
  };
  const diverged = (what: string): Diverged =>
    new Diverged(
      `training diverged: ${what}; the learning rate ${cfg.lr} is probably too high (try ${Number((cfg.lr / 10).toPrecision(3))} or lower); ` +
        (lastSaved ? `kept the last good checkpoint ${lastSaved}` : 'no checkpoint was saved'),
    );
  /**
   * Save where training stands (to the rescue path without a checkpoint setting) and say so.
   * A stop asked for through the signal is no error (Stopped); a save that fails is said in
   * the message, and the stop stays what it was.
   */
  const stopWith = (stopped: string, at: Position, exitCode: number, reason?: string): UserError => {
    const make = (message: string, checkpoint?: string): UserError =>
      reason ? new Stopped(message, reason, checkpoint) : new UserError(message, exitCode, checkpoint);
    const path = cfg.checkpoint ?? run.rescuePath;
    if (path === undefined) return make(`${stopped} at ${where(at)}; no checkpoint was saved (no checkpoint path was set)`);
    let saved: string;
    try {
      saved = typeof path === 'string' ? path : path();
      save(saved, at);
    } catch (e) {
      if (!(e instanceof UserError) || e instanceof Diverged) throw e;
      return make(`${stopped} at ${where(at)}; the checkpoint was not saved: ${e.message}`);
    }
    return make(`${stopped} at ${where(at)}; saved a checkpoint to ${displayPath(saved)}`, displayPath(saved));
  };
  const stopRequested = (): string | undefined => (run.signal?.aborted ? String(run.signal.reason ?? 'abort') : undefined);

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
      rng.permute(engine.order);
      const firstStep = at.step;
      const t0 = performance.now();
      // A call ends early where a checkpoint every N steps is due.
      const callLimit = (s: number): number => {
        const untilSave = cfg.checkpoint && every.unit === 'steps' ? every.count - (((epoch - 1) * steps + s) % every.count) : Infinity;
        return Math.min(run.stepsPerCall ?? Infinity, untilSave);
      };
      const afterCall = (done: StepStats[]): void => {
        for (const stats of done) {
          vet(stats.lossSum / stats.samples, `at epoch ${epoch}, step ${at.step + 1} the mean loss`);
          at = { ...at, step: at.step + 1, lossSum: at.lossSum + stats.lossSum, correct: at.correct + stats.correct };
        }
        if (cfg.checkpoint && every.unit === 'steps' && ((epoch - 1) * steps + at.step) % every.count === 0) {
          pending = { at, params: engine.params.slice() };
        }
        const seen = Math.min(epochSamples, at.step * batch);
        const samplesPerSec = (1000 * (seen - firstStep * batch)) / (performance.now() - t0);
        run.onProgress?.({ epoch, epochs: cfg.epochs, samples: seen, epochSamples, loss: at.lossSum / seen, samplesPerSec });
        const reason = stopRequested();
        if (reason) throw stopWith(`stopped by ${reason}`, at, 1, reason);
      };
      try {
        await engine.runSteps({ batch, from: firstStep, to: steps, end: n, lr: cfg.lr, callLimit }, afterCall);
      } catch (e) {
        // The engine gave up after retries; the failed step wrote only the copy it did not read, so the weights are those of the completed steps.
        if (e instanceof StepsFailed) throw stopWith(`${e.message}; stopped`, at, e.exitCode);
        throw e;
      }
      const seconds = (performance.now() - t0) / 1000;
      const trained = epochSamples - Math.min(epochSamples, firstStep * batch);
      test = await engine.evaluate('test');
      vet(test.loss, `after epoch ${epoch} the test loss`);
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
      const reason = stopRequested();
      if (reason && !last) throw stopWith(`stopped by ${reason}`, at, 1, reason);
    }
    test ??= await engine.evaluate('test');
    return { epochs, test, params: engine.params.slice() };
  } finally {
    await engine.close();
  }
}

function round<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v;
  return out as T;
}
