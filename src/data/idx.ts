// Reader for the IDX format of the MNIST files: a 4-byte magic (0, 0, type, ndims),
// ndims big-endian uint32 sizes, then the data: unsigned bytes (type 0x08) or big-endian
// float32 (type 0x0d).
//
// Files are streamed, plain or gzip-compressed, and the header is checked before any data
// is kept: a plain file must hold exactly what its header declares, and a compressed one
// is inflated only as far as its header allows, so that a small file that claims (or
// inflates to) gigabytes is refused before it takes the memory. Reading is asynchronous,
// so a signal can stop it, and only regular files are read (a FIFO would never end).
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UserError } from '../util/errors.js';
import { statRegular } from '../util/files.js';

const UBYTE = 0x08;
const FLOAT = 0x0d;
const ELEMENT_BYTES: Record<number, number> = { [UBYTE]: 1, [FLOAT]: 4 };
/** The data must fit the WebAssembly kernels' memory, which holds at most 4 GiB. */
const MAX_IDX_BYTES = 2 ** 32;

export interface IdxArray {
  dims: number[];
  /** The payload, copied into a SharedArrayBuffer so worker threads read it without copying; floats in the host's byte order. */
  data: Uint8Array | Float32Array;
}

interface Layout {
  dims: number[];
  type: number;
  headerBytes: number;
  dataBytes: number;
}

/**
 * The layout the header at the start of `head` declares, or undefined while `head` is too
 * short to tell. `payload`: the bytes after the header when known (a plain file), checked
 * against what the header declares.
 */
function parseHeader(head: Uint8Array, name: string, complete: boolean, payload?: (headerBytes: number) => number): Layout | undefined {
  if (head.length < 4) {
    if (complete) throw new UserError(`${name}: too short for an IDX header (${head.length} bytes)`);
    return undefined;
  }
  const ndims = head[3];
  if (head[0] !== 0 || head[1] !== 0 || ndims === 0 || ndims > 4) {
    const magic = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw new UserError(`${name}: bad IDX magic number 0x${magic} (expected 0x000008NN); not an IDX file`);
  }
  const type = head[2];
  if (!ELEMENT_BYTES[type]) {
    throw new UserError(`${name}: IDX element type 0x${type.toString(16)} is not supported (only unsigned bytes, 0x08, and float32, 0x0d)`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (head.length < headerBytes) {
    if (complete) throw new UserError(`${name}: truncated IDX header`);
    return undefined;
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));
  const dataBytes = dims.reduce((a, b) => a * b, ELEMENT_BYTES[type]);
  const shape = dims.join('x');
  if (dataBytes > MAX_IDX_BYTES) {
    throw new UserError(`${name}: its header declares ${shape} = ${dataBytes} bytes of data, more than the 4 GiB threadgrad can hold (corrupt header?)`);
  }
  const actual = payload?.(headerBytes);
  if (actual !== undefined && actual < dataBytes) {
    throw new UserError(`${name}: truncated: header promises ${shape} = ${dataBytes} bytes of data, file has ${actual}`);
  }
  if (actual !== undefined && actual > dataBytes) {
    throw new UserError(`${name}: ${actual - dataBytes} unexpected bytes after the ${shape} data (corrupt header?)`);
  }
  return { dims, type, headerBytes, dataBytes };
}

/**
 * The payload bytes as the element type: float32 turned from IDX's big-endian to the host's
 * order, in place, each checked to be a number (NaN or Infinity would poison every weight).
 */
function typed(bytes: Uint8Array, type: number, name: string): Uint8Array | Float32Array {
  if (type === UBYTE) return bytes;
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < floats.length; i++) {
    const v = view.getFloat32(4 * i, false);
    if (!Number.isFinite(v)) throw new UserError(`${name}: value ${i} is ${v}, not a finite number`);
    floats[i] = v;
  }
  return floats;
}

/** IDX data already in memory (a plain, uncompressed file's bytes). */
export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  const layout = parseHeader(bytes, name, true, (h) => bytes.length - h)!;
  const data = new Uint8Array(new SharedArrayBuffer(layout.dataBytes));
  data.set(bytes.subarray(layout.headerBytes));
  return { dims: layout.dims, data: typed(data, layout.type, name) };
}

export async function readIdx(path: string): Promise<IdxArray> {
  const size = statRegular(path, 'IDX file').size;
  const gzipped = await startsWithGzipMagic(path);
  const file = createReadStream(path);
  let stream: Readable = file;
  if (gzipped) {
    const gunzip = createGunzip();
    pipeline(file, gunzip, () => {}); // errors reach the loop below through gunzip
    stream = gunzip;
  }
  const payload = gzipped ? undefined : (headerBytes: number): number => size - headerBytes;
  let head = Buffer.alloc(0);
  let layout: Layout | undefined;
  let data: Uint8Array = new Uint8Array(0);
  let filled = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let bytes = chunk;
      if (!layout) {
        head = Buffer.concat([head, chunk]);
        layout = parseHeader(head, path, false, payload);
        if (!layout) continue;
        data = new Uint8Array(new SharedArrayBuffer(layout.dataBytes));
        bytes = head.subarray(layout.headerBytes);
      }
      if (filled + bytes.length > data.length) {
        throw new UserError(`${path}: decompresses to more than the ${layout.dims.join('x')} = ${layout.dataBytes} bytes of data its header declares (corrupt file?)`);
      }
      data.set(bytes, filled);
      filled += bytes.length;
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (gzipped) throw new UserError(`IDX file ${path} looks gzip-compressed but does not decompress (truncated or corrupt)`);
    throw new UserError(`cannot read IDX file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    stream.destroy();
    file.destroy();
  }
  layout ??= parseHeader(head, path, true, payload)!;
  if (filled < layout.dataBytes) {
    throw new UserError(`${path}: truncated: header promises ${layout.dims.join('x')} = ${layout.dataBytes} bytes of data, the decompressed file has ${filled}`);
  }
  return { dims: layout.dims, data: typed(data, layout.type, path) };
}

async function startsWithGzipMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read IDX file ${path}: ${e.code ?? e.message}`);
  });
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Serialise unsigned bytes or float32 as IDX (tests and example data sets write their files with it). */
export function encodeIdx(dims: number[], data: Uint8Array | Float32Array): Buffer {
  const size = data instanceof Uint8Array ? 1 : 4;
  const at = 4 + 4 * dims.length;
  const out = Buffer.alloc(at + size * data.length);
  out[2] = size === 1 ? UBYTE : FLOAT;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  if (data instanceof Uint8Array) out.set(data, at);
  else data.forEach((v, i) => out.writeFloatBE(v, at + 4 * i));
  return out;
}
