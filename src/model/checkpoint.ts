// Checkpoints: everything a run needs to continue exactly where it stopped, in one file.
//
//   bytes 0..7    magic "TGRDCKPT"
//   8..11         format version, uint32 LE (FORMAT_VERSION)
//   12..15        header length H, uint32 LE
//   16..16+H      header: one MessagePack map (CheckpointHeader plus the float counts below)
//   then          float32, little-endian: the parameters in model.ts order, the optimizer's
//                 state (its slots one after another, each laid out like the parameters),
//                 and the best epoch's parameters (early stopping), if any
//   last 4 bytes  CRC-32 of every byte before it, uint32 LE
//
// The version is checked before anything else so that a newer file is reported as such
// rather than as corrupt; the CRC catches bit rot and any edit. Files are replaced
// atomically, so a crash while saving leaves the previous checkpoint intact.
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { UserError } from '../util/errors.js';
import { checkOutputFile, readFileHead, readRegularFile, writeFileAtomic } from '../util/files.js';
import { modelShape } from './model.js';
import { describe, type InputSpec } from '../data/dataset.js';
import type { RngState } from '../util/rng.js';

const MAGIC = Buffer.from('TGRDCKPT', 'latin1');
export const FORMAT_VERSION = 2;
const PREFIX_BYTES = 16;
const CRC_BYTES = 4;

export interface CheckpointHeader {
  /** Layer sizes from input to output, e.g. [784, 128, 64, 10]: the sample size, the hidden layers, the classes. */
  sizes: number[];
  /** How samples become the net's input (pixels or floats, their shape, any normalisation): what eval, predict and export must feed it. */
  input: InputSpec;
  /** The epoch to continue (1-based) and how many of its steps are done; step 0: not started. */
  epoch: number;
  step: number;
  /** Loss and correct-prediction sums over the steps already done in `epoch`, so its report stays exact. */
  epochLossSum: number;
  epochCorrect: number;
  /** Training-set size and batch size that `step` counts in; a mid-epoch resume needs the same. */
  trainCount: number;
  batchSize: number;
  /** Steps taken since the run began: the learning-rate schedule and Adam's bias correction go on from here. */
  stepsDone: number;
  /** RNG state before `epoch`'s shuffle: shuffling from it again reproduces the epoch's sample order. */
  rng: RngState;
  /** Early stopping: the best epoch so far (0: none yet), its monitored figure, and the epochs since without improvement. */
  early: { bestEpoch: number; best: number; badEpochs: number };
  /** Why the run ended, once it has (the plateau, or its last epoch); absent while it can go on. */
  finished?: string;
  /** The settings of the run, the base of a resumed run's settings; checked like any others when read (config.ts configFromCheckpoint). */
  config: Record<string, unknown>;
  savedAt: string;
}

export interface Checkpoint {
  path: string;
  header: CheckpointHeader;
  params: Float32Array;
  /** The optimizer's state: its slots one after another, each laid out like params (empty for plain SGD). */
  state: Float32Array;
  /** The best epoch's parameters, kept for early stopping to restore; empty before the first epoch ends. */
  best: Float32Array;
}

/** The weights a checkpoint answers with (eval, predict): its best epoch's where early stopping kept one, else its last. */
export function modelParams(ckpt: Checkpoint): Float32Array {
  return ckpt.best.length > 0 ? ckpt.best : ckpt.params;
}

/** A trained network, as everything after training needs it: its layer sizes, weights, and what it takes as input. */
export interface Model {
  sizes: number[];
  /** Every layer's W and b in one block, laid out by modelShape(sizes). */
  params: Float32Array;
  input: InputSpec;
}

export function modelOf(ckpt: Checkpoint): Model {
  return { sizes: ckpt.header.sizes, params: modelParams(ckpt), input: ckpt.header.input };
}

/** The float blocks after the header, in file order. */
const BLOCKS = ['params', 'state', 'best'] as const;
type Counts = Record<(typeof BLOCKS)[number], number>;

// Plain MessagePack maps (no msgpackr record extension), readable by any MessagePack tool.
const packr = new Packr({ useRecords: false });

export function encodeCheckpoint(ckpt: Omit<Checkpoint, 'path'>): Buffer {
  const counts: Counts = { params: ckpt.params.length, state: ckpt.state.length, best: ckpt.best.length };
  const head = packr.pack({ ...ckpt.header, floats: counts });
  const floats = BLOCKS.reduce((n, k) => n + counts[k], 0);
  const out = Buffer.alloc(PREFIX_BYTES + head.length + 4 * floats + CRC_BYTES);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(FORMAT_VERSION, 8);
  out.writeUInt32LE(head.length, 12);
  head.copy(out, PREFIX_BYTES);
  // Typed arrays use the host's byte order, little-endian on every platform Node ships for but s390x.
  let at = PREFIX_BYTES + head.length;
  for (const k of BLOCKS) {
    out.set(new Uint8Array(ckpt[k].buffer, ckpt[k].byteOffset, ckpt[k].byteLength), at);
    at += ckpt[k].byteLength;
  }
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
  let header: CheckpointHeader & { floats: Counts };
  try {
    header = packr.unpack(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes));
  } catch {
    throw corrupt(path, 'its header does not decode');
  }
  if (!isHeader(header)) throw corrupt(path, 'its header lacks required fields');
  const { floats: counts, ...rest } = header;
  const expected = PREFIX_BYTES + headerBytes + 4 * BLOCKS.reduce((n, k) => n + counts[k], 0) + CRC_BYTES;
  if (bytes.length < expected) throw truncated(path, bytes.length, expected);
  if (bytes.length > expected) throw corrupt(path, `${bytes.length - expected} unexpected bytes at the end`);
  if (bytes.readUInt32LE(expected - CRC_BYTES) !== crc32(bytes.subarray(0, expected - CRC_BYTES))) {
    throw corrupt(path, 'checksum mismatch');
  }
  const features = header.input.shape.reduce((a, b) => a * b, 1);
  const n = header.input.normalize;
  if (features !== header.sizes[0] || (n && (n.offset.length !== features || n.scale.length !== features))) {
    throw corrupt(path, `its input of shape ${header.input.shape.join('x')} does not fit layer sizes ${header.sizes.join('-')}`);
  }
  const paramCount = modelShape(header.sizes).paramCount;
  if (counts.params !== paramCount || counts.state % paramCount !== 0 || (counts.best !== 0 && counts.best !== paramCount)) {
    throw corrupt(path, `${counts.params} parameters, ${counts.state} of state and ${counts.best} kept do not fit layer sizes ${header.sizes.join('-')}`);
  }
  // Copies: the blocks' offsets in the file need not be 4-byte aligned.
  let at = PREFIX_BYTES + headerBytes;
  const block = (count: number): Float32Array => {
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + 4 * count));
    at += 4 * count;
    return out;
  };
  return { path, header: rest, params: block(counts.params), state: block(counts.state), best: block(counts.best) };
}

