// Traffic between pods of a running lab, for the netns end-to-end tests.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execIn, spawnIn, runProgram, sleep, type ExecResult } from './lab.ts';

export const TCP_TRANSFER_PY = fileURLToPath(new URL('../e2e/tcp_transfer.py', import.meta.url));
/** The interpreter the tests' helper scripts run with, inside pod namespaces. */
export const PYTHON = '/usr/bin/python3';

/** `ping -c 2 -W 2 ip` from inside `ns`. */
export function ping(ns: string, ip: string, count = 2): Promise<ExecResult> {
  return execIn(ns, ['ping', '-n', '-c', String(count), '-W', '2', ip], { timeoutMs: 30_000 });
}

/**
 * `ping -n -c count -W 2 ...extra ip` from inside `ns`, for the options the
 * plain helper has no say in (`-t TTL`, `-M do|dont`, `-s SIZE`).
 */
export function pingWith(ns: string, ip: string, extra: string[], count = 2): Promise<ExecResult> {
  return execIn(ns, ['ping', '-n', '-c', String(count), '-W', '2', ...extra, ip], { timeoutMs: 30_000 });
}

/** The TTLs of the echo replies in ping's output ("64 bytes from X: icmp_seq=1 ttl=62 time=..."). */
export function replyTtls(pingStdout: string): number[] {
  return [...pingStdout.matchAll(/ bytes from [^:]+: icmp_seq=\d+ ttl=(\d+)/g)].map((m) => Number(m[1]));
}

/** eth0's (or `ifname`'s) MTU inside pw- namespace `ns`, from `ip -n NS -j link show`. */
export async function linkMtu(ns: string, ifname = 'eth0'): Promise<number> {
  if (!ns.startsWith('pw-')) throw new Error(`refusing to look into namespace "${ns}": tests only use pw-* namespaces`);
  const r = await runProgram('ip', ['-n', ns, '-j', 'link', 'show', ifname]);
  if (r.code !== 0) throw new Error(`ip -n ${ns} link show ${ifname} failed (exit ${r.code}): ${r.stderr}`);
  const links = JSON.parse(r.stdout) as { ifname: string; mtu: number }[];
  if (links.length !== 1) throw new Error(`ip -n ${ns} link show ${ifname}: expected one link, got ${r.stdout}`);
  return links[0].mtu;
}

export interface TransferResult {
  sent: { bytes: number; sha256: string };
  received: { bytes: number; sha256: string };
}

/**
 * Send `bytes` random bytes over TCP from pod namespace `fromNs` to `toIp`
 * (a server started in `toNs` on `port`); both ends hash what they saw. With
 * `seed`, the bytes are the same every run (the same stream for two labs).
 */
export async function tcpTransfer(fromNs: string, toNs: string, toIp: string, bytes: number, port = 5201, seed?: number): Promise<TransferResult> {
  const server = startListening(toNs, [PYTHON, TCP_TRANSFER_PY, 'server', String(port), '30'], `server in ${toNs}`);
  try {
    await server.listening;
    const c = await execIn(fromNs, [PYTHON, TCP_TRANSFER_PY, 'client', toIp, String(port), String(bytes), ...(seed === undefined ? [] : [String(seed)])], { timeoutMs: 60_000 });
    if (c.code !== 0) throw new Error(`client in ${fromNs} failed (exit ${c.code}): ${c.stderr}`);
    const code = await Promise.race([server.exited, sleep(30_000).then(() => -2)]);
    if (code !== 0) throw new Error(`server in ${toNs} failed (exit ${code}): ${server.stderr()}`);
    return { sent: lastJson(c.stdout), received: lastJson(server.stdout()) };
  } finally {
    server.kill();
  }
}

// One UDP socket each side; the receiver stops after `count` datagrams or when nothing came for IDLE seconds.
const UDP_PY = String.raw`
import hashlib, json, os, socket, sys
mode = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == 'recv':
    port, count, idle = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s.bind(('0.0.0.0', port)); s.settimeout(idle)
    print('listening', flush=True)
    got = []
    try:
        while len(got) < count:
            d, _ = s.recvfrom(65535)
            got.append({'bytes': len(d), 'sha256': hashlib.sha256(d).hexdigest()})
    except socket.timeout:
        pass
    print(json.dumps(got), flush=True)
else:
    host, port, pmtudisc = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s.setsockopt(socket.IPPROTO_IP, 10, pmtudisc)  # IP_MTU_DISCOVER: 0 = DONT (no DF), 2 = DO (DF)
    sent = []
    for n in map(int, sys.argv[5:]):
        d = os.urandom(n)
        s.sendto(d, (host, port))
        sent.append({'bytes': n, 'sha256': hashlib.sha256(d).hexdigest()})
    print(json.dumps(sent), flush=True)
`;

