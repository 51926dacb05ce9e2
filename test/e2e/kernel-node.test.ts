// End-to-end, as root: two "kernel nodes" built the way flannel builds them
// (src/lab/kernel-node.ts) on one L2 underlay (src/lab/underlay.ts), once
// with the VXLAN backend and once with host-gw. Pods on different nodes
// ping (TTL 62: two routers in between, as in a real flannel cluster) and
// move 20 MB over TCP with a sha256 at both ends; a capture on the underlay
// bridge shows what crosses the wire. Everything is removed afterwards, also
// when a build fails halfway. All names are pw-kn-* / kn-* so this file never
// collides with another test's namespaces.
import { iperf as iperfBetween } from '../../bench/baseline.ts';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createUnderlay, underlayAddress, underlayPortName, type Underlay } from '../../src/lab/underlay.ts';
import { buildKernelNode, hostVethName, type KernelNode, type KernelOverlay } from '../../src/lab/kernel-node.ts';
import { netnsList, netnsAdd, netnsDel, linkList } from '../../src/io/netns.ts';
import { macForIp } from '../../src/model/addr.ts';
import { isRoot, spawnIn, hostLeftovers, sleep } from '../helpers/lab.ts';
import { ping, tcpTransfer } from '../helpers/traffic.ts';

if (!isRoot) console.warn('test/e2e/kernel-node.test.ts: skipped — needs root (creates network namespaces, bridges, veth and vxlan devices); run as root (CI is root)');

const PREFIX = 'pw-kn-';
const UNDERLAY_NS = 'pw-kn-underlay';
const VNI = 1;
const VXLAN_PORT = 8472;
const MB20 = 20 * 1024 * 1024;

// Two nodes: underlay .11/.12, podCIDRs 10.244.1.0/24 and 10.244.2.0/24, one pod each at .2.
const NODES = [1, 2].map((i) => ({
  name: `k${i}`,
  nodeNs: `${PREFIX}k${i}`,
  underlayIndex: 10 + i,
  underlayMac: `0a:58:ac:1f:ff:${(10 + i).toString(16).padStart(2, '0')}`,
  podCIDR: `10.244.${i}.0/24`,
  gateway: `10.244.${i}.1`,
  vtepMac: `0e:6b:6e:00:00:0${i}`, // locally administered, "kn"
  pod: { name: `kn-kp${i}`, namespace: `${PREFIX}kp${i}`, ip: `10.244.${i}.2` },
}));
const [K1, K2] = NODES;
const ALL_NS = [UNDERLAY_NS, ...NODES.flatMap((n) => [n.nodeNs, n.pod.namespace]), `${PREFIX}broken`, `${PREFIX}broken-pod`, `${PREFIX}taken`];

