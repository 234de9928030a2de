// `threadgrad bench`: samples/s, speedup and per-step time breakdown for 1..N workers at
// several batch sizes; prints a table and writes JSON and SVG charts. Model and data
// settings share the train command's names and sources (flags > env > --config > defaults).
import type { Argv, CommandModule } from 'yargs';
import { defaultWorkersList, JIT_WARMUP_STEPS, runBench, withBaseline } from '../bench/bench.js';
import { formatSyncTable, runSyncBench, writeSyncOutputs } from '../bench/sync.js';
import { cpus } from 'node:os';
import { formatTable, TABLE_NOTE, unevenCoresNote, writeBenchOutputs } from '../bench/report.js';
import { MAX_WORKERS, SCHEMA } from '../config.js';
import { intAtLeast, intList } from '../util/values.js';
import { UserError } from '../util/errors.js';
import { checkOutputFolder } from '../util/files.js';
import { optimizerOf } from '../run-settings.js';
import { loadDataset } from '../sources.js';
import { commandLogger, settingOptions, settingsOf } from './options.js';

/**
 * The training settings of a benchmark. Its --warmup counts unmeasured steps, so the learning
 * rate's warm-up comes only from the environment or --config, not from that flag.
 */
function benchSettings(argv: Record<string, unknown>) {
  return settingsOf({ ...argv, warmup: undefined });
}

/** --sync given: time to accuracy per mode and worker count (bench/sync.ts) instead of the step benchmark. */
async function runSync(argv: Record<string, unknown>): Promise<void> {
  const settings = benchSettings({ ...argv, sync: undefined });
  const syncs = String(argv.sync).split(',').map((v) => SCHEMA.sync(v, '--sync') as string);
  const target = Number(argv.target);
  if (!(target > 0 && target < 1)) throw new UserError(`--target must be a test accuracy above 0 and below 1 (0.97 for 97%), got ${JSON.stringify(argv.target)}`, 2);
  const opts = {
    cfg: { ...settings, epochs: intAtLeast('max-epochs', argv.maxEpochs, 1), patience: 0, valSplit: 0, checkpoint: undefined },
    syncs, target, evalsPerEpoch: 4,
    workersList: withBaseline(intList('workers-list', argv.workersList, 1, MAX_WORKERS)),
    repeats: intAtLeast('repeats', argv.repeats, 1),
  };
  const out = String(argv.out);
  checkOutputFolder(out, 'benchmark results');
  const log = commandLogger();
  const data = await loadDataset(opts.cfg);
  log.info({ syncs, workersList: opts.workersList, target, batchSize: settings.batchSize, lr: settings.lr, train: data.train.count }, 'sync benchmark');
  const { runs, rows } = await runSyncBench(data, opts, (r) => log.info(r, 'run'));
  const meta = { date: new Date().toISOString(), cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, settings: opts.cfg, target, repeats: opts.repeats };
  const written = writeSyncOutputs(out, { meta, runs, rows }, target);
  process.stdout.write(formatSyncTable(rows, target));
  process.stdout.write(`median of ${opts.repeats} run(s) per cell; samples/s after the first epoch (which compiles the workers' code), seconds from the start; batch ${settings.batchSize}, lr ${settings.lr}, ${settings.optimizer}, test set evaluated 4 times an epoch, at most ${opts.cfg.epochs} epochs\n`);
  log.info({ written }, 'wrote results');
}

