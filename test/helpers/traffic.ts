// Traffic between pods of a running lab, for the netns end-to-end tests.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execIn, spawnIn, sleep, type ExecResult } from './lab.ts';

export const TCP_TRANSFER_PY = fileURLToPath(new URL('../e2e/tcp_transfer.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** `ping -c 2 -W 2 ip` from inside `ns`. */
export function ping(ns: string, ip: string, count = 2): Promise<ExecResult> {
  return execIn(ns, ['ping', '-n', '-c', String(count), '-W', '2', ip], { timeoutMs: 30_000 });
}

export interface TransferResult {
  sent: { bytes: number; sha256: string };
  received: { bytes: number; sha256: string };
}

/**
 * Send `bytes` random bytes over TCP from pod namespace `fromNs` to `toIp`
 * (a server started in `toNs` on `port`); both ends hash what they saw.
 */
export async function tcpTransfer(fromNs: string, toNs: string, toIp: string, bytes: number, port = 5201): Promise<TransferResult> {
  const server = spawnIn(toNs, [PYTHON, TCP_TRANSFER_PY, 'server', String(port), '30']);
  let sOut = '';
  let sErr = '';
  server.stdout!.setEncoding('utf8').on('data', (c: string) => { sOut += c; });
  server.stderr!.setEncoding('utf8').on('data', (c: string) => { sErr += c; });
  const serverDone = new Promise<number>((resolve) => server.once('exit', (code) => resolve(code ?? -1)));
  try {
    await waitFor(() => sOut.includes('listening'), 10_000, () => `server in ${toNs} did not start: ${sErr}`, server);
    const c = await execIn(fromNs, [PYTHON, TCP_TRANSFER_PY, 'client', toIp, String(port), String(bytes)], { timeoutMs: 60_000 });
    if (c.code !== 0) throw new Error(`client in ${fromNs} failed (exit ${c.code}): ${c.stderr}`);
    const code = await Promise.race([serverDone, sleep(30_000).then(() => -2)]);
    if (code !== 0) throw new Error(`server in ${toNs} failed (exit ${code}): ${sErr}`);
    return { sent: lastJson(c.stdout), received: lastJson(sOut) };
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
}

function lastJson(text: string): { bytes: number; sha256: string } {
  const line = text.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`no JSON result in: ${text}`);
  return JSON.parse(line);
}

async function waitFor(cond: () => boolean, ms: number, why: () => string, proc?: ChildProcess): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end || (proc && proc.exitCode !== null)) throw new Error(why());
    await sleep(20);
  }
}
