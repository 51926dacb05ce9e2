// End-to-end, as root: one cluster across two "hosts". Each host is a
// network namespace (pw-xh-h1, pw-xh-h2) joined to the other by a veth
// (10.98.0.1/24 <-> 10.98.0.2/24), and runs its own podwire process for its
// own node: `nsenter --net=/run/netns/pw-xh-hN podwire up FILE --node nN --name xh`.
// The nodes' underlay is the hosts' network: VXLAN through a TAP in each host
// namespace that nftables steers to and from the veth (host-tap-underlay.ts,
// the default), VXLAN over a UDP socket (PODWIRE_HOST_UNDERLAY=socket), or
// IP-in-IP over a raw socket, between the two host addresses. Per underlay:
// pods on different hosts ping (TTL 62: two routers between them) and move
// 20 MB over TCP both ways with a sha256 at both ends; a capture on the veth
// shows genuine VXLAN (UDP 8472, VNI 1) or IP protocol 4 between the host
// addresses, checksums good; `status` shows the socket's counters; SIGTERM
// removes everything (the TAP and the nftables table too; after a kill -9,
// `podwire down` removes the table). The VXLAN cases also measure iperf3
// across the hosts, prove a datagram with a bad outer UDP checksum is dropped
// (by the kernel's UDP socket, or by the data plane behind the TAP) and one
// with none is taken, and capture parallel flows on the wire: datagrams within
// the MTU, checksums good, source ports spread. Through the socket the stream
// goes through UDP GSO sends and UDP_GRO reads; through the TAP as whole
// UDP-tunnel GSO super-frames both ways, segmented by the kernel. A second VXLAN
// run with PODWIRE_UDP_GSO=0 PODWIRE_UDP_GRO=0 exercises the fallback
// (sendmmsg, one datagram a read, no UDP checksum).
//
// Captures are taken with the veths' tx checksum offload off: with it on,
// the kernel leaves UDP checksums for the "device" to finish, and a veth
// never does (the receiver trusts them), so a capture shows them partial —
// and a UDP GSO send crosses the veth whole, as one 64 KiB packet. Off, the
// kernel segments GSO sends and computes every checksum before the device,
// as for a NIC without offloads: the capture shows the datagrams as a wire
// would carry them.
//
// Pod namespaces are global names (pw-xh-a1, pw-xh-b1): podwire enters each
// host namespace with nsenter --net, which keeps the shared mount namespace
// (`ip netns exec` would give it a private one, which podwire refuses).
import { iperf } from '../../bench/baseline.ts';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PODWIRE, isRoot, podwire, runProgram, execIn, sleep, hostLeftovers, statePathOf, readStateFile,
} from '../helpers/lab.ts';
import { ping, replyTtls, linkMtu, tcpTransfer } from '../helpers/traffic.ts';
import { capture } from '../helpers/capture.ts';
import { startHostPodwire, killHostsNow, type HostProc } from '../helpers/host-podwire.ts';
import { refChecksum } from '../util.ts';
import { netnsExec, netnsRun } from '../../src/io/netns.ts';
import { hostTapName, hostTapTable } from '../../src/lab/host-tap-underlay.ts';
import { waitForLine, stop } from '../../bench/child.ts';

if (!isRoot) console.warn('test/e2e/cross-host.test.ts: skipped — needs root (creates network namespaces, a veth, TAPs and raw sockets); run as root (CI is root)');

const LAB = 'xh';
const HOSTS = ['pw-xh-h1', 'pw-xh-h2'] as const;
const VETHS = ['pw-xh-v1', 'pw-xh-v2'] as const;
const ADDRS = ['10.98.0.1', '10.98.0.2'] as const;
const A1 = 'xh-a1', B1 = 'xh-b1';
const NS = { a1: `pw-${A1}`, b1: `pw-${B1}` };
const IP = { a1: '10.248.0.2', b1: '10.248.1.2' };
const VXLAN_PORT = 8472;
const MB20 = 20 * 1024 * 1024;

const hasTool = (t: string) => spawnSync(t, ['--version'], { stdio: 'ignore' }).status === 0;
const hasTshark = isRoot && hasTool('tshark');
const hasIperf = isRoot && hasTool('iperf3');
const hasEthtool = isRoot && hasTool('ethtool');
const hasPython = isRoot && hasTool('python3');

type Overlay = 'vxlan' | 'ipip';
/** How a --node host carries the overlay: the host TAP (VXLAN's default) or the socket. */
interface Variant { overlay: Overlay; tap: boolean; env?: NodeJS.ProcessEnv; title: string }
const VARIANTS: Variant[] = [
  { overlay: 'vxlan', tap: true, title: 'overlay vxlan through the host TAP (the default)' },
  { overlay: 'vxlan', tap: false, env: { PODWIRE_HOST_UNDERLAY: 'socket' }, title: 'overlay vxlan over the UDP socket (PODWIRE_HOST_UNDERLAY=socket)' },
  { overlay: 'ipip', tap: false, title: 'overlay ipip' },
];

/**
 * n1 (a1) at 10.98.0.1, n2 (b1) at 10.98.0.2. The Service range moves off the
 * default 10.96.0.0/12, which holds 10.98.0.0/24: podwire refuses a node
 * address inside the Service (or pod) range.
 */
