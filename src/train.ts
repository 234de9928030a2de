// The training loop: every epoch reshuffles the sample order with the seeded RNG, walks
// it in mini-batches (or in one full batch), and reports loss and accuracy so that a
// user can stop at a plateau.
import type { TrainConfig } from './config.js';
import { Engine, type EvalStats } from './engine.js';
import { UserError } from './errors.js';
import type { Logger } from './log.js';
import { dataPaths, head, loadMnist, type Dataset } from './mnist.js';
import { initParams } from './model.js';
import { Progress } from './progress.js';
import { Rng } from './rng.js';

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

export function loadDataset(cfg: TrainConfig): Dataset {
  const paths = dataPaths(cfg.dataDir, cfg);
  const data = loadMnist(paths);
  return {
    train: cfg.trainLimit ? head(data.train, cfg.trainLimit) : data.train,
    test: cfg.testLimit ? head(data.test, cfg.testLimit) : data.test,
  };
}

export function batchSizeOf(cfg: TrainConfig, trainCount: number): number {
  return cfg.fullBatch ? trainCount : Math.min(cfg.batchSize, trainCount);
}

export async function train(cfg: TrainConfig, log: Logger, data: Dataset = loadDataset(cfg)): Promise<TrainResult> {
  const engine = new Engine({
    data, hidden: cfg.hidden, workers: cfg.workers, kernels: cfg.kernels, chunk: cfg.chunk,
    onRetry: (attempt, error) => log.warn({ attempt, error: error.message }, 'a worker failed mid-step; retrying the step'),
  });
  const progress = new Progress();
  try {
    const rng = new Rng(cfg.seed);
    initParams(engine.params, engine.shape, rng);
    const n = data.train.count;
    const batch = batchSizeOf(cfg, n);
    const steps = Math.ceil(n / batch);
    log.info({ train: n, test: data.test.count, batchSize: batch, stepsPerEpoch: steps, workers: cfg.workers, hidden: cfg.hidden, lr: cfg.lr, kernels: cfg.kernels }, 'training');
    const epochs: EpochRecord[] = [];
    let test: EvalStats | undefined;
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      shuffleEpoch(engine.order, rng);
      let lossSum = 0;
      let correct = 0;
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) {
        const lo = s * batch;
        const hi = Math.min(n, lo + batch);
        const stats = await engine.step(lo, hi, cfg.lr);
        if (!Number.isFinite(stats.lossSum)) {
          progress.clear();
          throw new UserError(
            `training diverged at epoch ${epoch}, step ${s + 1}: the loss is ${stats.lossSum}; ` +
              `the learning rate ${cfg.lr} is probably too high (try 0.1 or lower)`,
          );
        }
        lossSum += stats.lossSum;
        correct += stats.correct;
        const seen = hi;
        progress.update(seen, n, `epoch ${epoch}/${cfg.epochs} loss ${(lossSum / seen).toFixed(4)} ${rate(seen, t0)} samples/s`);
      }
      const seconds = (performance.now() - t0) / 1000;
      progress.clear();
      test = await engine.evaluate('test');
      const record: EpochRecord = {
        epoch, steps, batchSize: batch,
        loss: lossSum / n, trainAcc: correct / n, testLoss: test.loss, testAcc: test.accuracy,
        seconds, samplesPerSec: n / seconds, msPerStep: (1000 * seconds) / steps, workers: cfg.workers,
      };
      log.info(round(record), 'epoch');
      epochs.push(record);
    }
    return { epochs, test: test!, params: engine.params.slice() };
  } finally {
    progress.clear();
    await engine.close();
  }
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
