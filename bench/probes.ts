// What bench overlay measures between two pod namespaces: iperf3 TCP and
// 64-byte UDP, ping and TCP request-response latency, and CPU time (this
// process's, and the whole machine's from /proc/stat). Each probe starts its
// server, runs its client and stops the server it started, even on failure.
import { readFileSync } from 'node:fs';
import { linkList, netnsExec, netnsRun } from '../src/io/netns.ts';
import { waitForLine, stop } from './child.ts';
import { percentile } from './stats.ts';
import { ETHTOOL_OFFLOADS } from './plan.ts';

export interface Endpoints {
  clientNs: string;
  serverNs: string;
  /** the address the server binds (the backend pod's own) */
  serverIp: string;
  /** the address the client talks to: the server's, or a ClusterIP that DNATs to it */
  target: string;
}

export interface TcpResult { gbps: number; retransmits: number; bytes: number; seconds: number }
export interface UdpResult { pps: number; lossPct: number; sent: number; received: number; seconds: number }
export interface LatencyResult { p50Us: number; p99Us: number; meanUs: number; n: number; lost: number }

async function iperfRun(e: Endpoints, port: number, args: string[], seconds: number): Promise<any> {
  const server = netnsExec(e.serverNs, ['iperf3', '-s', '-1', '-B', e.serverIp, '-p', String(port), '--forceflush']);
  try {
    await waitForLine(server, /Server listening/, 5000);
    const { stdout } = await netnsRun(e.clientNs, ['iperf3', '-c', e.target, '-p', String(port), '-t', String(seconds), '-J', '--connect-timeout', '3000', ...args], {
      timeoutMs: (seconds + 20) * 1000,
    }).catch((err: Error & { stdout?: string }) => {
      // iperf3 -J exits non-zero with its reason in the JSON; keep that reason
      const m = /"error":\s*"([^"]*)"/.exec(err.message);
      throw new Error(`iperf3 ${e.clientNs} -> ${e.target}:${port}: ${m ? m[1] : err.message}`);
    });
    const j = JSON.parse(stdout);
    if (j.error) throw new Error(`iperf3 ${e.clientNs} -> ${e.target}:${port}: ${j.error}`);
    return j;
  } finally {
    await stop(server);
  }
}

/** iperf3 TCP for `seconds`; receiver-side goodput and bytes, sender retransmits. */
export async function tcpThroughput(e: Endpoints, port: number, seconds: number): Promise<TcpResult> {
  const j = await iperfRun(e, port, [], seconds);
  const r = j.end.sum_received;
  return { gbps: r.bits_per_second / 1e9, retransmits: j.end.sum_sent.retransmits ?? 0, bytes: r.bytes, seconds: r.seconds };
}

/**
 * iperf3 UDP with 18-byte payloads, unlimited rate: 18 + UDP 8 + IPv4 20 +
 * Ethernet 14 = 60 bytes, 64 with the FCS, the smallest Ethernet frame.
 * Reports what the receiver got per second.
 */
export const UDP_PAYLOAD = 18;
export async function udpSmallPackets(e: Endpoints, port: number, seconds: number): Promise<UdpResult> {
  const j = await iperfRun(e, port, ['-u', '-l', String(UDP_PAYLOAD), '-b', '0'], seconds);
  const r = j.end.sum_received ?? j.end.sum;
  const received = r.packets - r.lost_packets;
  return { pps: received / r.seconds, lossPct: r.lost_percent, sent: r.packets, received, seconds: r.seconds };
}

/** `ping -c count -i interval`: p50/p99 of the per-packet round trips, in µs. */
export async function pingLatency(clientNs: string, target: string, count: number, interval = 0.002): Promise<LatencyResult> {
  const { stdout } = await netnsRun(clientNs, ['ping', '-n', '-c', String(count), '-i', String(interval), '-W', '1', target], {
    timeoutMs: (count * interval + 15) * 1000,
  }).catch((err: Error) => ({ stdout: (err.message.match(/time=/) ? err.message : ''), err }));
  const rtts = [...stdout.matchAll(/ time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
  if (rtts.length === 0) throw new Error(`ping ${target} from ${clientNs}: no replies`);
  return latency(rtts, count - rtts.length);
}

function latency(us: number[], lost: number): LatencyResult {
  return { p50Us: percentile(us, 50), p99Us: percentile(us, 99), meanUs: us.reduce((a, b) => a + b, 0) / us.length, n: us.length, lost };
}

// One TCP connection, TCP_NODELAY, 1-byte ping-pong: the client times each round trip.
const RR_PY = String.raw`
import json, socket, sys, time
mode = sys.argv[1]
if mode == 'server':
    ip, port = sys.argv[2], int(sys.argv[3])
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((ip, port)); l.listen(1); l.settimeout(30)
    print('listening', flush=True)
    c, _ = l.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(1)
        if not b: break
        c.sendall(b)
else:
    ip, port, n, warm = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    s = socket.create_connection((ip, port), timeout=5); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    for i in range(warm + n):
        t = time.perf_counter_ns(); s.sendall(b'x')
        if not s.recv(1): raise SystemExit('closed')
        if i >= warm: out.append((time.perf_counter_ns() - t) / 1000)
    s.close()
    print(json.dumps(out))
`;
export const PYTHON = 'python3';

/** TCP request/response: `count` 1-byte round trips on one connection (after 50 unmeasured), p50/p99 in µs. */
export async function tcpRequestResponse(e: Endpoints, port: number, count: number): Promise<LatencyResult> {
  const server = netnsExec(e.serverNs, [PYTHON, '-c', RR_PY, 'server', e.serverIp, String(port)]);
  try {
    await waitForLine(server, /listening/, 5000);
    const { stdout } = await netnsRun(e.clientNs, [PYTHON, '-c', RR_PY, 'client', e.target, String(port), String(count), '50'], { timeoutMs: 60_000 });
    const us = JSON.parse(stdout.trim().split('\n').pop()!) as number[];
    return latency(us, 0);
  } finally {
    await stop(server);
  }
}

/** Busy CPU time of the whole machine, seconds: user + nice + system + irq + softirq + steal, from /proc/stat. */
export function machineCpuSeconds(clkTck = 100): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal || 0)) / clkTck;
}

/** This process's CPU time (all threads: the data-plane worker runs in one of them), seconds. */
export function processCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Offloads off on every device of the given pw- namespaces (pods' eth0 —
 * veths or TAPs —, the kernel nodes' veths, bridges, VXLAN devices, the
 * underlay): the same ethtool features for every contender (bench/plan.ts
 * ETHTOOL_OFFLOADS: tx checksumming, TSO, GSO, GRO), so each moves
 * MTU-sized frames with full checksums. Returns what was changed and what
 * ethtool refused, to be reported.
 */
export async function offloadsOff(namespaces: string[], features: readonly string[] = ETHTOOL_OFFLOADS): Promise<{ features: string[]; changed: string[]; failed: string[] }> {
  const changed: string[] = [];
  const failed: string[] = [];
  for (const ns of namespaces) {
    for (const dev of await linkList(ns)) {
      if (dev === 'lo') continue;
      try {
        await netnsRun(ns, ['ethtool', '-K', dev, ...features.flatMap((f) => [f, 'off'])], { timeoutMs: 5000 });
        changed.push(`${ns}/${dev}`);
      } catch (err) {
        failed.push(`${ns}/${dev}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  return { features: [...features], changed, failed };
}
