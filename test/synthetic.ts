// Shared by the checkpoint, resume, fault, bad-input and predict tests: a small learnable
// fake MNIST (each digit a bright bar at its own place, plus speckle noise) that trains in a
// fraction of a second, written as IDX files when a test drives the real command line.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { encodeIdx } from '../src/data/idx.js';
import { emptySplit, type Dataset, type Split } from '../src/data/dataset.js';

export const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/** `count` samples; `noise` is the share of speckled pixels, which makes some digits ambiguous. */
export function syntheticSplit(count: number, seed: number, noise = 0.05): Split {
  const images = new Uint8Array(new SharedArrayBuffer(count * 784));
  const labels = new Uint8Array(new SharedArrayBuffer(count));
  let x = seed >>> 0;
  const random = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
  for (let i = 0; i < count; i++) {
    const digit = Math.floor(random() * 10);
    labels[i] = digit;
    const img = images.subarray(i * 784, (i + 1) * 784);
    for (let p = 0; p < 784; p++) if (random() < noise) img[p] = Math.floor(255 * random());
    const top = 2 + 12 * Math.floor(digit / 5);
    const left = 2 + 5 * (digit % 5);
    for (let r = top; r < top + 6; r++) for (let c = left; c < left + 4; c++) img[r * 28 + c] = 180 + Math.floor(75 * random());
  }
  return { x: images, labels, count, features: 784 };
}

export function syntheticData(trainCount = 480, testCount = 120, noise = 0.05): Dataset {
  return { train: syntheticSplit(trainCount, 1, noise), test: syntheticSplit(testCount, 2, noise), classes: 10, input: { kind: 'pixels', shape: [28, 28] } };
}

/**
 * `count` images of height x width pixels in `classes` classes: class c is a bright vertical
 * stripe in the c-th of `classes` bands of columns, over speckle noise.
 */
export function stripeSplit(count: number, seed: number, [height, width]: [number, number], classes: number, noise = 0.05): Split {
  const split = emptySplit('pixels', count, height * width);
  const random = lcg(seed);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * classes);
    split.labels[i] = c;
    const img = split.x.subarray(i * height * width, (i + 1) * height * width);
    for (let p = 0; p < img.length; p++) if (random() < noise) img[p] = Math.floor(255 * random());
    const [lo, hi] = [Math.floor((c * width) / classes), Math.max(Math.floor((c * width) / classes) + 1, Math.floor(((c + 1) * width) / classes))];
    for (let r = 1; r < height - 1; r++) for (let col = lo; col < hi; col++) img[r * width + col] = 160 + Math.floor(95 * random());
  }
  return split;
}

/** `count` float vectors in `classes` classes: class c's centre (fixed by the class) plus noise, at an offset and scale far from 0 and 1 (so that normalising matters). */
export function blobSplit(count: number, seed: number, features: number, classes: number): Split {
  const split = emptySplit('floats', count, features);
  const centre = lcg(12345);
  const centres = Array.from({ length: classes * features }, () => 2 * centre() - 1);
  const random = lcg(seed);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * classes);
    split.labels[i] = c;
    for (let j = 0; j < features; j++) split.x[i * features + j] = 1000 + 50 * (centres[c * features + j] + 0.6 * (random() + random() - 1));
  }
  return split;
}

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
}

const tempDirs: string[] = [];
// Registered by every test file that imports this module: its temp folders go when it ends.
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'threadgrad-test-'));
  tempDirs.push(dir);
  return dir;
}

/** Write the four IDX files under their MNIST names, so that `--data-dir dir` finds them. */
export function writeDataDir(dir: string, data: Dataset): string {
  const save = (name: string, split: Split): void => {
    writeFileSync(join(dir, `${name}-images-idx3-ubyte`), encodeIdx([split.count, ...data.input.shape], split.x));
    writeFileSync(join(dir, `${name}-labels-idx1-ubyte`), encodeIdx([split.count], split.labels));
  };
  save('train', data.train);
  save('t10k', data.test);
  return dir;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `node dist/src/cli/main.js ...args` in `cwd`. `onStderr` sees stderr as it grows and gets
 * the child, so a test can signal it at the right moment; `closeStdoutAfterFirstLine` reads
 * as `| head -1` does.
 */
export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; onStderr?: (text: string, child: ReturnType<typeof spawn>) => void; closeStdoutAfterFirstLine?: boolean } = {},
): Promise<CliResult> {
  // The THREADGRAD_* settings of the shell running the tests must not leak into the runs.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('THREADGRAD_')));
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...env, ...opts.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    if (opts.closeStdoutAfterFirstLine && stdout.includes('\n')) child.stdout.destroy();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    opts.onStderr?.(stderr, child);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * The command line run in this process (cli.ts main), for inputs refused before any work:
 * what it writes to process.stdout and process.stderr, and its exit status, as runCli gives
 * them without a process's start-up (JSON logs go to file descriptor 2 directly, unseen).
 */
export async function runMain(args: string[]): Promise<CliResult> {
  const { main } = await import('../src/cli/cli.js');
  const out = { stdout: '', stderr: '' };
  const saved = { stdout: process.stdout.write, stderr: process.stderr.write, exitCode: process.exitCode };
  const capture = (stream: 'stdout' | 'stderr') => ((chunk: string | Uint8Array): boolean => ((out[stream] += String(chunk)), true)) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  process.exitCode = undefined;
  try {
    await main(args);
    return { code: Number(process.exitCode ?? 0), signal: null, ...out };
  } finally {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    process.exitCode = saved.exitCode;
  }
}

/**
 * The contract for bad input: non-zero status, one `threadgrad: error:` line and no stack
 * trace. With `afterLogs`, JSON log lines of a run that had started may come before it.
 */
export function expectOneLineError(r: CliResult, message: RegExp, { afterLogs = false } = {}): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code, r.stderr).not.toBeNull();
  const lines = r.stderr.trim().split('\n');
  const own = afterLogs ? lines.filter((l) => !l.startsWith('{')) : lines;
  expect(own, r.stderr).toHaveLength(1);
  expect(own[0]).toMatch(/^threadgrad: error: /);
  expect(own[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}
