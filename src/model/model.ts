// The MLP's shape and parameters: inputs -> hidden... -> classes (784 -> 128 -> 64 -> 10 for
// MNIST), every tensor in one flat Float32Array so that it can live in shared memory and
// be checkpointed as one block.
// W of a layer is stored [inDim][outDim] row-major: the inner loops of the kernels
// then walk contiguous rows of W and of the activations.
import { Rng } from '../util/rng.js';

export interface Layer {
  inDim: number;
  outDim: number;
  /** Offset of W (inDim x outDim) within the parameter block, in floats. */
  w: number;
  /** Offset of b (outDim) within the parameter block, in floats. */
  b: number;
}

export interface ModelShape {
  /** Layer sizes from input to output, e.g. [784, 128, 64, 10]. */
  sizes: number[];
  layers: Layer[];
  /** Floats in the parameter block, including padding that keeps every tensor 16-byte aligned. */
  paramCount: number;
}

/** Round up to a multiple of 4 floats (16 bytes, one f32x4 SIMD lane group); in doubles, not 32-bit integers, so that no size wraps around. */
export const align4 = (n: number): number => Math.ceil(n / 4) * 4;

export function modelShape(sizes: number[]): ModelShape {
  const layers: Layer[] = [];
  let offset = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inDim = sizes[l];
    const outDim = sizes[l + 1];
    const w = offset;
    offset += align4(inDim * outDim);
    const b = offset;
    offset += align4(outDim);
    layers.push({ inDim, outDim, w, b });
  }
  return { sizes: [...sizes], layers, paramCount: offset };
}

/** He initialisation: W ~ N(0, 2 / fan_in), b = 0. Padding stays zero. */
export function initParams(params: Float32Array | Float64Array, shape: ModelShape, rng: Rng): void {
  params.fill(0);
  for (const { inDim, outDim, w } of shape.layers) {
    const std = Math.sqrt(2 / inDim);
    for (let i = 0; i < inDim * outDim; i++) params[w + i] = rng.normal() * std;
  }
}

/** The flat parameter block as views per layer, without copying: W[l] (inDim x outDim) and b[l]. */
export function layerViews<T extends Float32Array | Float64Array>(params: T, shape: ModelShape): { W: T[]; b: T[] } {
  return {
    W: shape.layers.map(({ inDim, outDim, w }) => params.subarray(w, w + inDim * outDim) as T),
    b: shape.layers.map(({ outDim, b }) => params.subarray(b, b + outDim) as T),
  };
}

/** Multiply-adds of one sample's forward + backward pass, dense (no zero skipping). */
export function flopsPerSample(shape: ModelShape): number {
  let macs = 0;
  shape.layers.forEach(({ inDim, outDim }, l) => {
    macs += inDim * outDim; // forward
    macs += inDim * outDim; // dW
    if (l > 0) macs += inDim * outDim; // d(input); the pixels need none
  });
  return 2 * macs;
}
