// Structured logs on stderr: JSON lines for machines (pipes, files, CI), pretty lines
// when a person watches a terminal. stdout stays free for results.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(opts: { pretty?: boolean; level?: string } = {}): Logger {
  const options = { base: undefined, level: opts.level ?? process.env.THREADGRAD_LOG_LEVEL ?? 'info' };
  if (opts.pretty ?? process.stderr.isTTY) {
    return pino(options, pretty({ destination: 2, sync: true, colorize: true, ignore: 'time', singleLine: true }));
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
