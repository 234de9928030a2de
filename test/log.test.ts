// What a person sees on a terminal: an epoch record in words, other records as key=value.
import { describe, expect, it } from 'vitest';
import { createLogger, forPeople } from '../src/cli/log.js';
import { Progress } from '../src/cli/progress.js';

describe('terminal log lines', () => {
  it('say an epoch in words, with percentages and thousands separators', () => {
    const line = forPeople({ level: 30, time: 1, msg: 'epoch', epoch: 3, loss: 0.10935, trainAcc: 0.96675, valAcc: 0.9682, valLoss: 0.1011, testAcc: 0.9673, testLoss: 0.1053, seconds: 0.3716, samplesPerSec: 161480.4, workers: 2 }, 'msg');
    expect(line).toBe('epoch 3: loss 0.1094, train 96.67%, val 96.82% (loss 0.1011), test 96.73% (loss 0.1053), 0.37 s, 161,480 samples/s, 2 worker(s)');
    expect(forPeople({ msg: 'epoch', epoch: 1, loss: 0.3, trainAcc: 0.9, seconds: 0.4, samplesPerSec: 1e5, workers: 1 }, 'msg')).toBe('epoch 1: loss 0.3000, train 90.00%, 0.40 s, 100,000 samples/s, 1 worker(s)');
  });

  it('show any other record as its message and fields, without level and time', () => {
    expect(forPeople({ level: 40, time: 1, msg: 'checkpoint saved', checkpoint: 'a.ckpt', epoch: 2, hidden: [128, 64] }, 'msg'))
      .toBe('checkpoint saved checkpoint=a.ckpt epoch=2 hidden=[128,64]');
  });

  it('erase the progress bar before they are written, instead of running into it', () => {
    const screen: string[] = [];
    const terminal = { write: (text: string) => screen.push(text), isTTY: true } as unknown as NodeJS.WriteStream;
    const progress = new Progress(terminal, true);
    const log = createLogger({ pretty: true, terminal });
    progress.update(10, 100, 'epoch 1/5');
    log.warn('SIGINT: stopping');
    expect(screen[0]).toMatch(/^\r\x1b\[K\[###\.+\]  10% epoch 1\/5$/);
    expect(screen[1]).toBe('\r\x1b[K');
    expect(screen[2]).toContain('SIGINT: stopping');
    log.warn('again');
    expect(screen).toHaveLength(4); // nothing on screen to erase any more
  });
});