export interface Datagram { bytes: number; sha256: string }

/**
 * Send one UDP datagram of each size in `sizes` from pod namespace `fromNs`
 * to `toIp` (a receiver in `toNs`), with DF (`df: true`) or without; returns
 * what was sent and what arrived intact (the receiver's kernel drops a
 * datagram whose UDP checksum is wrong), each with its sha256.
 */
export async function udpDatagrams(fromNs: string, toNs: string, toIp: string, sizes: number[], opts: { df: boolean; port?: number; idleSeconds?: number }): Promise<{ sent: Datagram[]; received: Datagram[] }> {
  const port = opts.port ?? 5301;
  const server = startListening(toNs, [PYTHON, '-c', UDP_PY, 'recv', String(port), String(sizes.length), String(opts.idleSeconds ?? 2)], `UDP receiver in ${toNs}`);
  try {
    await server.listening;
    const c = await execIn(fromNs, [PYTHON, '-c', UDP_PY, 'send', toIp, String(port), opts.df ? '2' : '0', ...sizes.map(String)], { timeoutMs: 30_000 });
    if (c.code !== 0) throw new Error(`UDP sender in ${fromNs} failed (exit ${c.code}): ${c.stderr}`);
    const code = await Promise.race([server.exited, sleep(30_000).then(() => -2)]);
    if (code !== 0) throw new Error(`UDP receiver in ${toNs} failed (exit ${code}): ${server.stderr()}`);
    const last = (t: string) => JSON.parse(t.trim().split('\n').filter((l) => l.startsWith('[')).pop() ?? 'null') as Datagram[];
    return { sent: last(c.stdout), received: last(server.stdout()) };
  } finally {
    server.kill();
  }
}

/** One counter of /proc/net/snmp inside pw- namespace `ns`, e.g. snmpCounter(ns, 'Udp', 'InCsumErrors'). */
export async function snmpCounter(ns: string, group: string, name: string): Promise<number> {
  const r = await execIn(ns, ['cat', '/proc/net/snmp']);
  if (r.code !== 0) throw new Error(`cat /proc/net/snmp in ${ns} failed: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith(`${group}:`));
  if (lines.length < 2) throw new Error(`no ${group} lines in /proc/net/snmp of ${ns}`);
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  const i = names.indexOf(name);
  if (i < 0) throw new Error(`/proc/net/snmp of ${ns} has no ${group} ${name}`);
  return values[i];
}

function lastJson(text: string): { bytes: number; sha256: string } {
  const line = text.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`no JSON result in: ${text}`);
  return JSON.parse(line);
}

/** Poll `cond` every 20 ms; throw `why()` after `ms`, or as soon as `proc` has exited. */
/** A program started in a namespace that says "listening" once it is ready (a test server). */
export interface ListeningProcess {
  proc: ChildProcess;
  /** resolves once it printed "listening"; rejects, with its stderr, when it exits first or takes over `ms` */
  listening: Promise<void>;
  /** its exit code (-1 when killed by a signal) */
  exited: Promise<number>;
  stdout(): string;
  stderr(): string;
  /** SIGKILL it if it is still running */
  kill(): void;
}

/** Start `argv` in `ns`; `what` names it in errors ("server in pw-web-1"). */
export function startListening(ns: string, argv: string[], what: string, ms = 10_000): ListeningProcess {
  const proc = spawnIn(ns, argv);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err = (err + c).slice(-8192); });
  const exited = new Promise<number>((resolve) => proc.once('exit', (code) => resolve(code ?? -1)));
  const listening = waitFor(() => out.includes('listening'), ms,
    () => `${what} did not start (${proc.exitCode !== null ? `exit ${proc.exitCode}` : `not listening after ${ms / 1000} s`}): ${err}`, proc);
  listening.catch(() => {}); // the caller awaits it; no unhandled rejection if it never does
  return {
    proc, listening, exited, stdout: () => out, stderr: () => err,
    kill: () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); },
  };
}

export async function waitFor(cond: () => boolean, ms: number, why: () => string, proc?: ChildProcess): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end || (proc && proc.exitCode !== null)) throw new Error(why());
    await sleep(20);
  }
}
