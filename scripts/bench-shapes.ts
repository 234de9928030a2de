// `npm run bench:shapes`: training speed on inputs other than MNIST's 784 bytes, against
// MNIST itself in the same run, rounds alternating: MNIST as is, MNIST centre-cropped to
// 20x20 pixels (400), and MNIST as 784 float32 features (the CSV and float-IDX path). Each
// figure is the median over rounds of an epoch's samples/s (the second and later epochs,
// once the workers' code is compiled), and that times the input size: input floats a second.
import { loadMnist, makeDataset, type Dataset } from '../src/index.js';
import { median } from '../src/bench/summary.js';
import { DEFAULTS } from '../src/config.js';
import { train } from '../src/train.js';
import { prepare } from '../src/sources.js';
import { scriptFlags } from './flags.js';

const USAGE = 'Usage: npm run bench:shapes -- [--rounds 3] [--epochs 3] [--workers 2] [--batch 64]';
const flags = scriptFlags('bench-shapes', USAGE, { rounds: '3', epochs: '3', workers: String(DEFAULTS.workers), batch: String(DEFAULTS.batchSize) });
const [rounds, epochs, workers, batch] = [flags.int('rounds', 1), flags.int('epochs', 2), flags.int('workers', 1, 1024), flags.int('batch', 1)];

const mnist = await loadMnist();

/** Every image's central size x size pixels. */
function cropped(data: Dataset, size: number): Dataset {
  const from = (28 - size) / 2;
  const crop = (s: Dataset['train']) => {
    const x = new Uint8Array(s.count * size * size);
    for (let i = 0; i < s.count; i++) {
      for (let r = 0; r < size; r++) x.set(s.x.subarray(i * 784 + (from + r) * 28 + from, i * 784 + (from + r) * 28 + from + size), (i * size + r) * size);
    }
    return { x, labels: s.labels };
  };
  return makeDataset(crop(data.train), crop(data.test), { shape: [size, size], classes: 10 });
}

/** The same images as floats in [0, 1], as a CSV of pixel columns would give them. */
function floats(data: Dataset): Dataset {
  const f = (s: Dataset['train']) => ({ x: Float32Array.from(s.x, (v) => v / 255), labels: s.labels });
  return makeDataset(f(data.train), f(data.test), { shape: [784], classes: 10 });
}

const sets: [string, Dataset][] = [['MNIST 28x28 bytes', mnist], ['20x20 bytes (cropped)', cropped(mnist, 20)], ['784 float32', floats(mnist)]];
const speeds = new Map<string, number[]>(sets.map(([name]) => [name, []]));
const cfg = { ...DEFAULTS, epochs, workers, batchSize: batch, patience: 0, valSplit: 0 };
for (let r = 0; r < rounds; r++) {
  for (const [name, data] of sets) {
    const result = await train(cfg, { data: prepare(cfg, data) });
    speeds.get(name)!.push(...result.epochs.slice(1).map((e) => e.samplesPerSec));
  }
}

const mnistSpeed = median(speeds.get(sets[0][0])!);
process.stdout.write(`${workers} worker(s), batch ${batch}, ${rounds} round(s) of ${epochs} epochs, hidden ${cfg.hidden.join(',')}\n`);
process.stdout.write('input                    samples/s   input values/s   vs MNIST (samples/s)\n');
for (const [name, data] of sets) {
  const s = median(speeds.get(name)!);
  const features = data.train.features;
  process.stdout.write(`${name.padEnd(24)} ${Math.round(s).toLocaleString('en-US').padStart(9)}   ${(s * features / 1e6).toFixed(1).padStart(8)} M    ${(s / mnistSpeed).toFixed(2)}\n`);
}
