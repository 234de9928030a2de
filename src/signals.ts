// Ctrl-C (SIGINT) and SIGTERM during training. The first one only raises a flag: the
// training loop sees it after the steps in flight (a fraction of a second), saves a checkpoint and stops with the
// conventional status 128 + signal number. A second one means "now": exit at once.
import { constants } from 'node:os';
import { basename, relative } from 'node:path';

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Where an interrupted run saves when no --checkpoint was given, relative to the working folder. */
export const RESCUE_CHECKPOINT = 'threadgrad-interrupted.ckpt';

export class StopRequests {
  private received: NodeJS.Signals | undefined;

  private readonly handler = (signal: NodeJS.Signals): void => {
    if (this.received) process.exit(exitCodeFor(signal));
    this.received = signal;
    this.onFirst(signal);
  };

  constructor(private readonly onFirst: (signal: NodeJS.Signals) => void = () => {}) {
    for (const s of STOP_SIGNALS) process.on(s, this.handler);
  }

  /** The signal that asked the run to stop, if any; the training loop polls this between calls of steps. */
  readonly requested = (): NodeJS.Signals | undefined => this.received;

  /** Give the signals back their default action. */
  dispose(): void {
    for (const s of STOP_SIGNALS) process.off(s, this.handler);
  }
}

/** 130 for SIGINT, 143 for SIGTERM, as a shell reports a process killed by the signal. */
export function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/** The command that continues from `checkpoint`, as this process was started (installed bin or node path/to/cli.js). */
export function resumeCommand(checkpoint: string): string {
  const script = process.argv[1] ?? '';
  const near = relative(process.cwd(), script);
  const program = basename(script) === 'cli.js' ? `node ${shellQuote(near.startsWith('..') ? script : near)}` : 'threadgrad';
  return `${program} train --resume ${shellQuote(checkpoint)}`;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
