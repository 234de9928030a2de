// Memory in and out of a worker's cache: images scaled into the chunk buffer, and a sweep
// that pulls in what other cores wrote.

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
  v128.store(p, pixels4(bytes, 0));
  v128.store(p, pixels4(bytes, 1), 16);
  v128.store(p, pixels4(bytes, 2), 32);
  v128.store(p, pixels4(bytes, 3), 48);
}

/**
 * Pixels 4q .. 4q + 3 of 16 bytes as floats / 255 (q a constant). The signed conversion:
 * on values below 256 it equals the unsigned one, which V8 compiles to eight x64
 * instructions instead of one.
 */
@inline export function pixels4(bytes: v128, q: i32): v128 {
  const half = q < 2 ? i16x8.extend_low_i8x16_u(bytes) : i16x8.extend_high_i8x16_u(bytes);
  const words = (q & 1) == 0 ? i32x4.extend_low_i16x8_u(half) : i32x4.extend_high_i16x8_u(half);
  return f32x4.div(f32x4.convert_i32x4_s(words), f32x4.splat(255));
}

/**
 * Row r < n of out (count floats) = the bytes at the u32 address table[r], / 255. Four rows
 * at a time: the images lie far apart in a shuffled batch, and four streams of misses
 * overlap where one waits (2 workers, against two rows at a time: more samples/s in 13 of
 * 18 alternating runs at batch 64, 11 of 18 at batch 256).
 */
export function gatherPixels(out: usize, table: usize, n: i32, count: i32): void {
  const rowBytes = <usize>count << 2;
  const whole = <usize>(count & ~15);
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const at = table + (<usize>r << 2);
    const a = <usize>load<u32>(at), b = <usize>load<u32>(at, 4), c = <usize>load<u32>(at, 8), d = <usize>load<u32>(at, 12);
    const pa = out + <usize>r * rowBytes, pb = pa + rowBytes, pc = pb + rowBytes, pd = pc + rowBytes;
    for (let i: usize = 0; i < whole; i += 16) {
      scale16(pa + (i << 2), a + i);
      scale16(pb + (i << 2), b + i);
      scale16(pc + (i << 2), c + i);
      scale16(pd + (i << 2), d + i);
    }
    if (whole < <usize>count) {
      scaleTail(pa, a, whole, count);
      scaleTail(pb, b, whole, count);
      scaleTail(pc, c, whole, count);
      scaleTail(pd, d, whole, count);
    }
  }
  for (; r < n; r++) {
    const a = <usize>load<u32>(table + (<usize>r << 2));
    const pa = out + <usize>r * rowBytes;
    for (let i: usize = 0; i < whole; i += 16) scale16(pa + (i << 2), a + i);
    scaleTail(pa, a, whole, count);
  }
}

/** Values [from, count) of a row one at a time: rows whose length is no multiple of 16. The same division as scale16. */
@inline function scaleTail(p: usize, src: usize, from: usize, count: i32): void {
  for (let i = from; i < <usize>count; i++) store<f32>(p + (i << 2), <f32>load<u8>(src + i) / 255);
}

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
