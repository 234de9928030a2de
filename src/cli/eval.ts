// `threadgrad eval`: test accuracy and confusion matrix of a saved network, computed by the
// same worker pool as training. The test data defaults to the files the run trained with,
// read as they were (IDX or CSV) and normalised by the model's own fit.
import type { Argv, CommandModule } from 'yargs';
import { readCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { DEFAULTS, configFromFlags, savedConfig } from '../config.js';
import { savedDataUnder } from '../run-settings.js';
import { evaluate, modelOf } from '../index.js';
import { loadTestSet } from '../sources.js';

async function run(argv: Record<string, unknown>): Promise<void> {
  const ckpt = readCheckpoint(argv.checkpoint as string);
  const saved = savedConfig(ckpt);
  // Only the flags given now: the run's own --test-limit would make eval silently partial.
  const given = configFromFlags({ ...argv, checkpoint: undefined });
  const source = { ...savedDataUnder(saved, given), ...given, testLimit: given.testLimit };
  const model = modelOf(ckpt);
  const { test, where } = await loadTestSet(source, model.input, model.sizes[model.sizes.length - 1]);
  const cfg = { ...saved, ...given };
  const stats = await evaluate(model, test, cfg);
  const correct = Math.round(stats.accuracy * test.count);
  process.stdout.write(
    `${describeCheckpoint(ckpt)}\n` +
      `test accuracy ${(100 * stats.accuracy).toFixed(2)}% (${correct}/${test.count}), mean loss ${stats.loss.toFixed(4)}, on ${where}\n\n` +
      formatConfusion(stats.confusion),
  );
}

export function describeCheckpoint({ path, header: h }: Checkpoint): string {
  const progress = h.step === 0 ? `${h.epoch - 1} epoch(s) trained` : `stopped in epoch ${h.epoch} after ${h.step} step(s)`;
  return `checkpoint ${path}: ${h.sizes.join('-')} network, ${progress}, saved ${h.savedAt}`;
}

/** Rows are the true classes, columns the predicted ones; the last column is each class's recall. */
export function formatConfusion(confusion: Int32Array): string {
  const classes = Math.round(Math.sqrt(confusion.length));
  const cell = (v: string | number): string => String(v).padStart(6);
  const all = Array.from({ length: classes }, (_, d) => d);
  const lines = ['confusion matrix (rows: true class, columns: predicted class)', `${cell('true')}${all.map(cell).join('')}  recall`];
  for (const truth of all) {
    const row = confusion.subarray(truth * classes, (truth + 1) * classes);
    const total = row.reduce((a, b) => a + b, 0);
    const recall = total === 0 ? '     -' : `${((100 * row[truth]) / total).toFixed(1).padStart(6)}%`;
    lines.push(`${cell(truth)}${Array.from(row, cell).join('')}  ${recall}`);
  }
  return lines.join('\n') + '\n';
}

export const evalCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'eval',
  describe: 'report test accuracy and the confusion matrix of a checkpoint',
  builder: (y) =>
    y
      .option('checkpoint', { describe: 'checkpoint file written by `threadgrad train --checkpoint`', requiresArg: true, type: 'string', demandOption: true })
      .option('data-dir', { describe: 'folder with the test IDX files, or test.csv (default: the data the checkpoint trained with)', requiresArg: true })
      .option('test-images', { describe: 'test images IDX file', requiresArg: true })
      .option('test-labels', { describe: 'test labels IDX file', requiresArg: true })
      .option('test-csv', { describe: 'test CSV file (the label column as in training)', requiresArg: true })
      .option('test-limit', { describe: 'use only the first N test samples', requiresArg: true })
      .option('workers', { describe: `worker threads [default: as trained, else ${DEFAULTS.workers}]`, requiresArg: true })
      .example('$0 eval --checkpoint runs/mnist.ckpt', 'accuracy on the test set the run used') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
