// Files the build makes (the worker script, the wasm kernels), found from compiled code in
// dist/src/util/ and from the TypeScript sources under vitest, which use the build in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from './errors.js';

/** `name` relative to dist/, e.g. 'src/parallel/worker.js'. */
export function builtFile(name: string): string {
  for (const rel of [`../../${name}`, `../../dist/${name}`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new UserError(`dist/${name} not found: run \`npm run build\` first`);
}
