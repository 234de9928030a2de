// Checkpoints: everything a run needs to continue exactly where it stopped, in one file.
//
//   bytes 0..7    magic "TGRDCKPT"
//   8..11         format version, uint32 LE (FORMAT_VERSION)
//   12..15        header length H, uint32 LE
//   16..16+H      header: one MessagePack map (CheckpointHeader plus paramCount)
//   then          paramCount float32 parameters, little-endian, in model.ts order
//   last 4 bytes  CRC-32 of every byte before it, uint32 LE
//
// The version is checked before anything else so that a newer file is reported as such
// rather than as corrupt; the CRC catches bit rot and any edit. Files are replaced
// atomically, so a crash while saving leaves the previous checkpoint intact.
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { UserError } from '../util/errors.js';
import { checkOutputFile, readRegularFile, writeFileAtomic } from '../util/files.js';
import { modelShape } from './model.js';
import type { RngState } from './rng.js';

const MAGIC = Buffer.from('TGRDCKPT', 'latin1');
export const FORMAT_VERSION = 1;
const PREFIX_BYTES = 16;
const CRC_BYTES = 4;

export interface CheckpointHeader {
  /** Layer sizes from input to output, e.g. [784, 128, 64, 10]. */
  sizes: number[];
  /** The epoch to continue (1-based) and how many of its steps are done; step 0: not started. */
  epoch: number;
  step: number;
  /** Loss and correct-prediction sums over the steps already done in `epoch`, so its report stays exact. */
  epochLossSum: number;
  epochCorrect: number;
  /** Training-set size and batch size that `step` counts in; a mid-epoch resume needs the same. */
  trainCount: number;
  batchSize: number;
  optimizer: { kind: 'sgd'; lr: number };
  /** RNG state before `epoch`'s shuffle: shuffling from it again reproduces the epoch's sample order. */
  rng: RngState;
  /** The settings of the run, the base of a resumed run's settings; checked like any others when read (config.ts configFromCheckpoint). */
  config: Record<string, unknown>;
  savedAt: string;
}

export interface Checkpoint {
  path: string;
  header: CheckpointHeader;
  params: Float32Array;
}

// Plain MessagePack maps (no msgpackr record extension), readable by any MessagePack tool.
const packr = new Packr({ useRecords: false });

export function encodeCheckpoint(header: CheckpointHeader, params: Float32Array): Buffer {
  const head = packr.pack({ ...header, paramCount: params.length });
  const out = Buffer.alloc(PREFIX_BYTES + head.length + params.byteLength + CRC_BYTES);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(FORMAT_VERSION, 8);
  out.writeUInt32LE(head.length, 12);
  head.copy(out, PREFIX_BYTES);
  // Typed arrays use the host's byte order, little-endian on every platform Node ships for but s390x.
  out.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), PREFIX_BYTES + head.length);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - CRC_BYTES)), out.length - CRC_BYTES);
  return out;
}

