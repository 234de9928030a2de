// Errors a user can act on. The CLI prints their message on one line, with no
// stack trace, and exits with `exitCode`; anything else is a bug and keeps its stack.
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}
