// `threadgrad compare-batching`: full-batch against mini-batch training in the same time
// budget and the same number of passes; prints a table and writes JSON and an SVG curve.
import type { Argv, CommandModule } from 'yargs';
import { compareBatching, formatComparison, writeComparison, type CompareOptions } from '../bench/compare-batching.js';
import { checkOutputFolder } from '../util/files.js';
import { loadDataset } from '../sources.js';
import { intAtLeast, positive } from '../util/values.js';
import { commandLogger, settingOptions, settingsOf } from './options.js';

async function run(argv: Record<string, unknown>): Promise<void> {
  const cfg = settingsOf(argv);
  const budgetSec = positive(argv.budget, '--budget') as number;
  const opts: CompareOptions = {
    hidden: cfg.hidden, kernels: cfg.kernels, chunk: cfg.chunk, seed: cfg.seed, workers: cfg.workers,
    miniBatch: cfg.batchSize, miniLr: cfg.lr, fullLr: positive(argv.fullBatchLr, '--full-batch-lr') as number,
    budgetSec, passes: intAtLeast('passes', argv.passes, 1),
    evalEverySec: argv.evalEvery === undefined ? budgetSec / 15 : positive(argv.evalEvery, '--eval-every') as number,
  };
  checkOutputFolder(String(argv.out), 'comparison results');
  const log = commandLogger();
  const data = await loadDataset({ ...cfg, valSplit: 0 }); // measures and compares training on every sample
  log.info({ ...opts, train: data.train.count, test: data.test.count }, 'comparing full batch and mini-batch');
  const results = await compareBatching(data, opts);
  const written = writeComparison(results, { ...opts, train: data.train.count, test: data.test.count, node: process.version }, String(argv.out));
  process.stdout.write(formatComparison(results, opts));
  process.stdout.write(
    `${opts.workers} worker(s), ${opts.kernels} kernels, hidden ${opts.hidden.join(',')}; times are training only (test evaluations excluded); ` +
      `"acc @ ${budgetSec} s" is the state before the first update that would have ended past the budget\n`,
  );
  log.info({ written }, 'wrote results');
}

export const compareBatchingCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'compare-batching',
  describe: 'full-batch vs mini-batch training: time per update and per pass, test accuracy in the same time',
  builder: (y) =>
    settingOptions(y, ['batchSize', 'lr', 'workers', 'hidden', 'kernels', 'chunk', 'seed', 'dataDir', 'trainLimit', 'testLimit'], {
      batchSize: 'samples per update of the mini-batch regime',
      lr: 'learning rate of the mini-batch regime',
    })
      .option('full-batch-lr', { describe: 'learning rate of the full-batch regime (0.5 and up oscillate from the default init)', requiresArg: true, default: 0.2, group: 'Comparison:' })
      .option('budget', { describe: 'training seconds each regime gets (evaluation excluded)', requiresArg: true, default: 30, group: 'Comparison:' })
      .option('passes', { describe: 'passes over the training set each regime runs at least', requiresArg: true, default: 5, group: 'Comparison:' })
      .option('eval-every', { describe: 'training seconds between test evaluations [default: budget / 15]', requiresArg: true, group: 'Comparison:' })
      .option('out', { describe: 'folder for compare-batching.json and accuracy-vs-time.svg', type: 'string', requiresArg: true, default: 'runs/compare-batching', group: 'Comparison:' })
      .example('$0 compare-batching --budget 60 --full-batch-lr 0.3', 'a minute of training per regime') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
