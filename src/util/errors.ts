// Errors a user can act on. The CLI prints their message on one line, with no
// stack trace, and exits with `exitCode`; anything else is a bug and keeps its stack.
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

/** A run stopped because the user asked (Ctrl-C, SIGTERM): reported without "error", exit 128 + signal. */
export class Stopped extends UserError {
  constructor(message: string, exitCode: number) {
    super(message, exitCode);
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
