// `threadgrad predict`: classify 28x28 images with a checkpoint. A handful of images needs
// no worker pool, so the forward pass runs right here, in float64, from the saved weights.
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { readCheckpoint } from '../checkpoint.js';
import { UserError } from '../errors.js';
import { readIdx } from '../idx.js';
import { IMAGE_SIZE } from '../mnist.js';
import { modelShape, type ModelShape } from '../model.js';
import { decodePng, isPng } from '../png.js';
import { TsKernels } from '../kernels.js';

export interface NamedImage {
  name: string;
  /** 784 pixels, row-major, 0 = background. */
  pixels: Uint8Array;
}

/** The images of one file: a 28x28 PNG, or an IDX file of Nx28x28 (or one 28x28) unsigned bytes. */
export function loadImages(path: string): NamedImage[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read image file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (isPng(bytes)) {
    const { width, height, pixels } = decodePng(bytes, path);
    if (width !== 28 || height !== 28) {
      throw new UserError(`${path} is ${width}x${height} pixels; predict needs 28x28 images (MNIST style: white digit on black)`);
    }
    return [{ name: path, pixels }];
  }
  const { dims, data } = readIdx(path);
  const shape = dims.join('x');
  if (dims.length === 2 && dims[0] === 28 && dims[1] === 28) return [{ name: path, pixels: data }];
  if (dims.length !== 3 || dims[1] !== 28 || dims[2] !== 28) {
    throw new UserError(`${path} holds IDX data of shape ${shape}; predict needs Nx28x28 images (or a 28x28 PNG)`);
  }
  return Array.from({ length: dims[0] }, (_, i) => ({ name: `${path}[${i}]`, pixels: data.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE) }));
}

/** Class probabilities of one image: the trainer's own forward kernels on a small float64 arena, then softmax. */
export function classify(params: Float32Array, shape: ModelShape, pixels: Uint8Array): Float64Array {
  // [parameters | input | each layer's output], offsets as the kernels take them.
  const f = new Float64Array(shape.paramCount + IMAGE_SIZE + shape.layers.reduce((n, L) => n + L.outDim, 0));
  f.set(params);
  const kernels = new TsKernels(f);
  let inp = shape.paramCount;
  kernels.scalePixels(inp, pixels, 0, IMAGE_SIZE);
  let out = inp + IMAGE_SIZE;
  shape.layers.forEach((L, l) => {
    kernels.matmulForward(out, inp, L.w, L.b, 1, L.inDim, L.outDim, l < shape.layers.length - 1);
    inp = out;
    out += L.outDim;
  });
  const logits = f.subarray(inp, out);
  const max = Math.max(...logits);
  const exp = logits.map((z) => Math.exp(z - max));
  const total = exp.reduce((a, v) => a + v, 0);
  return exp.map((e) => e / total);
}

function run(argv: Record<string, unknown>): void {
  const ckpt = readCheckpoint(argv.checkpoint as string);
  const shape = modelShape(ckpt.header.sizes.slice(1, -1));
  const invert = Boolean(argv.invert);
  // Load every file first, so that a bad one fails the command before any output.
  const images = (argv.images as string[]).flatMap((path) => loadImages(String(path)));
  const lines = images.map(({ name, pixels }) => {
    const probs = classify(ckpt.params, shape, invert ? pixels.map((p) => 255 - p) : pixels);
    const digit = probs.indexOf(Math.max(...probs));
    return `${name}\t${digit}\t${probs[digit].toFixed(4)}\n`;
  });
  process.stdout.write(lines.join(''));
}

export const predictCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'predict <images..>',
  describe: 'classify 28x28 PNG images or IDX image files; prints file, digit, probability per image',
  builder: (y) =>
    y
      .positional('images', { describe: '28x28 PNG files (8-bit gray, RGB or RGBA) or IDX files of Nx28x28 images', type: 'string', array: true, defaultDescription: 'none' })
      .option('checkpoint', { describe: 'checkpoint file written by `threadgrad train --checkpoint`', requiresArg: true, type: 'string', demandOption: true })
      .option('invert', { describe: 'the images are dark digits on a light background (MNIST is white on black)', type: 'boolean' })
      .example('$0 predict --checkpoint runs/mnist.ckpt seven.png', 'one digit')
      .example('$0 predict --checkpoint runs/mnist.ckpt t10k-images-idx3-ubyte', 'every image of an IDX file') as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
