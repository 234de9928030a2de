// Phase 2 of a step: the weight gradients, reduced over a chunk's samples and applied, row
// by row.
//
// The gradient of W is inp^T . dout summed over every sample of the chunk. Row k of it
// needs column k of inp and all of dout, so a row can be finished (reduced over all
// samples and applied) by whichever worker takes it: no per-worker gradient copies.
import { pixels4 } from './memory';
import { nonzeroBytes, nonzeroWord } from './nonzero';

// What a row's sums g_k become; W' is the copy being written (see updateRows).
const ACCUMULATE = 0; //      gW[k] += g_k                                (a chunk before the step's last)
const APPLY = 1; //           W'[k] = rule(W[k], g_k)                     (a step of one chunk: gW stays zero)
const APPLY_AND_CLEAR = 2; // W'[k] = rule(W[k], gW[k] + g_k), gW[k] = 0  (the last of several chunks)

// The update rules, numbered as in src/kernels/update-rule.ts.
const PLAIN = 0; //    W' = W - scale * g
const SGD = 1; //      d = g * gscale + wd * W; W' = W - lr * d
const MOMENTUM = 2; // v' = mu * v + d; W' = W - lr * v'
const NESTEROV = 3; // v' = mu * v + d; W' = W - lr * (d + mu * v')
const ADAM = 4; //     m' = b1 * m + (1 - b1) * d; v' = b2 * v + (1 - b2) * d^2; W' = W - step * m' / (sqrt(v') * c2 + eps)
const ADAMW = 5; //    as ADAM with d = g * gscale, and W' from W * (1 - lr * wd)

// The rule of the current updateRows call. Module globals belong to an instance, and every
// worker has an instance of its own, so they are the worker's alone.
let RULE = PLAIN;
let STRIDE: usize = 0;
let GSCALE: f32 = 0;
let LR: f32 = 0;
let MU: f32 = 0;
let WD: f32 = 0;
let B1: f32 = 0;
let B2: f32 = 0;
let EPS: f32 = 0;
let STEP: f32 = 0;
let C2: f32 = 0;

/** Rows handled together: a sample's inputs of 16 rows are one vector of pixel bytes or four of floats. */
const ROWS = 16;

/**
 * For rows k in [rowLo, rowHi) of a layer: g_k = sum over i < n of inp[i][k] * dout[i],
 * in order of i. Row k == inDim is the bias row (every input 1), stored at b and gb.
 * When pix >= 0 the inputs are pixels: the u32 at pix + 4i is the byte address of sample
 * i's pixels, and inp[i][k] = pixel / 255, the value inp holds (sortBlock divides; sortPartial's
 * float64 multiply by 1/255 rounds to the same float32 for every byte). Pixels are never
 * written, so they sit in every core's cache, while inp was half written by other cores.
 * `scratch`: this worker's 16 counts and 16 lists of n (dout row offset, input) pairs.
 * The updated rows W' and their optimizer state go `to` bytes past those read (0: in
 * place); the state of the parameter at p is at p + 4 * stride (and + 8 * stride for Adam's
 * second moment). Under the PLAIN rule a row with no nonzero input does not change, and
 * `moved` holds a byte per row, 1 where the row's two copies may differ: such a row is
 * copied to `to` only then (a row untouched for several steps is not written at all, so the
 * other cores keep their cached lines of it). Every other rule moves every row. Each row's
 * byte is left saying whether its copies now differ.
 */