function topology(overlay: Overlay): string {
  return [
    'cluster:',
    `  name: ${LAB}`,
    '  clusterCIDR: 10.248.0.0/16',
    '  serviceCIDR: 10.249.0.0/16',
    `  overlay: ${overlay}`,
    '  mtu: 1500',
    'nodes:',
    '  - name: n1',
    `    address: ${ADDRS[0]}`,
    `    pods: [${A1}]`,
    '  - name: n2',
    `    address: ${ADDRS[1]}`,
    `    pods: [${B1}]`,
    '',
  ].join('\n');
}

const running = new Set<HostProc>();

/** `nsenter --net=/run/netns/HOST podwire up FILE --node NODE --name xh`; resolves once it printed `ready`. */
function startNode(host: string, file: string, node: string, env?: NodeJS.ProcessEnv): Promise<HostProc> {
  return startHostPodwire(host, node, `${LAB}-${node}`, ['up', file, '--node', node, '--name', LAB], running, 30_000, env);
}

/** Run `fn` with both veth ends' tx checksum offload off (see the header), turned back on after. */
async function withVethTxCsumOff<T>(fn: () => Promise<T>): Promise<T> {
  const set = async (v: 'on' | 'off') => {
    for (let i = 0; i < 2; i++) {
      const r = await runProgram('nsenter', [`--net=/run/netns/${HOSTS[i]}`, 'ethtool', '-K', VETHS[i], 'tx', v]);
      if (r.code !== 0) throw new Error(`ethtool -K ${VETHS[i]} tx ${v}: ${r.stderr}`);
    }
  };
  await set('off');
  try {
    return await fn();
  } finally {
    await set('on');
  }
}

/** iperf3 with `flows` parallel TCP connections a1 -> b1 for `seconds`. */
async function parallelFlows(flows: number, seconds: number): Promise<void> {
  const server = netnsExec(NS.b1, ['iperf3', '-s', '-1', '-B', IP.b1, '-p', '5299', '--forceflush']);
  try {
    await waitForLine(server, /Server listening/, 5000);
    await netnsRun(NS.a1, ['iperf3', '-c', IP.b1, '-p', '5299', '-P', String(flows), '-t', String(seconds), '--connect-timeout', '3000'], { timeoutMs: (seconds + 15) * 1000 });
  } finally {
    await stop(server);
  }
}

/** A counter of the Udp line in /proc/net/snmp inside host namespace `host`. */
async function udpSnmp(host: string, field: string): Promise<number> {
  const r = await runProgram('nsenter', [`--net=/run/netns/${host}`, 'cat', '/proc/net/snmp']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0].split(/\s+/), values = lines[1].split(/\s+/);
  return Number(values[names.indexOf(field)]);
}

/**
 * From host 2, through a raw socket (the kernel adds only the IPv4 header):
 * one UDP datagram to host 1's VXLAN port carrying a VXLAN header (VNI 1)
 * and a small inner frame, its UDP checksum as `csum` says.
 */
async function rawVxlan(csum: 'good' | 'bad' | 'zero'): Promise<void> {
  const payload = Buffer.concat([Buffer.from('0800000000000100', 'hex'), Buffer.alloc(14 + 46, 0x5a)]);
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(VXLAN_PORT, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, 8);
  const pseudo = Buffer.alloc(12);
  ADDRS[1].split('.').forEach((b, i) => pseudo.writeUInt8(Number(b), i));
  ADDRS[0].split('.').forEach((b, i) => pseudo.writeUInt8(Number(b), 4 + i));
  pseudo.writeUInt8(17, 9);
  pseudo.writeUInt16BE(udp.length, 10);
  const good = refChecksum(new Uint8Array(Buffer.concat([pseudo, udp]))) || 0xffff;
  udp.writeUInt16BE(csum === 'good' ? good : csum === 'bad' ? good ^ 0x5555 : 0, 6);
  const py = 'import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_UDP);s.sendto(bytes.fromhex(sys.argv[1]),(sys.argv[2],0))';
  const r = await runProgram('nsenter', [`--net=/run/netns/${HOSTS[1]}`, 'python3', '-c', py, udp.toString('hex'), ADDRS[0]]);
  if (r.code !== 0) throw new Error(`raw send from ${HOSTS[1]}: ${r.stderr}`);
}

/** The two hosts and the wire between them. */
async function createHosts(): Promise<void> {
  const steps: [string, string[]][] = [
    ...HOSTS.map((h): [string, string[]] => ['ip', ['netns', 'add', h]]),
    // created inside host 1, its peer straight into host 2: nothing passes through the root namespace
    ['ip', ['-n', HOSTS[0], 'link', 'add', VETHS[0], 'type', 'veth', 'peer', 'name', VETHS[1], 'netns', HOSTS[1]]],
    ...[0, 1].flatMap((i): [string, string[]][] => [
      ['ip', ['-n', HOSTS[i], 'addr', 'add', `${ADDRS[i]}/24`, 'dev', VETHS[i]]],
      ['ip', ['-n', HOSTS[i], 'link', 'set', 'lo', 'up']],
      ['ip', ['-n', HOSTS[i], 'link', 'set', VETHS[i], 'up']],
    ]),
  ];
  for (const [f, a] of steps) {
    const r = await runProgram(f, a);
    if (r.code !== 0) throw new Error(`${f} ${a.join(' ')}: ${r.stderr}`);
  }
}

async function removeHosts(): Promise<void> {
  for (const h of HOSTS) await runProgram('ip', ['netns', 'del', h]); // takes the veth with it
}

