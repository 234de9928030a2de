// Nothing lost: a run stopped anywhere (mid-epoch, at the last step, between epochs) and
// resumed from its checkpoint ends with the very same weights, bit for bit, as a run that
// was never stopped; Ctrl-C and SIGTERM on the real command line do exactly that.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { StopRequests, quitOnStop } from '../src/cli/signals.js';
import { modelParams, readCheckpoint } from '../src/model/checkpoint.js';
import { DEFAULTS, savedConfig, type TrainConfig } from '../src/config.js';
import { train, type RunOptions, type TrainResult } from '../src/train.js';
import { prepare } from '../src/sources.js';
import { runCli, syntheticData, tempDir, writeDataDir } from './synthetic.js';

const data = syntheticData(480, 120); // 30 steps per epoch at batch 16
const base: TrainConfig = { ...DEFAULTS, patience: 0, epochs: 2, batchSize: 16, hidden: [32, 16], workers: 2, seed: 7 };

const bits = (params: Float32Array): Buffer => Buffer.from(params.buffer, params.byteOffset, params.byteLength);

/**
 * Aborts, as Ctrl-C does, at the n-th time the loop reports (after every call of steps, here
 * one step, and after every epoch), which the loop sees when it next looks.
 */
function stopAtReport(n: number): Pick<RunOptions, 'signal' | 'onProgress' | 'onEpoch'> {
  const controller = new AbortController();
  let reports = 0;
  const report = (): void => {
    if (++reports === n) controller.abort('SIGINT');
  };
  return { signal: controller.signal, onProgress: report, onEpoch: report };
}

/**
 * Stop a run with a checkpoint, then resume it from the file with the settings saved there.
 * The stopped run hands the workers one step per call; the resumed and the clean runs use
 * the default (the whole epoch in one call), so the comparison also covers that.
 */
async function stopAndResume(cfg: TrainConfig, poll: number): Promise<{ stopped: TrainResult; resumed: TrainResult }> {
  const path = join(tempDir(), 'run.ckpt');
  const stopped = await train({ ...cfg, checkpoint: path }, { data, ...stopAtReport(poll), stepsPerCall: 1 });
  const ckpt = readCheckpoint(path);
  const resumed = await train({ ...savedConfig(ckpt), epochs: cfg.epochs }, { data, resume: ckpt });
  return { stopped, resumed };
}

describe('resume', () => {
  let clean: TrainResult;
  beforeAll(async () => {
    clean = await train(base, { data });
  });

  it.each([
    [1, 'epoch 1, step 1 of 30'],
    [7, 'epoch 1, step 7 of 30'],
    [30, 'epoch 1, step 30 of 30'], // all steps done, the epoch's evaluation not yet
    [31, 'the start of epoch 2'],
    [45, 'epoch 2, step 14 of 30'],
  ])('stopped at report %i (%s) and resumed, the weights are bit-identical to an uninterrupted run', async (poll, where) => {
    const { stopped, resumed } = await stopAndResume(base, poll);
    // An aborted run returns (the command line turns that into exit 130), saying where it stopped and saved.
    expect(stopped.stop.aborted).toBe('SIGINT');
    expect(stopped.test).toBeUndefined();
    expect(stopped.stop.reason).toMatch(new RegExp(`^stopped by SIGINT at ${where}; saved a checkpoint to .*run\\.ckpt$`));
    expect(stopped.stop.checkpoint).toMatch(/run\.ckpt$/);
    expect(bits(resumed.params).equals(bits(clean.params))).toBe(true);
    // The epoch in progress reports the same loss as if it had never stopped.
    const cleanLoss = new Map(clean.epochs.map((e) => [e.epoch, e.loss]));
    for (const e of resumed.epochs) expect(e.loss).toBe(cleanLoss.get(e.epoch));
  });

  it('continues a finished run to more epochs as if it had been asked for them at the start', async () => {
    const path = join(tempDir(), 'one.ckpt');
    await train({ ...base, epochs: 1, checkpoint: path }, { data });
    const ckpt = readCheckpoint(path);
    expect(ckpt.header).toMatchObject({ epoch: 2, step: 0 });
    const more = await train({ ...savedConfig(ckpt), epochs: 2 }, { data, resume: ckpt });
    expect(more.epochs.map((e) => e.epoch)).toEqual([2]);
    expect(bits(more.params).equals(bits(clean.params))).toBe(true);
  });

  it.each([
    ['7', 9], // global steps 7, 14, ..., 56 of 60, then the end
    ['1e', 2],
    ['epoch', 2],
    ['end', 1],
  ])('--checkpoint-every %s saves %i times', async (every, saves) => {
    const records: { msg: string; step: number }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line)) });
    const path = join(tempDir(), 'every.ckpt');
    await train({ ...base, checkpoint: path, checkpointEvery: every }, { data, log });
    expect(records.filter((r) => r.msg === 'checkpoint saved')).toHaveLength(saves);
    expect(readCheckpoint(path).header).toMatchObject({ epoch: 3, step: 0 });
  });

  it('saves nothing without --checkpoint', async () => {
    const records: { msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line)) });
    await train({ ...base, epochs: 1 }, { data, log });
    expect(records.filter((r) => r.msg === 'checkpoint saved')).toHaveLength(0);
  });
});

