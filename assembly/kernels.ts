// WebAssembly SIMD (f32x4) kernels behind src/kernels-wasm.ts. Every pointer is a BYTE
// address in the shared arena memory; W is [inDim][outDim] row-major; rows are not padded.
//
// The module keeps no state in memory at all (no data segments, no stack, no heap): it
// only reads and writes the tensors it is handed, so any number of threads can run it on
// the same memory at once.
//
// Zero inputs are skipped exactly, as in TsKernels: MNIST pixels are ~80% zero and ReLU
// outputs ~50%. Nonzeros are found 64 inputs at a time as a bit mask (SIMD compares), and
// the kernels then walk the set bits, so skipping costs no branch per input.

// ---- finding nonzero inputs ----

/** Bit t set where the float at p + 4t is nonzero, for t < 16. */
@inline function nonzero16(p: usize): i32 {
  const z = f32x4.splat(0);
  const lo = i16x8.narrow_i32x4_s(f32x4.ne(v128.load(p), z), f32x4.ne(v128.load(p, 16), z));
  const hi = i16x8.narrow_i32x4_s(f32x4.ne(v128.load(p, 32), z), f32x4.ne(v128.load(p, 48), z));
  return i8x16.bitmask(i8x16.narrow_i16x8_s(lo, hi));
}

/** Nonzero mask of x[k .. min(k + 64, end)), bit t for x[k + t]; never reads past x[end - 1]. */
@inline function nonzeroWord(x: usize, k: i32, end: i32): u64 {
  const p = x + (<usize>k << 2);
  if (k + 64 <= end) {
    return <u64><u32>nonzero16(p) | (<u64><u32>nonzero16(p + 64) << 16)
      | (<u64><u32>nonzero16(p + 128) << 32) | (<u64><u32>nonzero16(p + 192) << 48);
  }
  let m: u64 = 0;
  let t = 0;
  for (; k + t + 16 <= end; t += 16) m |= <u64><u32>nonzero16(p + (<usize>t << 2)) << t;
  for (; k + t < end; t++) if (load<f32>(p + (<usize>t << 2)) != 0) m |= (<u64>1) << t;
  return m;
}

// ---- forward ----

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
      for (; j + 28 <= whole; j += 28) forward7(o, from, x, W, outRow, <usize>j << 2, k, m0, m1, m2, m3, last);
      for (; j + 16 <= whole; j += 16) forward4(o, from, x, W, outRow, <usize>j << 2, k, m0, m1, m2, m3, last);
      for (; j < whole; j += 4) forward1(o, from, x, W, outRow, <usize>j << 2, k, m0, m1, m2, m3, last);
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

@inline function forward7(o: usize, from: usize, x: usize, W: usize, outRow: usize, col: usize, k: i32, m0: u64, m1: u64, m2: u64, m3: u64, relu: i32): void {
  const init = from + col;
  let a0 = v128.load(init), a1 = v128.load(init, 16), a2 = v128.load(init, 32), a3 = v128.load(init, 48);
  let a4 = v128.load(init, 64), a5 = v128.load(init, 80), a6 = v128.load(init, 96);
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
      a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(w, 16)));
      a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(w, 32)));
      a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(w, 48)));
      a4 = f32x4.add(a4, f32x4.mul(xv, v128.load(w, 64)));
      a5 = f32x4.add(a5, f32x4.mul(xv, v128.load(w, 80)));
      a6 = f32x4.add(a6, f32x4.mul(xv, v128.load(w, 96)));
    }
  }
  if (relu) {
    const z = f32x4.splat(0);
    a0 = f32x4.pmax(z, a0); a1 = f32x4.pmax(z, a1); a2 = f32x4.pmax(z, a2); a3 = f32x4.pmax(z, a3);
    a4 = f32x4.pmax(z, a4); a5 = f32x4.pmax(z, a5); a6 = f32x4.pmax(z, a6);
  }
  const p = o + col;
  v128.store(p, a0); v128.store(p, a1, 16); v128.store(p, a2, 32); v128.store(p, a3, 48);
  v128.store(p, a4, 64); v128.store(p, a5, 80); v128.store(p, a6, 96);
}

