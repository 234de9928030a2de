// Settings: precedence flags > env > config file > defaults, and one clear error per bad value.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, configFromCheckpoint, resolveConfig, unknownEnvWarnings } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'threadgrad-config-'));
const configFile = (body: string): string => {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, body);
  return path;
};

describe('config', () => {
  it('config/default.json states exactly the built-in defaults', () => {
    expect(JSON.parse(readFileSync(new URL('../config/default.json', import.meta.url), 'utf8'))).toEqual(DEFAULTS);
  });

  it('every shipped config file is valid', () => {
    const dir = new URL('../config/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(() => resolveConfig({ file: fileURLToPath(new URL(f, dir)) })).not.toThrow();
  });

  it('applies flags over env over file over defaults', () => {
    const file = configFile(JSON.stringify({ epochs: 3, workers: 3, lr: 0.05 }));
    const cfg = resolveConfig({
      file,
      env: { THREADGRAD_WORKERS: '4', THREADGRAD_LR: '0.2' },
      flags: { lr: 0.3 },
    });
    expect(cfg).toMatchObject({ epochs: 3, workers: 4, lr: 0.3, batchSize: DEFAULTS.batchSize });
  });

  it('parses hidden sizes from a flag string and from JSON', () => {
    expect(resolveConfig({ flags: { hidden: '256,128,32' } }).hidden).toEqual([256, 128, 32]);
    expect(resolveConfig({ file: configFile('{"hidden": [10]}') }).hidden).toEqual([10]);
  });

  it.each([
    [{ workers: 0 }, /--workers must be an integer from 1 to 1024, got 0/],
    [{ batchSize: -5 }, /--batch-size must be an integer/],
    [{ lr: 0 }, /--lr must be a number greater than 0, got 0/],
    [{ lr: 'fast' }, /--lr must be a number greater than 0, got "fast"/],
    [{ epochs: 2.5 }, /--epochs must be an integer/],
    [{ hidden: '128,x' }, /--hidden\[1\] must be an integer/],
    [{ kernels: 'gpu' }, /--kernels must be one of ts, wasm/],
  ])('rejects the flag %o', (flags, message) => {
    expect(() => resolveConfig({ flags })).toThrow(message);
  });

  it('rejects bad env values naming the variable', () => {
    expect(() => resolveConfig({ env: { THREADGRAD_WORKERS: 'many' } })).toThrow(/THREADGRAD_WORKERS must be an integer/);
  });

  it('rejects a config file that is not JSON, not an object, or has unknown or out-of-range keys', () => {
    expect(() => resolveConfig({ file: configFile('{ epochs: 3 ') })).toThrow(/is not valid JSON/);
    expect(() => resolveConfig({ file: configFile('[1, 2]') })).toThrow(/must hold a JSON object/);
    expect(() => resolveConfig({ file: configFile('{"epoch": 3}') })).toThrow(/"epoch": unknown setting/);
    expect(() => resolveConfig({ file: configFile('{"workers": 5000}') })).toThrow(/"workers" must be an integer from 1 to 1024, got 5000/);
    expect(() => resolveConfig({ file: join(dir, 'missing.json') })).toThrow(/cannot read config file .*ENOENT/);
  });

  it.each(['__proto__', 'hasOwnProperty', 'constructor', 'toString'])('refuses the key %s, which names no setting but a member every object has', (key) => {
    expect(() => resolveConfig({ file: configFile(`{"${key}": 1}`) })).toThrow(new RegExp(`"${key}": unknown setting`));
  });

  it('lets a flag override a bad environment value, and warns about THREADGRAD_* names that are no setting', () => {
    expect(resolveConfig({ env: { THREADGRAD_EPOCHS: 'junk' }, flags: { epochs: 2 } }).epochs).toBe(2);
    expect(unknownEnvWarnings({ THREADGRAD_EPOCH: '3', THREADGRAD_WORKERS: '2', THREADGRAD_LOG_LEVEL: 'warn', THREADGRAD_FOO: '1', PATH: '/bin' })).toEqual([
      'THREADGRAD_EPOCH is not a threadgrad setting and is ignored (did you mean THREADGRAD_EPOCHS?)',
      'THREADGRAD_FOO is not a threadgrad setting and is ignored',
    ]);
  });

  it('checks the settings a checkpoint holds like any others', () => {
    expect(configFromCheckpoint({ ...DEFAULTS, workers: 3 }, 'a.ckpt')).toMatchObject({ workers: 3 });
    expect(() => configFromCheckpoint({ ...DEFAULTS, workers: 0 }, 'a.ckpt')).toThrow(/a\.ckpt: saved setting "workers" must be an integer from 1 to 1024, got 0/);
    expect(() => configFromCheckpoint({ ...DEFAULTS, kernels: 'gpu' }, 'a.ckpt')).toThrow(/a\.ckpt: saved setting "kernels" must be one of ts, wasm, got "gpu"/);
    expect(() => configFromCheckpoint([1], 'a.ckpt')).toThrow(/a\.ckpt: its saved settings are not an object/);
  });

  it('stores paths absolute, so that a checkpoint finds its files from any folder, and keeps a trailing slash (a folder)', () => {
    const cfg = resolveConfig({ flags: { dataDir: 'data', checkpoint: 'runs/a.ckpt', trainImages: '/abs/x' } });
    expect(cfg).toMatchObject({ dataDir: resolve('data'), checkpoint: resolve('runs/a.ckpt'), trainImages: '/abs/x' });
    expect(resolveConfig({ flags: { checkpoint: 'runs/' } }).checkpoint).toBe(resolve('runs') + sep);
  });
});
