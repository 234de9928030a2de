// A worker thread that throws, or exits, in the middle of a step, in either phase (even
// after it has written its part of the update): the step is retried, the log says so, and
// the run ends with the same weights as a run without faults. A fault
// that keeps coming back stops the run with a checkpoint from which it resumes exactly.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../src/model/checkpoint.js';
import { DEFAULTS, savedConfig, type TrainConfig } from '../src/config.js';
import { UserError } from '../src/util/errors.js';
import { FAULT_ENV } from '../src/parallel/fault-hook.js';
import type { Logger } from '../src/cli/log.js';
import { train, type TrainResult } from '../src/train.js';
import { syntheticData, tempDir } from './synthetic.js';

const data = syntheticData(480, 120); // 30 steps per epoch at batch 16
const cfg: TrainConfig = { ...DEFAULTS, patience: 0, epochs: 2, batchSize: 16, hidden: [32, 16], workers: 2, seed: 11 };
const bits = (params: Float32Array): Buffer => Buffer.from(params.buffer, params.byteOffset, params.byteLength);

interface LogRecord {
  level: number;
  msg: string;
  attempt?: number;
  error?: string;
}

function capture(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { log: pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line)) }), records };
}

afterEach(() => {
  delete process.env[FAULT_ENV];
});

describe('worker faults', () => {
  let clean: TrainResult;
  beforeAll(async () => {
    clean = await train(cfg, { data });
  });

  const THREW = /injected fault \(THREADGRAD_INJECT_FAULT\): this worker threw on purpose/;
  const EXITED = /worker exited with code: 70/;
  it.each([
    ['throw', 1, THREW],
    ['exit', 1, EXITED],
    ['throw', 2, THREW],
    ['exit', 2, EXITED],
  ] as const)('a worker that calls %s in phase %i of a step is retried, logged, and changes nothing', async (kind, phase, error) => {
    process.env[FAULT_ENV] = `${kind}:step=3:phase=${phase}`;
    const { log, records } = capture();
    const result = await train(cfg, { data, log });
    const warnings = records.filter((r) => r.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ attempt: 1, msg: 'a worker failed mid-step; retrying the step' });
    expect(warnings[0].error).toMatch(error);
    expect(bits(result.params).equals(bits(clean.params))).toBe(true);
  });

  it.each(['throw', 'exit'])('a worker that keeps failing (%s) stops the run with a checkpoint that resumes exactly', async (kind) => {
    // Step 40 of the run is step 10 of epoch 2; the engine tries it 1 + 3 times.
    process.env[FAULT_ENV] = `${kind}:step=40:times=9`;
    const path = join(tempDir(), 'run.ckpt');
    const { log, records } = capture();
    const error = await train({ ...cfg, checkpoint: path }, { data, log }).then(
      () => expect.fail('the run should have given up'),
      (e: unknown) => e as UserError,
    );
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(
      /^a worker failed 4 times in a row on the same step; last error: .*; stopped at epoch 2, step 9 of 30; saved a checkpoint to .*run\.ckpt$/,
    );
    expect(records.filter((r) => r.level === 40).map((r) => r.attempt)).toEqual([1, 2, 3]);
    delete process.env[FAULT_ENV];
    const ckpt = readCheckpoint(path);
    expect(ckpt.header).toMatchObject({ epoch: 2, step: 9 });
    const resumed = await train(savedConfig(ckpt), { data, resume: ckpt });
    expect(bits(resumed.params).equals(bits(clean.params))).toBe(true);
  });

  it('refuses a malformed fault spec instead of ignoring it', async () => {
    process.env[FAULT_ENV] = 'throw:3';
    await expect(train(cfg, { data })).rejects.toThrow(/THREADGRAD_INJECT_FAULT="throw:3" is not of the form throw\|exit:step=N\[:times=K\]\[:phase=1\|2\]/);
  });
});
