// Ctrl-C (SIGINT) and SIGTERM during training. The first one aborts the run's AbortSignal:
// the training loop sees it after the steps in flight (a fraction of a second), saves a
// checkpoint and stops, and the process exits with the conventional status 128 + signal
// number. A second one means "now": exit at once.
import { existsSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { UserError } from '../util/errors.js';
import { checkOutputFile } from '../util/files.js';

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Where an interrupted run saves when no --checkpoint was given, relative to the working folder. */
export const RESCUE_CHECKPOINT = 'threadgrad-interrupted.ckpt';

/**
 * Where a run without --checkpoint saves when stopped: a rescue file no earlier run left
 * (threadgrad-interrupted.ckpt, else -2, -3, ...), in the working folder or, where that
 * cannot be written, in the temp folder.
 */
export function rescuePath(): string {
  for (const dir of [process.cwd(), tmpdir()]) {
    for (let i = 1; i <= 1000; i++) {
      const path = join(dir, i === 1 ? RESCUE_CHECKPOINT : RESCUE_CHECKPOINT.replace(/\.ckpt$/, `-${i}.ckpt`));
      if (existsSync(path)) continue;
      try {
        checkOutputFile(path, 'checkpoint');
        return path;
      } catch {
        break;
      }
    }
  }
  throw new UserError(`neither the working folder nor ${tmpdir()} can take a rescue checkpoint`);
}

export class StopRequests {
  private readonly controller = new AbortController();
  /** Aborted, with the signal's name as its reason, by the first SIGINT or SIGTERM. */
  readonly signal = this.controller.signal;

  private readonly handler = (signal: NodeJS.Signals): void => {
    if (this.signal.aborted) quit(signal, 'again: exiting at once; checkpoints already saved stay as they were');
    this.controller.abort(signal);
    this.onFirst(signal);
  };

  constructor(private readonly onFirst: (signal: NodeJS.Signals) => void = () => {}) {
    for (const s of STOP_SIGNALS) process.on(s, this.handler);
  }

  /** Give the signals back their default action. */
  dispose(): void {
    for (const s of STOP_SIGNALS) process.off(s, this.handler);
  }
}

/**
 * Until the returned function is called, SIGINT or SIGTERM end the process at once with one
 * line, `what` saying why nothing is lost (e.g. "while reading the data; nothing to save yet").
 */
export function quitOnStop(what: string): () => void {
  const handler = (signal: NodeJS.Signals): void => quit(signal, what);
  for (const s of STOP_SIGNALS) process.on(s, handler);
  return () => {
    for (const s of STOP_SIGNALS) process.off(s, handler);
  };
}

function quit(signal: NodeJS.Signals, what: string): never {
  process.stderr.write(`threadgrad: stopped by ${signal} ${what}\n`);
  process.exit(exitCodeFor(signal));
}

/** 130 for SIGINT, 143 for SIGTERM, as a shell reports a process killed by the signal. */
export function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/** The command that continues from `checkpoint`, as this process was started (installed bin or node path/to/cli/main.js). */
export function resumeCommand(checkpoint: string): string {
  const script = process.argv[1] ?? '';
  const near = relative(process.cwd(), script);
  const program = basename(script) === 'main.js' ? `node ${shellQuote(near.startsWith('..') ? script : near)}` : 'threadgrad';
  return `${program} train --resume ${shellQuote(checkpoint)}`;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
