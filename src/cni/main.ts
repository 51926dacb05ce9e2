// The podwire-cni executable (bin/podwire-cni.js): environment and stdin in,
// the result or CNI error JSON out, exit code 0 or 1. A runtime runs it once
// per call, so it loads only the plugin and what the plugin needs.
import { runPlugin } from './plugin.ts';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const out = await runPlugin(process.env, Buffer.concat(chunks).toString('utf8'));
process.stdout.write(out.stdout);
process.exitCode = out.exitCode;
