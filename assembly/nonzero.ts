// Finding nonzero inputs: MNIST pixels are ~80% zero and ReLU outputs ~50%, and the kernels
// skip zeros exactly. Nonzeros are found 16 or 64 inputs at a time as a bit mask (SIMD
// compares), and the kernels then walk the set bits, so skipping costs no branch per input.

/** Bit t set where the float at p + 4t is nonzero, for t < 16. */
@inline function nonzero16(p: usize): i32 {
  const z = f32x4.splat(0);
  const lo = i16x8.narrow_i32x4_s(f32x4.ne(v128.load(p), z), f32x4.ne(v128.load(p, 16), z));
  const hi = i16x8.narrow_i32x4_s(f32x4.ne(v128.load(p, 32), z), f32x4.ne(v128.load(p, 48), z));
  return i8x16.bitmask(i8x16.narrow_i16x8_s(lo, hi));
}

/** Nonzero mask of x[k .. min(k + 64, end)), bit t for x[k + t]; never reads past x[end - 1]. */
@inline export function nonzeroWord(x: usize, k: i32, end: i32): u64 {
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

/** Nonzero mask of the `count` < 16 bytes at p. */
@inline export function nonzeroBytes(p: usize, count: i32): u32 {
  let m: u32 = 0;
  for (let t = 0; t < count; t++) if (load<u8>(p + <usize>t) != 0) m |= 1 << t;
  return m;
}
