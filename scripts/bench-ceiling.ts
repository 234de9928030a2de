// What the machine's cores deliver independently: the ceiling for any data-parallel
// speedup. Runs the 1-worker benchmark alone, then N copies of it at once in separate
// processes (nothing shared but the hardware), and prints their summed samples/s over the
// solo figure. On a VM whose "cores" share physical cores or a busy host, that ratio falls
// well short of N, and no trainer's N-worker speedup can beat it. The copies skip bench's
// round-trip probe, whose two spinning threads would take cores from the other copies.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from '../src/bench/summary.js';
import { DEFAULTS } from '../src/config.js';
import { KERNEL_KINDS } from '../src/kernels/kernels.js';
import { scriptFlags } from './flags.js';

const USAGE = 'Usage: npm run bench:ceiling -- [--copies 2] [--batch 256] [--kernels wasm|ts]';
const flags = scriptFlags('bench-ceiling', USAGE, { copies: '2', batch: '256', kernels: DEFAULTS.kernels });
const copies = flags.int('copies', 1);
const batch = flags.int('batch', 1);
const kernels = flags.oneOf('kernels', KERNEL_KINDS);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'threadgrad-ceiling-'));

/** One single-worker benchmark in its own process; resolves to its samples/s. */
function soloBench(name: string): Promise<number> {
  const out = join(scratch, name);
  const args = [cli, 'bench', '--workers-list', '1', '--batch-sizes', String(batch), '--kernels', kernels, '--steps', '100', '--repeats', '5', '--no-round-trip', '--out', out];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, THREADGRAD_LOG_LEVEL: 'warn' } });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`benchmark process exited with ${code}`));
      const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchReport;
      resolve(report.rows[0].samplesPerSec);
    });
  });
}

try {
  const alone = await soloBench('alone');
  const together = await Promise.all(Array.from({ length: copies }, (_, i) => soloBench(`copy${i}`)));
  const sum = together.reduce((a, b) => a + b, 0);
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`batch ${batch}, ${kernels} kernels, 1 worker per process`);
  console.log(`alone:              ${fmt(alone)} samples/s`);
  console.log(`${copies} at once:          ${together.map(fmt).join(' + ')} = ${fmt(sum)} samples/s`);
  console.log(`ceiling:            ${(sum / alone).toFixed(2)}x of one process (ideal ${copies}.00x); the slowest copy ran at ${(Math.min(...together) / alone).toFixed(2)}x`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