@inline function forward4(o: usize, from: usize, x: usize, W: usize, outRow: usize, col: usize, k: i32, m0: u64, m1: u64, m2: u64, m3: u64, relu: i32): void {
  const init = from + col;
  let a0 = v128.load(init), a1 = v128.load(init, 16), a2 = v128.load(init, 32), a3 = v128.load(init, 48);
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
      a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(w, 16)));
      a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(w, 32)));
      a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(w, 48)));
    }
  }
  if (relu) {
    const z = f32x4.splat(0);
    a0 = f32x4.pmax(z, a0); a1 = f32x4.pmax(z, a1); a2 = f32x4.pmax(z, a2); a3 = f32x4.pmax(z, a3);
  }
  const p = o + col;
  v128.store(p, a0); v128.store(p, a1, 16); v128.store(p, a2, 32); v128.store(p, a3, 48);
}

@inline function forward1(o: usize, from: usize, x: usize, W: usize, outRow: usize, col: usize, k: i32, m0: u64, m1: u64, m2: u64, m3: u64, relu: i32): void {
  let a0 = v128.load(from + col);
  const Wcol = W + col;
  for (let q = 0; q < 4; q++) {
    let m = word(q, m0, m1, m2, m3);
    const base = k + (q << 6);
    while (m) {
      const kk = base + <i32>ctz(m);
      m &= m - 1;
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(x + (<usize>kk << 2)), v128.load(Wcol + <usize>kk * outRow)));
    }
  }
  if (relu) a0 = f32x4.pmax(f32x4.splat(0), a0);
  v128.store(o + col, a0);
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

// ---- backward: the deltas ----

/** dinp[n][inDim] = dout . W^T where inp != 0, else 0 (inp is the ReLU output: ReLU' = 1 exactly there). */
export function backpropInput(dinp: usize, dout: usize, inp: usize, W: usize, n: i32, inDim: i32, outDim: i32): void {
  const outRow = <usize>outDim << 2;
  const inRow = <usize>inDim << 2;
  for (let i = 0; i < n; i++) {
    const d = dout + <usize>i * outRow;
    const x = inp + <usize>i * inRow;
    const dx = dinp + <usize>i * inRow;
    memory.fill(dx, 0, inRow);
    for (let k = 0; k < inDim; k += 64) {
      let m = nonzeroWord(x, k, inDim);
      while (m) {
        const kk = k + <i32>ctz(m);
        m &= m - 1;
        store<f32>(dx + (<usize>kk << 2), dot(d, W + <usize>kk * outRow, outDim));
      }
    }
  }
}

/** d[0..len) . w[0..len). */
@inline function dot(d: usize, w: usize, len: i32): f32 {
  let s0 = f32x4.splat(0), s1 = s0;
  const end = <usize>len << 2;
  let j: usize = 0;
  for (; j + 32 <= end; j += 32) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(d + j), v128.load(w + j)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(d + j, 16), v128.load(w + j, 16)));
  }
  if (j + 16 <= end) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(d + j), v128.load(w + j)));
    j += 16;
  }
  s0 = f32x4.add(s0, s1);
  let sum = f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1) + f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3);
  for (; j < end; j += 4) sum += load<f32>(d + j) * load<f32>(w + j);
  return sum;
}

// ---- backward: weight gradients, reduced and applied row by row ----
//
// The gradient of W is inp^T . dout summed over every sample of the round. Row k of it
// needs column k of inp and all of dout, so a row can be finished (reduced over all
// samples and applied) by whichever thread takes it: no per-thread gradient copies.

