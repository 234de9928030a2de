// The command line: bad values are refused with one clear line and a non-zero exit.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runMain } from './synthetic.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, THREADGRAD_WORKERS: undefined } });

describe('threadgrad CLI', () => {
  it.each([
    [['train', '--workers', '0'], /--workers must be an integer from 1 to 1024, got "0"/],
    [['train', '--batch-size', '0'], /--batch-size must be an integer/],
    [['train', '--lr', '-1'], /--lr must be a number greater than 0/],
    [['train', '--epochs', 'ten'], /--epochs must be an integer.*"ten"/],
    [['train', '--bogus-flag'], /Unknown arguments?: bogus-flag/],
    [['train', '--config', '/nonexistent/x.json'], /cannot read config file/],
    [[], /name a command/],
  ])('rejects %o with one line and exit status 2', async (args, message) => {
    const r = await runMain(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^threadgrad: error: /);
    expect(r.stdout).toBe('');
  });

  it('rejects a bad environment value', () => {
    const r = spawnSync(process.execPath, [cli, 'train'], { encoding: 'utf8', env: { ...process.env, THREADGRAD_LR: 'x' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/THREADGRAD_LR must be a number greater than 0/);
  });

  it('explains itself in --help', () => {
    const r = run('train', '--help');
    expect(r.status).toBe(0);
    for (const flag of ['--epochs', '--batch-size', '--lr', '--hidden', '--workers', '--seed', '--config', '--data-dir', '--full-batch']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('trains a tiny run and prints the test accuracy on stdout, JSON epoch records on stderr', () => {
    const r = run('train', '--train-limit', '3000', '--test-limit', '1000', '--epochs', '2', '--hidden', '32,16', '--workers', '2');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^stopped after epoch 2: the last of --epochs 2; best epoch [12]: test accuracy \d+\.\d\d% \(/);
    const records = r.stderr.trim().split('\n').map((line) => JSON.parse(line)).filter((rec) => rec.msg === 'epoch');
    expect(records.map((rec) => rec.epoch)).toEqual([1, 2]);
    for (const rec of records) {
      // 3000 samples less the validation twelfth (250): 2750 in 43 steps of 64.
      expect(rec).toMatchObject({ workers: 2, steps: 43, batchSize: 64 });
      for (const key of ['loss', 'trainAcc', 'valLoss', 'valAcc', 'seconds', 'samplesPerSec']) expect(Number.isFinite(rec[key])).toBe(true);
      expect(rec.testAcc).toBeUndefined(); // the test set is reported at the end only
    }
    expect(records[1].loss).toBeLessThan(records[0].loss);
    if (availableParallelism() >= 2) expect(r.stderr).not.toMatch(/take turns/);
  });

  it('is built executable, as `npx threadgrad` runs it through its #! line', () => {
    expect(statSync(cli).mode & 0o111).toBe(0o111);
    expect(readFileSync(cli, 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it('takes a flag given twice at its last value', () => {
    const r = run('train', '--train-limit', '500', '--test-limit', '100', '--hidden', '8', '--patience', '0', '--epochs', '5', '--epochs', '1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^test accuracy [\d.]+% after 1 epoch\(s\)/);
  });

  it('warns, and still trains, with more workers than cores', () => {
    const workers = availableParallelism() + 1;
    const r = run('train', '--train-limit', '500', '--test-limit', '100', '--epochs', '1', '--hidden', '16,8', '--workers', String(workers));
    expect(r.status).toBe(0);
    const warning = r.stderr.trim().split('\n').map((line) => JSON.parse(line)).find((rec) => rec.level === 40);
    expect(warning).toMatchObject({ workers, cores: availableParallelism() });
    expect(warning.msg).toMatch(/take turns on the cores/);
  });
});

describe('benchmark scripts', () => {
  const script = (name: string) => fileURLToPath(new URL(`../dist/scripts/${name}.js`, import.meta.url));
  it.each([
    ['bench-kernels', ['--batch', '999'], /--batch must be an integer from 1 to 256, got "999"/],
    ['bench-kernels', ['--kernels', 'gpu'], /--kernels must be one of ts, wasm, got "gpu"/],
    ['bench-step', ['--bogus'], /Unknown option '--bogus'/],
    ['bench-ceiling', ['--copies', '0'], /--copies must be an integer >= 1, got "0"/],
    ['bench-numpy', ['--repeats'], /argument missing/],
    ['bench-peers', ['--targets', '0.97,98'], /--targets are test accuracies above 0 and at most 1 .*got "98"/],
    ['bench-peers', ['--systems', 'threadgrad,jax'], /--systems must name some of threadgrad, numpy, pytorch, tfjs, got "jax"/],
    ['bench-peers', ['--workers', '1,,2'], /--workers must be a comma-separated list/],
    ['bench-peers', ['--preset', 'no-such.json'], /cannot read config file no-such.json/],
    ['bench-peers', ['--limit-train', '100'], /--limit-train 100 is below the batch of \d+/],
  ])('%s rejects %o with one line and exit status 2', (name, args, message) => {
    const r = spawnSync(process.execPath, [script(name), ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^${name}: error: `));
    expect(r.stderr).toMatch(message);
  });

  it('print their usage with --help', () => {
    const r = spawnSync(process.execPath, [script('bench-kernels'), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run bench:kernels -- .*--batch/);
  });
});
