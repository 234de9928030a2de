// A PNG writer for the tests, straight from the spec: any colour type predict reads, every row filter.
import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngChunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])));
  return Buffer.concat([head, body, crc]);
}

export function pngOf(ihdr: Buffer, idat: Buffer): Buffer {
  return Buffer.concat([SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** width x height samples of a colour type; row y uses filter rowFilter(y). */
export function encodePng(width: number, height: number, colorType: number, samples: Uint8Array, rowFilter: (y: number) => number = () => 0, bitDepth = 8, interlace = 0): Buffer {
  const bpp = CHANNELS[colorType] ?? 1;
  const stride = width * bpp;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const filter = rowFilter(y);
    raw[y * (stride + 1)] = filter;
    for (let x = 0; x < stride; x++) {
      const at = (yy: number, xx: number): number => (yy >= 0 && xx >= 0 ? samples[yy * stride + xx] : 0);
      const a = at(y, x - bpp);
      const b = at(y - 1, x);
      const c = at(y - 1, x - bpp);
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      raw[y * (stride + 1) + 1 + x] = (samples[y * stride + x] - predictor) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, interlace], 8);
  return pngOf(ihdr, deflateSync(raw));
}

/** Repeat each gray value over the channels of a colour type, with the given alpha. */
export function widen(gray: Uint8Array, colorType: number, alpha = 255): Uint8Array {
  const out: number[] = [];
  for (const v of gray) out.push(...({ 0: [v], 2: [v, v, v], 4: [v, alpha], 6: [v, v, v, alpha] } as Record<number, number[]>)[colorType]);
  return Uint8Array.from(out);
}

