// Reader for the IDX format of the MNIST files: a 4-byte magic (0, 0, type, ndims),
// ndims big-endian uint32 sizes, then the data. We only need unsigned bytes (type 0x08).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UserError } from './errors.js';

const UBYTE = 0x08;

export interface IdxArray {
  dims: number[];
  /** The payload, copied into a SharedArrayBuffer so worker threads read it without copying. */
  data: Uint8Array;
}

export function readIdx(path: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read IDX file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch {
      throw new UserError(`IDX file ${path} looks gzip-compressed but does not decompress (truncated or corrupt)`);
    }
  }
  return parseIdx(bytes, path);
}

export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  if (bytes.length < 4) throw new UserError(`${name}: too short for an IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims === 0 || ndims > 4) {
    throw new UserError(`${name}: bad IDX magic number 0x${hex(magic)} (expected 0x000008NN); not an IDX file`);
  }
  if (type !== UBYTE) {
    throw new UserError(`${name}: IDX element type 0x${type.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) throw new UserError(`${name}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual < expected) {
    throw new UserError(`${name}: truncated: header promises ${dims.join('x')} = ${expected} bytes of data, file has ${actual}`);
  }
  if (actual > expected) {
    throw new UserError(`${name}: ${actual - expected} unexpected bytes after the ${dims.join('x')} data (corrupt header?)`);
  }
  const data = new Uint8Array(new SharedArrayBuffer(expected));
  data.set(bytes.subarray(headerBytes));
  return { dims, data };
}

/** Serialise unsigned-byte data as IDX (used by tests and by `predict` fixtures). */
export function encodeIdx(dims: number[], data: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
