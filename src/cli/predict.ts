// `threadgrad predict`: classify samples with a checkpoint: PNG images (for a model of 2-D
// pixel input), IDX files of one sample or N, CSV rows. Every file is checked against the
// shape and kind the model was trained on. A handful of samples needs no worker pool: the
// library's predict runs the reference forward pass in float64 on the saved weights.
import type { Argv, CommandModule } from 'yargs';
import { readCsvFile } from '../data/csv.js';
import { describe } from '../data/dataset.js';
import { readIdx } from '../data/idx.js';
import { decodePng, isPng } from '../data/png.js';
import { loadCheckpoint, predict, type Model } from '../index.js';
import { UserError } from '../util/errors.js';
import { readFileHead, readRegularFile, statRegular } from '../util/files.js';

export interface NamedSamples {
  /** One name per sample: the file, with [i] for the i-th of several. */
  names: string[];
  /** names.length samples of the model's input size, row-major, as read (pixel bytes or floats). */
  values: Uint8Array | Float32Array;
}

/** A PNG the size of any image a model here takes, whatever its chunks, is far smaller than this. */
const MAX_PNG_BYTES = 64 * 2 ** 20;

/** Formats that predict does not read, by their first bytes, so that the message can name them. */
const OTHER_FORMATS: [string, (b: Buffer) => boolean][] = [
  ['a JPEG image', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['a GIF image', (b) => b.toString('latin1', 0, 4) === 'GIF8'],
  ['a BMP image', (b) => b.toString('latin1', 0, 2) === 'BM'],
  ['a WebP image', (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP'],
  ['a TIFF image', (b) => ['II*\0', 'MM\0*'].includes(b.toString('latin1', 0, 4))],
];

/** What files predict reads for this model, for the messages. */
function accepted(model: Model): string {
  const { kind, shape } = model.input;
  const idx = `IDX files of N x ${shape.join('x')} ${kind === 'pixels' ? 'unsigned bytes' : 'floats'}`;
  if (kind === 'pixels' && shape.length === 2) return `${shape[1]}x${shape[0]} PNG images or ${idx}`;
  return `CSV files of ${shape.join('x')} features or ${idx}`;
}

/** The samples of one file, checked against what the model takes. */
export async function loadSamples(path: string, model: Model): Promise<NamedSamples> {
  const size = statRegular(path, 'input file').size;
  if (size === 0) throw new UserError(`${path} is empty; this model reads ${accepted(model)}`);
  const start = readFileHead(path, 16);
  const other = OTHER_FORMATS.find(([, is]) => is(start));
  if (other) throw new UserError(`${path} is ${other[0]}; this model reads ${accepted(model)}: convert it to an 8-bit PNG`);
  const { kind, shape } = model.input;
  if (isPng(start)) {
    if (kind !== 'pixels' || shape.length !== 2) throw new UserError(`${path} is a PNG image but the model takes ${describe(model.input)}; give it ${accepted(model)}`);
    const [height, width] = shape;
    const { pixels } = decodePng(readRegularFile(path, 'image file', MAX_PNG_BYTES), path, (w, h) => {
      if (w !== width || h !== height) throw new UserError(`${path} is ${w}x${h} pixels; the model takes ${width}x${height} images`);
    });
    return { names: [path], values: pixels };
  }
  if (looksLikeCsv(path, start)) return csvSamples(path, model);
  const { dims, data } = await readIdx(path);
  const one = dims.join('x') === shape.join('x');
  if ((!one && dims.slice(1).join('x') !== shape.join('x')) || (data instanceof Uint8Array) !== (kind === 'pixels')) {
    const what = `${dims.join('x')} ${data instanceof Uint8Array ? 'unsigned-byte values' : 'float values'}`;
    throw new UserError(`${path} holds IDX data of shape ${what}; the model takes ${accepted(model)}`);
  }
  const count = one ? 1 : dims[0];
  return { names: one ? [path] : Array.from({ length: count }, (_, i) => `${path}[${i}]`), values: data };
}

/** IDX files start with two zero bytes; a CSV file is text. */
function looksLikeCsv(path: string, start: Buffer): boolean {
  return /\.csv$/i.test(path) || (start.length >= 2 && !(start[0] === 0 && start[1] === 0) && !start.includes(0));
}

/**
 * CSV rows of the model's features; a row with one field more carries a label, dropped: the
 * column the model's training file had it in (by header name, else by index).
 */
async function csvSamples(path: string, model: Model): Promise<NamedSamples> {
  if (model.input.kind !== 'floats') throw new UserError(`${path} is a CSV file but the model takes ${describe(model.input)}; give it ${accepted(model)}`);
  const features = model.sizes[0];
  const label = model.input.labelColumn;
  const { split, columns } = await readCsvFile(path, { noLabel: true, columns: model.input.columns, skipColumn: label?.name });
  const names = Array.from({ length: split.count }, (_, i) => `${path}[${i}]`);
  if (split.features === features) return { names, values: split.x };
  if (split.features !== features + 1) throw new UserError(`${path} has rows of ${split.features} fields; the model takes ${features} features (and, optionally, a label)`);
  const byName = label?.name !== undefined && columns ? columns.indexOf(label.name) : -1;
  const skip = byName >= 0 ? byName : (label?.index ?? features);
  const values = new Float32Array(split.count * features);
  for (let i = 0; i < split.count; i++) {
    const row = split.x.subarray(i * (features + 1), (i + 1) * (features + 1));
    values.set(row.subarray(0, skip), i * features);
    values.set(row.subarray(skip + 1), i * features + skip);
  }
  return { names, values };
}

/**
 * Classifies the samples of every file it can read; a file it cannot (missing, of another
 * format or shape) gets one line on stderr, the others are still classified, and the
 * command then exits with status 1.
 */
async function run(argv: Record<string, unknown>): Promise<void> {
  const { model } = loadCheckpoint(argv.checkpoint as string);
  const invert = Boolean(argv.invert);
  if (invert && model.input.kind !== 'pixels') throw new UserError(`--invert is for pixel images; this model takes ${describe(model.input)}`, 2);
  let failed = 0;
  for (const path of (argv.inputs as string[]).map(String)) {
    let samples: NamedSamples;
    try {
      samples = await loadSamples(path, model);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      process.stderr.write(`threadgrad: error: ${e.message}\n`);
      failed++;
      continue;
    }
    const values = invert ? samples.values.map((p) => 255 - p) : samples.values;
    const { classes, probabilities } = predict(model, values);
    const outputs = model.sizes[model.sizes.length - 1];
    const lines = samples.names.map((name, i) => `${name}\t${classes[i]}\t${probabilities[i * outputs + classes[i]].toFixed(4)}\n`);
    process.stdout.write(lines.join(''));
  }
  if (failed > 0) process.exitCode = 1;
}

export const predictCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'predict <inputs..>',
  describe: 'classify images or samples with a checkpoint; prints name, class, probability per sample',
  builder: (y) =>
    y
      .positional('inputs', {
        describe: 'PNG images (8-bit gray, RGB or RGBA) of the size the model takes, IDX files of one sample or N, or CSV files of features (a label column, if present, is skipped)',
        type: 'string',
        array: true,
      })
      .option('checkpoint', { describe: 'checkpoint file written by `threadgrad train --checkpoint`', requiresArg: true, type: 'string', demandOption: true })
      .option('invert', { describe: 'the images are dark on a light background (MNIST is white on black)', type: 'boolean' })
      .example('$0 predict --checkpoint runs/mnist.ckpt seven.png', 'one digit')
      .example('$0 predict --checkpoint runs/mnist.ckpt t10k-images-idx3-ubyte', 'every image of an IDX file')
      .example('$0 predict --checkpoint runs/iris.ckpt flowers.csv', 'every row of a CSV file') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
