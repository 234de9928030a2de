// `threadgrad eval`: test accuracy and confusion matrix of a saved network, computed by the
// same worker pool as training. The test data defaults to the files the run trained with.
import type { Argv, CommandModule } from 'yargs';
import { modelParams, readCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { DEFAULTS, configFromFlags, savedConfig } from '../config.js';
import { Engine } from '../parallel/engine.js';
import { UserError } from '../util/errors.js';
import { CLASSES, dataPaths, head, loadSplit, type Split } from '../data/mnist.js';

async function run(argv: Record<string, unknown>): Promise<void> {
  const ckpt = readCheckpoint(argv.checkpoint as string);
  const saved = savedConfig(ckpt);
  // Only the flags given now: the run's own --test-limit would make eval silently partial.
  const given = configFromFlags({ ...argv, checkpoint: undefined });
  const cfg = { ...saved, testLimit: undefined, ...given };
  // Data named now replaces all of the saved data settings, not just the ones it names.
  const source = given.dataDir || given.testImages || given.testLabels ? given : saved;
  const paths = dataPaths(source.dataDir, source);
  const all = await loadSplit(paths.testImages, paths.testLabels);
  const test = cfg.testLimit ? head(all, cfg.testLimit) : all;
  checkFits(test, ckpt, paths.testLabels);
  const engine = new Engine({
    data: { train: emptySplit(), test }, hidden: ckpt.header.sizes.slice(1, -1),
    workers: cfg.workers, kernels: cfg.kernels, chunk: cfg.chunk,
  });
  try {
    engine.params.set(modelParams(ckpt));
    const stats = await engine.evaluate('test');
    const correct = Math.round(stats.accuracy * test.count);
    process.stdout.write(
      `${describeCheckpoint(ckpt)}\n` +
        `test accuracy ${(100 * stats.accuracy).toFixed(2)}% (${correct}/${test.count}), mean loss ${stats.loss.toFixed(4)}, on ${paths.testImages}\n\n` +
        formatConfusion(stats.confusion),
    );
  } finally {
    await engine.close();
  }
}

export function describeCheckpoint({ path, header: h }: Checkpoint): string {
  const progress = h.step === 0 ? `${h.epoch - 1} epoch(s) trained` : `stopped in epoch ${h.epoch} after ${h.step} step(s)`;
  return `checkpoint ${path}: ${h.sizes.join('-')} network, ${progress}, saved ${h.savedAt}`;
}

/** Rows are the true digits, columns the predicted ones; the last column is each digit's recall. */
export function formatConfusion(confusion: Int32Array): string {
  const cell = (v: string | number): string => String(v).padStart(6);
  const digits = Array.from({ length: CLASSES }, (_, d) => d);
  const lines = ['confusion matrix (rows: true digit, columns: predicted digit)', `${cell('true')}${digits.map(cell).join('')}  recall`];
  for (const truth of digits) {
    const row = confusion.subarray(truth * CLASSES, (truth + 1) * CLASSES);
    const total = row.reduce((a, b) => a + b, 0);
    const recall = total === 0 ? '     -' : `${((100 * row[truth]) / total).toFixed(1).padStart(6)}%`;
    lines.push(`${cell(truth)}${Array.from(row, cell).join('')}  ${recall}`);
  }
  return lines.join('\n') + '\n';
}

/** The model answers as many classes as its last layer has outputs: a label past them is data of another task. */
function checkFits(split: Split, ckpt: Checkpoint, labelsPath: string): void {
  const classes = ckpt.header.sizes[ckpt.header.sizes.length - 1];
  const bad = split.labels.findIndex((l) => l >= classes);
  if (bad >= 0) throw new UserError(`${labelsPath}: label ${split.labels[bad]} at index ${bad}, but the model of ${ckpt.path} knows ${classes} classes (0-${classes - 1})`);
}

function emptySplit(): Split {
  return { images: new Uint8Array(new SharedArrayBuffer(0)), labels: new Uint8Array(new SharedArrayBuffer(0)), count: 0 };
}

export const evalCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'eval',
  describe: 'report test accuracy and the confusion matrix of a checkpoint',
  builder: (y) =>
    y
      .option('checkpoint', { describe: 'checkpoint file written by `threadgrad train --checkpoint`', requiresArg: true, type: 'string', demandOption: true })
      .option('data-dir', { describe: 'folder with the MNIST IDX files (default: the data the checkpoint trained with)', requiresArg: true })
      .option('test-images', { describe: 'test images IDX file', requiresArg: true })
      .option('test-labels', { describe: 'test labels IDX file', requiresArg: true })
      .option('test-limit', { describe: 'use only the first N test samples', requiresArg: true })
      .option('workers', { describe: `worker threads [default: as trained, else ${DEFAULTS.workers}]`, requiresArg: true })
      .example('$0 eval --checkpoint runs/mnist.ckpt', 'accuracy on the MNIST test set') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
