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

// ---- backward ----

/**
 * dW += inp^T . dout and db += column sums of dout; when dinp >= 0 also
 * dinp = (dout . W^T) where inp != 0, else 0.
 */
export function matmulBackward(dinp: isize, dW: usize, db: usize, dout: usize, inp: usize, W: usize, n: i32, inDim: i32, outDim: i32): void {
  const outRow = <usize>outDim << 2;
  const inRow = <usize>inDim << 2;
  for (let i = 0; i < n; i++) {
    const d = dout + <usize>i * outRow;
    const x = inp + <usize>i * inRow;
    axpy(db, d, 1, outDim);
    if (dinp < 0) {
      for (let k = 0; k < inDim; k += 64) {
        let m = nonzeroWord(x, k, inDim);
        while (m) {
          const kk = k + <i32>ctz(m);
          m &= m - 1;
          axpy(dW + <usize>kk * outRow, d, load<f32>(x + (<usize>kk << 2)), outDim);
        }
      }
    } else {
      const dx = <usize>dinp + <usize>i * inRow;
      memory.fill(dx, 0, inRow);
      for (let k = 0; k < inDim; k += 64) {
        let m = nonzeroWord(x, k, inDim);
        while (m) {
          const kk = k + <i32>ctz(m);
          m &= m - 1;
          const kb = <usize>kk << 2;
          const row = <usize>kk * outRow;
          store<f32>(dx + kb, axpyDot(dW + row, d, W + row, load<f32>(x + kb), outDim));
        }
      }
    }
  }
}

/** y[0..len) += a * v[0..len). */
@inline function axpy(y: usize, v: usize, a: f32, len: i32): void {
  const av = f32x4.splat(a);
  const end = <usize>len << 2;
  let j: usize = 0;
  for (; j + 64 <= end; j += 64) {
    const p = y + j, q = v + j;
    v128.store(p, f32x4.add(v128.load(p), f32x4.mul(av, v128.load(q))));
    v128.store(p, f32x4.add(v128.load(p, 16), f32x4.mul(av, v128.load(q, 16))), 16);
    v128.store(p, f32x4.add(v128.load(p, 32), f32x4.mul(av, v128.load(q, 32))), 32);
    v128.store(p, f32x4.add(v128.load(p, 48), f32x4.mul(av, v128.load(q, 48))), 48);
  }
  for (; j + 16 <= end; j += 16) v128.store(y + j, f32x4.add(v128.load(y + j), f32x4.mul(av, v128.load(v + j))));
  for (; j < end; j += 4) store<f32>(y + j, load<f32>(y + j) + a * load<f32>(v + j));
}

/** g[0..len) += a * d[0..len), returning d . w. */
@inline function axpyDot(g: usize, d: usize, w: usize, a: f32, len: i32): f32 {
  const av = f32x4.splat(a);
  let s0 = f32x4.splat(0), s1 = s0;
  const end = <usize>len << 2;
  let j: usize = 0;
  for (; j + 32 <= end; j += 32) {
    const d0 = v128.load(d + j), d1 = v128.load(d + j, 16);
    const p = g + j;
    v128.store(p, f32x4.add(v128.load(p), f32x4.mul(av, d0)));
    v128.store(p, f32x4.add(v128.load(p, 16), f32x4.mul(av, d1)), 16);
    s0 = f32x4.add(s0, f32x4.mul(d0, v128.load(w + j)));
    s1 = f32x4.add(s1, f32x4.mul(d1, v128.load(w + j, 16)));
  }
  for (; j + 16 <= end; j += 16) {
    const d0 = v128.load(d + j);
    v128.store(g + j, f32x4.add(v128.load(g + j), f32x4.mul(av, d0)));
    s0 = f32x4.add(s0, f32x4.mul(d0, v128.load(w + j)));
  }
  s0 = f32x4.add(s0, s1);
  let sum = f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1) + f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3);
  for (; j < end; j += 4) {
    const dj = load<f32>(d + j);
    store<f32>(g + j, load<f32>(g + j) + a * dj);
    sum += dj * load<f32>(w + j);
  }
  return sum;
}

// ---- reduce-scatter ----

/**
 * params[p] -= scale * sum over slots of slot[p] for byte offsets p in [lo, hi).
 * The slots are slotCount >= 1 blocks, slotStride bytes apart from firstSlot.
 */
export function reduceApply(params: usize, firstSlot: usize, slotStride: usize, slotCount: i32, lo: usize, hi: usize, scale: f32): void {
  const sv = f32x4.splat(scale);
  let p = lo;
  for (; p + 16 <= hi; p += 16) {
    let sum = v128.load(firstSlot + p);
    let slot = firstSlot + slotStride;
    for (let s = 1; s < slotCount; s++, slot += slotStride) sum = f32x4.add(sum, v128.load(slot + p));
    v128.store(params + p, f32x4.sub(v128.load(params + p), f32x4.mul(sv, sum)));
  }
  // The arena's slices are whole vectors; other callers may end mid-vector.
  for (; p < hi; p += 4) {
    let sum = load<f32>(firstSlot + p);
    let slot = firstSlot + slotStride;
    for (let s = 1; s < slotCount; s++, slot += slotStride) sum += load<f32>(slot + p);
    store<f32>(params + p, load<f32>(params + p) - scale * sum);
  }
}

// ---- zeroing ----

/** bytes [at, at + bytes) = 0: memory.fill is one bulk-memory instruction, ten times JS's fill on shared memory. */
export function zero(at: usize, bytes: usize): void {
  memory.fill(at, 0, bytes);
}

// ---- input ----

/** out[i] = src[i] / 255 as f32 for i < count: bytes widened 16 at a time. Division, not a
 * multiply by 1/255, so that the result is the correctly rounded one TsKernels computes. */
export function scalePixels(out: usize, src: usize, count: i32): void {
  const d = f32x4.splat(255);
  let i = 0;
  for (; i + 16 <= count; i += 16) {
    const bytes = v128.load(src + <usize>i);
    const lo = i16x8.extend_low_i8x16_u(bytes);
    const hi = i16x8.extend_high_i8x16_u(bytes);
    const p = out + (<usize>i << 2);
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), d));
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), d), 16);
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), d), 32);
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), d), 48);
  }
  for (; i < count; i++) store<f32>(out + (<usize>i << 2), <f32>load<u8>(src + <usize>i) / 255);
}
