#!/usr/bin/env node
// The CNI plugin a container runtime runs (podwire cni install puts a wrapper
// for it into the runtime's CNI bin directory); its logic is src/cni/, run
// compiled (dist/, `npm run build`) as the CLI is: nothing transpiled per call.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cni/main.js', import.meta.url);
if (!existsSync(main)) {
  // a runtime reads the error as CNI JSON on stdout (code 999: plugin-specific)
  process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: 999, msg: 'podwire-cni is not built', details: `${main.pathname} is missing: run \`npm run build\` in ${new URL('..', import.meta.url).pathname}` }) + '\n');
  process.exit(1);
}
await import(main.href);