export function readCheckpoint(path: string): Checkpoint {
  return decodeCheckpoint(readRegularFile(path, 'checkpoint'), path);
}

/** Replace `path` atomically: a reader (or a crash) sees the old file or the new one, never half of one. */
export function writeCheckpoint(path: string, ckpt: Omit<Checkpoint, 'path'>): void {
  writeFileAtomic(path, encodeCheckpoint(ckpt), 'checkpoint');
}

/**
 * Fails before training, not after an epoch of it, when checkpoints cannot be written to
 * `path`, or when `path` holds something other than a checkpoint (a data or config file
 * named there by mistake), which a save would replace. Returns whether it holds a checkpoint.
 */
export function checkWritable(path: string): boolean {
  checkOutputFile(path, 'checkpoint');
  const held = holds(path);
  if (held === 'other') throw new UserError(`--checkpoint ${path} exists and is not a threadgrad checkpoint; saving would replace it: name another file`, 2);
  return held === 'checkpoint';
}

/** Whether `path` is a threadgrad checkpoint (by its magic), another file with content, or nothing yet. */
export function holds(path: string): 'checkpoint' | 'other' | 'nothing' {
  let head: Buffer;
  try {
    head = readFileHead(path, MAGIC.length);
  } catch {
    return 'nothing';
  }
  return head.length === 0 ? 'nothing' : head.equals(MAGIC) ? 'checkpoint' : 'other';
}

/** A clear message when a checkpoint cannot continue under these settings and data. */
export function checkResumable(ckpt: Checkpoint, sizes: number[], input: InputSpec, trainCount: number, batchSize: number): void {
  const h = ckpt.header;
  if (h.input.kind !== input.kind || h.input.shape.join('x') !== input.shape.join('x')) {
    throw new UserError(`${ckpt.path} was trained on ${describe(h.input)} but the data holds ${describe(input)}; resume with the data it trained on`);
  }
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

function isHeader(h: unknown): h is CheckpointHeader & { floats: Counts } {
  if (typeof h !== 'object' || h === null) return false;
  const x = h as Record<string, unknown>;
  const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  const floats = x.floats as Record<string, unknown> | undefined;
  const early = x.early as Record<string, unknown> | undefined;
  return (
    Array.isArray(x.sizes) && x.sizes.length >= 2 && x.sizes.every((s) => isInt(s) && s > 0) && isInput(x.input) &&
    typeof floats === 'object' && floats !== null && BLOCKS.every((k) => isInt(floats[k])) &&
    isInt(x.epoch) && isInt(x.step) && isInt(x.trainCount) && isInt(x.batchSize) && isInt(x.stepsDone) &&
    typeof x.epochLossSum === 'number' && isInt(x.epochCorrect) &&
    Array.isArray(x.rng) && x.rng.length === 4 && x.rng.every((w) => isInt(w) && w < 2 ** 32) && x.rng.some((w) => w !== 0) &&
    typeof early === 'object' && early !== null && isInt(early.bestEpoch) && typeof early.best === 'number' && isInt(early.badEpochs) &&
    (x.finished === undefined || typeof x.finished === 'string') &&
    typeof x.config === 'object' && x.config !== null
  );
}

function isInput(v: unknown): v is InputSpec {
  if (typeof v !== 'object' || v === null) return false;
  const x = v as Record<string, unknown>;
  const n = x.normalize as Record<string, unknown> | undefined;
  const numbers = (a: unknown): boolean => Array.isArray(a) && a.every((e) => typeof e === 'number' && Number.isFinite(e));
  return (
    (x.kind === 'pixels' || x.kind === 'floats') && Array.isArray(x.shape) && x.shape.every((d) => Number.isSafeInteger(d) && d > 0) &&
    (n === undefined || ((n.kind === 'minmax' || n.kind === 'standard') && numbers(n.offset) && numbers(n.scale)))
  );
}

function truncated(path: string, has: number, expected?: number): UserError {
  const of = expected === undefined ? '' : ` of the ${expected} its header promises`;
  return new UserError(`${path} is truncated: it has only ${has} bytes${of}; the checkpoint was not written completely`);
}

function corrupt(path: string, why: string): UserError {
  return new UserError(`${path} is a corrupt checkpoint (${why}); use an earlier copy or start a new run`);
}
