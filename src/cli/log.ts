// Structured logs on stderr: JSON lines for machines (pipes, files, CI), readable lines
// when a person watches a terminal. stdout stays free for results.
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { clearStatusLine } from './progress.js';

export type { Logger };

/** `terminal`: where readable lines go (stderr; a test passes its own). */
export function createLogger(opts: { pretty?: boolean; level?: string; terminal?: { write(text: string): unknown } } = {}): Logger {
  const options = { base: undefined, level: opts.level ?? process.env.THREADGRAD_LOG_LEVEL ?? 'info' };
  if (opts.pretty ?? process.stderr.isTTY) {
    const terminal = opts.terminal ?? process.stderr;
    const prettify = prettyFactory({ colorize: true, ignore: 'time', hideObject: true, messageFormat: forPeople });
    // Formatted here, synchronously, so that the progress bar is erased before each line and not run into.
    const write = (line: string): void => {
      clearStatusLine();
      terminal.write(prettify(line));
    };
    return pino(options, { write });
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}

const pct = (x: unknown): string => `${(100 * Number(x)).toFixed(2)}%`;

/** One line per record: epochs in words, anything else as its message and key=value pairs. */
export function forPeople(record: Record<string, unknown>, messageKey: string): string {
  if (record[messageKey] === 'epoch') {
    const r = record;
    const val = r.valAcc === undefined ? '' : `, val ${pct(r.valAcc)} (loss ${Number(r.valLoss).toFixed(4)})`;
    const test = r.testAcc === undefined ? '' : `, test ${pct(r.testAcc)} (loss ${Number(r.testLoss).toFixed(4)})`;
    return `epoch ${r.epoch}: loss ${Number(r.loss).toFixed(4)}, train ${pct(r.trainAcc)}${val}${test}, ` +
      `${Number(r.seconds).toFixed(2)} s, ${Math.round(Number(r.samplesPerSec)).toLocaleString('en-US')} samples/s, ${r.workers} worker(s)`;
  }
  const fields = Object.entries(record)
    .filter(([k]) => k !== messageKey && k !== 'level' && k !== 'time')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`);
  return [record[messageKey], ...fields].join(' ');
}

