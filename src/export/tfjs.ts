// The network as a TF.js LayersModel folder: model.json (a Keras Sequential of Dense
// layers, ReLU on the hidden ones and softmax on the last, and the manifest of the
// weights) and weights.bin (the kernels [in, out] and biases, float32 little-endian, in
// manifest order). A browser loads it with tf.loadLayersModel('<url>/model.json'); Node
// without tfjs-node, which has no file:// loader, with
//   tf.loadLayersModel(tf.io.fromMemory(readTfjsArtifacts(folder)))
import { join } from 'node:path';
import { float32LE, foldInput, inputNote, type ExportModel } from './model.js';
import { readRegularFile } from '../util/files.js';
import { UserError } from '../util/errors.js';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** The two files of the folder, the model taking the raw input (see foldInput). */
export function encodeTfjs(m: ExportModel): { modelJson: string; weights: Uint8Array } {
  const { sizes, W, b } = foldInput(m);
  const last = W.length - 1;
  const layers = W.map((_, l) => ({
    class_name: 'Dense',
    config: {
      name: `dense_${l + 1}`,
      trainable: true,
      ...(l === 0 && { batch_input_shape: [null, sizes[0]] }),
      dtype: 'float32',
      units: sizes[l + 1],
      activation: l === last ? 'softmax' : 'relu',
      use_bias: true,
    },
  }));
  const specs: WeightSpec[] = W.flatMap((_, l) => [
    { name: `dense_${l + 1}/kernel`, shape: [sizes[l], sizes[l + 1]], dtype: 'float32' as const },
    { name: `dense_${l + 1}/bias`, shape: [sizes[l + 1]], dtype: 'float32' as const },
  ]);
  const model = {
    format: 'layers-model',
    generatedBy: 'threadgrad',
    convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: 'threadgrad_mlp', layers } },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
    userDefinedMetadata: { threadgrad: { input: { kind: m.input.kind, shape: m.input.shape }, note: inputNote(m) } },
  };
  return { modelJson: JSON.stringify(model) + '\n', weights: float32LE(W.flatMap((w, l) => [w, b[l]])) };
}

/** What tf.io.fromMemory takes: the topology, the weight specs and their bytes, read from a folder that encodeTfjs wrote (or any layers-model folder). */
export function readTfjsArtifacts(folder: string): { modelTopology: object; weightSpecs: WeightSpec[]; weightData: ArrayBuffer; userDefinedMetadata?: object } {
  const path = join(folder, MODEL_FILE);
  let json: { modelTopology?: object; weightsManifest?: { paths: string[]; weights: WeightSpec[] }[]; userDefinedMetadata?: object };
  try {
    json = JSON.parse(readRegularFile(path, 'TF.js model').toString('utf8'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path} is not JSON: ${(e as Error).message}`);
  }
  if (!json?.modelTopology || !Array.isArray(json.weightsManifest)) throw new UserError(`${path} is not a TF.js layers model (no modelTopology or weightsManifest)`);
  const groups = json.weightsManifest;
  const bytes = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => readRegularFile(join(folder, p), 'TF.js weights file'))));
  const weightSpecs = groups.flatMap((g) => g.weights);
  return { modelTopology: json.modelTopology, weightSpecs, weightData: new Uint8Array(bytes).buffer, userDefinedMetadata: json.userDefinedMetadata };
}
