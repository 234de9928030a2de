// What every export writes: the network's layers, with the input's preprocessing folded
// into the first one, so that another runtime (a browser, onnxruntime, TF.js) feeds the
// model the input as the data holds it, pixels as 0..255, and needs no code of ours.
//
// The trained network sees u = (x - o) * s per input: for pixels, o = 0 and s = 1/255
// (with a normalisation of its own, u = (x/255 - offset) * scale, i.e. o = 255 * offset,
// s = scale / 255); for floats, offset and scale as given, else none. Since
// u . W1 + b1 = x . (diag(s) W1) + (b1 - (o * s) . W1), the exports carry
// W1' = diag(s) W1 and b1' = b1 - (o * s) . W1, computed in float64 and stored in float32.
import type { Model } from '../model/checkpoint.js';
import { layerViews, modelShape } from '../model/model.js';
import { UserError } from '../util/errors.js';

export interface ExportModel {
  /** [inputs, hidden..., classes] */
  sizes: number[];
  /** W[l] is sizes[l] x sizes[l + 1], row-major; as trained, before any folding. */
  W: Float32Array[];
  b: Float32Array[];
  /**
   * What the data holds. Offset and scale (one value for all inputs, or one per input)
   * normalise it: x' = (x - offset) * scale, for pixels after the division by 255.
   */
  input: { kind: 'pixels' | 'floats'; shape: number[]; offset?: ArrayLike<number>; scale?: ArrayLike<number> };
}

/** A trained model's layers (unpadded) and its input, with the normalisation the checkpoint stored. */
export function exportModelOf(model: Model): ExportModel {
  const shape = modelShape(model.sizes);
  const { W, b } = layerViews(model.params, shape);
  const { kind, shape: inputShape, normalize } = model.input;
  const input: ExportModel['input'] = { kind, shape: [...inputShape], ...(normalize && { offset: normalize.offset, scale: normalize.scale }) };
  return { sizes: [...shape.sizes], W: W.map((w) => w.slice()), b: b.map((v) => v.slice()), input };
}

/** The layers an export writes: hidden ones with ReLU, the last with softmax. */
interface ExportLayers {
  sizes: number[];
  W: Float32Array[];
  b: Float32Array[];
}

/** The network that takes the raw input: its first layer folded as the input description says. */
export function foldInput(m: ExportModel): ExportLayers {
  const inputs = m.sizes[0];
  const cells = m.input.shape.reduce((a, d) => a * d, 1);
  if (cells !== inputs) throw new UserError(`the model's input is described as ${m.input.shape.join('x')} but its first layer takes ${inputs} values`);
  const pixels = m.input.kind === 'pixels';
  const offset = perInput(m.input.offset, inputs, 'offset', 0);
  const scale = perInput(m.input.scale, inputs, 'scale', 1);
  const s = (k: number): number => (pixels ? scale(k) / 255 : scale(k));
  const o = (k: number): number => (pixels ? 255 * offset(k) : offset(k));
  const [W1, b1] = [m.W[0], m.b[0]];
  const outs = m.sizes[1];
  const W = new Float32Array(W1.length);
  const b = Float64Array.from(b1);
  for (let k = 0; k < inputs; k++) {
    for (let j = 0; j < outs; j++) {
      const w = s(k) * W1[k * outs + j];
      W[k * outs + j] = w;
      b[j] -= o(k) * w;
    }
  }
  return { sizes: [...m.sizes], W: [W, ...m.W.slice(1)], b: [Float32Array.from(b), ...m.b.slice(1)] };
}

function perInput(values: ArrayLike<number> | undefined, inputs: number, what: string, none: number): (k: number) => number {
  if (values === undefined) return () => none;
  if (values.length !== 1 && values.length !== inputs) throw new UserError(`the model's input ${what} has ${values.length} values; it needs 1 or ${inputs}`);
  if (!Array.from(values).every(Number.isFinite)) throw new UserError(`the model's input ${what} holds a value that is not a finite number`);
  return values.length === 1 ? () => values[0] : (k) => values[k];
}

/** What the exported model takes, in words, for the files' own descriptions. */
export function inputNote(m: ExportModel): string {
  const what = m.input.kind === 'pixels' ? 'pixel values 0..255 as floats' : 'the input values as the data holds them';
  const steps = [m.input.kind === 'pixels' && 'the scaling by 1/255', (m.input.offset || m.input.scale) && 'the normalisation (x - offset) * scale'];
  const folded = steps.filter(Boolean).join(' and ');
  return `input: ${what}, ${m.input.shape.join('x')} = ${m.sizes[0]} per sample, row-major; ${folded ? `${folded} folded into the first layer` : 'no preprocessing'}`;
}

/** float32 little-endian, as both the TF.js weights file and ONNX raw_data store tensors. */
export function float32LE(tensors: Float32Array[]): Uint8Array {
  const count = tensors.reduce((n, t) => n + t.length, 0);
  const out = new Uint8Array(4 * count);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const t of tensors) for (let i = 0; i < t.length; i++, at += 4) view.setFloat32(at, t[i], true);
  return out;
}