export function updateRows(
  W: usize, b: usize, gW: usize, gb: usize, inp: usize, pix: isize, dout: usize, n: i32, inDim: i32, outDim: i32,
  rowLo: i32, rowHi: i32, scale: f32, mode: i32, scratch: usize, to: usize, moved: usize,
  rule: i32, stride: usize, gscale: f32, lr: f32, mu: f32, wd: f32, b1: f32, b2: f32, eps: f32, step: f32, c2: f32,
): void {
  RULE = rule; STRIDE = stride << 2; GSCALE = gscale; LR = lr; MU = mu; WD = wd; B1 = b1; B2 = b2; EPS = eps; STEP = step; C2 = c2;
  const outRow = <usize>outDim << 2;
  const inRow = <usize>inDim << 2;
  const lists = scratch + (ROWS << 2);
  const listBytes = <usize>n << 3;
  const end = min(rowHi, inDim);
  for (let k0 = rowLo; k0 < end; k0 += ROWS) {
    const rows = min(ROWS, end - k0);
    if (rows == ROWS) sortBlock(scratch, lists, listBytes, inp, inRow, pix, outRow, n, k0);
    else sortPartial(scratch, lists, listBytes, inp, inRow, pix, outRow, n, k0, rows);
    for (let j = 0; j < rows; j++) {
      const count = <usize>load<u32>(scratch + (<usize>j << 2));
      const row = <usize>(k0 + j) * outRow;
      const differ = moved + <usize>(k0 + j);
      if (count == 0 && mode == ACCUMULATE) continue; // nothing to add
      if (count == 0 && mode == APPLY && RULE == PLAIN) { // nothing changes
        if (to != 0 && load<u8>(differ)) memory.copy(W + row + to, W + row, outRow);
        store<u8>(differ, 0);
        continue;
      }
      updateRow(W + row, to, gW + row, dout, outDim, count, lists + <usize>j * listBytes, scale, mode);
      if (mode != ACCUMULATE) store<u8>(differ, 1);
    }
  }
  if (rowHi > inDim) {
    for (let i = 0; i < n; i++) {
      store<u32>(lists + (<usize>i << 3), <u32>i * <u32>outRow);
      store<f32>(lists + (<usize>i << 3), 1, 4);
    }
    updateRow(b, to, gb, dout, outDim, <usize>n, lists, scale, mode);
    if (mode != ACCUMULATE) store<u8>(moved + <usize>inDim, 1);
  }
}

/**
 * Sorts each sample's nonzero inputs of rows k0 .. k0 + 16 into the rows' lists, in sample
 * order, and leaves the 16 counts at scratch. Without a branch per input: the 16 lists'
 * write positions ride in four i32x4 registers, every lane of a sample with any nonzero
 * input is written, and only the nonzero lanes advance (a zero lane's entry is overwritten
 * by the row's next one or lies past its count). A loop over the set bits mispredicted its
 * exit on nearly every sample and chained each append through a count in memory.
 */
@inline function sortBlock(scratch: usize, lists: usize, listBytes: usize, inp: usize, inRow: usize, pix: isize, outRow: usize, n: i32, k0: i32): void {
  // Where the 16 lists start, and where each writes next.
  const lb = <i32>listBytes, four = i32x4.splat(4 * lb);
  const s0 = i32x4(0, lb, 2 * lb, 3 * lb), s1 = i32x4.add(s0, four), s2 = i32x4.add(s1, four), s3 = i32x4.add(s2, four);
  let p0 = s0, p1 = s1, p2 = s2, p3 = s3;
  const z = f32x4.splat(0);
  for (let i = 0; i < n; i++) {
    let x0: v128, x1: v128, x2: v128, x3: v128, nz0: v128, nz1: v128, nz2: v128, nz3: v128;
    if (pix >= 0) {
      const bytes = v128.load(<usize>load<u32>(<usize>pix + (<usize>i << 2)) + <usize>k0);
      if (!v128.any_true(bytes)) continue;
      x0 = pixels4(bytes, 0); x1 = pixels4(bytes, 1); x2 = pixels4(bytes, 2); x3 = pixels4(bytes, 3);
    } else {
      const at = inp + <usize>i * inRow + (<usize>k0 << 2);
      x0 = v128.load(at); x1 = v128.load(at, 16); x2 = v128.load(at, 32); x3 = v128.load(at, 48);
      if (!v128.any_true(v128.or(v128.or(x0, x1), v128.or(x2, x3)))) continue;
    }
    nz0 = f32x4.ne(x0, z); nz1 = f32x4.ne(x1, z); nz2 = f32x4.ne(x2, z); nz3 = f32x4.ne(x3, z);
    const d = i32x4.splat(i * <i32>outRow);
    put4(lists, p0, d, x0); put4(lists, p1, d, x1); put4(lists, p2, d, x2); put4(lists, p3, d, x3);
    // A nonzero lane is all ones (-1): subtracting -8 moves its list on by one entry.
    p0 = i32x4.sub(p0, i32x4.shl(nz0, 3)); p1 = i32x4.sub(p1, i32x4.shl(nz1, 3));
    p2 = i32x4.sub(p2, i32x4.shl(nz2, 3)); p3 = i32x4.sub(p3, i32x4.shl(nz3, 3));
  }
  // The counts: how far each list moved, over 8 bytes an entry.
  v128.store(scratch, i32x4.shr_u(i32x4.sub(p0, s0), 3));
  v128.store(scratch, i32x4.shr_u(i32x4.sub(p1, s1), 3), 16);
  v128.store(scratch, i32x4.shr_u(i32x4.sub(p2, s2), 3), 32);
  v128.store(scratch, i32x4.shr_u(i32x4.sub(p3, s3), 3), 48);
}

