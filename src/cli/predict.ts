// `threadgrad predict`: classify 28x28 images with a checkpoint. A handful of images needs
// no worker pool, so the forward pass runs right here: the reference's, in float64, on the saved weights.
import { closeSync, openSync, readSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { modelParams, readCheckpoint } from '../model/checkpoint.js';
import { UserError } from '../util/errors.js';
import { readRegularFile, statRegular } from '../util/files.js';
import { readIdx } from '../data/idx.js';
import { IMAGE_SIZE } from '../data/mnist.js';
import { layerViews, modelShape } from '../model/model.js';
import { referenceForward, softmax, type ReferenceModel } from '../reference.js';
import { decodePng, isPng } from '../data/png.js';

export interface NamedImage {
  name: string;
  /** 784 pixels, row-major, 0 = background. */
  pixels: Uint8Array;
}

/** A PNG of 28x28 pixels, whatever its chunks, is far smaller than this. */
const MAX_PNG_BYTES = 16 * 2 ** 20;

/** Image formats that predict does not read, by their first bytes, so that the message can name them. */
const OTHER_FORMATS: [string, (b: Buffer) => boolean][] = [
  ['a JPEG image', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['a GIF image', (b) => b.toString('latin1', 0, 4) === 'GIF8'],
  ['a BMP image', (b) => b.toString('latin1', 0, 2) === 'BM'],
  ['a WebP image', (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP'],
  ['a TIFF image', (b) => ['II*\0', 'MM\0*'].includes(b.toString('latin1', 0, 4))],
];

/** The images of one file: a 28x28 PNG, or an IDX file of Nx28x28 (or one 28x28) unsigned bytes. */
export async function loadImages(path: string): Promise<NamedImage[]> {
  const size = statRegular(path, 'image file').size;
  if (size === 0) throw new UserError(`${path} is empty; predict reads 28x28 PNG images or IDX image files`);
  const start = firstBytes(path, 16);
  const other = OTHER_FORMATS.find(([, is]) => is(start));
  if (other) throw new UserError(`${path} is ${other[0]}; predict reads 28x28 PNG images or IDX image files: convert it to an 8-bit PNG`);
  if (isPng(start)) {
    const { pixels } = decodePng(readRegularFile(path, 'image file', MAX_PNG_BYTES), path, (width, height) => {
      if (width !== 28 || height !== 28) {
        throw new UserError(`${path} is ${width}x${height} pixels; predict needs 28x28 images (MNIST style: white digit on black)`);
      }
    });
    return [{ name: path, pixels }];
  }
  const { dims, data } = await readIdx(path);
  const shape = dims.join('x');
  if (dims.length === 2 && dims[0] === 28 && dims[1] === 28) return [{ name: path, pixels: data }];
  if (dims.length !== 3 || dims[1] !== 28 || dims[2] !== 28) {
    throw new UserError(`${path} holds IDX data of shape ${shape}; predict needs Nx28x28 images (or a 28x28 PNG)`);
  }
  return Array.from({ length: dims[0] }, (_, i) => ({ name: `${path}[${i}]`, pixels: data.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE) }));
}

/** Class probabilities of one image, by the reference forward pass in float64 on the saved weights. */
export function classify(model: ReferenceModel, pixels: Uint8Array): Float64Array {
  return softmax(referenceForward(model, Float64Array.from(pixels, (p) => p / 255)).logits);
}

function firstBytes(path: string, count: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(count);
    return buffer.subarray(0, readSync(fd, buffer, 0, count, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Classifies the images of every file it can read; a file it cannot (missing, of another
 * format or shape) gets one line on stderr, the others are still classified, and the
 * command then exits with status 1.
 */
async function run(argv: Record<string, unknown>): Promise<void> {
  const ckpt = readCheckpoint(argv.checkpoint as string);
  const shape = modelShape(ckpt.header.sizes.slice(1, -1));
  const model = { sizes: shape.sizes, ...layerViews(modelParams(ckpt), shape) };
  const invert = Boolean(argv.invert);
  const paths = (argv.images as string[]).map(String);
  let failed = 0;
  for (const path of paths) {
    let images: NamedImage[];
    try {
      images = await loadImages(path);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      process.stderr.write(`threadgrad: error: ${e.message}\n`);
      failed++;
      continue;
    }
    const lines = images.map(({ name, pixels }) => {
      const probs = classify(model, invert ? pixels.map((p) => 255 - p) : pixels);
      const digit = probs.indexOf(Math.max(...probs));
      return `${name}\t${digit}\t${probs[digit].toFixed(4)}\n`;
    });
    process.stdout.write(lines.join(''));
  }
  if (failed > 0) process.exitCode = 1;
}

export const predictCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'predict <images..>',
  describe: 'classify 28x28 PNG images or IDX image files; prints file, digit, probability per image',
  builder: (y) =>
    y
      .positional('images', { describe: '28x28 PNG files (8-bit gray, RGB or RGBA) or IDX files of Nx28x28 images', type: 'string', array: true })
      .option('checkpoint', { describe: 'checkpoint file written by `threadgrad train --checkpoint`', requiresArg: true, type: 'string', demandOption: true })
      .option('invert', { describe: 'the images are dark digits on a light background (MNIST is white on black)', type: 'boolean' })
      .example('$0 predict --checkpoint runs/mnist.ckpt seven.png', 'one digit')
      .example('$0 predict --checkpoint runs/mnist.ckpt t10k-images-idx3-ubyte', 'every image of an IDX file') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
