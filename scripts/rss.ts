// Does memory stay flat across epochs? Trains (5 epochs by default, checkpointing every
// epoch) and prints the resident set size after each epoch; the worker threads live in
// this process, so RSS covers them too. Growth is measured from the end of epoch 1, once
// the pools, kernels and first allocations have settled. Settings as for `threadgrad
// train`, through THREADGRAD_* variables:
//   node dist/scripts/rss.js
//   THREADGRAD_TRAIN_LIMIT=10000 THREADGRAD_EPOCHS=8 node dist/scripts/rss.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../src/config.js';
import { createLogger } from '../src/cli/log.js';
import { train } from '../src/train.js';
import { loadDataset } from '../src/sources.js';

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1).padStart(7) + ' MiB';

const scratch = mkdtempSync(join(tmpdir(), 'threadgrad-rss-'));
const cfg = resolveConfig({ env: process.env });
cfg.checkpoint ??= join(scratch, 'rss.ckpt');
const data = await loadDataset(cfg);
const before = process.memoryUsage().rss;
const samples: number[] = [];
process.stdout.write(`${cfg.epochs} epochs, ${data.train.count} training samples, hidden ${cfg.hidden.join(',')}, ${cfg.workers} workers\n`);
process.stdout.write(`data loaded, before training: ${mib(before)}\n`);
try {
  await train(cfg, {
    data,
    log: createLogger({ level: 'warn' }),
    onEpoch: (record) => {
      samples.push(process.memoryUsage().rss);
      process.stdout.write(`after epoch ${String(record.epoch).padStart(2)}:             ${mib(samples[samples.length - 1])}\n`);
    },
  });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (samples.length >= 2) {
  const growth = samples[samples.length - 1] - samples[0];
  const perEpoch = growth / (samples.length - 1);
  process.stdout.write(`growth from epoch 1 to ${samples.length}: ${growth >= 0 ? '+' : ''}${mib(growth).trim()} (${(perEpoch / 2 ** 20).toFixed(2)} MiB per epoch)\n`);
}