/** Entries (d, x lane) of four lists at lists + the lanes of pos. */
@inline function put4(lists: usize, pos: v128, d: v128, x: v128): void {
  const lo = i32x4.shuffle(d, x, 0, 4, 1, 5), hi = i32x4.shuffle(d, x, 2, 6, 3, 7);
  v128.store64_lane(lists + <usize><u32>i32x4.extract_lane(pos, 0), lo, 0);
  v128.store64_lane(lists + <usize><u32>i32x4.extract_lane(pos, 1), lo, 1);
  v128.store64_lane(lists + <usize><u32>i32x4.extract_lane(pos, 2), hi, 0);
  v128.store64_lane(lists + <usize><u32>i32x4.extract_lane(pos, 3), hi, 1);
}

/** sortBlock for the last block of a layer, of rows < 16 rows. */
function sortPartial(scratch: usize, lists: usize, listBytes: usize, inp: usize, inRow: usize, pix: isize, outRow: usize, n: i32, k0: i32, rows: i32): void {
  memory.fill(scratch, 0, ROWS << 2);
  for (let i = 0; i < n; i++) {
    let m: u32, at: usize;
    if (pix >= 0) {
      at = <usize>load<u32>(<usize>pix + (<usize>i << 2)) + <usize>k0;
      m = <u32>nonzeroBytes(at, rows);
    } else {
      at = inp + <usize>i * inRow + (<usize>k0 << 2);
      m = <u32>nonzeroWord(at, 0, rows);
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
}

/** One row, in column blocks whose sums stay in registers over all of the row's samples. */
/**
 * One row: its gradient sums over the listed samples, then the update as the sums leave
 * the registers. The PLAIN rule and the others get a copy of the loops each (`plain` is a
 * literal at every call), so that the stateful rules' longer arithmetic never weighs on
 * the plain loops' registers.
 */
@inline function updateRow(row: usize, to: usize, grow: usize, dout: usize, outDim: i32, count: usize, list: usize, scale: f32, mode: i32): void {
  if (RULE == PLAIN || mode == ACCUMULATE) sumRow(row, to, grow, dout, outDim, count, list, scale, mode, true);
  else sumRow(row, to, grow, dout, outDim, count, list, scale, mode, false);
}

@inline function sumRow(row: usize, to: usize, grow: usize, dout: usize, outDim: i32, count: usize, list: usize, scale: f32, mode: i32, plain: bool): void {
  const whole = <usize>(outDim & ~3) << 2;
  let c: usize = 0;
  for (; c + 112 <= whole; c += 112) rowBlock(7, row + c, to, grow + c, dout + c, count, list, scale, mode, plain);
  for (; c + 64 <= whole; c += 64) rowBlock(4, row + c, to, grow + c, dout + c, count, list, scale, mode, plain);
  for (; c + 32 <= whole; c += 32) rowBlock(2, row + c, to, grow + c, dout + c, count, list, scale, mode, plain);
  for (; c + 16 <= whole; c += 16) rowBlock(1, row + c, to, grow + c, dout + c, count, list, scale, mode, plain);
  const end = <usize>outDim << 2;
  if (c < end && outDim >= 4) {
    rowTail(row, to, grow, dout, outDim, count, list, scale, mode, plain);
    return;
  }
  for (; c < end; c += 4) {
    let acc: f32 = mode == APPLY ? 0 : load<f32>(grow + c);
    for (let t: usize = 0; t < count; t++) acc += load<f32>(list + (t << 3), 4) * load<f32>(dout + c + <usize>load<u32>(list + (t << 3)));
    finishOne(row + c, to, grow + c, acc, scale, mode, plain);
  }
}

/**
 * The last outDim % 4 columns of a row (outDim >= 4) in one walk, with the vector that ends
 * at the row's end; only its lanes past the whole vectors are kept, each the same float
 * sums as a walk of its own would give.
 */
@inline function rowTail(row: usize, to: usize, grow: usize, dout: usize, outDim: i32, count: usize, list: usize, scale: f32, mode: i32, plain: bool): void {
  const at = <usize>(outDim - 4) << 2;
  let a = mode == APPLY ? f32x4.splat(0) : v128.load(grow + at);
  const d = dout + at;
  for (let t: usize = 0; t < count; t++) {
    const e = list + (t << 3);
    a = f32x4.add(a, f32x4.mul(v128.load32_splat(e, 4), v128.load(d + <usize>load<u32>(e))));
  }
  const tail = outDim & 3;
  if (tail == 3) finishOne(row + at + 4, to, grow + at + 4, f32x4.extract_lane(a, 1), scale, mode, plain);
  if (tail >= 2) finishOne(row + at + 8, to, grow + at + 8, f32x4.extract_lane(a, 2), scale, mode, plain);
  finishOne(row + at + 12, to, grow + at + 12, f32x4.extract_lane(a, 3), scale, mode, plain);
}

@inline function finishOne(w: usize, to: usize, g: usize, acc: f32, scale: f32, mode: i32, plain: bool): void {
  if (mode == ACCUMULATE) store<f32>(g, acc);
  else {
    store<f32>(w + to, plain ? load<f32>(w) - scale * acc : f32x4.extract_lane(updated(w, to, f32x4.splat(acc), true), 0));
    if (mode != APPLY) store<f32>(g, 0);
  }
}

@inline function finish(row: usize, to: usize, grow: usize, acc: v128, sv: v128, mode: i32, offset: usize, plain: bool): void {
  if (mode == ACCUMULATE) v128.store(grow + offset, acc);
  else {
    const w = row + offset;
    v128.store(w + to, plain ? f32x4.sub(v128.load(w), f32x4.mul(sv, acc)) : updated(w, to, acc, false));
    if (mode != APPLY) v128.store(grow + offset, f32x4.splat(0));
  }
}

/**
 * The new values of the four parameters at w (one with `one`, in lane 0) under the rules
 * other than PLAIN, from acc, the sums of their gradients; their state goes `to` bytes
 * further.
 */
@inline function updated(w: usize, to: usize, acc: v128, one: bool): v128 {
  const W = one ? f32x4.splat(load<f32>(w)) : v128.load(w);
  let d = f32x4.mul(acc, f32x4.splat(GSCALE));
  if (RULE != ADAMW) d = f32x4.add(d, f32x4.mul(f32x4.splat(WD), W));
  if (RULE == SGD) return f32x4.sub(W, f32x4.mul(f32x4.splat(LR), d));
  const s1 = w + STRIDE;
  if (RULE < ADAM) {
    const v = f32x4.add(f32x4.mul(f32x4.splat(MU), load4(s1, one)), d);
    store4(s1 + to, v, one);
    return f32x4.sub(W, f32x4.mul(f32x4.splat(LR), RULE == MOMENTUM ? v : f32x4.add(d, f32x4.mul(f32x4.splat(MU), v))));
  }
  const s2 = s1 + STRIDE;
  const m = f32x4.add(f32x4.mul(f32x4.splat(B1), load4(s1, one)), f32x4.mul(f32x4.splat(1 - B1), d));
  const v = f32x4.add(f32x4.mul(f32x4.splat(B2), load4(s2, one)), f32x4.mul(f32x4.splat(1 - B2), f32x4.mul(d, d)));
  store4(s1 + to, m, one);
  store4(s2 + to, v, one);
  const decayed = RULE == ADAMW ? f32x4.mul(W, f32x4.splat(1 - LR * WD)) : W;
  const denominator = f32x4.add(f32x4.mul(f32x4.sqrt(v), f32x4.splat(C2)), f32x4.splat(EPS));
  return f32x4.sub(decayed, f32x4.div(f32x4.mul(f32x4.splat(STEP), m), denominator));
}

/** Four floats at p, or the one at p splat (`one`). */
@inline function load4(p: usize, one: bool): v128 {
  return one ? f32x4.splat(load<f32>(p)) : v128.load(p);
}

/** Four floats to p, or lane 0 alone (`one`). */
@inline function store4(p: usize, v: v128, one: bool): void {
  if (one) store<f32>(p, f32x4.extract_lane(v, 0));
  else v128.store(p, v);
}

/**
 * Columns [0, 4 * width) of a row (width 1 to 7, a literal at every call) over all of the
 * row's samples, their sums in registers: 7 accumulators + 7 loads + the input splat fit
 * V8's 15 xmm registers, and 8 make it spill.
 */
@inline function rowBlock(width: i32, row: usize, to: usize, grow: usize, d: usize, count: usize, list: usize, scale: f32, mode: i32, plain: bool): void {
  const z = f32x4.splat(0);
  const fromSums = mode != APPLY;
  let a0 = fromSums ? v128.load(grow) : z;
  let a1 = width > 1 && fromSums ? v128.load(grow, 16) : z;
  let a2 = width > 2 && fromSums ? v128.load(grow, 32) : z;
  let a3 = width > 3 && fromSums ? v128.load(grow, 48) : z;
  let a4 = width > 4 && fromSums ? v128.load(grow, 64) : z;
  let a5 = width > 5 && fromSums ? v128.load(grow, 80) : z;
  let a6 = width > 6 && fromSums ? v128.load(grow, 96) : z;
  for (let t: usize = 0; t < count; t++) {
    const e = list + (t << 3);
    const xv = v128.load32_splat(e, 4);
    const p = d + <usize>load<u32>(e);
    a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(p)));
    if (width > 1) a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(p, 16)));
    if (width > 2) a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(p, 32)));
    if (width > 3) a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(p, 48)));
    if (width > 4) a4 = f32x4.add(a4, f32x4.mul(xv, v128.load(p, 64)));
    if (width > 5) a5 = f32x4.add(a5, f32x4.mul(xv, v128.load(p, 80)));
    if (width > 6) a6 = f32x4.add(a6, f32x4.mul(xv, v128.load(p, 96)));
  }
  const sv = f32x4.splat(scale);
  finish(row, to, grow, a0, sv, mode, 0, plain);
  if (width > 1) finish(row, to, grow, a1, sv, mode, 16, plain);
  if (width > 2) finish(row, to, grow, a2, sv, mode, 32, plain);
  if (width > 3) finish(row, to, grow, a3, sv, mode, 48, plain);
  if (width > 4) finish(row, to, grow, a4, sv, mode, 64, plain);
  if (width > 5) finish(row, to, grow, a5, sv, mode, 80, plain);
  if (width > 6) finish(row, to, grow, a6, sv, mode, 96, plain);
}
