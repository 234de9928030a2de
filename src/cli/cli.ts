// threadgrad's command line: one module per command in this folder. Errors a user can
// fix are printed on one line, never as a stack trace. main.ts is the executable.
import yargs, { type Argv } from 'yargs';
import { Stopped, UserError } from '../util/errors.js';
import { clearStatusLine } from './progress.js';
import { resumeCommand } from './signals.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { predictCommand } from './predict.js';
import { exportCommand } from './export.js';
import { benchCommand } from './bench.js';
import { compareBatchingCommand } from './compare-batching.js';

export function buildCli(args: string[]): Argv {
  return yargs(args)
    .scriptName('threadgrad')
    .usage('$0 <command> [options]\n\nData-parallel MLP training across worker threads, on the bundled MNIST or your own IDX or CSV data.')
    .command(trainCommand)
    .command(evalCommand)
    .command(predictCommand)
    .command(exportCommand)
    .command(benchCommand)
    .command(compareBatchingCommand)
    .demandCommand(1, 'name a command, e.g. `threadgrad train`')
    .strict()
    // Values stay text until the settings' own parsers read them: yargs-parser adds a repeated
    // number flag whose last value is 1 to the one before (--epochs 5 --epochs 1 gave 6).
    .parserConfiguration({ 'parse-numbers': false })
    .middleware(lastValueWins, true)
    .help()
    .alias('h', 'help')
    .version()
    // yargs renders the whole help before every command, in case it is shown; wrapped, that
    // costs ~40 ms of each run's start-up, so only a run that shows it wraps it.
    .wrap(args.some((a) => a === '--help' || a === '-h') ? Math.min(110, process.stdout.columns ?? 110) : null)
    .fail((msg, err) => {
      // yargs reports its own parse errors (a flag without its value, say) as a YError;
      // anything else thrown in a command is passed on as it is.
      if (err && err.name !== 'YError') throw err;
      throw new UserError(`${msg ?? err?.message} (see \`threadgrad --help\`)`, 2);
    });
}

/** What may hold several values: the words of a command line and predict's files. */
const LISTS = new Set(['_', 'inputs']);

/** A flag given twice takes its last value, as in most command lines, instead of becoming a list no setting expects. */
function lastValueWins(argv: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(argv)) if (Array.isArray(value) && !LISTS.has(key)) argv[key] = value[value.length - 1];
}

/** Runs one command line; what fails for a reason the user can fix sets process.exitCode and prints one line on stderr. */
export async function main(args: string[]): Promise<void> {
  try {
    await buildCli(args).parseAsync();
  } catch (e) {
    if (e instanceof UserError) {
      clearStatusLine();
      const resume = e.resumeFrom === undefined ? '' : `; resume with: ${resumeCommand(e.resumeFrom)}`;
      process.stderr.write(`threadgrad: ${e instanceof Stopped ? '' : 'error: '}${e.message}${resume}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    throw e;
  }
}
