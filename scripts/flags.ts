// The flags of the scripts in this folder, handled one way for all of them: --help prints
// the usage, and a flag that is unknown, lacks its value or is out of range stops the
// script with one line naming it and exit status 2, as the threadgrad CLI does.
import { parseArgs } from 'node:util';
import { choiceOf, integerIn } from '../src/util/values.js';

export interface ScriptFlags<K extends string> {
  /** --name as given, else its default (undefined where it has none). */
  get(name: K): string | undefined;
  /** --name as an integer in [min, max]. */
  int(name: K, min: number, max?: number): number;
  /** --name, which must be one of `choices`. */
  oneOf<C extends string>(name: K, choices: readonly C[]): C;
  /** --name through `parse`, whose error message becomes the script's one line. */
  parsed<T>(name: K, parse: (value: string | undefined) => T): T;
  /** Stops the script over flags that do not go together: one line, exit status 2. */
  fail(message: string): never;
}

/** Stops a script over its input: one line on stderr, exit status 2. */
function fail(script: string, message: string): never {
  process.stderr.write(`${script}: error: ${message} (--help for usage)\n`);
  process.exit(2);
}

/** Parses process.argv: every flag takes a value, `defaults` names them all. */
export function scriptFlags<K extends string>(script: string, usage: string, defaults: Record<K, string | undefined>): ScriptFlags<K> {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string }> = { help: { type: 'boolean' } };
  for (const [name, value] of Object.entries<string | undefined>(defaults)) options[name] = value === undefined ? { type: 'string' } : { type: 'string', default: value };
  /** check(), or the script stopped with the message of what it threw. */
  const checked = <T>(check: () => T): T => {
    try {
      return check();
    } catch (e) {
      return fail(script, e instanceof Error ? e.message : String(e));
    }
  };
  const { values } = checked(() => parseArgs({ options, strict: true }));
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const get = (name: K): string | undefined => values[name] as string | undefined;
  // The settings' own checks (config.ts): a script words a bad value as the CLI does.
  return {
    get,
    int: (name, min, max) => checked(() => integerIn(`--${name}`, get(name), min, max)),
    oneOf: (name, choices) => checked(() => choiceOf(`--${name}`, get(name), choices)),
    parsed: (name, parse) => checked(() => parse(get(name))),
    fail: (message) => fail(script, message),
  };
}
