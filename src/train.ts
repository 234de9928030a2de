// The training API: every epoch reshuffles the sample order with the seeded RNG, walks it
// in mini-batches (or in one full batch) on the engine, evaluates on the validation set,
// and stops at the plateau (early-stopping.ts) or after --epochs; the test set is reported
// at the end. Checkpoints (run-saves.ts) make any stop resumable. No terminal and no
// process signals here: the command line (cli/train.ts) draws progress from onProgress and
// turns Ctrl-C into an aborted signal.
import { availableParallelism } from 'node:os';
import { pino, type Logger } from 'pino';
import { checkResumable, checkWritable, type Checkpoint } from './model/checkpoint.js';
import type { TrainConfig } from './config.js';
import { EarlyStopping } from './early-stopping.js';
import { Engine, StepsFailed, type EvalStats, type StepStats } from './parallel/engine.js';
import { batchSizeOf, checkSameOptimizer, checkSameSync, optimizerOf, scheduleOf, stepsPerEpoch, syncOf, testSteps } from './run-settings.js';
import { UserError } from './util/errors.js';
import { displayPath } from './util/files.js';
import { RunSaves, type Position } from './run-saves.js';
import { describe, type Dataset } from './data/dataset.js';
import { loadDataset } from './sources.js';
import { initParams } from './model/model.js';
import { lrAt } from './model/optimizer.js';
import { Rng } from './util/rng.js';

export interface EpochRecord {
  epoch: number;
  steps: number;
  batchSize: number;
  /** Mean training loss and accuracy over the epoch's batches (as the weights moved). */
  loss: number;
  trainAcc: number;
  /** On the validation set, when there is one. */
  valLoss?: number;
  valAcc?: number;
  /** On the test set, with testEachEpoch. */
  testLoss?: number;
  testAcc?: number;
  /** The learning rate of the epoch's last step. */
  lr: number;
  /** Training time of the epoch, evaluation excluded. */
  seconds: number;
  samplesPerSec: number;
  msPerStep: number;
  workers: number;
}

export interface TrainResult {
  epochs: EpochRecord[];
  /** The test set, on the weights returned; not evaluated when the run was aborted. */
  test?: EvalStats;
  /** A copy of the weights the run returns: the best epoch's where early stopping kept one, else the last. */
  params: Float32Array;
  stop: {
    /** Why the run ended: "validation loss no better for 5 epochs", "the last of --epochs 100", or "stopped by SIGINT at epoch 2, step 7 of 30; saved a checkpoint to run.ckpt". */
    reason: string;
    /** The last epoch trained through, and the one whose weights are returned where early stopping chose. */
    epoch: number;
    bestEpoch?: number;
    /** The signal's reason, when the run was aborted through it. */
    aborted?: string;
    /** Where an aborted run saved, if it could: it resumes from there. */
    checkpoint?: string;
  };
}

/** A test evaluation inside the run (testEvery): for measuring time to accuracy. */
export interface TestPoint {
  /** Epochs trained, e.g. 2.25. */
  epoch: number;
  /** Steps trained since the run began. */
  step: number;
  /** Training seconds since the run began: shuffles and steps, no evaluation. */
  seconds: number;
  testAcc: number;
  testLoss: number;
}

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

export interface RunOptions {
  /** The data set, validation set included and normalised (see sources.ts prepare); loaded from the settings when not given. */
  data?: Dataset;
  /** Structured logs (a pino logger); silent when not given. */
  log?: Logger;
  /** Continue from this checkpoint instead of initialising; the settings must already hold its own (see cli/train.ts). */
  resume?: Checkpoint;
  /**
   * Aborting it stops the run after the steps in flight: train saves a checkpoint and
   * returns, with stop.aborted set to the signal's reason (e.g. 'SIGINT'). Looked at after
   * every call of steps and every epoch.
   */
  signal?: AbortSignal;
  /** Where a run without a checkpoint setting saves when it stops early; without it, nothing is saved. */
  rescuePath?: () => string;
  /** Called after each epoch's evaluation. */
  onEpoch?: (record: EpochRecord) => void;
  /** Called after every call of steps. */
  onProgress?: (progress: TrainProgress) => void;
  /** Evaluate the test set this many times an epoch, after steps round(j * S / testEvery), and report each to onTest. */
  testEvery?: number;
  onTest?: (point: TestPoint) => void;
  /** At most this many steps per engine call, between which the signal is looked at (the engine's stepsPerCall bounds it too). */
  stepsPerCall?: number;
}

