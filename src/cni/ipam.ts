// Delegation to an IPAM plugin (SPEC "Delegated plugins"): the plugin named
// by ipam.type, found in CNI_PATH, run with the same environment and the same
// network configuration on stdin; its result (or CNI error) passed on.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, CNI_ERR, type CniResult } from './spec.ts';

export type IpamRunner = (type: string, command: 'ADD' | 'DEL' | 'CHECK', env: Record<string, string | undefined>, stdin: string, path: string[]) => Promise<CniResult | undefined>;

export const runIpam: IpamRunner = (type, command, env, stdin, path) => {
  const dir = path.find((d) => existsSync(join(d, type)));
  if (!dir) return Promise.reject(new CniError(CNI_ERR.INVALID_CONFIG, `ipam.type "${type}": no such plugin in CNI_PATH (${path.join(':') || 'empty'})`));
  return new Promise((resolve, reject) => {
    const child = spawn(join(dir, type), [], { env: { ...env, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => { out += c; });
    child.stderr.setEncoding('utf8').on('data', (c) => { err += c; });
    child.on('error', (e) => reject(new CniError(CNI_ERR.IO_FAILURE, `ipam ${type}: ${e.message}`)));
    child.on('close', (code) => {
      let parsed: Record<string, unknown> | undefined;
      try { parsed = out.trim() ? JSON.parse(out) : undefined; } catch { /* reported below */ }
      if (code !== 0) {
        const msg = typeof parsed?.msg === 'string' ? parsed.msg : (err.trim() || out.trim() || `exit ${code}`);
        const c = typeof parsed?.code === 'number' ? parsed.code : CNI_ERR.IO_FAILURE;
        reject(new CniError(c, `ipam ${type} ${command}: ${msg}`));
        return;
      }
      if (command === 'ADD' && !parsed) { reject(new CniError(CNI_ERR.DECODE_FAILURE, `ipam ${type} ADD: no result on its stdout`)); return; }
      resolve(parsed as CniResult | undefined);
    });
    child.stdin.end(stdin);
  });
};

/** The one IPv4 address (a.b.c.d) an IPAM result gives. */
export function ipamAddress(type: string, r: CniResult | undefined): string {
  const a = r?.ips?.find((i) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(i.address));
  if (!a) throw new CniError(CNI_ERR.INVALID_CONFIG, `ipam ${type} gave no IPv4 address (configure an IPv4 range inside the node's pod CIDR)`);
  return a.address.split('/')[0];
}