export function decodeCheckpoint(bytes: Buffer, path: string): Checkpoint {
  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new UserError(`${path} is not a threadgrad checkpoint (no TGRDCKPT magic at the start)`);
  }
  if (bytes.length < PREFIX_BYTES + CRC_BYTES) throw truncated(path, bytes.length);
  const version = bytes.readUInt32LE(8);
  if (version !== FORMAT_VERSION) {
    throw new UserError(`${path} is a version ${version} checkpoint; this threadgrad reads version ${FORMAT_VERSION} only`);
  }
  const headerBytes = bytes.readUInt32LE(12);
  if (PREFIX_BYTES + headerBytes + CRC_BYTES > bytes.length) throw truncated(path, bytes.length);
  let header: CheckpointHeader & { paramCount: number };
  try {
    header = packr.unpack(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes));
  } catch {
    throw corrupt(path, 'its header does not decode');
  }
  if (!isHeader(header)) throw corrupt(path, 'its header lacks required fields');
  const expected = PREFIX_BYTES + headerBytes + header.paramCount * 4 + CRC_BYTES;
  if (bytes.length < expected) throw truncated(path, bytes.length, expected);
  if (bytes.length > expected) throw corrupt(path, `${bytes.length - expected} unexpected bytes at the end`);
  if (bytes.readUInt32LE(expected - CRC_BYTES) !== crc32(bytes.subarray(0, expected - CRC_BYTES))) {
    throw corrupt(path, 'checksum mismatch');
  }
  if (modelShape(header.sizes.slice(1, -1)).paramCount !== header.paramCount) {
    throw corrupt(path, `${header.paramCount} parameters do not fit layer sizes ${header.sizes.join('-')}`);
  }
  // Copy: the parameters' offset in the file need not be 4-byte aligned.
  const params = new Float32Array(header.paramCount);
  new Uint8Array(params.buffer).set(bytes.subarray(PREFIX_BYTES + headerBytes, expected - CRC_BYTES));
  const { paramCount: _, ...rest } = header;
  return { path, header: rest, params };
}

export function readCheckpoint(path: string): Checkpoint {
  return decodeCheckpoint(readRegularFile(path, 'checkpoint'), path);
}

/** Replace `path` atomically: a reader (or a crash) sees the old file or the new one, never half of one. */
export function writeCheckpoint(path: string, header: CheckpointHeader, params: Float32Array): void {
  writeFileAtomic(path, encodeCheckpoint(header, params), 'checkpoint');
}

/** Fail before training, not after an epoch of it, when checkpoints cannot be written to `path`. */
export function checkWritable(path: string): void {
  checkOutputFile(path, 'checkpoint');
}

/** A clear message when a checkpoint cannot continue under these settings and data. */
export function checkResumable(ckpt: Checkpoint, sizes: number[], trainCount: number, batchSize: number): void {
  const h = ckpt.header;
  if (h.sizes.join('-') !== sizes.join('-')) {
    throw new UserError(
      `${ckpt.path} holds a ${h.sizes.join('-')} network but the settings ask for ${sizes.join('-')}; ` +
        `resume without --hidden (the checkpoint's layers are used) or start a new run`,
    );
  }
  if (h.step > 0 && (h.trainCount !== trainCount || h.batchSize !== batchSize)) {
    throw new UserError(
      `${ckpt.path} stopped mid-epoch (step ${h.step}) with ${h.trainCount} training samples in batches of ${h.batchSize}, ` +
        `but this run has ${trainCount} in batches of ${batchSize}; resume with the same data and batch size`,
    );
  }
}

function isHeader(h: unknown): h is CheckpointHeader & { paramCount: number } {
  if (typeof h !== 'object' || h === null) return false;
  const x = h as Record<string, unknown>;
  const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  return (
    Array.isArray(x.sizes) && x.sizes.length >= 2 && x.sizes.every((s) => isInt(s) && s > 0) &&
    isInt(x.paramCount) && isInt(x.epoch) && isInt(x.step) && isInt(x.trainCount) && isInt(x.batchSize) &&
    typeof x.epochLossSum === 'number' && isInt(x.epochCorrect) &&
    Array.isArray(x.rng) && x.rng.length === 4 && x.rng.every((w) => isInt(w) && w < 2 ** 32) && x.rng.some((w) => w !== 0) &&
    typeof x.config === 'object' && x.config !== null && typeof x.optimizer === 'object' && x.optimizer !== null
  );
}

function truncated(path: string, has: number, expected?: number): UserError {
  const of = expected === undefined ? '' : ` of the ${expected} its header promises`;
  return new UserError(`${path} is truncated: it has only ${has} bytes${of}; the checkpoint was not written completely`);
}

function corrupt(path: string, why: string): UserError {
  return new UserError(`${path} is a corrupt checkpoint (${why}); use an earlier copy or start a new run`);
}
