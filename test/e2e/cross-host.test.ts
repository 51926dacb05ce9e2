// End-to-end, as root: one cluster across two "hosts". Each host is a
// network namespace (pw-xh-h1, pw-xh-h2) joined to the other by a veth
// (10.98.0.1/24 <-> 10.98.0.2/24), and runs its own podwire process for its
// own node: `nsenter --net=/run/netns/pw-xh-hN podwire up FILE --node nN --name xh`.
// The nodes' underlay is the hosts' network: VXLAN over a UDP socket, or
// IP-in-IP over a raw socket, between the two host addresses. Per overlay:
// pods on different hosts ping (TTL 62: two routers between them) and move
// 20 MB over TCP both ways with a sha256 at both ends; a capture on the veth
// shows genuine VXLAN (UDP 8472, VNI 1) or IP protocol 4 between the host
// addresses, checksums good; `status` shows the socket's counters; SIGTERM
// removes everything. The VXLAN case also measures iperf3 across the hosts.
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

type Overlay = 'vxlan' | 'ipip';

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
function startNode(host: string, file: string, node: string, extra: string[] = []): Promise<HostProc> {
  return startHostPodwire(host, node, `${LAB}-${node}`, ['up', file, '--node', node, '--name', LAB, ...extra], running, 30_000);
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
    prefs: ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'], decodeAs: [`udp.port==${VXLAN_PORT},vxlan`],
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
      socket?: {
        kind: string; txPackets: number; txErrors: number; txNoPeer: number; txNotTunnel: number;
        rxPackets: number; rxErrors: number; rxUnknownPeer: number; rxTooBig: number; rxTooShort: number;
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

  for (const overlay of ['vxlan', 'ipip'] as const) {
    describe(`overlay ${overlay}`, () => {
      const hosts: HostProc[] = [];
      const podMtu = overlay === 'vxlan' ? 1450 : 1480;

      beforeAll(async () => {
        const file = join(dir, `${overlay}.yaml`);
        writeFileSync(file, topology(overlay));
        hosts.push(await startNode(HOSTS[0], file, 'n1'));
        hosts.push(await startNode(HOSTS[1], file, 'n2'));
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
        // the TAPs were created in the host namespaces and moved into the pods: the hosts keep only lo and the veth
        expect(await hostLinks(HOSTS[0])).toEqual(['lo', VETHS[0]]);
        expect(await hostLinks(HOSTS[1])).toEqual(['lo', VETHS[1]]);
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
        const rows = await captureVeth(overlay === 'vxlan' ? `udp port ${VXLAN_PORT}` : 'ip proto 4', fields, 4,
          () => ping(NS.a1, IP.b1, 1));
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
            expect(f(r, 'udp.srcport'), what).toBe(String(VXLAN_PORT)); // the socket's bound port
            // as Linux's vxlan device sends over IPv4 by default: no UDP checksum
            expect([f(r, 'udp.checksum'), f(r, 'udp.checksum.status')], what).toEqual(['0x0000', NOT_PRESENT]);
            expect(f(r, 'vxlan.vni'), what).toBe('1');
          } else {
            expect(f(r, 'udp.dstport'), what).toBe('');
          }
        }
        expect([...dirs].sort()).toEqual([`${ADDRS[0]}>${ADDRS[1]}`, `${ADDRS[1]}>${ADDRS[0]}`]);
      });

      it('status on each host: its node only, the socket and its peer, every tunnel packet sent and taken apart, nothing dropped', async () => {
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
          // every frame encapsulated went out as one datagram; every datagram received was decapsulated
          expect(sock!.txPackets).toBe(n.events[enc]);
          expect(sock!.rxPackets).toBe(n.events[dec]);
          expect(Object.entries(n.drops).filter(([, v]) => v !== 0), `${me} drops`).toEqual([]);
        }
      });

      if (overlay === 'vxlan') {
        it.skipIf(!hasIperf)('iperf3 across the hosts (throughput reported, not judged)', async () => {
          const r = await iperf(NS.a1, NS.b1, IP.b1, 5);
          console.log(`cross-host VXLAN (UDP socket) iperf3 a1 -> b1: ${r.gbps.toFixed(2)} Gbit/s`);
          expect(r.gbps).toBeGreaterThan(0);
        });
      }

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
      });
    });
  }

  it('afterwards: nothing of the lab left but the two hosts', async () => {
    const left = await hostLeftovers(['pw-xh-']);
    expect(left.links).toEqual([]);
    expect(left.namespaces.sort()).toEqual([...HOSTS]);
  });
});
