// The backward pass of phase 1: the deltas of a layer's inputs. (Phase 2, the weight
// gradients reduced and applied row by row, is rows.ts.)
import { nonzeroWord } from './nonzero';

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
      // Four inputs at a time, so that each load of d serves four rows of W.
      while (popcnt(m) >= 4) {
        const k0 = k + <i32>ctz(m);
        m &= m - 1;
        const k1 = k + <i32>ctz(m);
        m &= m - 1;
        const k2 = k + <i32>ctz(m);
        m &= m - 1;
        const k3 = k + <i32>ctz(m);
        m &= m - 1;
        dot4(dx, d, W, outRow, outDim, k0, k1, k2, k3);
      }
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

/**
 * dx[kr] = dot(d, W row kr) for four rows kr, each summed in exactly the order `dot` sums
 * it (two accumulators, their lanes left to right, then the scalar tail), so that which
 * rows share a group never changes a result.
 */
@inline function dot4(dx: usize, d: usize, W: usize, outRow: usize, len: i32, k0: i32, k1: i32, k2: i32, k3: i32): void {
  const w0 = W + <usize>k0 * outRow, w1 = W + <usize>k1 * outRow, w2 = W + <usize>k2 * outRow, w3 = W + <usize>k3 * outRow;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const end = <usize>len << 2;
  let j: usize = 0;
  for (; j + 32 <= end; j += 32) {
    const da = v128.load(d + j), db = v128.load(d + j, 16);
    a0 = f32x4.add(a0, f32x4.mul(da, v128.load(w0 + j))); b0 = f32x4.add(b0, f32x4.mul(db, v128.load(w0 + j, 16)));
    a1 = f32x4.add(a1, f32x4.mul(da, v128.load(w1 + j))); b1 = f32x4.add(b1, f32x4.mul(db, v128.load(w1 + j, 16)));
    a2 = f32x4.add(a2, f32x4.mul(da, v128.load(w2 + j))); b2 = f32x4.add(b2, f32x4.mul(db, v128.load(w2 + j, 16)));
    a3 = f32x4.add(a3, f32x4.mul(da, v128.load(w3 + j))); b3 = f32x4.add(b3, f32x4.mul(db, v128.load(w3 + j, 16)));
  }
  if (j + 16 <= end) {
    const da = v128.load(d + j);
    a0 = f32x4.add(a0, f32x4.mul(da, v128.load(w0 + j))); a1 = f32x4.add(a1, f32x4.mul(da, v128.load(w1 + j)));
    a2 = f32x4.add(a2, f32x4.mul(da, v128.load(w2 + j))); a3 = f32x4.add(a3, f32x4.mul(da, v128.load(w3 + j)));
    j += 16;
  }
  a0 = f32x4.add(a0, b0); a1 = f32x4.add(a1, b1); a2 = f32x4.add(a2, b2); a3 = f32x4.add(a3, b3);
  // Transpose, so that lane t of c_t holds lane t of every row: then c0 + c1 + c2 + c3 adds
  // each row's lanes in dot's order, four rows at once.
  const t0 = i32x4.shuffle(a0, a1, 0, 4, 1, 5), t1 = i32x4.shuffle(a0, a1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(a2, a3, 0, 4, 1, 5), t3 = i32x4.shuffle(a2, a3, 2, 6, 3, 7);
  let sum = f32x4.add(f32x4.add(f32x4.add(i64x2.shuffle(t0, t2, 0, 2), i64x2.shuffle(t0, t2, 1, 3)), i64x2.shuffle(t1, t3, 0, 2)), i64x2.shuffle(t1, t3, 1, 3));
  for (; j < end; j += 4) {
    let w = f32x4.splat(load<f32>(w0 + j));
    w = f32x4.replace_lane(w, 1, load<f32>(w1 + j));
    w = f32x4.replace_lane(w, 2, load<f32>(w2 + j));
    w = f32x4.replace_lane(w, 3, load<f32>(w3 + j));
    sum = f32x4.add(sum, f32x4.mul(v128.load32_splat(d + j), w));
  }
  store<f32>(dx + (<usize>k0 << 2), f32x4.extract_lane(sum, 0));
  store<f32>(dx + (<usize>k1 << 2), f32x4.extract_lane(sum, 1));
  store<f32>(dx + (<usize>k2 << 2), f32x4.extract_lane(sum, 2));
  store<f32>(dx + (<usize>k3 << 2), f32x4.extract_lane(sum, 3));
}
