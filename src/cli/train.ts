// `threadgrad train`: every training setting as a flag (options.ts), resume, and the run itself.
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { readCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { configFromEnv, configFromFlags, readConfigFile, type TrainConfig } from '../config.js';
import { resumedConfig } from '../run-settings.js';
import { commandLogger, settingOptions, settingsOf } from './options.js';
import { Progress } from './progress.js';
import { StopRequests, quitOnStop, rescuePath } from './signals.js';
import { Stopped } from '../util/errors.js';
import { train, type Trained, type TrainProgress } from '../index.js';
import { loadFiles } from '../sources.js';

/**
 * A resumed run keeps the checkpoint's settings (checked like any others) except those
 * given now by flag, env or config file, and goes on saving to the file it resumed from
 * (a copy of a checkpoint saves to the copy) unless --checkpoint names another.
 */
function resumedConfigOf(argv: Record<string, unknown>, ckpt: Checkpoint): TrainConfig {
  const fromFlags = configFromFlags(argv);
  const explicit = { ...(argv.config ? readConfigFile(argv.config as string) : {}), ...configFromEnv(process.env, fromFlags), ...fromFlags };
  return resumedConfig(ckpt, { ...explicit, checkpoint: explicit.checkpoint ?? resolve(ckpt.path) });
}

async function run(argv: Record<string, unknown>): Promise<void> {
  const resume = argv.resume === undefined ? undefined : readCheckpoint(argv.resume as string);
  const cfg = resume ? resumedConfigOf(argv, resume) : settingsOf(argv);
  const log = commandLogger();
  const reading = quitOnStop('while reading the data; nothing to save yet');
  const data = await loadFiles(cfg).finally(reading);
  const stop = new StopRequests((signal) => log.warn(`${signal}: stopping after the steps in flight to save a checkpoint (repeat to quit at once)`));
  const progress = new Progress();
  const onProgress = (p: TrainProgress): void =>
    progress.update(p.samples, p.epochSamples, `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} ${Math.round(p.samplesPerSec).toLocaleString('en-US')} samples/s`);
  const t0 = performance.now();
  try {
    const result = await train({ ...cfg, data, log, resume, signal: stop.signal, rescuePath, onProgress });
    if (result.stop.aborted) throw new Stopped(result.stop.reason, result.stop.aborted, result.stop.checkpoint);
    process.stdout.write(resultLine(result, cfg, (performance.now() - t0) / 1000));
  } finally {
    progress.clear();
    stop.dispose();
  }
}

/**
 * What the run came to, on stdout: with early stopping "stopped after epoch 17: validation
 * loss no better for 5 epochs; best epoch 12: test accuracy 98.12% (...)", else "test
 * accuracy 97.36% after 5 epoch(s) (...)".
 */
export function resultLine(result: Trained, cfg: TrainConfig, seconds: number): string {
  const last = result.history[result.history.length - 1];
  const speed = last ? `, ${Math.round(last.samplesPerSec).toLocaleString('en-US')} samples/s` : '';
  const took = `(${seconds.toFixed(1)} s, ${cfg.workers} worker(s)${speed})`;
  const accuracy = `test accuracy ${(100 * result.test!.accuracy).toFixed(2)}%`;
  const { stop } = result;
  if (!last) return `nothing left to train (${stop.reason}): raise --epochs${stop.bestEpoch ? ' or --patience' : ''} to go on; ${accuracy} ${took}\n`;
  if (stop.bestEpoch === undefined) return `${accuracy} after ${stop.epoch} epoch(s) ${took}\n`;
  return `stopped after epoch ${stop.epoch}: ${stop.reason}; best epoch ${stop.bestEpoch}: ${accuracy} ${took}\n`;
}

export const trainCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'train',
  describe: 'train the MLP (on the bundled MNIST, or IDX or CSV files) and report test accuracy per epoch',
  builder: (y) =>
    settingOptions(y)
      .option('resume', {
        describe: 'continue from a checkpoint with its settings, saving on to it (or to --checkpoint); settings given here override them, except --hidden',
        requiresArg: true, type: 'string',
      })
      .example('$0 train', 'batch 64, 2 workers on the bundled MNIST, until the validation loss stops improving')
      .example('$0 train --config config/fast.json', 'Nesterov momentum, batch 256, one-cycle: 98% in 6 epochs')
      .example('$0 train --workers 4 --epochs 10 --patience 0', 'more threads, exactly 10 passes')
      .example('$0 train --full-batch --lr 0.2 --epochs 50', 'one update per pass over the data')
      .example('$0 train --config config/default.json', 'settings from a file')
      .example('$0 train --checkpoint runs/mnist.ckpt --checkpoint-every 500', 'save every 500 steps and at the end')
      .example('$0 train --resume runs/mnist.ckpt --epochs 10', 'continue a run, up to 10 epochs in all') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
