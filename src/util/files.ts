// Files a run writes (checkpoints, bench and comparison outputs) and the files it reads
// whole (config files, checkpoints). Everything a run will write is checked before the
// first step, so that an unwritable path costs no training time; a write replaces its
// target atomically, so that a crash leaves the previous file whole.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from './errors.js';

const reason = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    // ENOTDIR: a parent is a file; ensureFolder names it.
    if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code!)) return undefined;
    throw e;
  }
}

/**
 * `dir` and any missing parents, one level at a time. (A recursive mkdirSync under /proc
 * never returns: it retries the parent it cannot create.)
 */
export function ensureFolder(dir: string, what: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    let st: Stats | undefined;
    try {
      st = statOrUndefined(at);
    } catch (e) {
      throw new UserError(`cannot write ${what}: cannot look at ${at}: ${reason(e)}`);
    }
    if (st) {
      if (!st.isDirectory()) throw new UserError(`cannot write ${what}: ${at} is not a folder`);
      break;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UserError(`cannot write ${what}: cannot create folder ${folder}: ${reason(e)}`);
    }
  }
}

/**
 * Fails now, not after hours of training, when `path` cannot be written: it names a
 * folder or a special file (a device or a FIFO, which a rename would replace with a plain
 * file), or its folder cannot be created or written. Creates the folder if need be.
 */
export function checkOutputFile(path: string, what: string): void {
  if (path.endsWith(sep) || path.endsWith('/')) throw new UserError(`cannot write ${what} ${path}: it names a folder; give a file name`);
  let st: Stats | undefined;
  try {
    st = statOrUndefined(path);
  } catch (e) {
    throw new UserError(`cannot write ${what} ${path}: ${reason(e)}`);
  }
  if (st?.isDirectory()) throw new UserError(`cannot write ${what} ${path}: it is a folder; give a file name`);
  if (st && !st.isFile()) throw new UserError(`cannot write ${what} ${path}: it exists and is not a regular file`);
  checkFolderWritable(dirname(path), `${what} ${path}`, `.${basename(path)}`);
}

/** Fails now, not after the run, when files cannot be written into `dir`; creates it if need be. */
export function checkOutputFolder(dir: string, what: string): void {
  checkFolderWritable(dir, `${what} into ${dir}`, '.threadgrad');
}

/** Creates `dir` if need be, and a file in it, which it removes again: the one test of writability that also holds for root and read-only file systems. */
function checkFolderWritable(dir: string, what: string, probeName: string): void {
  ensureFolder(dir, what);
  const probe = join(dir, `${probeName}.${process.pid}.probe`);
  try {
    closeSync(openSync(probe, 'wx'));
    rmSync(probe, { force: true });
  } catch (e) {
    throw new UserError(`cannot write ${what}: ${reason(e)} in ${dir}`);
  }
}

/** The temp file a save of `path` by this process writes first. */
const tempOf = (path: string, pid = process.pid): string => join(dirname(path), `.${basename(path)}.${pid}.tmp`);

/**
 * Replace `path` atomically with `bytes`: a reader (or a crash) sees the old file or the
 * new one, never half of one. Temp files that an earlier save of the same target left
 * behind when its process was killed are removed first.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, what: string): void {
  checkOutputFile(path, what);
  removeStaleTemps(path);
  const tmp = tempOf(path);
  let created = false;
  try {
    const fd = openSync(tmp, 'w');
    created = true;
    try {
      writeFileSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    if (created) rmSync(tmp, { force: true });
    throw new UserError(`cannot write ${what} ${path}: ${(e as Error).message}`);
  }
  syncFolder(dirname(path));
}

/** `.<name>.<pid>.tmp` files of `path` whose process is gone. */
function removeStaleTemps(path: string): void {
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)\.tmp$/.exec(name.slice(prefix.length)) : null;
    if (m && !isAlive(Number(m[1]))) rmSync(join(dirname(path), name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Make a rename durable; some platforms and file systems refuse, which only weakens that. */
function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}

/**
 * The whole of a regular file. A FIFO or a device would block the thread (and with it the
 * signal handlers) or never end, so only regular files are read; `maxBytes` bounds what a
 * file may hold before it is read at all.
 */
export function readRegularFile(path: string, what: string, maxBytes = Infinity): Buffer {
  const st = statRegular(path, what);
  if (st.size > maxBytes) throw new UserError(`${what} ${path} is ${st.size} bytes, more than the ${maxBytes} it may hold`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${reason(e)}`);
  }
}

/** The first `bytes` bytes of a file (fewer if it is shorter); throws as fs does where it cannot be read. */
export function readFileHead(path: string, bytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(bytes);
    return head.subarray(0, readSync(fd, head, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/** stat of `path`, which must be a regular file. */
export function statRegular(path: string, what: string): Stats {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${reason(e)}`);
  }
  if (st.isDirectory()) throw new UserError(`cannot read ${what} ${path}: it is a folder, not a file`);
  if (!st.isFile()) throw new UserError(`cannot read ${what} ${path}: it is not a regular file (a device, FIFO or socket)`);
  return st;
}

/** `path` as a message shows it: relative to the working folder when it lies below it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}