async function run(argv: Record<string, unknown>): Promise<void> {
  if (argv.sync !== undefined) return runSync(argv);
  const cfg = benchSettings(argv);
  const opts = {
    hidden: cfg.hidden, kernels: cfg.kernels, chunk: cfg.chunk, seed: cfg.seed, lr: cfg.lr, optimizer: optimizerOf(cfg),
    workersList: intList('workers-list', argv.workersList, 1, MAX_WORKERS),
    batchSizes: intList('batch-sizes', argv.batchSizes),
    steps: intAtLeast('steps', argv.steps, 1),
    warmup: intAtLeast('warmup', argv.warmup, 0),
    repeats: intAtLeast('repeats', argv.repeats, 1),
    independent: Boolean(argv.independent),
    roundTrip: Boolean(argv.roundTrip),
  };
  checkOutputFolder(String(argv.out), 'benchmark results');
  const log = commandLogger();
  const data = await loadDataset({ ...cfg, valSplit: 0 }); // measures and compares training on every sample
  log.info({ ...opts, train: data.train.count }, 'benchmark');
  const report = await runBench(data, opts, (cell, repeat) => {
    const m = cell.repeats[repeat];
    log.info({ batch: cell.batchSize, workers: cell.workers, repeat: repeat + 1, samplesPerSec: Math.round((1000 * m.samples) / m.wallMs) }, 'measured');
  });
  const written = writeBenchOutputs(report, String(argv.out));
  process.stdout.write(`${formatTable(report.rows)}${TABLE_NOTE}`);
  process.stdout.write(`median of ${opts.repeats} repeats of ${opts.steps} steps after ${opts.warmup} warm-up steps (and ${JIT_WARMUP_STEPS} steps of batch 64 per pool before the first), ${opts.kernels} kernels, hidden ${opts.hidden.join(',')}, ${opts.optimizer.kind}\n`);
  const { before, after } = report.meta.coreRoundTripNs;
  if (before !== null && after !== null) {
    process.stdout.write(`core-to-core round trip of a cache line: ${before.toFixed(0)} ns before the cells, ${after.toFixed(0)} ns after (what every line the workers share costs; see README)\n`);
  }
  process.stdout.write(unevenCoresNote(report.rows) ?? '');
  log.info({ written }, 'wrote results');
}

export const benchCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'bench',
  describe: 'measure samples/s and speedup for 1..N workers at several batch sizes',
  builder: (y) =>
    settingOptions(y, ['hidden', 'kernels', 'chunk', 'seed', 'lr', 'optimizer', 'momentum', 'beta1', 'beta2', 'eps', 'weightDecay', 'lrSchedule', 'batchSize', 'dataDir', 'trainLimit'], {}, 'Model and data:')
      .option('workers-list', { describe: 'worker counts to measure (1 is always added: speedup is relative to it)', type: 'string', requiresArg: true, default: defaultWorkersList().join(','), group: 'Benchmark:' })
      .option('batch-sizes', { describe: 'batch sizes to measure', type: 'string', requiresArg: true, default: '64,256,1024', group: 'Benchmark:' })
      .option('steps', { describe: 'measured steps per repeat', requiresArg: true, default: 50, group: 'Benchmark:' })
      .option('warmup', { describe: 'unmeasured steps before each repeat', requiresArg: true, default: 10, group: 'Benchmark:' })
      .option('repeats', { describe: 'repeats per cell; the median is reported', requiresArg: true, default: 3, group: 'Benchmark:' })
      .option('independent', { describe: 'also run as many independent 1-worker engines at once as a cell has workers: the cores\' ceiling (--no-independent to skip)', type: 'boolean', default: true, group: 'Benchmark:' })
      .option('round-trip', { describe: 'measure the core-to-core round trip of a cache line before and after the cells (--no-round-trip to skip, e.g. when other benchmarks run at the same time)', type: 'boolean', default: true, group: 'Benchmark:' })
      .option('sync', { describe: 'instead: time to --target test accuracy for each of these sync modes and worker count, e.g. step,local:8,hogwild', type: 'string', requiresArg: true, group: 'Sync modes:' })
      .option('target', { describe: 'with --sync: the test accuracy to reach', requiresArg: true, default: 0.97, group: 'Sync modes:' })
      .option('max-epochs', { describe: 'with --sync: the most epochs of a run', requiresArg: true, default: 30, group: 'Sync modes:' })
      .option('out', { describe: 'folder for bench.json and the SVG charts (sync.json and time-to-target.svg with --sync)', type: 'string', requiresArg: true, default: 'runs/bench', group: 'Benchmark:' })
      .example('$0 bench --workers-list 1,2 --batch-sizes 64,256', '1 vs 2 workers at two batch sizes')
      .example('$0 bench --sync step,local:8,hogwild --workers-list 1,2', 'samples/s and seconds to 97% per sync mode') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
