// What a training run saves, and what it refuses to save. A checkpoint is only written of
// weights that a loss has vetted: a step's loss measures the weights from before its
// update, so a save due after a step waits, with a copy of the weights, until the next
// loss. A loss that has exploded stops the run at once and leaves the last good checkpoint
// as it was. A stop (Ctrl-C, a worker that keeps failing) saves where the run stands, its
// last update not yet vetted: the resumed run's first loss vets it.
import type { Logger } from 'pino';
import { parseCheckpointEvery, type CheckpointEvery, type TrainConfig } from './config.js';
import type { Dataset } from './data/dataset.js';
import type { EarlyStopping } from './early-stopping.js';
import { writeCheckpoint, type Checkpoint } from './model/checkpoint.js';
import type { Engine } from './parallel/engine.js';
import { Diverged, UserError } from './util/errors.js';
import { displayPath } from './util/files.js';
import type { RngState } from './util/rng.js';

/** Where training stands: the epoch to continue, its steps done and their sums, the RNG state before its shuffle, and the steps of the run. */
export interface Position {
  epoch: number;
  step: number;
  lossSum: number;
  correct: number;
  rng: RngState;
  stepsDone: number;
}

/**
 * A batch whose mean cross-entropy exceeds this has logits ~100 apart on wrong answers:
 * the weights have blown up. Too high a learning rate rarely reaches NaN: the ReLUs die
 * first and the loss settles at a finite, useless value, so NaN alone would miss it.
 * Healthy runs stay below 10.
 */
const EXPLODED_LOSS = 100;

export interface RunSavesOptions {
  cfg: TrainConfig;
  engine: Engine;
  data: Dataset;
  /** Training samples, batch size and steps of an epoch, as the checkpoint records them. */
  trainCount: number;
  batch: number;
  steps: number;
  early?: EarlyStopping;
  log: Logger;
  /** The checkpoint the run resumed from: the last good one until the run saves. */
  resumed?: Checkpoint;
}

export class RunSaves {
  /** The last checkpoint written or resumed from, and where it stands, for messages. */
  private lastSaved: string | undefined;
  private pending: { at: Position; params: Float32Array; state: Float32Array } | undefined;
  /** When --checkpoint is saved to besides at the end. */
  private readonly every: CheckpointEvery;

  constructor(private readonly o: RunSavesOptions) {
    this.lastSaved = o.resumed && `${displayPath(o.resumed.path)} (${this.where(o.resumed.header)})`;
    this.every = (o.cfg.checkpoint !== undefined && parseCheckpointEvery(o.cfg.checkpointEvery)) || { unit: 'end' };
  }

  /** Steps of the run from `stepsDone` to the next save due every N steps (a call of steps ends there). */
  stepsUntilSave(stepsDone: number): number {
    return this.every.unit === 'steps' ? this.every.count - (stepsDone % this.every.count) : Infinity;
  }

  /** After a call of steps: a save due every N steps within it is made at its end (local SGD's calls end on whole rounds), once vetted. */
  afterSteps(stepsDoneBefore: number, at: Position): void {
    if (this.every.unit === 'steps' && Math.floor(at.stepsDone / this.every.count) > Math.floor(stepsDoneBefore / this.every.count)) this.saveAfterVetting(at);
  }

  /** After epoch `epoch`'s evaluation, `at` the start of the next: the save due every N epochs, or the last one where the run `finished`. */
  afterEpoch(epoch: number, at: Position, finished: string | undefined): void {
    const { checkpoint } = this.o.cfg;
    if (checkpoint && (finished || (this.every.unit === 'epochs' && epoch % this.every.count === 0))) this.save(checkpoint, at, undefined, undefined, finished);
  }

  private where(at: { epoch: number; step: number }): string {
    return at.step === 0 ? `the start of epoch ${at.epoch}` : `epoch ${at.epoch}, step ${at.step} of ${this.o.steps}`;
  }

  /** Writes a checkpoint of `at` (the engine's weights unless others are given); `finished` says the run ended there, and why. */
  save(path: string, at: Position, params = this.o.engine.params, state = this.o.engine.state, finished?: string): void {
    const { cfg, engine, data, early, log } = this.o;
    if (!params.every(Number.isFinite)) throw this.diverged(`after ${this.where(at)} the weights are no longer finite`);
    writeCheckpoint(path, {
      header: {
        sizes: engine.shape.sizes, input: data.input, epoch: at.epoch, step: at.step, epochLossSum: at.lossSum, epochCorrect: at.correct,
        trainCount: this.o.trainCount, batchSize: this.o.batch, stepsDone: at.stepsDone, rng: at.rng,
        early: early?.state ?? { bestEpoch: 0, best: 0, badEpochs: 0 }, ...(finished && { finished }),
        config: { ...cfg }, savedAt: new Date().toISOString(),
      },
      params, state, best: early?.bestParams ?? new Float32Array(0),
    });
    this.lastSaved = `${displayPath(path)} (${this.where(at)})`;
    log.info({ checkpoint: path, epoch: at.epoch, step: at.step }, 'checkpoint saved');
  }

  /** A save to --checkpoint is due at `at`: it is made, of a copy of the weights now, once the next loss vets them. */
  private saveAfterVetting(at: Position): void {
    this.pending = { at, params: this.o.engine.params.slice(), state: this.o.engine.state.slice() };
  }

  /** Stops the run at once on an exploded loss, before any save can store the weights behind it; else makes the save that waited for it. */
  vet(meanLoss: number, what: string): void {
    const { classes } = this.o.data;
    if (!(meanLoss <= EXPLODED_LOSS)) throw this.diverged(`${what} is ${meanLoss.toPrecision(3)} per sample (a blind guess scores ln ${classes} = ${Math.log(classes).toFixed(2)})`);
    const { cfg } = this.o;
    if (this.pending && cfg.checkpoint) this.save(cfg.checkpoint, this.pending.at, this.pending.params, this.pending.state);
    this.pending = undefined;
  }

  private diverged(what: string): Diverged {
    const { cfg, data } = this.o;
    return new Diverged(
      `training diverged: ${what}; the learning rate ${cfg.lr} is probably too high (try ${Number((cfg.lr / 10).toPrecision(3))} or lower)` +
        (data.input.kind === 'floats' && !data.input.normalize ? ', or the features need scaling (--normalize standard)' : '') + '; ' +
        (this.lastSaved ? `kept the last good checkpoint ${this.lastSaved}` : 'no checkpoint was saved'),
    );
  }

  /**
   * Saves where training stands on the way out (to the rescue path without a checkpoint
   * setting) and says what became of it; a save that fails is said, and the stop stays what it was.
   */
  saveOnStop(stopped: string, at: Position, rescuePath?: () => string): { message: string; checkpoint?: string } {
    const path = this.o.cfg.checkpoint ?? rescuePath;
    const where = this.where(at);
    if (path === undefined) return { message: `${stopped} at ${where}; no checkpoint was saved (no checkpoint path was set)` };
    let saved: string;
    try {
      saved = typeof path === 'string' ? path : path();
      this.save(saved, at);
    } catch (e) {
      if (!(e instanceof UserError) || e instanceof Diverged) throw e;
      return { message: `${stopped} at ${where}; the checkpoint was not saved: ${e.message}` };
    }
    return { message: `${stopped} at ${where}; saved a checkpoint to ${displayPath(saved)}`, checkpoint: displayPath(saved) };
  }
}
