// Reference throughputs for podwire's targets, measured with iperf3 between
// two namespaces joined by (a) the kernel's own veth + bridge, (b) a minimal
// C TAP<->TAP forwarder (bench/c/tapfwd.c). Everything lives in pw-
// namespaces; every function removes what it created, even when it fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from '../src/util/package-files.ts';
import { ipBatch, netnsExec, netnsRun, run } from '../src/io/netns.ts';
import { offloadsOff } from './probes.ts';
import { waitForLine, stop } from './child.ts';
export { waitForLine, stop } from './child.ts';
import { ETHTOOL_OFFLOADS } from './plan.ts';

export interface IperfResult {
  /** Receiver-side goodput, Gbit/s. */
  gbps: number;
  /** TCP retransmissions seen by the sender. */
  retransmits: number;
  seconds: number;
  /** The C forwarder's own frame/drop counts (its exit report), when it ran. */
  forwarder?: string;
  /** the client pod's eth0 MTU, read back while the case ran */
  podMtu?: number;
  /** offloads off: the ethtool features turned off, the devices changed and what ethtool refused */
  offloadsOff?: { features: string[]; changed: string[]; failed: string[] };
}

/** Reference contenders' settings: the pods' MTU (default 1500) and whether offloads are on (default). */
export interface BaselineOptions { mtu?: number; offloads?: boolean }

/** eth0's MTU in a namespace, read back. */
export async function podMtu(ns: string): Promise<number> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'link', 'show', 'eth0']);
  return (JSON.parse(stdout) as { mtu: number }[])[0].mtu;
}

/** `iperf3 -s -1` in serverNs, `iperf3 -c` in clientNs for `seconds`; parsed from -J. */
export async function iperf(clientNs: string, serverNs: string, serverIp: string, seconds: number): Promise<IperfResult> {
  const server = netnsExec(serverNs, ['iperf3', '-s', '-1', '-B', serverIp, '--forceflush']);
  try {
    await waitForLine(server, /Server listening/, 5000);
    const { stdout } = await netnsRun(clientNs, ['iperf3', '-c', serverIp, '-t', String(seconds), '-J', '--connect-timeout', '3000'], {
      timeoutMs: (seconds + 15) * 1000,
    });
    const j = JSON.parse(stdout);
    if (j.error) throw new Error(`iperf3 ${clientNs} -> ${serverIp}: ${j.error}`);
    return {
      gbps: j.end.sum_received.bits_per_second / 1e9,
      retransmits: j.end.sum_sent.retransmits ?? 0,
      seconds: j.end.sum_received.seconds,
    };
  } finally {
    await stop(server);
  }
}

/**
 * Two pods on a kernel bridge: pw-kb-a/eth0 — veth — br0 in pw-kb-br — veth — pw-kb-b/eth0,
 * every device at `mtu`; offloads: false turns the same ethtool features off
 * on every device (veths, bridge) as on the TAP contenders' pods.
 */
export async function runKernelBridge(seconds: number, opts: BaselineOptions = {}): Promise<IperfResult> {
  return withKernelBridge(opts, async (p) => ({ ...(await iperf(p.a, p.b, p.bIp, seconds)), podMtu: p.podMtu, ...(p.offloadsOff ? { offloadsOff: p.offloadsOff } : {}) }));
}

/** A reference pair of pods, up: their namespaces, the server's address, eth0's MTU read back, what offloads: false turned off. */
export interface RefPair { a: string; b: string; bIp: string; podMtu: number; offloadsOff?: IperfResult['offloadsOff'] }

