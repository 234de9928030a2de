// A small PNG reader for `predict`: 8-bit grayscale, gray + alpha, RGB or RGBA, not
// interlaced, which is how drawing programs and image libraries save a small digit.
// It returns one gray byte per pixel; transparency is laid over black, MNIST's background.
import { crc32, inflateSync } from 'node:zlib';
import { UserError } from '../util/errors.js';

export interface GrayImage {
  width: number;
  height: number;
  /** width x height bytes, row-major, 0 = black. */
  pixels: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Bytes per pixel of the supported 8-bit colour types: gray, RGB, gray + alpha, RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= SIGNATURE.length && SIGNATURE.equals(bytes.subarray(0, SIGNATURE.length));
}

/**
 * The image of a PNG file. `fits` checks the size in the header, before any pixel data is
 * inflated, so that a small file that declares a huge image costs nothing; the data is
 * then inflated no further than that size.
 */
export function decodePng(bytes: Buffer, name: string, fits: (width: number, height: number) => void = () => {}): GrayImage {
  const bad = (why: string): UserError => new UserError(`${name}: ${why}`);
  if (!isPng(bytes)) throw bad('not a PNG file');
  let header: { width: number; height: number; bitDepth: number; colorType: number; interlace: number } | undefined;
  const data: Buffer[] = [];
  let ended = false;
  for (let pos = SIGNATURE.length; !ended; ) {
    if (pos + 12 > bytes.length) throw bad('truncated PNG (no IEND chunk)');
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    const bodyEnd = pos + 8 + length;
    if (bodyEnd + 4 > bytes.length) throw bad(`truncated PNG (in its ${type} chunk)`);
    if (bytes.readUInt32BE(bodyEnd) !== crc32(bytes.subarray(pos + 4, bodyEnd))) throw bad(`corrupt PNG (${type} chunk fails its CRC)`);
    const body = bytes.subarray(pos + 8, bodyEnd);
    if (type === 'IHDR') {
      if (length !== 13) throw bad(`corrupt PNG (IHDR chunk of ${length} bytes, not 13)`);
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), bitDepth: body[8], colorType: body[9], interlace: body[12] };
      fits(header.width, header.height);
    } else if (type === 'IDAT') {
      data.push(body);
    } else if (type === 'IEND') {
      ended = true;
    }
    pos = bodyEnd + 4;
  }
  if (!header) throw bad('PNG without an IHDR chunk');
  const { width, height, bitDepth, colorType, interlace } = header;
  const channels = CHANNELS[colorType];
  if (bitDepth !== 8 || channels === undefined || interlace !== 0) {
    throw bad(`unsupported PNG (bit depth ${bitDepth}, colour type ${colorType}${interlace ? ', interlaced' : ''}); save it as 8-bit grayscale, RGB or RGBA, not interlaced`);
  }
  const stride = width * channels;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(data), { maxOutputLength: height * (stride + 1) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw bad(`corrupt PNG (its image data inflates past the ${width}x${height} its header declares)`);
    throw bad('corrupt PNG (its image data does not decompress)');
  }
  if (raw.length < height * (stride + 1)) throw bad('truncated PNG image data');
  const samples = unfilter(raw, width, height, channels, bad);
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    const px = samples.subarray(i * channels, (i + 1) * channels);
    const gray = channels >= 3 ? 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2] : px[0];
    const alpha = channels === 2 || channels === 4 ? px[channels - 1] / 255 : 1;
    pixels[i] = Math.round(gray * alpha);
  }
  return { width, height, pixels };
}

/** Undo the per-row PNG filters (None, Sub, Up, Average, Paeth); bytes per pixel = channels at 8 bits. */
function unfilter(raw: Buffer, width: number, height: number, bpp: number, bad: (why: string) => UserError): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? row[x - bpp] : 0;
      const b = up[x];
      const c = x >= bpp ? up[x - bpp] : 0;
      let predictor: number;
      if (filter === 0) predictor = 0;
      else if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) predictor = paeth(a, b, c);
      else throw bad(`corrupt PNG (unknown row filter ${filter})`);
      row[x] = (line[x] + predictor) & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