// If the worker dies mid-test (a crashed hook, a kill), still leave nothing behind.
process.once('exit', () => {
  if (!isRoot) return;
  for (const ns of ALL_NS) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

/** Both nodes, each knowing the other as its only peer. */
async function buildCluster(underlay: Underlay, overlay: KernelOverlay): Promise<KernelNode[]> {
  const built: KernelNode[] = [];
  try {
    for (const me of NODES) {
      const peers = NODES.filter((n) => n !== me).map((n) => ({
        name: n.name, underlayIp: underlayAddress(underlay, n.underlayIndex), underlayMac: n.underlayMac, podCIDR: n.podCIDR, vtepMac: n.vtepMac,
      }));
      built.push(await buildKernelNode({
        name: me.name, nodeNs: me.nodeNs, underlay,
        underlayIp: underlayAddress(underlay, me.underlayIndex), underlayMac: me.underlayMac,
        podCIDR: me.podCIDR, gateway: me.gateway, gatewayMac: macForIp(me.gateway), mtu: 1500,
        overlay, vxlan: { vni: VNI, port: VXLAN_PORT }, vtepMac: me.vtepMac,
        pods: [{ name: me.pod.name, namespace: me.pod.namespace, ip: me.pod.ip, mac: macForIp(me.pod.ip), prefixLen: 24 }],
        peers,
      }));
    }
    return built;
  } catch (e) {
    for (const n of built) await n.teardown().catch(() => {});
    throw e;
  }
}

/**
 * Capture on the underlay bridge: tshark inside the underlay namespace,
 * stopping after `count` packets or 15 s, while `traffic` runs again and
 * again until tshark has its packets. (Repeating matters: tshark prints
 * "Capturing on" a moment before its socket really receives, so the first
 * packets sent right after it are sometimes missed.) Resolves with one array
 * of fields per packet. `-d` makes tshark decode flannel's port 8472 as
 * VXLAN (it only knows 4789 by default).
 */
async function captureUnderlay(filter: string, fields: string[], count: number, traffic: () => Promise<unknown>): Promise<string[][]> {
  const argv = ['tshark', '-n', '-i', 'br0', '-f', filter, '-c', String(count), '-a', 'duration:15',
    '-d', `udp.port==${VXLAN_PORT},vxlan`, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
  const proc = spawnIn(UNDERLAY_NS, argv);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    for (let t = 0; !/Capturing on/.test(err); t += 20) {
      if (t > 10_000 || proc.exitCode !== null) throw new Error(`tshark did not start: ${err}`);
      await sleep(20);
    }
    const end = Date.now() + 15_000;
    while (proc.exitCode === null && proc.signalCode === null && Date.now() < end) await traffic();
    await Promise.race([done, sleep(5_000)]);
    return out.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

/** iperf3 from pod 1 to pod 2 for `seconds`; resolves with the receiver's bits/s. */
async function iperf(seconds: number): Promise<number> {
  return (await iperfBetween(K1.pod.namespace, K2.pod.namespace, K2.pod.ip, seconds)).gbps * 1e9;
}

/** Nothing of ours is left: no pw-kn- namespace, and none of our link names in the root namespace. */
async function expectNothingLeft(): Promise<void> {
  const left = await hostLeftovers([PREFIX]);
  expect(left).toEqual({ namespaces: [], links: [] });
  const ours = new Set([...NODES.map((n) => underlayPortName(n.nodeNs)), ...NODES.map((n) => hostVethName(n.pod.namespace)), 'flannel.1', 'cni0']);
  expect((await linkList()).filter((l) => ours.has(l))).toEqual([]);
}

for (const overlay of ['vxlan', 'host-gw'] as const) {
  describe.skipIf(!isRoot)(`two kernel nodes, ${overlay} (root)`, () => {
    let underlay: Underlay | undefined;
    let nodes: KernelNode[] = [];

    beforeAll(async () => {
      underlay = await createUnderlay(UNDERLAY_NS);
      try {
        nodes = await buildCluster(underlay, overlay);
      } catch (e) {
        await underlay.teardown().catch(() => {});
        throw e;
      }
    });
    afterAll(async () => {
      for (const n of nodes) await n.teardown().catch(() => {});
      await underlay?.teardown().catch(() => {});
    });

    it('a pod pings a pod on the other node, two routers away (TTL 62)', async () => {
      const r = await ping(K1.pod.namespace, K2.pod.ip);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/2 packets transmitted, 2 received/);
      // 64 from kp2, minus one at k2 (reply leaves via flannel.1/eth0) and one at k1 (into cni0)
      const ttls = [...r.stdout.matchAll(/ttl=(\d+)/g)].map((m) => Number(m[1]));
      expect(ttls).toEqual([62, 62]);
    });

    it('a 20 MB TCP transfer crosses nodes intact (sha256 at both ends)', async () => {
      const r = await tcpTransfer(K1.pod.namespace, K2.pod.namespace, K2.pod.ip, MB20);
      expect(r.sent.bytes).toBe(MB20);
      expect(r.received.bytes).toBe(MB20);
      expect(r.received.sha256).toBe(r.sent.sha256);
    });

    it('iperf3 runs between the pods (throughput logged)', async () => {
      const bps = await iperf(2);
      console.log(`kernel ${overlay}: iperf3 ${K1.pod.name} -> ${K2.pod.name}: ${(bps / 1e9).toFixed(2)} Gbit/s (2 s)`);
      expect(bps).toBeGreaterThan(0);
    });

    if (overlay === 'vxlan') {
      it('the underlay carries VXLAN (UDP 8472, VNI 1) between the node IPs, pod IPs inside', async () => {
        const rows = await captureUnderlay(`udp port ${VXLAN_PORT}`, ['udp.dstport', 'vxlan.vni', 'ip.src', 'ip.dst', 'icmp.type'], 4,
          () => ping(K1.pod.namespace, K2.pod.ip, 1));
        expect(rows).toHaveLength(4);
        const n1 = underlayAddress(underlay!, K1.underlayIndex);
        const n2 = underlayAddress(underlay!, K2.underlayIndex);
        for (const [dport, vni, src, dst, icmp] of rows) {
          expect(dport).toBe(String(VXLAN_PORT));
          expect(vni).toBe(String(VNI));
          // two IP headers per frame: outer (node -> node), inner (pod -> pod)
          expect([[n1, K1.pod.ip, n2, K2.pod.ip], [n2, K2.pod.ip, n1, K1.pod.ip]]).toContainEqual([...src.split(','), ...dst.split(',')]);
          expect(['0', '8']).toContain(icmp);
        }
      });
    } else {
      it('the underlay carries the pods\' ICMP directly (no encapsulation)', async () => {
        const rows = await captureUnderlay(`icmp or udp port ${VXLAN_PORT}`, ['ip.proto', 'ip.src', 'ip.dst', 'icmp.type', 'ip.ttl'], 4,
          () => ping(K1.pod.namespace, K2.pod.ip, 1));
        expect(rows).toHaveLength(4);
        for (const [proto, src, dst, icmp, ttl] of rows) {
          expect(proto).toBe('1'); // one IP header, ICMP: nothing wrapped around it
          expect([[K1.pod.ip, K2.pod.ip], [K2.pod.ip, K1.pod.ip]]).toContainEqual([src, dst]);
          expect(['0', '8']).toContain(icmp);
          expect(ttl).toBe('63'); // routed once, by the sending node
        }
      });
    }

    it('teardown removes everything it created', async () => {
      for (const n of nodes) await n.teardown();
      await underlay!.teardown();
      await expectNothingLeft();
    });
  });
}

describe.skipIf(!isRoot)('kernel node build failures (root)', () => {
  let underlay: Underlay | undefined;
  beforeAll(async () => { underlay = await createUnderlay(UNDERLAY_NS); });
  afterAll(async () => {
    await netnsDel(`${PREFIX}taken`).catch(() => {});
    await underlay?.teardown().catch(() => {});
  });

  const spec = (over: { nodeNs: string; podNs: string; podMac: string }) => ({
    name: 'broken', nodeNs: over.nodeNs, underlay: underlay!, underlayIp: '172.31.255.99', underlayMac: '0a:58:ac:1f:ff:63',
    podCIDR: '10.244.9.0/24', gatewayMac: macForIp('10.244.9.1'), overlay: 'vxlan' as const, vtepMac: '0e:6b:6e:00:00:09',
    pods: [{ name: 'kn-broken-pod', namespace: over.podNs, ip: '10.244.9.2', mac: over.podMac }], peers: [],
  });

  it('a build that fails halfway removes the namespaces it created', async () => {
    // the bad MAC only fails once the node and pod namespaces exist
    await expect(buildKernelNode(spec({ nodeNs: `${PREFIX}broken`, podNs: `${PREFIX}broken-pod`, podMac: '0a:58:zz:00:00:01' }))).rejects.toThrow();
    const left = (await netnsList()).filter((n) => n.startsWith(`${PREFIX}broken`));
    expect(left).toEqual([]);
  });

  it('refuses to build over an existing namespace, and leaves it alone', async () => {
    await netnsAdd(`${PREFIX}taken`);
    await expect(buildKernelNode(spec({ nodeNs: `${PREFIX}broken`, podNs: `${PREFIX}taken`, podMac: '0a:58:0a:f4:09:02' }))).rejects.toThrow(/already exist/);
    const now = await netnsList();
    expect(now).toContain(`${PREFIX}taken`);
    expect(now).not.toContain(`${PREFIX}broken`);
  });

  it('leaves nothing behind', async () => {
    await netnsDel(`${PREFIX}taken`);
    await underlay!.teardown();
    await expectNothingLeft();
  });
});
