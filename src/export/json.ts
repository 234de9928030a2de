// The network as plain JSON, for a runtime of one's own: the layer sizes, each layer's
// activation, W as nested arrays [in][out] and b, and what the input is. Forward pass:
// h = x; for each layer, z[j] = b[j] + sum_k h[k] * W[k][j], then relu, or softmax on the last.
import { foldInput, inputNote, type ExportModel } from './model.js';

const JSON_FORMAT = 'threadgrad-mlp';

export function encodeJson(m: ExportModel): string {
  const { sizes, W, b } = foldInput(m);
  const activation = (l: number): string => (l === W.length - 1 ? 'softmax' : 'relu');
  return JSON.stringify({
    format: JSON_FORMAT,
    version: 1,
    sizes,
    activations: W.map((_, l) => activation(l)),
    input: { kind: m.input.kind, shape: m.input.shape, ...(m.input.kind === 'pixels' && { range: [0, 255] }), note: inputNote(m) },
    output: 'class probabilities',
    layers: W.map((w, l) => {
      const outs = sizes[l + 1];
      return { activation: activation(l), W: Array.from({ length: sizes[l] }, (_, k) => short(w.subarray(k * outs, (k + 1) * outs))), b: short(b[l]) };
    }),
  }) + '\n';
}

/**
 * Each float32 as the number with the fewest digits that rounds back to it (9 always do):
 * half the size of its exact float64 value, and the same weights in any float32 runtime.
 */
function short(values: Float32Array): number[] {
  return Array.from(values, (v) => {
    for (let digits = 6; digits < 9; digits++) {
      const n = Number(v.toPrecision(digits));
      if (Math.fround(n) === v) return n;
    }
    return Number(v.toPrecision(9));
  });
}
