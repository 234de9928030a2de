// `export`: a network trained on real MNIST, exported through the command line in each
// format and run by the runtime each format is for (TF.js, onnxruntime, a plain forward
// pass over the JSON), answers 1,000 test images given as raw bytes 0..255 as threadgrad
// itself answers them (predict's forward pass on byte / 255): the same digit, and
// probabilities within 1e-5.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { head, loadMnist } from '../src/data/dataset.js';
import { loadCheckpoint, predict, train } from '../src/index.js';
import { softmax } from '../src/reference.js';
import { foldInput, type ExportModel } from '../src/export/model.js';
import { varint } from '../src/export/protobuf.js';
import { readTfjsArtifacts } from '../src/export/tfjs.js';
import { blobSplit, expectOneLineError, runCli, tempDir } from './synthetic.js';

const IMAGES = 1000;
const IMAGE_SIZE = 784;
const CLASSES = 10;

const argmax3 = (p: ArrayLike<number>, at: number): number => [0, 1, 2].reduce((best, c) => (p[at + c] > p[at + best] ? c : best), 0);
const argmax = (p: ArrayLike<number>, at = 0): number => {
  let best = 0;
  for (let c = 1; c < CLASSES; c++) if (p[at + c] > p[at + best]) best = c;
  return best;
};

