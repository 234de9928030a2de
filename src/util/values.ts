// Checked values of settings, for the config schema and the scripts' flags: each parser
// returns the value, or throws a usage error (exit status 2) that names where the value
// came from and what it should have been.
import { resolve, sep } from 'node:path';
import { UserError } from './errors.js';

export type Parser = (value: unknown, where: string) => unknown;

/** A bad setting is a usage error: exit status 2, like a bad flag. */
export const usage = (message: string): UserError => new UserError(message, 2);

/** `v` (a number or its text) as an integer in [min, max]; else a usage error naming `where`. */
export function integerIn(where: string, v: unknown, min: number, max = Infinity): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw usage(`${where} must be an integer ${range}, got ${show(v)}`);
  }
  return n;
}

/** `v` if it is one of `choices`; else a usage error naming `where`. */
export function choiceOf<C extends string>(where: string, v: unknown, choices: readonly C[]): C {
  if (typeof v !== 'string' || !choices.includes(v as C)) throw usage(`${where} must be one of ${choices.join(', ')}, got ${show(v)}`);
  return v as C;
}

/** "1,2,4" -> [1, 2, 4]; a usage error naming the flag otherwise. */
export function intList(flag: string, value: unknown, min = 1, max = Infinity): number[] {
  const parts = String(value).split(',').map((p) => p.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isInteger(n) || n < min || n > max)) {
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw usage(`--${flag} must be a comma-separated list of integers ${range}, got ${show(value)}`);
  }
  return nums;
}

/** A flag's value as an integer of at least `min`. */
export function intAtLeast(flag: string, value: unknown, min: number): number {
  return integerIn(`--${flag}`, value, min);
}

export const int = (min: number, max: number): Parser => (v, where) => integerIn(where, v, min, max);

/** A number, from a number or its text; NaN otherwise. */
export const number = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);

export const positive: Parser = (v, where) => {
  const n = number(v);
  if (!Number.isFinite(n) || n <= 0) throw usage(`${where} must be a number greater than 0, got ${show(v)}`);
  return n;
};

export const atLeastZero: Parser = (v, where) => {
  const n = number(v);
  if (!Number.isFinite(n) || n < 0) throw usage(`${where} must be a number of at least 0, got ${show(v)}`);
  return n;
};

/** In [0, 1): a decay rate such as momentum or Adam's betas. */
export const fraction: Parser = (v, where) => {
  const n = number(v);
  if (!(n >= 0 && n < 1)) throw usage(`${where} must be a number from 0 up to (not including) 1, got ${show(v)}`);
  return n;
};

export const bool: Parser = (v, where) => {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw usage(`${where} must be true or false, got ${show(v)}`);
};

/**
 * A file or folder, made absolute against the current folder: a checkpoint stores the
 * settings, and a run resumed or evaluated from another folder must find the same files.
 */
export const path: Parser = (v, where) => {
  if (typeof v !== 'string' || v === '') throw usage(`${where} must be a non-empty path, got ${show(v)}`);
  // A trailing slash says "a folder"; resolve() would drop it, and with it the chance to refuse a folder where a file is due.
  return resolve(v) + (/[\\/]$/.test(v) ? sep : '');
};

export const oneOf = (...choices: string[]): Parser => (v, where) => choiceOf(where, v, choices);

export function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
