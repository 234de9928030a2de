// `threadgrad export`: a checkpoint's network for other runtimes (TF.js, ONNX, plain JSON).
// The files are built in memory first and the output path checked before anything is
// written, so that a bad checkpoint or path leaves nothing behind.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { holds, modelOf, readCheckpoint } from '../model/checkpoint.js';
import { UserError } from '../util/errors.js';
import { checkOutputFile, checkOutputFolder, writeFileAtomic } from '../util/files.js';
import { exportModelOf } from '../export/model.js';
import { encodeJson } from '../export/json.js';
import { encodeOnnx, IR_VERSION, OPSET } from '../export/onnx.js';
import { encodeTfjs, MODEL_FILE, WEIGHTS_FILE } from '../export/tfjs.js';

const FORMATS = ['tfjs', 'onnx', 'json'] as const;
type Format = (typeof FORMATS)[number];
const WHAT: Record<Format, string> = { tfjs: 'the TF.js model', onnx: 'the ONNX model', json: 'the JSON model' };

const INPUT_HELP =
  'The exported models take the input as the data holds it: for MNIST, 784 pixel values 0..255 as floats (28x28, row-major, ' +
  'white digit on black); for CSV data, the feature columns in order. The scaling of pixels by 1/255 and any normalisation ' +
  'the model carries are folded into the first layer. They output the class probabilities (softmax).\n\n' +
  `tfjs: a folder of ${MODEL_FILE} and ${WEIGHTS_FILE} for tf.loadLayersModel; ` +
  `onnx: one file (IR ${IR_VERSION}, opset ${OPSET}), input "input" [N, inputs], output "probabilities" [N, classes]; ` +
  'json: one file with each layer\'s W [in][out], b and activation.';

function run(argv: Record<string, unknown>): void {
  const format = String(argv.format) as Format;
  if (!FORMATS.includes(format)) throw new UserError(`--format must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(format)}`, 2);
  const out = String(argv.out);
  if (out === '') throw new UserError('--out names no path', 2);
  const checkpoint = argv.checkpoint as string;
  const model = exportModelOf(modelOf(readCheckpoint(checkpoint)));
  let files: [string, Uint8Array][];
  if (format === 'tfjs') {
    const { modelJson, weights } = encodeTfjs(model);
    checkOutputFolder(out, WHAT.tfjs);
    // model.json last: it names the weights, so a folder with a new model.json has the new weights too.
    files = [[join(out, WEIGHTS_FILE), weights], [join(out, MODEL_FILE), Buffer.from(modelJson)]];
  } else {
    files = [[out, format === 'onnx' ? encodeOnnx(model) : Buffer.from(encodeJson(model))]];
  }
  const what = WHAT[format];
  for (const [path] of files) {
    if (sameFile(path, checkpoint)) throw new UserError(`--out ${out} would overwrite the checkpoint ${checkpoint}`, 2);
    if (holds(path) === 'checkpoint') throw new UserError(`--out ${out} would overwrite ${path}, a threadgrad checkpoint: name another path`, 2);
    checkOutputFile(path, what);
  }
  for (const [path, bytes] of files) writeFileAtomic(path, bytes, what);
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

export const exportCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'export',
  describe: 'write a checkpoint\'s network for TF.js, ONNX runtimes or as plain JSON; it takes the data as it is (pixels 0..255)',
  builder: (y) =>
    y
      .option('checkpoint', { describe: 'checkpoint file written by `threadgrad train --checkpoint`', requiresArg: true, type: 'string', demandOption: true })
      .option('format', { describe: 'tfjs, onnx or json', requiresArg: true, type: 'string', demandOption: true })
      .option('out', { describe: 'where to write: a folder for tfjs (created if need be), a file for onnx and json', requiresArg: true, type: 'string', demandOption: true })
      .example('$0 export --checkpoint mnist.ckpt --format onnx --out mnist.onnx', 'for onnxruntime')
      .example('$0 export --checkpoint mnist.ckpt --format tfjs --out web/model', 'for TF.js: web/model/model.json')
      .epilog(INPUT_HELP) as Argv<Record<string, unknown>>,
  handler: (argv) => run(argv),
};
