// What a person sees on a terminal: an epoch record in words, other records as key=value.
import { describe, expect, it } from 'vitest';
import { forPeople } from '../src/log.js';

describe('terminal log lines', () => {
  it('say an epoch in words, with percentages and thousands separators', () => {
    const line = forPeople({ level: 30, time: 1, msg: 'epoch', epoch: 3, loss: 0.10935, trainAcc: 0.96675, testAcc: 0.9673, testLoss: 0.1053, seconds: 0.3716, samplesPerSec: 161480.4, workers: 2 }, 'msg');
    expect(line).toBe('epoch 3: loss 0.1094, train 96.67%, test 96.73% (test loss 0.1053), 0.37 s, 161,480 samples/s, 2 worker(s)');
  });

  it('show any other record as its message and fields, without level and time', () => {
    expect(forPeople({ level: 40, time: 1, msg: 'checkpoint saved', checkpoint: 'a.ckpt', epoch: 2, hidden: [128, 64] }, 'msg'))
      .toBe('checkpoint saved checkpoint=a.ckpt epoch=2 hidden=[128,64]');
  });
});