const ACCUMULATE = 0; // gW[k] += g_k                      (a round before the step's last)
const APPLY = 1; //      W[k] -= scale * g_k                (a step of one round: gW stays zero)
const APPLY_AND_CLEAR = 2; // W[k] -= scale * (gW[k] + g_k), gW[k] = 0   (the last of several rounds)

/** Rows handled together: one 16-bit nonzero mask per sample sorts the samples into the rows' lists. */
const ROWS = 16;

/**
 * For rows k in [rowLo, rowHi) of a layer: g_k = sum over i < n of inp[i][k] * dout[i],
 * in order of i. Row k == inDim is the bias row (every input 1), stored at b and gb.
 * When pix >= 0 the inputs are pixels: the u32 at pix + 4i is the byte address of sample
 * i's pixels, and inp[i][k] = pixel / 255, the value inp holds (a float64 multiply by
 * 1/255 rounds to the same float32 as the division for every byte, and costs less). Pixels are never written,
 * so they sit in every core's cache, while inp was half written by other cores.
 * `scratch`: this thread's 16 counts and 16 lists of n (dout row offset, input) pairs.
 */
export function updateRows(
  W: usize, b: usize, gW: usize, gb: usize, inp: usize, pix: isize, dout: usize, n: i32, inDim: i32, outDim: i32,
  rowLo: i32, rowHi: i32, scale: f32, mode: i32, scratch: usize,
): void {
  const outRow = <usize>outDim << 2;
  const inRow = <usize>inDim << 2;
  const lists = scratch + (ROWS << 2);
  const listBytes = <usize>n << 3;
  const end = min(rowHi, inDim);
  for (let k0 = rowLo; k0 < end; k0 += ROWS) {
    const rows = min(ROWS, end - k0);
    memory.fill(scratch, 0, ROWS << 2);
    // Sort each sample's nonzero inputs of rows k0.. into the rows' lists, in sample order.
    for (let i = 0; i < n; i++) {
      let m: u32, at: usize;
      if (pix >= 0) {
        at = <usize>load<u32>(<usize>pix + (<usize>i << 2)) + <usize>k0;
        m = rows == ROWS ? <u32>i8x16.bitmask(i8x16.ne(v128.load(at), i8x16.splat(0))) : <u32>nonzeroBytes(at, rows);
      } else {
        at = inp + <usize>i * inRow + (<usize>k0 << 2);
        m = rows == ROWS ? <u32>nonzero16(at) : <u32>nonzeroWord(at, 0, rows);
      }
      const d = <u32>i * <u32>outRow;
      while (m) {
        const j = <usize>ctz(m);
        m &= m - 1;
        const c = load<u32>(scratch + (j << 2));
        store<u32>(scratch + (j << 2), c + 1);
        const e = lists + j * listBytes + (<usize>c << 3);
        store<u32>(e, d);
        store<f32>(e, pix >= 0 ? <f32>(<f64>load<u8>(at + j) * (1.0 / 255)) : load<f32>(at + (j << 2)), 4);
      }
    }
    for (let j = 0; j < rows; j++) {
      const count = <usize>load<u32>(scratch + (<usize>j << 2));
      if (count == 0 && mode != APPLY_AND_CLEAR) continue; // nothing to add, nothing to clear
      const row = <usize>(k0 + j) * outRow;
      updateRow(W + row, gW + row, dout, outDim, count, lists + <usize>j * listBytes, scale, mode);
    }
  }
  if (rowHi > inDim) {
    for (let i = 0; i < n; i++) {
      store<u32>(lists + (<usize>i << 3), <u32>i * <u32>outRow);
      store<f32>(lists + (<usize>i << 3), 1, 4);
    }
    updateRow(b, gb, dout, outDim, <usize>n, lists, scale, mode);
  }
}

/** Nonzero mask of the `count` < 16 bytes at p. */
@inline function nonzeroBytes(p: usize, count: i32): u32 {
  let m: u32 = 0;
  for (let t = 0; t < count; t++) if (load<u8>(p + <usize>t) != 0) m |= 1 << t;
  return m;
}