export async function train(cfg: TrainConfig, run: RunOptions = {}): Promise<TrainResult> {
  const log = run.log ?? pino({ level: 'silent' });
  let data = run.data ?? (await loadDataset(cfg));
  if (data.train.count === 0 || data.test.count === 0) throw new UserError(`the ${data.train.count === 0 ? 'training' : 'test'} set holds no samples`);
  const n = data.train.count;
  const batch = batchSizeOf(cfg, n);
  const steps = stepsPerEpoch(cfg, n);
  /** Samples an epoch trains on: all n, or the whole batches of them with dropLast. */
  const epochSamples = Math.min(n, steps * batch);
  const schedule = scheduleOf(cfg, steps);
  if (cfg.lrSchedule === 'one-cycle' && schedule.warmupSteps > 0) throw new UserError('--warmup does not apply to --lr-schedule one-cycle, which rises from lr/25 over its first 30% on its own', 2);
  const sizes = [data.train.features, ...cfg.hidden, data.classes];
  const sync = syncOf(cfg);
  if (run.resume) {
    checkResumable(run.resume, sizes, data.input, n, batch);
    checkSameSync(run.resume, cfg);
    checkSameOptimizer(run.resume, cfg);
  }
  const replacing = cfg.checkpoint !== undefined && checkWritable(cfg.checkpoint) && !run.resume;
  if (cfg.patience > 0 && !data.val) log.warn('early stopping needs a validation set (--val-split above 0); training all --epochs');
  const early = cfg.patience > 0 && data.val
    ? new EarlyStopping(cfg.monitor, cfg.patience, cfg.minDelta, run.resume?.header.early, run.resume?.best)
    : undefined;
  const engine = new Engine({
    data, hidden: cfg.hidden, workers: cfg.workers, kernels: cfg.kernels, chunk: cfg.chunk, optimizer: optimizerOf(cfg), schedule, sync,
    onRetry: (attempt, error) => log.warn({ attempt, error: error.message }, 'a worker failed mid-step; retrying the step'),
  });
  data = engine.data; // the engine's copy; the loaded pixels can be freed unless the caller keeps them
  const saves = new RunSaves({ cfg, engine, data, trainCount: n, batch, steps, early, log, resumed: run.resume });
  const stopRequested = (): string | undefined => (run.signal?.aborted ? String(run.signal.reason ?? 'abort') : undefined);

  try {
    await engine.ready(); // the pool's start-up is not training time
    if (replacing) log.warn({ checkpoint: cfg.checkpoint }, `${displayPath(cfg.checkpoint!)} holds a checkpoint of an earlier run, which this run's saves will replace`);
    let at: Position;
    if (run.resume) {
      const { header: h, params, state } = run.resume;
      engine.params.set(params);
      engine.state.set(state);
      at = { epoch: h.epoch, step: h.step, lossSum: h.epochLossSum, correct: h.epochCorrect, rng: h.rng, stepsDone: h.stepsDone };
    } else {
      const rng = new Rng(cfg.seed);
      initParams(engine.params, engine.shape, rng);
      at = { epoch: 1, step: 0, lossSum: 0, correct: 0, rng: rng.state(), stepsDone: 0 };
    }
    log.info(
      { train: n, val: data.val?.count ?? 0, test: data.test.count, input: describe(data.input), classes: data.classes, batchSize: batch, stepsPerEpoch: steps, workers: cfg.workers, hidden: cfg.hidden,
        optimizer: cfg.optimizer, lr: cfg.lr, lrSchedule: cfg.lrSchedule, sync: cfg.sync, kernels: cfg.kernels, ...(run.resume && { resumeFrom: run.resume.path, epoch: at.epoch, step: at.step }) },
      'training',
    );
    const cores = availableParallelism();
    if (cfg.workers > cores) {
      log.warn({ workers: cfg.workers, cores }, `${cfg.workers} workers on ${cores} cores: threads take turns on the cores, which is slower than ${cores} workers (the weights come out the same)`);
    }
    const abortedBefore = stopRequested();
    if (abortedBefore) return { epochs: [], params: engine.params.slice(), stop: { reason: `stopped by ${abortedBefore} before the first step; nothing was saved`, epoch: at.epoch - 1, aborted: abortedBefore } };
    const testAfter = new Set(testSteps(steps, run.testEvery ?? 0));
    let clockMs = 0; // training time of the run: shuffles and steps, no evaluation
    const epochs: EpochRecord[] = [];
    let finished: string | undefined;
    let aborted: string | undefined;
    while (at.epoch <= cfg.epochs && !early?.plateau) {
      const epoch = at.epoch;
      const t0 = performance.now();
      let evalMs = 0;
      // Shuffling from the state saved before the epoch's shuffle recreates its order, so a run resumed mid-epoch goes on with the same batches.
      const rng = new Rng(at.rng);
      rng.permute(engine.order);
      const firstStep = at.step;
      // A call ends early where a checkpoint every N steps is due, or a test point.
      const callLimit = (s: number): number => {
        const untilSave = saves.stepsUntilSave(at.stepsDone + s - at.step);
        const untilTest = testAfter.size > 0 ? Math.min(...[...testAfter].filter((t) => t > s)) - s : Infinity;
        return Math.min(run.stepsPerCall ?? Infinity, untilSave, untilTest);
      };
      const afterCall = async (done: StepStats[]): Promise<boolean> => {
        const [before, doneBefore] = [at.step, at.stepsDone];
        for (const stats of done) {
          saves.vet(stats.lossSum / stats.samples, `at epoch ${epoch}, step ${at.step + 1} the mean loss`);
          at = { ...at, step: at.step + 1, stepsDone: at.stepsDone + 1, lossSum: at.lossSum + stats.lossSum, correct: at.correct + stats.correct };
        }
        saves.afterSteps(doneBefore, at);
        const seen = Math.min(epochSamples, at.step * batch);
        const samplesPerSec = (1000 * (seen - firstStep * batch)) / (performance.now() - t0 - evalMs);
        run.onProgress?.({ epoch, epochs: cfg.epochs, samples: seen, epochSamples, loss: at.lossSum / seen, samplesPerSec });
        if ([...testAfter].some((t) => t > before && t <= at.step)) {
          const e0 = performance.now();
          const seconds = (clockMs + e0 - t0 - evalMs) / 1000;
          const test = await engine.evaluate('test');
          run.onTest?.({ epoch: epoch - 1 + at.step / steps, step: at.stepsDone, seconds, testAcc: test.accuracy, testLoss: test.loss });
          evalMs += performance.now() - e0;
        }
        aborted = stopRequested();
        return !aborted;
      };
      try {
        await engine.runSteps({ batch, from: firstStep, to: steps, end: n, lr: cfg.lr, stepsBefore: at.stepsDone, callLimit }, afterCall);
      } catch (e) {
        // The engine gave up after retries; the failed step wrote only the copy it did not read, so the weights are those of the completed steps
        // (under hogwild, which has one copy, with the failed batch's update as far as it got).
        if (!(e instanceof StepsFailed)) throw e;
        const { message, checkpoint } = saves.saveOnStop(`${e.message}; stopped`, at, run.rescuePath);
        throw new UserError(message, e.exitCode, checkpoint);
      }
      if (aborted) break;
      const seconds = (performance.now() - t0 - evalMs) / 1000;
      clockMs += 1000 * seconds;
      const trained = epochSamples - Math.min(epochSamples, firstStep * batch);
      const record: EpochRecord = {
        epoch, steps, batchSize: batch, loss: at.lossSum / epochSamples, trainAcc: at.correct / epochSamples, lr: lrAt(schedule, cfg.lr, at.stepsDone),
        seconds, samplesPerSec: trained / seconds, msPerStep: (1000 * seconds) / Math.max(1, steps - firstStep), workers: cfg.workers,
      };
      if (data.val) {
        const val = await engine.evaluate('val');
        saves.vet(val.loss, `after epoch ${epoch} the validation loss`);
        [record.valLoss, record.valAcc] = [val.loss, val.accuracy];
        early?.update(epoch, val, engine.params);
      } else {
        saves.vet(record.loss, `in epoch ${epoch} the mean training loss`);
      }
      if (cfg.testEachEpoch) {
        const test = await engine.evaluate('test');
        [record.testLoss, record.testAcc] = [test.loss, test.accuracy];
      }
      log.info(round(record), 'epoch');
      epochs.push(record);
      run.onEpoch?.(record);
      at = { ...at, epoch: epoch + 1, step: 0, lossSum: 0, correct: 0, rng: rng.state() };
      finished = early?.plateau ? early.reason : at.epoch > cfg.epochs ? `the last of --epochs ${cfg.epochs}` : undefined;
      saves.afterEpoch(epoch, at, finished);
      if (!finished) aborted = stopRequested();
      if (aborted) break;
    }
    const best = early && { bestEpoch: early.state.bestEpoch };
    if (aborted) {
      const { message, checkpoint } = saves.saveOnStop(`stopped by ${aborted}`, at, run.rescuePath);
      return { epochs, params: (early?.bestParams ?? engine.params).slice(), stop: { reason: message, epoch: at.epoch - 1, ...best, aborted, checkpoint } };
    }
    // Early stopping returns the best epoch's weights; the checkpoint keeps them beside the last ones, which a longer run would go on from.
    if (early?.bestParams) engine.params.set(early.bestParams);
    return {
      epochs, test: await engine.evaluate('test'), params: engine.params.slice(),
      stop: { reason: finished ?? (early?.plateau ? early.reason : `the last of --epochs ${cfg.epochs}`), epoch: at.epoch - 1, ...best },
    };
  } finally {
    await engine.close();
  }
}

function round<T extends object>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v;
  return out as T;
}
