// The forward pass of a layer: out = inp . W + b, then ReLU.
import { nonzeroWord } from './nonzero';

/** Inputs whose nonzero masks are computed once and shared by every column block. */
const GROUP = 256;

/** out[n][outDim] = inp[n][inDim] . W + b, then ReLU when relu != 0. */
export function matmulForward(out: usize, inp: usize, W: usize, b: usize, n: i32, inDim: i32, outDim: i32, relu: i32): void {
  const outRow = <usize>outDim << 2;
  const inRow = <usize>inDim << 2;
  for (let i = 0; i < n; i++) {
    const o = out + <usize>i * outRow;
    const x = inp + <usize>i * inRow;
    if (outDim < 4) {
      forwardColumns(o, x, W, b, inDim, outDim, relu);
      continue;
    }
    // Column blocks whose accumulators stay in registers while they walk a group of inputs;
    // between groups the partial sums wait in the output row. V8 keeps 15 xmm registers:
    // 7 accumulators + 7 weights + the input fit.
    const whole = outDim & ~3;
    for (let k = 0; k < inDim; k += GROUP) {
      const m0 = nonzeroWord(x, k, inDim), m1 = nonzeroWord(x, k + 64, inDim);
      const m2 = nonzeroWord(x, k + 128, inDim), m3 = nonzeroWord(x, k + 192, inDim);
      const from = k == 0 ? b : o;
      const last = k + GROUP >= inDim ? relu : 0;
      let j = 0;
      for (; j + 28 <= whole; j += 28) forwardBlock(7, o, from, x, W, outRow, <usize>j << 2, k, m0, m1, m2, m3, last);
      for (; j + 16 <= whole; j += 16) forwardBlock(4, o, from, x, W, outRow, <usize>j << 2, k, m0, m1, m2, m3, last);
      for (; j + 8 <= whole; j += 8) forwardBlock(2, o, from, x, W, outRow, <usize>j << 2, k, m0, m1, m2, m3, last);
      for (; j < whole; j += 4) forwardBlock(1, o, from, x, W, outRow, <usize>j << 2, k, m0, m1, m2, m3, last);
    }
    // The last < 4 columns: recompute the last 4 in one go, from the bias over all inputs,
    // which rewrites the overlapping columns with identical values.
    if (whole < outDim) forwardLast4(o, x, W, b, inDim, outDim, relu);
  }
}

/** Nonzero mask q (0..3) of a group. */
@inline function word(q: i32, m0: u64, m1: u64, m2: u64, m3: u64): u64 {
  return q == 0 ? m0 : q == 1 ? m1 : q == 2 ? m2 : m3;
}

/**
 * Columns [col, col + 4 * width) of one sample over one group of inputs, their `width`
 * accumulators (1 to 7) in registers. `width` is a literal at every call, so after inlining
 * only its accumulators are compiled: one block per width, without a copy per width here.
 */
@inline function forwardBlock(width: i32, o: usize, from: usize, x: usize, W: usize, outRow: usize, col: usize, k: i32, m0: u64, m1: u64, m2: u64, m3: u64, relu: i32): void {
  const init = from + col;
  const z = f32x4.splat(0);
  let a0 = v128.load(init);
  let a1 = width > 1 ? v128.load(init, 16) : z;
  let a2 = width > 2 ? v128.load(init, 32) : z;
  let a3 = width > 3 ? v128.load(init, 48) : z;
  let a4 = width > 4 ? v128.load(init, 64) : z;
  let a5 = width > 5 ? v128.load(init, 80) : z;
  let a6 = width > 6 ? v128.load(init, 96) : z;
  const Wcol = W + col;
  for (let q = 0; q < 4; q++) {
    let m = word(q, m0, m1, m2, m3);
    const base = k + (q << 6);
    while (m) {
      const kk = base + <i32>ctz(m);
      m &= m - 1;
      const xv = v128.load32_splat(x + (<usize>kk << 2));
      const w = Wcol + <usize>kk * outRow;
      a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(w)));
      if (width > 1) a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(w, 16)));
      if (width > 2) a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(w, 32)));
      if (width > 3) a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(w, 48)));
      if (width > 4) a4 = f32x4.add(a4, f32x4.mul(xv, v128.load(w, 64)));
      if (width > 5) a5 = f32x4.add(a5, f32x4.mul(xv, v128.load(w, 80)));
      if (width > 6) a6 = f32x4.add(a6, f32x4.mul(xv, v128.load(w, 96)));
    }
  }
  const p = o + col;
  v128.store(p, relu ? f32x4.pmax(z, a0) : a0);
  if (width > 1) v128.store(p, relu ? f32x4.pmax(z, a1) : a1, 16);
  if (width > 2) v128.store(p, relu ? f32x4.pmax(z, a2) : a2, 32);
  if (width > 3) v128.store(p, relu ? f32x4.pmax(z, a3) : a3, 48);
  if (width > 4) v128.store(p, relu ? f32x4.pmax(z, a4) : a4, 64);
  if (width > 5) v128.store(p, relu ? f32x4.pmax(z, a5) : a5, 80);
  if (width > 6) v128.store(p, relu ? f32x4.pmax(z, a6) : a6, 96);
}

/** Columns [outDim - 4, outDim) of one sample over all inputs, from the bias. */
function forwardLast4(o: usize, x: usize, W: usize, b: usize, inDim: i32, outDim: i32, relu: i32): void {
  const col = <usize>(outDim - 4) << 2;
  const outRow = <usize>outDim << 2;
  let a0 = v128.load(b + col);
  const Wcol = W + col;
  for (let k = 0; k < inDim; k += 64) {
    let m = nonzeroWord(x, k, inDim);
    while (m) {
      const kk = k + <i32>ctz(m);
      m &= m - 1;
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(x + (<usize>kk << 2)), v128.load(Wcol + <usize>kk * outRow)));
    }
  }
  if (relu) a0 = f32x4.pmax(f32x4.splat(0), a0);
  v128.store(o + col, a0);
}

/** Scalar forward of one sample, for rows narrower than a vector. */
function forwardColumns(o: usize, x: usize, W: usize, b: usize, inDim: i32, outDim: i32, relu: i32): void {
  const outRow = <usize>outDim << 2;
  for (let j = 0; j < outDim; j++) {
    const col = <usize>j << 2;
    let acc = load<f32>(b + col);
    for (let k = 0; k < inDim; k++) {
      const xk = load<f32>(x + (<usize>k << 2));
      if (xk != 0) acc += xk * load<f32>(W + <usize>k * outRow + col);
    }
    store<f32>(o + col, relu && acc < 0 ? 0 : acc);
  }
}
