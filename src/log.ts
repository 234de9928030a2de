// Structured logs on stderr: JSON lines for machines (pipes, files, CI), readable lines
// when a person watches a terminal. stdout stays free for results.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(opts: { pretty?: boolean; level?: string } = {}): Logger {
  const options = { base: undefined, level: opts.level ?? process.env.THREADGRAD_LOG_LEVEL ?? 'info' };
  if (opts.pretty ?? process.stderr.isTTY) {
    return pino(options, pretty({ destination: 2, sync: true, colorize: true, ignore: 'time', hideObject: true, messageFormat: forPeople }));
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}

const pct = (x: unknown): string => `${(100 * Number(x)).toFixed(2)}%`;

/** One line per record: epochs in words, anything else as its message and key=value pairs. */
export function forPeople(record: Record<string, unknown>, messageKey: string): string {
  if (record[messageKey] === 'epoch') {
    const r = record;
    return `epoch ${r.epoch}: loss ${Number(r.loss).toFixed(4)}, train ${pct(r.trainAcc)}, test ${pct(r.testAcc)} ` +
      `(test loss ${Number(r.testLoss).toFixed(4)}), ${Number(r.seconds).toFixed(2)} s, ` +
      `${Math.round(Number(r.samplesPerSec)).toLocaleString('en-US')} samples/s, ${r.workers} worker(s)`;
  }
  const fields = Object.entries(record)
    .filter(([k]) => k !== messageKey && k !== 'level' && k !== 'time')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`);
  return [record[messageKey], ...fields].join(' ');
}