describe('resume with an optimizer, a schedule and early stopping', () => {
  // Validation accuracy on the synthetic digits tops out within a few epochs: the plateau comes well before the 20th.
  const cfg: TrainConfig = {
    ...base, epochs: 20, optimizer: 'adam', lr: 0.01, lrSchedule: 'one-cycle', valSplit: 1 / 12, patience: 2, monitor: 'val-acc', checkpointEvery: 'end',
  };
  const withVal = prepare(cfg, data);
  let clean: TrainResult;
  beforeAll(async () => {
    clean = await train(cfg, { data: withVal });
  });

  it('the run stops at its plateau and returns the best epoch\'s weights, which its last checkpoint keeps beside the last ones', async () => {
    expect(clean.stop.epoch).toBeLessThan(cfg.epochs);
    expect(clean.stop.reason).toBe('validation accuracy no better for 2 epochs');
    expect(clean.stop.bestEpoch).toBe(clean.stop.epoch - 2);
    const path = join(tempDir(), 'end.ckpt');
    const again = await train({ ...cfg, checkpoint: path }, { data: withVal });
    const ckpt = readCheckpoint(path);
    expect(bits(modelParams(ckpt)).equals(bits(again.params))).toBe(true);
    expect(bits(ckpt.params).equals(bits(ckpt.best))).toBe(false);
    expect(ckpt.header).toMatchObject({ finished: clean.stop.reason, early: { bestEpoch: clean.stop.bestEpoch, badEpochs: 2 } });
    expect(ckpt.state.length).toBe(2 * ckpt.params.length); // Adam's two moments
    // That state is Adam's: another optimizer would read it as its own.
    for (const optimizer of ['momentum', 'adamw'] as const) {
      await expect(train({ ...savedConfig(ckpt), optimizer }, { data: withVal, resume: ckpt })).rejects.toThrow(
        /end\.ckpt was trained with --optimizer adam, whose state it holds; resume it with --optimizer adam \(or without --optimizer\)/,
      );
    }
  });

  // 28 steps and an epoch's end make 29 reports an epoch: mid-epoch 1 and 2, the end of epoch 3, mid-epoch 5 (one epoch without improvement).
  it.each([3, 45, 87, 130])('stopped at report %i and resumed, it stops after the same epoch with the same weights, bit for bit', async (poll) => {
    const path = join(tempDir(), 'run.ckpt');
    const stopped = await train({ ...cfg, checkpoint: path }, { data: withVal, ...stopAtReport(poll), stepsPerCall: 1 });
    expect(stopped.stop.aborted).toBe('SIGINT');
    const ckpt = readCheckpoint(path);
    const resumed = await train(savedConfig(ckpt), { data: withVal, resume: ckpt });
    expect(resumed.stop).toEqual(clean.stop);
    expect(bits(resumed.params).equals(bits(clean.params))).toBe(true);
  });
});

describe('signals on the command line', () => {
  const dir = writeDataDir(tempDir(), data);
  const args = ['train', '--data-dir', dir, '--hidden', '32,16', '--batch-size', '16', '--epochs', '3', '--seed', '7', '--workers', '2'];
  /** Send `signal` once the run logs that training has begun. */
  const signalOnStart = (signal: NodeJS.Signals) => {
    let sent = false;
    return (text: string, child: { kill: (s: NodeJS.Signals) => boolean }) => {
      if (!sent && text.includes('"msg":"training"')) sent = child.kill(signal);
    };
  };

  it('Ctrl-C saves, exits 130 and prints the command that resumes to the same final weights', async () => {
    const [clean, stopped] = await Promise.all([
      runCli([...args, '--checkpoint', 'clean.ckpt'], { cwd: dir }),
      runCli([...args, '--checkpoint', 'run.ckpt'], { cwd: dir, onStderr: signalOnStart('SIGINT') }),
    ]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(stopped.code, stopped.stderr).toBe(130);
    const last = stopped.stderr.trim().split('\n').pop()!;
    expect(last).toMatch(/^threadgrad: stopped by SIGINT at .*; saved a checkpoint to run\.ckpt; resume with: node \S+main\.js train --resume run\.ckpt$/);
    const [, command] = last.split('resume with: ');
    const resumed = await runCli(command.split(' ').slice(2), { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^stopped after epoch 3: the last of --epochs 3; best epoch [123]: test accuracy /);
    const final = readCheckpoint(join(dir, 'run.ckpt'));
    expect(final.header).toMatchObject({ epoch: 4, step: 0 });
    expect(bits(final.params).equals(bits(readCheckpoint(join(dir, 'clean.ckpt')).params))).toBe(true);
  });

  it('SIGTERM without --checkpoint saves to the rescue file and exits 143', async () => {
    const cwd = tempDir();
    const r = await runCli(args, { cwd, onStderr: signalOnStart('SIGTERM') });
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr.trim().split('\n').pop()).toMatch(
      /^threadgrad: stopped by SIGTERM at .*; saved a checkpoint to threadgrad-interrupted\.ckpt; resume with: .* train --resume threadgrad-interrupted\.ckpt$/,
    );
    expect(existsSync(join(cwd, 'threadgrad-interrupted.ckpt'))).toBe(true);
  });

  it('a second Ctrl-C, or one while the data is read, exits at once with a line that says why nothing is lost', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const lines: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(((text: string) => lines.push(text) > 0) as never);
    const stop = new StopRequests();
    try {
      process.emit('SIGINT', 'SIGINT');
      expect(stop.signal.aborted).toBe(true);
      expect(() => process.emit('SIGINT', 'SIGINT')).toThrow('exit 130');
      stop.dispose();
      const reading = quitOnStop('while reading the data; nothing to save yet');
      expect(() => process.emit('SIGTERM', 'SIGTERM')).toThrow('exit 143');
      reading();
      expect(lines).toEqual([
        'threadgrad: stopped by SIGINT again: exiting at once; checkpoints already saved stay as they were\n',
        'threadgrad: stopped by SIGTERM while reading the data; nothing to save yet\n',
      ]);
    } finally {
      stop.dispose();
      exit.mockRestore();
      write.mockRestore();
    }
  });
});
