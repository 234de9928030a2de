// Errors a user can act on. The CLI prints their message on one line, with no stack trace,
// and exits with `exitCode`; anything else is a bug and keeps its stack.
import { constants } from 'node:os';

export class UserError extends Error {
  /** `resumeFrom`: a checkpoint saved on the way out, from which the run can go on. */
  constructor(message: string, readonly exitCode = 1, readonly resumeFrom?: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** A run stopped because the user asked (Ctrl-C, SIGTERM, an aborted signal): no error; exit 128 + the signal's number. */
export class Stopped extends UserError {
  constructor(message: string, readonly reason: string, resumeFrom?: string) {
    super(message, 128 + ((constants.signals as Record<string, number>)[reason] ?? 2), resumeFrom);
    this.name = 'Stopped';
  }
}

/** Training blew up (an exploded loss, weights no longer finite): nothing is saved past the last good checkpoint. */
export class Diverged extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'Diverged';
  }
}
