// Test helper: run the podwire CNI plugin as a container runtime does —
// bin/podwire-cni.js with the CNI_* environment and the network
// configuration on stdin — and read its JSON answer and exit code.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './lab.ts';

export const CNI_ENTRY = join(REPO, 'bin', 'podwire-cni.js');

export interface CniCall { stdout: string; stderr: string; code: number; json: Record<string, unknown> | undefined }

/** `argv`: the plugin to run (default podwire's; a chain runs other plugins, or any of them under `ip netns exec`). */
export function runCni(env: Record<string, string | undefined>, conf: unknown, argv: string[] = [process.execPath, CNI_ENTRY]): Promise<CniCall> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries({ PATH: process.env.PATH, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    if (process.env.PODWIRE_STATE_DIR && clean.PODWIRE_STATE_DIR === undefined) clean.PODWIRE_STATE_DIR = process.env.PODWIRE_STATE_DIR;
    const p = spawn(argv[0], argv.slice(1), { env: clean });
    let out = '', err = '';
    p.stdout.setEncoding('utf8').on('data', (c) => { out += c; });
    p.stderr.setEncoding('utf8').on('data', (c) => { err += c; });
    p.on('error', reject);
    p.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try { json = out.trim() ? JSON.parse(out) : undefined; } catch { /* the caller sees stdout */ }
      resolve({ stdout: out, stderr: err, code: code ?? -1, json });
    });
    p.stdin.end(typeof conf === 'string' ? conf : JSON.stringify(conf));
  });
}
