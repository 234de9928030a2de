#!/usr/bin/env node
// threadgrad's command line: one module per command under commands/. Errors a user can
// fix are printed on one line, never as a stack trace.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from './errors.js';
import { trainCommand } from './commands/train.js';
import { evalCommand } from './commands/eval.js';
import { predictCommand } from './commands/predict.js';
import { benchCommand } from './commands/bench.js';
import { compareBatchingCommand } from './commands/compare-batching.js';

export function buildCli(args: string[]): Argv {
  return yargs(args)
    .scriptName('threadgrad')
    .usage('$0 <command> [options]\n\nData-parallel MLP training on MNIST across worker threads.')
    .command(trainCommand)
    .command(evalCommand)
    .command(predictCommand)
    .command(benchCommand)
    .command(compareBatchingCommand)
    .demandCommand(1, 'name a command, e.g. `threadgrad train`')
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UserError(`${msg} (see \`threadgrad --help\`)`, 2);
    });
}

export async function main(args = hideBin(process.argv)): Promise<void> {
  try {
    await buildCli(args).parseAsync();
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`threadgrad: error: ${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    throw e;
  }
}

await main();