/** One row, in column blocks whose sums stay in registers over all of the row's samples. */
@inline function updateRow(row: usize, grow: usize, dout: usize, outDim: i32, count: usize, list: usize, scale: f32, mode: i32): void {
  const whole = <usize>(outDim & ~3) << 2;
  let c: usize = 0;
  for (; c + 112 <= whole; c += 112) rowBlock7(row + c, grow + c, dout + c, count, list, scale, mode);
  for (; c + 64 <= whole; c += 64) rowBlock4(row + c, grow + c, dout + c, count, list, scale, mode);
  for (; c + 16 <= whole; c += 16) rowBlock1(row + c, grow + c, dout + c, count, list, scale, mode);
  const end = <usize>outDim << 2;
  for (; c < end; c += 4) {
    let acc: f32 = mode == APPLY ? 0 : load<f32>(grow + c);
    for (let t: usize = 0; t < count; t++) acc += load<f32>(list + (t << 3), 4) * load<f32>(dout + c + <usize>load<u32>(list + (t << 3)));
    if (mode == ACCUMULATE) store<f32>(grow + c, acc);
    else {
      store<f32>(row + c, load<f32>(row + c) - scale * acc);
      if (mode != APPLY) store<f32>(grow + c, 0);
    }
  }
}

@inline function finish(row: usize, grow: usize, acc: v128, sv: v128, mode: i32, offset: usize): void {
  if (mode == ACCUMULATE) v128.store(grow + offset, acc);
  else {
    v128.store(row + offset, f32x4.sub(v128.load(row + offset), f32x4.mul(sv, acc)));
    if (mode != APPLY) v128.store(grow + offset, f32x4.splat(0));
  }
}

/** 28 columns: 7 accumulators + 7 loads + the input splat fit V8's 15 xmm registers. */
@inline function rowBlock7(row: usize, grow: usize, d: usize, count: usize, list: usize, scale: f32, mode: i32): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
  if (mode != APPLY) {
    a0 = v128.load(grow); a1 = v128.load(grow, 16); a2 = v128.load(grow, 32); a3 = v128.load(grow, 48);
    a4 = v128.load(grow, 64); a5 = v128.load(grow, 80); a6 = v128.load(grow, 96);
  }
  for (let t: usize = 0; t < count; t++) {
    const e = list + (t << 3);
    const xv = v128.load32_splat(e, 4);
    const p = d + <usize>load<u32>(e);
    a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(p)));
    a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(p, 16)));
    a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(p, 32)));
    a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(p, 48)));
    a4 = f32x4.add(a4, f32x4.mul(xv, v128.load(p, 64)));
    a5 = f32x4.add(a5, f32x4.mul(xv, v128.load(p, 80)));
    a6 = f32x4.add(a6, f32x4.mul(xv, v128.load(p, 96)));
  }
  const sv = f32x4.splat(scale);
  finish(row, grow, a0, sv, mode, 0); finish(row, grow, a1, sv, mode, 16); finish(row, grow, a2, sv, mode, 32);
  finish(row, grow, a3, sv, mode, 48); finish(row, grow, a4, sv, mode, 64); finish(row, grow, a5, sv, mode, 80);
  finish(row, grow, a6, sv, mode, 96);
}

@inline function rowBlock4(row: usize, grow: usize, d: usize, count: usize, list: usize, scale: f32, mode: i32): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  if (mode != APPLY) {
    a0 = v128.load(grow); a1 = v128.load(grow, 16); a2 = v128.load(grow, 32); a3 = v128.load(grow, 48);
  }
  for (let t: usize = 0; t < count; t++) {
    const e = list + (t << 3);
    const xv = v128.load32_splat(e, 4);
    const p = d + <usize>load<u32>(e);
    a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(p)));
    a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(p, 16)));
    a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(p, 32)));
    a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(p, 48)));
  }
  const sv = f32x4.splat(scale);
  finish(row, grow, a0, sv, mode, 0); finish(row, grow, a1, sv, mode, 16); finish(row, grow, a2, sv, mode, 32);
  finish(row, grow, a3, sv, mode, 48);
}