/** The nftables netdev tables in host namespace `ns`. */
async function hostNftTables(ns: string): Promise<string[]> {
  const r = await runProgram('nsenter', [`--net=/run/netns/${ns}`, 'nft', 'list', 'tables', 'netdev']);
  if (r.code !== 0) throw new Error(`nft list tables in ${ns}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^table netdev /, '').trim());
}

/** Links in host namespace `ns`. */
async function hostLinks(ns: string): Promise<string[]> {
  const r = await runProgram('ip', ['-n', ns, '-j', 'link', 'show']);
  if (r.code !== 0) throw new Error(`ip -n ${ns} link show: ${r.stderr}`);
  return (JSON.parse(r.stdout || '[]') as { ifname: string }[]).map((l) => l.ifname).sort();
}

/**
 * Capture on host 1's veth: tshark inside pw-xh-h1, stopping after `count`
 * packets or 15 s, while `traffic` runs again and again until tshark has its
 * packets (it prints "Capturing on" a moment before it really receives).
 * One array of fields per packet; a field occurring twice (outer and inner
 * IP) is one comma-separated value.
 */
async function captureVeth(filter: string, fields: string[], count: number, traffic: () => Promise<unknown>): Promise<string[][]> {
  return capture({
    ns: HOSTS[0], iface: VETHS[0], filter, fields, count,
    prefs: ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE', 'tcp.check_checksum:TRUE'], decodeAs: [`udp.port==${VXLAN_PORT},vxlan`],
  }, traffic);
}

interface NodeStatus {
  lab: string;
  hostNode?: string;
  pods: { name: string; node: string; ip: string }[];
  nodes: {
    name: string;
    drops: Record<string, number>;
    events: Record<string, number>;
    ports: { pod: string; rx_packets: number; tx_packets: number }[];
    underlay?: {
      ip: string;
      mac: string;
      counters: { rx_packets: number; tx_packets: number };
      path?: { mode: string; text: string };
      socket?: {
        kind: string; txPackets: number; txErrors: number; txNoPeer: number; txNotTunnel: number;
        rxPackets: number; rxErrors: number; rxUnknownPeer: number; rxTooBig: number; rxTooShort: number;
        txPath: string; rxPath: string; sourcePorts: number[]; txSends: number; txGsoSends: number; txGsoRefused: number; rxGroBatches: number;
        peers: { node: string; address: string }[];
      };
    };
  }[];
}

async function status(id: string): Promise<NodeStatus> {
  const r = await podwire(['status', '--json', '--name', id], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`podwire status --name ${id} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as NodeStatus;
}

/** Wireshark's "good" checksum status: 1 (PROTO_CHECKSUM_E_GOOD); 3: not present (a UDP checksum of 0). */
const GOOD = '1', NOT_PRESENT = '3';

let dir = '';
let hostsUp = false;

// If the worker dies mid-test (a crashed hook, a kill), still leave nothing behind.
process.once('exit', () => {
  if (!isRoot) return;
  killHostsNow(running);
  for (const h of HOSTS) spawnSync('ip', ['netns', 'del', h], { stdio: 'ignore' });
});

describe.skipIf(!isRoot)('one cluster across two hosts (root)', () => {
  beforeAll(async () => {
    const left = await hostLeftovers(['pw-xh-']);
    if (left.namespaces.length) throw new Error(`namespaces from an earlier run are still there: ${left.namespaces.join(', ')}`);
    dir = mkdtempSync(join(tmpdir(), 'pw-xh-'));
    await createHosts();
    hostsUp = true;
  });
  afterAll(async () => {
    await Promise.all([...running].map((h) => h.stop()));
    if (hostsUp) await removeHosts();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the hosts reach each other over the veth (and only there)', async () => {
    const r = await execIn(HOSTS[0], ['ping', '-n', '-c', '1', '-W', '2', ADDRS[1]]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('refuses to bind a node address that is not this host\'s, and creates nothing', async () => {
    const file = join(dir, 'vxlan-wrong-host.yaml');
    writeFileSync(file, topology('vxlan'));
    // host 2 runs node n1, whose address 10.98.0.1 lives on host 1
    const r = await runProgram('nsenter', [`--net=/run/netns/${HOSTS[1]}`, process.execPath, PODWIRE, 'up', file, '--node', 'n1', '--name', LAB], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`podwire: bind UDP ${ADDRS[0]}:${VXLAN_PORT}: Cannot assign requested address (errno 99) — is ${ADDRS[0]} an address of this host (nodes[].address)?\n`);
    expect(await hostLeftovers([NS.a1, NS.b1])).toEqual({ namespaces: [], links: [] });
    expect(existsSync(statePathOf(`${LAB}-n1`))).toBe(false);
  });

  it('refuses to run under `ip netns exec` (a private mount namespace), naming nsenter, and creates nothing', async () => {
    const file = join(dir, 'vxlan-netns-exec.yaml');
    writeFileSync(file, topology('vxlan'));
    const r = await runProgram('ip', ['netns', 'exec', HOSTS[0], process.execPath, PODWIRE, 'up', file, '--node', 'n1', '--name', LAB], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('podwire is running in a private mount namespace (as `ip netns exec` gives it)');
    expect(r.stderr).toContain('nsenter --net=/run/netns/<namespace> podwire ...');
    expect(await hostLeftovers([NS.a1, NS.b1])).toEqual({ namespaces: [], links: [] });
    expect(existsSync(statePathOf(`${LAB}-n1`))).toBe(false);
  });

  for (const { overlay, tap, env, title } of VARIANTS) {
    describe(title, () => {
      const hosts: HostProc[] = [];
      const podMtu = overlay === 'vxlan' ? 1450 : 1480;
      /** what the host namespaces hold besides lo and the veth while the lab runs: the TAP through which VXLAN goes */
      const tapOf = (i: number) => (tap ? [hostTapName(`${LAB}-n${i + 1}`)] : []);

      beforeAll(async () => {
        const file = join(dir, `${overlay}${tap ? '-tap' : ''}.yaml`);
        writeFileSync(file, topology(overlay));
        hosts.push(await startNode(HOSTS[0], file, 'n1', env));
        hosts.push(await startNode(HOSTS[1], file, 'n2', env));
      });
      afterAll(async () => {
        await Promise.all(hosts.map((h) => h.stop()));
      });

      it('each host runs its own node as lab xh-<node>, with only that node\'s pods; pod names are global', async () => {
        const [h1, h2] = hosts;
        expect(h1.output()).toMatch(new RegExp(`lab "xh-n1" cluster 10\\.248\\.0\\.0/16, overlay ${overlay}, pod MTU ${podMtu}\\b`));
        expect(h1.output()).toMatch(/^ready: 1 pods on 1 node\(s\)/m);
        expect(h1.output()).toMatch(overlay === 'vxlan'
          ? /node n1 here; n2 at 10\.98\.0\.2 over VXLAN over UDP 10\.98\.0\.1:8472/
          : /node n1 here; n2 at 10\.98\.0\.2 over IP-in-IP \(raw IP protocol 4\) from 10\.98\.0\.1/);
        expect(h2.output()).toMatch(/^n2 +xh-b1 +pw-xh-b1 +10\.248\.1\.2 /m);
        expect(h2.output()).not.toMatch(/xh-a1/);
        for (const h of hosts) expect(readStateFile(h.id)?.pid).toBe(h.proc.pid);
        // made inside the hosts' private mount namespaces, seen from here
        expect((await hostLeftovers([NS.a1, NS.b1])).namespaces.sort()).toEqual([NS.a1, NS.b1]);
        expect(await linkMtu(NS.a1)).toBe(podMtu);
        expect(await linkMtu(NS.b1)).toBe(podMtu);
        // the pods' TAPs were created in the host namespaces and moved into the pods: the hosts keep lo, the veth (and the underlay TAP)
        expect(await hostLinks(HOSTS[0])).toEqual(['lo', ...tapOf(0), VETHS[0]].sort());
        expect(await hostLinks(HOSTS[1])).toEqual(['lo', ...tapOf(1), VETHS[1]].sort());
        for (const [i, h] of hosts.entries()) {
          expect(await hostNftTables(HOSTS[i])).toEqual(tap ? [hostTapTable(h.id)] : []);
          expect(h.output()).toContain(tap
            ? `podwire: host TAP underlay: ${hostTapName(h.id)} <-> ${VETHS[i]} (nftables table netdev ${hostTapTable(h.id)}), udp-tunnel GSO tx+rx`
            : 'podwire: host socket underlay: UDP socket');
        }
      });

      it('cross-host ping both ways with TTL 62', async () => {
        for (const [from, to] of [[NS.a1, IP.b1], [NS.b1, IP.a1]]) {
          const r = await ping(from, to, 3);
          const what = `${from} -> ${to}:\n${r.stdout}${r.stderr}`;
          expect(r.code, what).toBe(0);
          expect(r.stdout, what).toMatch(/3 packets transmitted, 3 received/);
          expect(replyTtls(r.stdout), what).toEqual([62, 62, 62]);
        }
      });

      it('20 MB over TCP each way arrives intact (sha256 at both ends)', async () => {
        for (const [from, to, toIp] of [[NS.a1, NS.b1, IP.b1], [NS.b1, NS.a1, IP.a1]]) {
          const r = await tcpTransfer(from, to, toIp, MB20);
          expect(r.sent.bytes, `${from} -> ${to}`).toBe(MB20);
          expect(r.received.bytes, `${from} -> ${to}`).toBe(MB20);
          expect(r.received.sha256, `${from} -> ${to}`).toBe(r.sent.sha256);
        }
      });

      it.skipIf(!hasTshark)(`the wire between the hosts carries genuine ${overlay === 'vxlan' ? 'VXLAN (UDP 8472, VNI 1)' : 'IP-in-IP (IP protocol 4)'}, checksums good`, async () => {
        const fields = ['ip.src', 'ip.dst', 'ip.proto', 'ip.checksum.status', 'udp.srcport', 'udp.dstport', 'udp.checksum', 'udp.checksum.status',
          'vxlan.vni', 'icmp.type', 'icmp.checksum.status', '_ws.malformed'];
        const pools = (await Promise.all(hosts.map((h) => status(h.id)))).map((x) => x.nodes[0].underlay!.socket?.sourcePorts);
        const rows = await withVethTxCsumOff(() => captureVeth(overlay === 'vxlan' ? `udp port ${VXLAN_PORT}` : 'ip proto 4', fields, 4,
          () => ping(NS.a1, IP.b1, 1)));
        expect(rows.length, JSON.stringify(rows)).toBe(4);
        const f = (r: string[], name: string) => r[fields.indexOf(name)];
        const dirs = new Set<string>();
        for (const r of rows) {
          const what = r.join(' | ');
          const [oSrc, iSrc] = f(r, 'ip.src').split(',');
          const [oDst, iDst] = f(r, 'ip.dst').split(',');
          dirs.add(`${oSrc}>${oDst}`);
          // outer: between the host addresses; inner: between the pods (request a1 -> b1 or reply b1 -> a1)
          expect([oSrc, oDst].sort(), what).toEqual([...ADDRS]);
          expect(oSrc === ADDRS[0] ? [iSrc, iDst] : [iDst, iSrc], what).toEqual([IP.a1, IP.b1]);
          expect(f(r, 'ip.proto'), what).toBe(overlay === 'vxlan' ? '17,1' : '4,1');
          expect(f(r, 'ip.checksum.status'), what).toBe(`${GOOD},${GOOD}`);
          expect(f(r, 'icmp.checksum.status'), what).toBe(GOOD);
          expect(f(r, 'icmp.type'), what).toBe(oSrc === ADDRS[0] ? '8' : '0');
          expect(f(r, '_ws.malformed'), what).toBe('');
          if (overlay === 'vxlan') {
            expect(f(r, 'udp.dstport'), what).toBe(String(VXLAN_PORT));
            if (tap) {
              // the data plane's own headers: a per-flow source port from the kernel's default range, and no UDP
              // checksum on a frame that is not a super-frame, as Linux's vxlan device sends over IPv4 by default
              expect(Number(f(r, 'udp.srcport')), what).toBeGreaterThanOrEqual(32768);
              expect(f(r, 'udp.checksum.status'), what).toBe(NOT_PRESENT);
            } else {
              // from one of the sending host's source ports (its pool), not the VXLAN port
              expect(pools[oSrc === ADDRS[0] ? 0 : 1], what).toContain(Number(f(r, 'udp.srcport')));
              // UDP GSO needs UDP checksums: podwire sets them (the kernel's vxlan device sends none over IPv4 by default)
              expect(f(r, 'udp.checksum.status'), what).toBe(GOOD);
            }
            expect(f(r, 'vxlan.vni'), what).toBe('1');
          } else {
            expect(f(r, 'udp.dstport'), what).toBe('');
          }
        }
        expect([...dirs].sort()).toEqual([`${ADDRS[0]}>${ADDRS[1]}`, `${ADDRS[1]}>${ADDRS[0]}`]);
      });

      if (tap) it('status on each host: its node only, the host TAP path, super-frames sent and received whole (the socket only receiving), every tunnel packet taken apart, nothing dropped', async () => {
        const [s1, s2] = await Promise.all(hosts.map((h) => status(h.id)));
        for (const [s, me, i] of [[s1, 'n1', 0], [s2, 'n2', 1]] as const) {
          expect([s.lab, s.hostNode], me).toEqual([`${LAB}-${me}`, me]);
          expect(s.nodes.map((n) => n.name)).toEqual([me]);
          const n = s.nodes[0];
          const u = n.underlay!;
          expect(u.ip).toBe(ADDRS[i]);
          // the socket receives what arrives segmented (nothing here: a veth carries super-frames whole); nothing leaves by it
          expect(u.socket, JSON.stringify(u.socket)).toMatchObject({ txPackets: 0, txSends: 0, rxErrors: 0, rxUnknownPeer: 0, rxTooBig: 0 });
          expect(u.path?.mode).toBe('udp-tunnel-gso');
          // the frames carry the uplink's own MAC: the host kernel's peer answers to it
          const link = await runProgram('ip', ['-n', HOSTS[i], '-j', 'link', 'show', 'dev', VETHS[i]]);
          expect(u.mac).toBe((JSON.parse(link.stdout) as { address: string }[])[0].address);
          // the 20 MB streams crossed whole both ways: written as UDP-tunnel GSO super-frames, read the same way
          expect(n.events.tunnel_gso_sent, JSON.stringify(n.events)).toBeGreaterThan(100);
          expect(n.events.tunnel_gso_received, JSON.stringify(n.events)).toBeGreaterThan(100);
          expect(u.counters.tx_packets).toBe(n.events.vxlan_encap);
          expect(u.counters.rx_packets).toBe(n.events.vxlan_decap);
          expect(Object.entries(n.drops).filter(([, v]) => v !== 0), `${me} drops`).toEqual([]);
        }
      });

      if (!tap) it('status on each host: its node only, the socket and its peer, every tunnel packet sent and taken apart, nothing dropped', async () => {
        const [s1, s2] = await Promise.all(hosts.map((h) => status(h.id)));
        const [enc, dec] = overlay === 'vxlan' ? ['vxlan_encap', 'vxlan_decap'] : ['ipip_encap', 'ipip_decap'];
        for (const [s, me, peer, i] of [[s1, 'n1', 'n2', 0], [s2, 'n2', 'n1', 1]] as const) {
          expect([s.lab, s.hostNode], me).toEqual([`${LAB}-${me}`, me]);
          expect(s.nodes.map((n) => n.name)).toEqual([me]);
          expect(s.pods.map((p) => p.node)).toEqual([me]);
          const n = s.nodes[0];
          const sock = n.underlay?.socket;
          expect(n.underlay?.ip).toBe(ADDRS[i]);
          expect(sock, JSON.stringify(n.underlay)).toMatchObject({
            kind: overlay, txErrors: 0, txNoPeer: 0, txNotTunnel: 0, rxErrors: 0, rxUnknownPeer: 0, rxTooBig: 0, rxTooShort: 0,
            peers: [{ node: peer, address: ADDRS[1 - i] }],
          });
          expect(sock!.txPackets).toBeGreaterThan(1000);
          expect(sock!.rxPackets).toBeGreaterThan(1000);
          if (overlay === 'vxlan') {
            // the 20 MB streams went out as UDP GSO sends of many datagrams and came in coalesced by UDP_GRO
            expect(sock, JSON.stringify(sock)).toMatchObject({ txPath: 'udp-gso', rxPath: 'udp-gro', txGsoRefused: 0 });
            expect(sock!.sourcePorts).toHaveLength(8);
            expect(sock!.txGsoSends).toBeGreaterThan(100);
            expect(sock!.txSends).toBeLessThan(sock!.txPackets / 4);
            expect(sock!.rxGroBatches).toBeGreaterThan(100);
          } else {
            expect(sock!.sourcePorts).toEqual([]);
          }
          // every frame encapsulated went out as one datagram; every datagram received was decapsulated
          expect(sock!.txPackets).toBe(n.events[enc]);
          expect(sock!.rxPackets).toBe(n.events[dec]);
          expect(Object.entries(n.drops).filter(([, v]) => v !== 0), `${me} drops`).toEqual([]);
        }
      });

      if (overlay === 'vxlan') {
        it.skipIf(!hasIperf)('iperf3 across the hosts (throughput reported, not judged)', async () => {
          const r = await iperf(NS.a1, NS.b1, IP.b1, 5);
          console.log(`cross-host VXLAN (${tap ? 'host TAP' : 'UDP socket'}) iperf3 a1 -> b1: ${r.gbps.toFixed(2)} Gbit/s`);
          expect(r.gbps).toBeGreaterThan(0);
        });

        if (tap) it.skipIf(!hasPython)('through the TAP the data plane verifies the outer UDP checksum: a bad one is dropped (vxlan_bad_checksum), none (0) or a good one is taken', async () => {
          const node = async () => (await status(hosts[0].id)).nodes[0];
          const settle = () => sleep(300);
          const n0 = await node();
          const bad0 = n0.drops.vxlan_bad_checksum ?? 0;
          await rawVxlan('bad');
          await settle();
          const n1 = await node();
          expect(n1.drops.vxlan_bad_checksum).toBe(bad0 + 1);
          expect(n1.underlay!.counters.rx_packets).toBe(n0.underlay!.counters.rx_packets + 1);
          await rawVxlan('zero'); // RFC 768: 0 means the sender computed none; RFC 7348 section 5 allows it
          await rawVxlan('good');
          await settle();
          const n2 = await node();
          expect(n2.drops.vxlan_bad_checksum).toBe(bad0 + 1);
          expect(n2.underlay!.counters.rx_packets).toBe(n0.underlay!.counters.rx_packets + 3);
          // both got past the checksum into the VXLAN header: their inner frames are addressed to no VTEP here
          expect(n2.drops.vxlan_not_for_vtep).toBe((n1.drops.vxlan_not_for_vtep ?? 0) + 2);
        });

        if (!tap) it.skipIf(!hasPython)('the outer UDP checksum is the kernel\'s to verify: a bad one is dropped (Udp InCsumErrors), none (0) or a good one is taken', async () => {
          const rx = async () => (await status(hosts[0].id)).nodes[0].underlay!.socket!.rxPackets;
          const settle = () => sleep(300);
          const csumErrors0 = await udpSnmp(HOSTS[0], 'InCsumErrors');
          const rx0 = await rx();
          await rawVxlan('bad');
          await settle();
          expect(await udpSnmp(HOSTS[0], 'InCsumErrors')).toBe(csumErrors0 + 1);
          expect(await rx()).toBe(rx0);
          await rawVxlan('zero'); // RFC 768: 0 means the sender computed none; RFC 7348 section 5 allows it
          await settle();
          expect(await rx()).toBe(rx0 + 1);
          await rawVxlan('good');
          await settle();
          expect(await rx()).toBe(rx0 + 2);
          expect(await udpSnmp(HOSTS[0], 'InCsumErrors')).toBe(csumErrors0 + 1);
        });

        it.skipIf(!hasTshark || !hasIperf || !hasEthtool)(tap
          ? '8 parallel flows written whole through the TAP, on the wire: segmented by the kernel into datagrams within the MTU, checksums good, source ports spread'
          : '8 parallel flows through UDP GSO, on the wire: datagrams within the MTU, checksums good, source ports spread over the pool', async () => {
          const before = (await status(hosts[0].id)).nodes[0];
          const fields = ['frame.len', 'udp.srcport', 'udp.length', 'udp.checksum.status', 'ip.checksum.status', 'tcp.checksum.status', 'vxlan.vni', '_ws.malformed'];
          const rows = await withVethTxCsumOff(() => captureVeth(`src host ${ADDRS[0]} and udp dst port ${VXLAN_PORT}`, fields, 2000,
            () => parallelFlows(8, 2)));
          expect(rows.length).toBe(2000);
          const f = (r: string[], name: string) => r[fields.indexOf(name)];
          for (const r of rows) {
            const what = r.join(' | ');
            expect(Number(f(r, 'frame.len')), what).toBeLessThanOrEqual(1514);
            // the socket path's UDP GSO needs UDP checksums; through the TAP podwire asks for one on every segment of a
            // super-frame it wrote whole (a receiver's UDP GRO needs one) and the kernel makes them, while a frame written
            // as it is (a bare ACK, a super-frame podwire segmented itself) has none, as Linux vxlan sends over IPv4
            if (tap) expect([GOOD, NOT_PRESENT], what).toContain(f(r, 'udp.checksum.status'));
            else expect(f(r, 'udp.checksum.status'), what).toBe(GOOD);
            expect(f(r, 'ip.checksum.status'), what).toBe(`${GOOD},${GOOD}`);
            expect(f(r, 'tcp.checksum.status'), what).toBe(GOOD);
            expect(f(r, 'vxlan.vni'), what).toBe('1');
            expect(f(r, '_ws.malformed'), what).toBe('');
          }
          const sports = new Set(rows.map((r) => Number(f(r, 'udp.srcport'))));
          expect(sports.size, `source ports seen: ${[...sports].join(',')}`).toBeGreaterThanOrEqual(3);
          const after = (await status(hosts[0].id)).nodes[0];
          if (tap) {
            expect(rows.filter((r) => f(r, 'udp.checksum.status') === GOOD).length).toBeGreaterThan(100);
            // what the capture saw segmented left podwire whole
            expect(after.events.tunnel_gso_sent).toBeGreaterThan(before.events.tunnel_gso_sent + 100);
          } else {
            for (const p of sports) expect(before.underlay!.socket!.sourcePorts).toContain(p);
            // still GSO sends: without the veth's checksum offload the kernel segments and checksums them in software
            const sock = after.underlay!.socket!;
            expect(sock, JSON.stringify(sock)).toMatchObject({ txPath: 'udp-gso', txGsoRefused: 0, txErrors: 0 });
          }
        });
      }

      if (tap) it('segments cut before the wire and coalesced after it (host 1\'s veth segments and checksums, host 2\'s does GRO, as NICs would) reach the socket as UDP GRO batches, 20 MB arrive intact', async () => {
        const ethtool = (i: number, args: string[]) => runProgram('nsenter', [`--net=/run/netns/${HOSTS[i]}`, 'ethtool', '-K', VETHS[i], ...args]);
        const cut = (v: 'on' | 'off') => ['tx-udp_tnl-segmentation', v, 'tx-udp_tnl-csum-segmentation', v, 'tx', v];
        const before = (await status(hosts[1].id)).nodes[0];
        expect((await ethtool(0, cut('off'))).code).toBe(0);
        expect((await ethtool(1, ['gro', 'on'])).code).toBe(0);
        try {
          const r = await tcpTransfer(NS.a1, NS.b1, IP.b1, MB20);
          expect(r.received.bytes).toBe(MB20);
          expect(r.received.sha256).toBe(r.sent.sha256);
        } finally {
          await ethtool(0, cut('on'));
          await ethtool(1, ['gro', 'off']);
        }
        const after = (await status(hosts[1].id)).nodes[0];
        // host 1 still wrote super-frames whole (their segments carry outer checksums, which GRO needs); host 2 took
        // the batches on its socket, and no super-frame whole on its TAP
        const sock = (n: typeof after) => n.underlay!.socket!;
        expect(sock(after).rxPackets - sock(before).rxPackets).toBeGreaterThan(MB20 / 1500);
        expect(sock(after).rxGroBatches - sock(before).rxGroBatches).toBeGreaterThan(10);
        expect(after.events.tunnel_gso_received).toBe(before.events.tunnel_gso_received);
        expect(Object.entries(after.drops).filter(([, v]) => v !== 0)).toEqual([]);
      });

      if (tap) it('a peer host that comes back with another MAC is reached at the new one once the host kernel resolves it again', async () => {
        const routes = async () => {
          const r = await podwire(['routes', '--json', '--name', hosts[0].id], { timeoutMs: 20_000 });
          expect(r.code, r.stderr).toBe(0);
          return (JSON.parse(r.stdout) as { neighbors: { ip: string; mac: string }[] }[])[0].neighbors;
        };
        const peerMac = async () => (await routes()).find((n) => n.ip === ADDRS[1])?.mac;
        const waitFor = async (want: string) => {
          let mac: string | undefined;
          for (let t = 0; t < 15_000 && mac !== want; t += 250) { await sleep(250); mac = await peerMac(); }
          return mac;
        };
        const ipIn = async (host: string, args: string[]) => {
          const r = await runProgram('ip', ['-n', host, ...args]);
          expect(r.code, `ip ${args.join(' ')}: ${r.stderr}`).toBe(0);
        };
        const link = await runProgram('ip', ['-n', HOSTS[1], '-j', 'link', 'show', 'dev', VETHS[1]]);
        const before = (JSON.parse(link.stdout) as { address: string }[])[0].address;
        expect(await peerMac()).toBe(before);
        // host 2 goes down, its interface gets another MAC, it comes back; host 1's kernel forgets the old MAC (as after failed probes)
        const file = join(dir, `${overlay}-tap.yaml`);
        const restart = async (mac: string) => {
          expect(await hosts[1].stop()).toBe(0);
          await ipIn(HOSTS[1], ['link', 'set', VETHS[1], 'address', mac]);
          hosts[1] = await startNode(HOSTS[1], file, 'n2', env);
          await ipIn(HOSTS[0], ['neigh', 'flush', 'dev', VETHS[0]]);
        };
        const after = '02:00:00:98:00:02';
        try {
          await restart(after);
          expect(await waitFor(after)).toBe(after);
          const r = await ping(NS.a1, IP.b1, 2);
          expect(r.stdout, r.stdout + r.stderr).toMatch(/2 packets transmitted, 2 received/);
        } finally {
          await restart(before);
        }
        expect(await waitFor(before)).toBe(before);
        expect((await ping(NS.b1, IP.a1, 1)).code).toBe(0);
      });

      it('both stop cleanly on SIGTERM and leave nothing behind', async () => {
        const pids = hosts.map((h) => h.proc.pid!);
        const codes = await Promise.all(hosts.map((h) => h.stop()));
        expect(codes).toEqual([0, 0]);
        hosts.forEach((h) => expect(h.output()).toMatch(new RegExp(`lab "${h.id}" removed`)));
        expect(await hostLeftovers([NS.a1, NS.b1, ...pids.map((p) => `pw-${p}-`)])).toEqual({ namespaces: [], links: [] });
        for (const h of hosts) {
          expect(existsSync(statePathOf(h.id))).toBe(false);
          expect(existsSync(statePathOf(h.id).replace(/\.json$/, '.sock'))).toBe(false);
        }
        expect(await hostLinks(HOSTS[0])).toEqual(['lo', VETHS[0]]);
        expect(await hostLinks(HOSTS[1])).toEqual(['lo', VETHS[1]]);
        for (const h of HOSTS) expect(await hostNftTables(h)).toEqual([]);
      });

      if (tap) it('after a kill -9 the steering table stays (VXLAN to this host goes nowhere) until `podwire down` removes it', async () => {
        const file = join(dir, `${overlay}-tap.yaml`);
        const h = await startNode(HOSTS[0], file, 'n1', env);
        hosts.push(h);
        expect(await hostNftTables(HOSTS[0])).toEqual([hostTapTable(h.id)]);
        h.proc.kill('SIGKILL');
        await h.exited;
        // the TAP went with the process's fd; the table is the state file's to remove
        expect(await hostLinks(HOSTS[0])).toEqual(['lo', VETHS[0]]);
        expect(await hostNftTables(HOSTS[0])).toEqual([hostTapTable(h.id)]);
        const r = await runProgram('nsenter', [`--net=/run/netns/${HOSTS[0]}`, process.execPath, PODWIRE, 'down', '--name', h.id], { timeoutMs: 30_000 });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(await hostNftTables(HOSTS[0])).toEqual([]);
        expect(existsSync(statePathOf(h.id))).toBe(false);
      });
    });
  }

  describe('overlay vxlan over the socket with UDP GSO and GRO turned off (PODWIRE_UDP_GSO=0 PODWIRE_UDP_GRO=0): the fallback', () => {
    const hosts: HostProc[] = [];
    const OFF = { PODWIRE_UDP_GSO: '0', PODWIRE_UDP_GRO: '0', PODWIRE_HOST_UNDERLAY: 'socket' };

    beforeAll(async () => {
      const file = join(dir, 'vxlan-fallback.yaml');
      writeFileSync(file, topology('vxlan'));
      hosts.push(await startNode(HOSTS[0], file, 'n1', OFF));
      hosts.push(await startNode(HOSTS[1], file, 'n2', OFF));
    });
    afterAll(async () => {
      await Promise.all(hosts.map((h) => h.stop()));
    });

    it('20 MB over TCP each way arrives intact (sha256 at both ends)', async () => {
      for (const [from, to, toIp] of [[NS.a1, NS.b1, IP.b1], [NS.b1, NS.a1, IP.a1]]) {
        const r = await tcpTransfer(from, to, toIp, MB20);
        expect(r.received.bytes, `${from} -> ${to}`).toBe(MB20);
        expect(r.received.sha256, `${from} -> ${to}`).toBe(r.sent.sha256);
      }
    });

    it('status: sendmmsg batches, one datagram a read, nothing coalesced, nothing dropped', async () => {
      for (const h of hosts) {
        const n = (await status(h.id)).nodes[0];
        const sock = n.underlay!.socket!;
        expect(sock, JSON.stringify(sock)).toMatchObject({ txPath: 'sendmmsg', rxPath: 'recvmsg', txGsoSends: 0, rxGroBatches: 0, txErrors: 0, rxErrors: 0 });
        // a segmented super-frame's datagrams still cross into the kernel together
        expect(sock.txSends).toBeLessThan(sock.txPackets / 4);
        expect(sock.txPackets).toBe(n.events.vxlan_encap);
        expect(sock.rxPackets).toBe(n.events.vxlan_decap);
        expect(Object.entries(n.drops).filter(([, v]) => v !== 0)).toEqual([]);
      }
    });

    it.skipIf(!hasTshark || !hasEthtool)('on the wire: VXLAN without UDP checksum, as Linux\'s vxlan device sends over IPv4 by default', async () => {
      const fields = ['udp.dstport', 'udp.checksum', 'udp.checksum.status', 'vxlan.vni'];
      const rows = await withVethTxCsumOff(() => captureVeth(`udp port ${VXLAN_PORT}`, fields, 2, () => ping(NS.a1, IP.b1, 1)));
      expect(rows).toEqual([[String(VXLAN_PORT), '0x0000', NOT_PRESENT, '1'], [String(VXLAN_PORT), '0x0000', NOT_PRESENT, '1']]);
    });

    it('stops cleanly on SIGTERM', async () => {
      expect(await Promise.all(hosts.map((h) => h.stop()))).toEqual([0, 0]);
    });
  });

  it('afterwards: nothing of the lab left but the two hosts', async () => {
    const left = await hostLeftovers(['pw-xh-']);
    expect(left.links).toEqual([]);
    expect(left.namespaces.sort()).toEqual([...HOSTS]);
  });
});