describe('export', () => {
  const dir = tempDir();
  const ckpt = join(dir, 'model.ckpt');
  const out = { tfjs: join(dir, 'tfjs'), onnx: join(dir, 'model.onnx'), json: join(dir, 'model.json') };
  /** The test images as the exports take them: bytes as floats, unscaled. */
  let raw: Float32Array;
  /** threadgrad's probabilities, IMAGES x CLASSES. */
  let expected: Float64Array;

  beforeAll(async () => {
    const mnist = await loadMnist();
    const data = { ...mnist, train: head(mnist.train, 3000), test: head(mnist.test, IMAGES) };
    await train({ data, patience: 0, valSplit: 0, epochs: 1, hidden: [32, 16], batchSize: 32, checkpoint: ckpt });
    raw = Float32Array.from(data.test.x);
    expected = Float64Array.from(predict(loadCheckpoint(ckpt).model, data.test.x).probabilities);
    const runs = await Promise.all(Object.entries(out).map(([format, path]) => runCli(['export', '--checkpoint', ckpt, '--format', format, '--out', path])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
  });

  /** Every argmax as threadgrad's, every probability within 1e-5 of threadgrad's. */
  function compare(probs: ArrayLike<number>): void {
    expect(probs.length).toBe(IMAGES * CLASSES);
    let worst = 0;
    for (let i = 0; i < IMAGES; i++) {
      expect(argmax(probs, i * CLASSES), `image ${i}`).toBe(argmax(expected, i * CLASSES));
      for (let c = 0; c < CLASSES; c++) worst = Math.max(worst, Math.abs(probs[i * CLASSES + c] - expected[i * CLASSES + c]));
    }
    expect(worst).toBeLessThan(1e-5);
  }

  it('tfjs: tf.loadLayersModel runs it as threadgrad does, from memory as from a web server', async () => {
    expect(readdirSync(out.tfjs).sort()).toEqual(['model.json', 'weights.bin']);
    await tf.setBackend('cpu');
    tf.enableProdMode(); // not to be told, on stderr, to install tfjs-node
    // A browser's way in: model.json by URL, then the weight files it names, relative to it.
    const fetchFunc: typeof fetch = async (url) => new Response(readFileSync(join(out.tfjs, new URL(String(url)).pathname)));
    const [model, served] = await Promise.all([
      tf.loadLayersModel(tf.io.fromMemory(readTfjsArtifacts(out.tfjs))),
      tf.loadLayersModel('http://localhost/model.json', { fetchFunc }),
    ]);
    expect(model.inputs[0].shape).toEqual([null, 784]);
    expect(model.getUserDefinedMetadata()).toMatchObject({ threadgrad: { input: { kind: 'pixels', shape: [28, 28] } } });
    const input = tf.tensor2d(raw, [IMAGES, IMAGE_SIZE]);
    const outputs = [model, served].map((m) => m.predict(input) as tf.Tensor);
    const [probs, servedProbs] = await Promise.all(outputs.map((o) => o.data()));
    tf.dispose([input, ...outputs]);
    [model, served].forEach((m) => m.dispose());
    compare(probs);
    expect(servedProbs).toEqual(probs);
  });

  it('onnx: onnxruntime runs it as threadgrad does', async () => {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(readFileSync(out.onnx));
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['probabilities']);
    const result = await session.run({ input: new ort.Tensor('float32', raw, [IMAGES, IMAGE_SIZE]) });
    expect(result.probabilities.dims).toEqual([IMAGES, CLASSES]);
    await session.release();
    compare(result.probabilities.data as Float32Array);
  });

  it('json: a plain forward pass over its layers answers as threadgrad does', () => {
    const json = JSON.parse(readFileSync(out.json, 'utf8'));
    expect(json.sizes).toEqual([784, 32, 16, 10]);
    expect(json.activations).toEqual(['relu', 'relu', 'softmax']);
    expect(json.input).toMatchObject({ kind: 'pixels', shape: [28, 28], range: [0, 255] });
    const probs = new Float64Array(IMAGES * CLASSES);
    for (let i = 0; i < IMAGES; i++) {
      let h: number[] = Array.from(raw.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE));
      for (const { W, b, activation } of json.layers as { W: number[][]; b: number[]; activation: string }[]) {
        const z = b.map((bj, j) => h.reduce((sum, hk, k) => sum + hk * W[k][j], bj));
        h = activation === 'relu' ? z.map((v) => Math.max(v, 0)) : Array.from(softmax(Float64Array.from(z)));
      }
      probs.set(h, i * CLASSES);
    }
    compare(probs);
  });

  it('onnx: a model of standardised float features takes the features as they are', async () => {
    const [trainSet, testSet] = [blobSplit(400, 1, 5, 3), blobSplit(100, 2, 5, 3)];
    const floatsCkpt = join(tempDir(), 'floats.ckpt');
    const data = { train: trainSet, test: testSet, classes: 3, input: { kind: 'floats' as const, shape: [5] } };
    await train({ data, normalize: 'standard', patience: 0, epochs: 2, hidden: [8], batchSize: 16, checkpoint: floatsCkpt });
    const onnx = join(tempDir(), 'floats.onnx');
    const r = await runCli(['export', '--checkpoint', floatsCkpt, '--format', 'onnx', '--out', onnx]);
    expect(r.code, r.stderr).toBe(0);
    const session = await ort.InferenceSession.create(readFileSync(onnx));
    const result = await session.run({ input: new ort.Tensor('float32', testSet.x as Float32Array, [100, 5]) });
    await session.release();
    const ours = predict(loadCheckpoint(floatsCkpt).model, testSet.x);
    const theirs = result.probabilities.data as Float32Array;
    theirs.forEach((p, i) => expect(Math.abs(p - ours.probabilities[i])).toBeLessThan(1e-5));
    expect(Array.from({ length: 100 }, (_, i) => argmax3(theirs, i * 3))).toEqual(Array.from(ours.classes));
  });

  it('folds a normalisation into the first layer: the raw input gives the logits the normalised input gave', () => {
    const sizes = [3, 2, 2];
    const W = [Float32Array.from([1, -2, 0.5, 3, -1, 4]), Float32Array.from([1, 0, 0, 1])];
    const b = [Float32Array.from([0.25, -0.5]), Float32Array.from([0, 0])];
    const x = [10, 200, 37];
    const firstLayer = (m: { W: Float32Array[]; b: Float32Array[] }, u: number[]): number[] =>
      [0, 1].map((j) => u.reduce((s, uk, k) => s + uk * m.W[0][k * 2 + j], m.b[0][j]));
    const cases: [ExportModel['input'], number[]][] = [
      [{ kind: 'pixels', shape: [3] }, x.map((v) => v / 255)],
      [{ kind: 'pixels', shape: [1, 3], offset: [0.1307], scale: [1 / 0.3081] }, x.map((v) => (v / 255 - 0.1307) / 0.3081)],
      [{ kind: 'floats', shape: [3], offset: [1, 2, 3], scale: [0.5, 2, -1] }, x.map((v, k) => (v - [1, 2, 3][k]) * [0.5, 2, -1][k])],
      [{ kind: 'floats', shape: [3] }, x],
    ];
    for (const [input, u] of cases) {
      const folded = foldInput({ sizes, W, b, input });
      firstLayer(folded, x).forEach((z, j) => expect(z).toBeCloseTo(firstLayer({ W, b }, u)[j], 4));
      expect(folded.W[1]).toBe(W[1]);
    }
    expect(() => foldInput({ sizes, W, b, input: { kind: 'floats', shape: [2, 2] } })).toThrow(/described as 2x2 but its first layer takes 3/);
    expect(() => foldInput({ sizes, W, b, input: { kind: 'floats', shape: [3], scale: [1, 2] } })).toThrow(/scale has 2 values; it needs 1 or 3/);
  });

  it('writes varints low bits first, seven to a byte', () => {
    expect([...varint(0)]).toEqual([0]);
    expect([...varint(150)]).toEqual([0x96, 0x01]);
    expect([...varint(2 ** 35)]).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(() => varint(-1)).toThrow(RangeError);
  });

  it.concurrent.each([
    ['a format it does not write', ['--format', 'pt', '--out', 'x.pt'], /--format must be one of tfjs, onnx, json, not "pt"/],
    ['no --out', ['--format', 'onnx'], /Missing required argument: out/],
    ['an onnx --out that is a folder', ['--format', 'onnx', '--out', '{dir}'], /cannot write the ONNX model .*: it is a folder; give a file name/],
    ['a json --out that is a folder', ['--format', 'json', '--out', '{dir}'], /cannot write the JSON model .*: it is a folder; give a file name/],
    ['an --out nobody can write', ['--format', 'onnx', '--out', '/proc/x'], /cannot write the ONNX model \/proc\/x/],
    ['a tfjs --out nobody can write', ['--format', 'tfjs', '--out', '/proc/x'], /cannot write the TF\.js model/],
    ['a tfjs --out that is a file', ['--format', 'tfjs', '--out', '{ckpt}'], /cannot write the TF\.js model .*is not a folder/],
    ['an --out that is the checkpoint', ['--format', 'json', '--out', '{ckpt}'], /--out .* would overwrite the checkpoint/],
  ])('refuses %s in one line, writing nothing', async (_, args, message) => {
    const empty = join(tempDir(), 'empty');
    mkdirSync(empty);
    const r = await runCli(['export', '--checkpoint', ckpt, ...args.map((a) => a.replace('{dir}', empty).replace('{ckpt}', ckpt))], { cwd: empty });
    expectOneLineError(r, message);
    expect(readdirSync(empty)).toEqual([]);
  });

  it('refuses a corrupt checkpoint with the reader\'s own message, writing nothing', async () => {
    const bad = join(dir, 'corrupt.ckpt');
    const bytes = readFileSync(ckpt);
    bytes[bytes.length - 100] ^= 1;
    writeFileSync(bad, bytes);
    const junk = join(dir, 'junk.ckpt');
    writeFileSync(junk, 'not a checkpoint');
    const target = join(dir, 'never.onnx');
    const [corrupt, other] = await Promise.all([
      runCli(['export', '--checkpoint', bad, '--format', 'onnx', '--out', target]),
      runCli(['export', '--checkpoint', junk, '--format', 'json', '--out', target]),
    ]);
    expectOneLineError(corrupt, /corrupt\.ckpt .*checksum mismatch/);
    expectOneLineError(other, /junk\.ckpt is not a threadgrad checkpoint/);
    expect(readdirSync(dir)).not.toContain('never.onnx');
  });
});
