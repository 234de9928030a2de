// The writing half of the Protocol Buffers wire format, as much as an ONNX file needs. A
// message is its fields one after another, each a key (field number << 3 | wire type)
// and a value: a varint (7 bits a byte, low bits first, the top bit saying "more"), or a
// varint length and that many bytes (strings, bytes, nested messages). Any field order is
// valid; the schema (the field numbers) lives with its user, src/export/onnx.ts.

const VARINT = 0;
const LENGTH_DELIMITED = 2;

/** A non-negative integer as a varint. Division, not bit shifts: those would cut it to 32 bits. */
export function varint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`protobuf: ${n} is not a non-negative integer this encoder writes`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const key = (field: number, wireType: number): Uint8Array => varint(field * 8 + wireType);

/** An int32, int64 or enum field of a non-negative value. */
export const intField = (field: number, value: number): Uint8Array => concat([key(field, VARINT), varint(value)]);

export const bytesField = (field: number, bytes: Uint8Array): Uint8Array => concat([key(field, LENGTH_DELIMITED), varint(bytes.length), bytes]);

export const stringField = (field: number, text: string): Uint8Array => bytesField(field, new TextEncoder().encode(text));

/** A nested message, given as its fields. */
export const messageField = (field: number, fields: Uint8Array[]): Uint8Array => bytesField(field, concat(fields));