/** The kernel bridge pair (runKernelBridge's), up while `fn` runs; removed after, on failure too. */
export async function withKernelBridge<T>(opts: BaselineOptions, fn: (p: RefPair) => Promise<T>): Promise<T> {
  const [A, B, BR] = ['pw-kb-a', 'pw-kb-b', 'pw-kb-br'];
  const mtu = opts.mtu ?? 1500;
  try {
    await ipBatch([`netns add ${A}`, `netns add ${B}`, `netns add ${BR}`]);
    await ipBatch([
      `link add br0 mtu ${mtu} type bridge`,
      'link set br0 up',
      `link add veth-a mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${A}`,
      `link add veth-b mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${B}`,
      'link set veth-a master br0',
      'link set veth-b master br0',
      'link set veth-a up',
      'link set veth-b up',
    ], BR);
    await Promise.all([podUp(A, '10.252.0.1/24'), podUp(B, '10.252.0.2/24')]);
    const off = opts.offloads === false ? await offloadsOff([A, B, BR], ETHTOOL_OFFLOADS) : undefined;
    return await fn({ a: A, b: B, bIp: '10.252.0.2', podMtu: await podMtu(A), ...(off ? { offloadsOff: off } : {}) });
  } finally {
    await ipBatch([`netns del ${A}`, `netns del ${B}`, `netns del ${BR}`], undefined, { force: true }).catch(() => {});
  }
}

/**
 * Two pods whose eth0 are TAPs at `mtu`, forwarded by the C reference
 * forwarder; offloads: false = TAPs without TUNSETOFFLOAD offloads and the
 * same ethtool features off on the pods' eth0 as on every other contender.
 */
export async function runCForwarder(seconds: number, opts: BaselineOptions = {}): Promise<IperfResult> {
  let result: IperfResult | undefined;
  const report = await withCForwarder(opts, async (p) => {
    result = { ...(await iperf(p.a, p.b, p.bIp, seconds)), podMtu: p.podMtu, ...(p.offloadsOff ? { offloadsOff: p.offloadsOff } : {}) };
  });
  return { ...result!, forwarder: report };
}

/** The C forwarder's pair (runCForwarder's), up while `fn` runs; removed after, on failure too. Returns the forwarder's exit report. */
export async function withCForwarder(opts: BaselineOptions, fn: (p: RefPair) => Promise<void>): Promise<string> {
  const offloads = opts.offloads ?? true;
  const mtu = opts.mtu ?? 1500;
  const [A, B, TA, TB] = ['pw-cf-a', 'pw-cf-b', 'pw-cf-t0', 'pw-cf-t1'];
  const dir = mkdtempSync(join(tmpdir(), 'pw-tapfwd-'));
  let fwd: ChildProcess | undefined;
  let report = '';
  try {
    const bin = join(dir, 'tapfwd');
    const src = packageFile('bench/c/tapfwd.c');
    await run('gcc', ['-O2', '-Wall', '-o', bin, src]);
    fwd = spawn(bin, [...(offloads ? [] : ['--no-offload']), TA, TB], { stdio: ['ignore', 'pipe', 'pipe'] });
    fwd.stderr?.on('data', (d: Buffer) => (report += d));
    await waitForLine(fwd, /^ready$/m, 5000);
    await ipBatch([
      `netns add ${A}`,
      `netns add ${B}`,
      `link set ${TA} netns ${A} name eth0`,
      `link set ${TB} netns ${B} name eth0`,
    ]);
    await ipBatch([`link set eth0 mtu ${mtu}`], A);
    await ipBatch([`link set eth0 mtu ${mtu}`], B);
    await Promise.all([podUp(A, '10.253.0.1/24'), podUp(B, '10.253.0.2/24')]);
    const off = offloads ? undefined : await offloadsOff([A, B], ETHTOOL_OFFLOADS);
    await fn({ a: A, b: B, bIp: '10.253.0.2', podMtu: await podMtu(A), ...(off ? { offloadsOff: off } : {}) });
  } finally {
    // The TAPs vanish with the forwarder; then the namespaces are empty.
    if (fwd) await stop(fwd);
    await ipBatch([`netns del ${A}`, `netns del ${B}`], undefined, { force: true }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  return report.trim();
}

function podUp(ns: string, cidr: string): Promise<unknown> {
  return ipBatch(['link set lo up', `addr add ${cidr} dev eth0`, 'link set eth0 up'], ns);
}

