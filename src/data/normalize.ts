// Feature scaling, fitted on the training samples only and applied alike to every split
// (and, through the checkpoint, to whatever eval, predict and export are given later):
// minmax maps each feature's training range to [0, 1], standard to mean 0 and variance 1.
// Pixels need none: the net sees byte / 255 (see InputSpec).
import { emptySplit, type InputSpec, type Normalization, type Split } from './dataset.js';

export const NORMALIZATIONS = ['none', 'minmax', 'standard'] as const;
export type NormalizeKind = (typeof NORMALIZATIONS)[number];

/** x' = (x - offset) * scale per feature, from the training split's values (pixels as byte / 255). A constant feature gets scale 1. */
export function fitNormalization(kind: Exclude<NormalizeKind, 'none'>, train: Split): Normalization {
  const F = train.features;
  const unit = train.x instanceof Uint8Array ? 1 / 255 : 1;
  const offset = new Array<number>(F).fill(0);
  const scale = new Array<number>(F).fill(1);
  for (let j = 0; j < F; j++) {
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < train.count; i++) {
      const v = train.x[i * F + j] * unit;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
      sumSq += v * v;
    }
    const mean = sum / train.count;
    const sd = Math.sqrt(Math.max(0, sumSq / train.count - mean * mean));
    offset[j] = kind === 'minmax' ? lo : mean;
    const spread = kind === 'minmax' ? hi - lo : sd;
    scale[j] = spread > 0 ? 1 / spread : 1;
  }
  return { kind, offset, scale };
}

/** The split as the net sees it under `input`: float features normalised; a pixel split turned into floats first where a normalisation is given. */
export function normalizeSplit(split: Split, input: InputSpec): Split {
  const n = input.normalize;
  if (!n) return split;
  const F = split.features;
  const out = emptySplit('floats', split.count, F);
  out.labels.set(split.labels);
  const values = out.x;
  for (let i = 0; i < split.count; i++) {
    for (let j = 0; j < F; j++) values[i * F + j] = scaled(split.x[i * F + j], j, split.x instanceof Uint8Array, n);
  }
  return out;
}

/** One sample's values as the net's input (float64): pixels / 255, then any normalisation. */
export function netInput(values: ArrayLike<number>, pixels: boolean, input: InputSpec): Float64Array {
  const n = input.normalize;
  return Float64Array.from({ length: values.length }, (_, j) => (n ? scaled(values[j], j, pixels, n) : pixels ? values[j] / 255 : values[j]));
}

function scaled(v: number, j: number, pixels: boolean, n: Normalization): number {
  return ((pixels ? v / 255 : v) - n.offset[j]) * n.scale[j];
}
