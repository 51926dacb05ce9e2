#!/usr/bin/env node
// Entry point: runs the control plane compiled by `npm run build` (tsc into
// dist/); nothing is transpiled at run time.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(`podwire: the compiled CLI is missing (${main.pathname}): run \`npm run build\` in ${new URL('..', import.meta.url).pathname}`);
  process.exit(1);
}
await import(main.href);