@inline function rowBlock1(row: usize, grow: usize, d: usize, count: usize, list: usize, scale: f32, mode: i32): void {
  let a0 = mode == APPLY ? f32x4.splat(0) : v128.load(grow);
  for (let t: usize = 0; t < count; t++) {
    const e = list + (t << 3);
    a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(e, 4), v128.load(d + <usize>load<u32>(e))));
  }
  finish(row, grow, a0, f32x4.splat(scale), mode, 0);
}

// ---- input ----

/** Floats at p = the 16 bytes at src / 255, widened 16 at a time. Division, not a multiply by
 * 1/255, so that the result is the correctly rounded one TsKernels computes. */
@inline function scale16(p: usize, src: usize): void {
  const bytes = v128.load(src);
  if (!v128.any_true(bytes)) {
    // Most of an MNIST image is background: no divisions for it.
    const z = f32x4.splat(0);
    v128.store(p, z); v128.store(p, z, 16); v128.store(p, z, 32); v128.store(p, z, 48);
    return;
  }
  const d = f32x4.splat(255);
  const lo = i16x8.extend_low_i8x16_u(bytes);
  const hi = i16x8.extend_high_i8x16_u(bytes);
  v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), d));
  v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), d), 16);
  v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), d), 32);
  v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), d), 48);
}

/** out[i] = src[i] / 255 as f32 for i < count. */
export function scalePixels(out: usize, src: usize, count: i32): void {
  let i = 0;
  for (; i + 16 <= count; i += 16) scale16(out + (<usize>i << 2), src + <usize>i);
  for (; i < count; i++) store<f32>(out + (<usize>i << 2), <f32>load<u8>(src + <usize>i) / 255);
}

/**
 * Row r < n of out (count floats, count a multiple of 16) = the bytes at the u32 address
 * table[r], / 255. Rows go in pairs: the images lie far apart in a shuffled batch, and two
 * streams of misses overlap where one waits.
 */
export function gatherPixels(out: usize, table: usize, n: i32, count: i32): void {
  const rowBytes = <usize>count << 2;
  let r = 0;
  for (; r + 2 <= n; r += 2) {
    const a = <usize>load<u32>(table + (<usize>r << 2)), b = <usize>load<u32>(table + (<usize>r << 2), 4);
    const pa = out + <usize>r * rowBytes, pb = pa + rowBytes;
    for (let i: usize = 0; i < <usize>count; i += 16) {
      scale16(pa + (i << 2), a + i);
      scale16(pb + (i << 2), b + i);
    }
  }
  if (r < n) {
    const a = <usize>load<u32>(table + (<usize>r << 2));
    const pa = out + <usize>r * rowBytes;
    for (let i: usize = 0; i < <usize>count; i += 16) scale16(pa + (i << 2), a + i);
  }
}

// ---- cache warming ----

/**
 * Reads one float in every 64-byte line of [at, at + bytes) and returns their sum (so that
 * the reads stay). A sequential sweep that the hardware prefetcher streams: it moves the
 * lines another core has just written into this core's cache far faster than the
 * forward pass would, one latency-bound miss at a time in the order of nonzero inputs.
 */
export function pull(at: usize, bytes: usize): f32 {
  let s0 = f32x4.splat(0), s1 = s0;
  let p = at;
  const end = at + bytes;
  for (; p + 128 <= end; p += 128) {
    s0 = f32x4.add(s0, v128.load(p));
    s1 = f32x4.add(s1, v128.load(p, 64));
  }
  for (; p + 16 <= end; p += 64) s0 = f32x4.add(s0, v128.load(p));
  return f32x4.extract_lane(f32x4.add(s0, s1), 0);
}
