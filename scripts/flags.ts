// The flags of the scripts in this folder, handled one way for all of them: --help prints
// the usage, and a flag that is unknown, lacks its value or is out of range stops the
// script with one line naming it and exit status 2, as the threadgrad CLI does.
import { parseArgs } from 'node:util';

export interface ScriptFlags<K extends string> {
  /** --name as given, else its default (undefined where it has none). */
  get(name: K): string | undefined;
  /** --name as an integer in [min, max]. */
  int(name: K, min: number, max?: number): number;
  /** --name, which must be one of `choices`. */
  oneOf<C extends string>(name: K, choices: readonly C[]): C;
}

/** Stops a script over its input: one line on stderr, exit status 2. */
export function fail(script: string, message: string): never {
  process.stderr.write(`${script}: error: ${message} (--help for usage)\n`);
  process.exit(2);
}

/** Parses process.argv: every flag takes a value, `defaults` names them all. */
export function scriptFlags<K extends string>(script: string, usage: string, defaults: Record<K, string | undefined>): ScriptFlags<K> {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string }> = { help: { type: 'boolean' } };
  for (const [name, value] of Object.entries<string | undefined>(defaults)) options[name] = value === undefined ? { type: 'string' } : { type: 'string', default: value };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ options, strict: true }).values;
  } catch (e) {
    fail(script, e instanceof Error ? e.message : String(e));
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const get = (name: K): string | undefined => values[name] as string | undefined;
  return {
    get,
    int(name, min, max = Number.MAX_SAFE_INTEGER) {
      const n = Number(get(name));
      const want = max < Number.MAX_SAFE_INTEGER ? `an integer in ${min}..${max}` : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
      if (!Number.isInteger(n) || n < min || n > max) fail(script, `--${name} must be ${want}, got ${get(name)}`);
      return n;
    },
    oneOf(name, choices) {
      const v = get(name);
      if (!choices.includes(v as never)) fail(script, `--${name} must be ${choices.join(' or ')}, got ${v}`);
      return v as (typeof choices)[number];
    },
  };
}
