#!/usr/bin/env node
// The `threadgrad` executable: the command line of cli.ts on this process's arguments.
import { hideBin } from 'yargs/helpers';
import { main } from './cli.js';

// A reader that has seen enough (`threadgrad predict ... | head -1`) closes the pipe: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});
await main(hideBin(process.argv));
