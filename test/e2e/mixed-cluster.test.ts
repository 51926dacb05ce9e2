// End-to-end, as root: clusters that mix podwire nodes (WebAssembly data
// plane, pods on TAPs) with a `dataplane: kernel` node (built as flannel
// builds a node: cni0, veths, flannel.1 or host-gw routes) on a real L2
// underlay (`cluster.underlay: bridge`: Linux bridge br0 in pw-ul-<lab>).
// If podwire and the kernel node talk — ping with TTL 62 both ways, 20 MB
// over TCP with a sha256 at both ends in both directions — podwire speaks
// flannel's wire format. A capture on the kernel node's bridge port checks
// what podwire puts on the wire: VXLAN with VNI 1 from its own underlay
// address, TCP in segments of the pod MTU with good checksums — segmented by
// the kernel from the super-frames podwire wrote whole with the UDP-tunnel
// GSO header (that port's offloads are turned off, so the kernel segments
// and checksums in software before the capture sees them: the kernel is the
// oracle), or in software by podwire in the fallback lab
// (PODWIRE_UNDERLAY_OFFLOADS=off), whose 20 MB streams must hash the same as
// the fast path's (one seed); with host-gw, plain pod-to-pod packets. Every
// lab leaves nothing behind, and a kernel node with IP-in-IP is refused up front.
// Names: labs mx-*, pods mxv-*/mxs-*/mxg-*/mxi-*, clusters 10.247/16,
// 10.227/16 and 10.248/16, underlays 172.31.250-252.0/24 and 172.31.227.0/24.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { startLab, stopAllLabs, hostLeftovers, statusNode, nonZero, isRoot, statePathOf, readStateFile, execIn, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { underlayPortName } from '../../src/lab/underlay.ts';
import { ping, replyTtls, linkMtu, tcpTransfer } from '../helpers/traffic.ts';
import { capture, checksumGood, checksumAbsent } from '../helpers/capture.ts';

if (!isRoot) console.warn('test/e2e/mixed-cluster.test.ts: skipped — needs root (creates network namespaces, TAPs, bridges, veth and vxlan devices); run as root (CI is root)');

const MB = 1024 * 1024;
const MB20 = 20 * MB;
const VXLAN_PORT = 8472;
const VNI = 1;
const UNDERLAY_MTU = 1500;
/** kernel node k1's namespace in lab `lab` (named by lab and node, so labs sharing node names coexist) */
const kernelNodeNs = (lab: string) => `pw-node-${lab}-k1`;

/**
 * Drops a podwire node may count on a shared L2 segment: frames br0 floods to
 * every port before it has learned where a MAC lives, and other nodes' ARP
 * broadcasts (not_for_us).
 */
const ALLOWED_DROPS = ['not_for_us'];

afterAll(async () => {
  await stopAllLabs();
});

interface Pod { name: string; ip: string; node: string }

interface MixedCase {
  overlay: 'vxlan' | 'host-gw';
  lab: string;
  /** cluster CIDR x.y.0.0/16: pod CIDRs x.y.<node index>.0/24 in node order */
  net: string;
  underlayNet: string;
  podMtu: number;
  /** pod name prefix, unique to this file */
  p: string;
  /** with a second podwire node n2 */
  n2: boolean;
  /** the fallback: UDP-tunnel GSO turned off on the underlay TAPs (PODWIRE_UNDERLAY_OFFLOADS=off), podwire segments in software */
  softwareGso?: boolean;
}

/** The 20 MB streams' seed: the same bytes in every lab, so the fast and the fallback path must hash alike. */
const SEED = 15;
/** sha256 of each transfer's stream as the first lab that ran it received it, by transfer name */
const received = new Map<string, string>();

const CASES: MixedCase[] = [
  { overlay: 'vxlan', lab: 'mx-vx', net: '10.247', underlayNet: '172.31.250', podMtu: 1450, p: 'mxv', n2: true },
  { overlay: 'vxlan', lab: 'mx-vxsw', net: '10.227', underlayNet: '172.31.227', podMtu: 1450, p: 'mxs', n2: true, softwareGso: true },
  { overlay: 'host-gw', lab: 'mx-hgw', net: '10.248', underlayNet: '172.31.251', podMtu: 1500, p: 'mxg', n2: false },
];

function grew(before: StatusJson, after: StatusJson, n: string, key: string): number {
  return (statusNode(after, n).events[key] ?? 0) - (statusNode(before, n).events[key] ?? 0);
}

function mbps(bytes: number, ms: number): string {
  return `${((bytes * 8) / (ms / 1000) / 1e6).toFixed(0)} Mbit/s`;
}

for (const c of CASES) {
  describe.skipIf(!isRoot)(`mixed cluster, overlay ${c.overlay}${c.softwareGso ? ' (UDP-tunnel GSO off)' : ''}: podwire node(s) + kernel node on a real bridge (root)`, () => {
    // node order n1, k1[, n2]: pod CIDRs .0/.1/.2, underlay addresses .1/.2/.3
    const A1: Pod = { name: `${c.p}-a1`, ip: `${c.net}.0.2`, node: 'n1' };
    const A2: Pod = { name: `${c.p}-a2`, ip: `${c.net}.0.3`, node: 'n1' };
    const C1: Pod = { name: `${c.p}-c1`, ip: `${c.net}.1.2`, node: 'k1' };
    const B1: Pod = { name: `${c.p}-b1`, ip: `${c.net}.2.2`, node: 'n2' };
    const PODS = c.n2 ? [A1, A2, C1, B1] : [A1, A2, C1];
    const UL = { n1: `${c.underlayNet}.1`, k1: `${c.underlayNet}.2`, n2: `${c.underlayNet}.3` };
    const UNDERLAY_NS = `pw-ul-${c.lab}`;
    const ns = (p: Pod) => `pw-${p.name}`;
    // pw-dns.<lab>: the cluster DNS pod, on the podwire node (src/lab/cluster-dns.ts)
    const LAB_NAMESPACES = [...PODS.map(ns), kernelNodeNs(c.lab), UNDERLAY_NS, `pw-dns.${c.lab}`];
    const YAML = [
      'cluster:',
      `  clusterCIDR: ${c.net}.0.0/16`,
      `  overlay: ${c.overlay}`,
      ...(c.overlay === 'vxlan' ? [`  vxlan: { vni: ${VNI}, port: ${VXLAN_PORT} }`] : []),
      '  underlay: bridge',
      `  underlayCIDR: ${c.underlayNet}.0/24`,
      `  mtu: ${UNDERLAY_MTU}`,
      'nodes:',
      '  - name: n1',
      `    pods: [${A1.name}, ${A2.name}]`,
      '  - name: k1',
      '    dataplane: kernel',
      `    pods: [${C1.name}]`,
      ...(c.n2 ? ['  - name: n2', `    pods: [${B1.name}]`] : []),
      '',
    ].join('\n');
    const podwireNodes = c.n2 ? ['n1', 'n2'] : ['n1'];
    let lab: RunningLab;
    let before: StatusJson;

    beforeAll(async () => {
      lab = await startLab(YAML, { name: c.lab, ...(c.softwareGso ? { env: { PODWIRE_UNDERLAY_OFFLOADS: 'off' } } : {}) });
      before = await lab.status();
    });
    afterAll(async () => {
      await lab?.stop();
    });

    it(`comes up: ${PODS.length} pods, ${kernelNodeNs(c.lab)} and ${UNDERLAY_NS}, pod MTU ${c.podMtu} on every eth0 (podwire and kernel pods)`, async () => {
      expect(lab.output()).toMatch(new RegExp(`overlay ${c.overlay}, pod MTU ${c.podMtu}\\b`));
      expect(lab.output()).toMatch(new RegExp(`^ready: ${PODS.length} pods on ${c.n2 ? 3 : 2} node\\(s\\)`, 'm'));
      expect(before.cluster).toMatchObject({ overlay: c.overlay, mtu: UNDERLAY_MTU, podMtu: c.podMtu, underlayCIDR: `${c.underlayNet}.0/24` });
      expect(before.pods.map((p) => [p.name, p.node, p.ip])).toEqual(PODS.map((p) => [p.name, p.node, p.ip]));
      for (const n of podwireNodes) expect(statusNode(before, n).underlay?.ip, `${n} underlay ip`).toBe(UL[n as 'n1' | 'n2']);
      // the path each podwire node's underlay TAP takes (src/lab/underlay-path.ts): the kernel here (6.18) takes UDP-tunnel GSO
      const mode = c.overlay === 'host-gw' ? 'tso' : c.softwareGso ? 'software-segmentation' : 'udp-tunnel-gso';
      for (const n of podwireNodes) expect(statusNode(before, n).underlay?.path?.mode, `${n} underlay path`).toBe(mode);
      if (c.softwareGso) expect(statusNode(before, 'n1').underlay?.path?.text).toMatch(/software segmentation \(turned off \(PODWIRE_UNDERLAY_OFFLOADS=off\)\)/);
      expect(statusNode(before, 'k1').underlay).toBeUndefined();
      expect((await hostLeftovers(LAB_NAMESPACES)).namespaces.sort()).toEqual([...LAB_NAMESPACES].sort());
      for (const p of PODS) expect(await linkMtu(ns(p)), `eth0 MTU in ${ns(p)}`).toBe(c.podMtu);
    });

    it('podwire pod <-> kernel pod ping both ways with TTL 62 (two forwarding hops)' + (c.n2 ? '; n1 <-> n2 too' : ''), async () => {
      const jobs = [
        { from: A1, to: C1 }, { from: C1, to: A1 },
        { from: A2, to: C1 }, { from: C1, to: A2 },
        ...(c.n2 ? [{ from: B1, to: C1 }, { from: C1, to: B1 }, { from: A1, to: B1 }, { from: B1, to: A1 }, { from: A2, to: B1 }] : []),
      ];
      const results = await Promise.all(jobs.map((j) => ping(ns(j.from), j.to.ip)));
      results.forEach((r, k) => {
        const what = `${jobs[k].from.name} -> ${jobs[k].to.name}:\n${r.stdout}${r.stderr}`;
        expect(r.code, what).toBe(0);
        expect(r.stdout, what).toMatch(/2 packets transmitted, 2 received/);
        expect(replyTtls(r.stdout), what).toEqual([62, 62]);
      });
    });

    if (c.n2) {
      it('n1 <-> n2 goes over the real bridge: VXLAN between their underlay addresses on br0, no in-process hand-over', async () => {
        const rows = await capture({
          ns: UNDERLAY_NS, filter: `udp port ${VXLAN_PORT} and host ${UL.n2}`, count: 4,
          fields: ['vxlan.vni', 'ip.src', 'ip.dst', 'icmp.type'], decodeAs: [`udp.port==${VXLAN_PORT},vxlan`],
        }, () => ping(ns(A1), B1.ip, 1));
        expect(rows, JSON.stringify(rows)).toHaveLength(4);
        for (const [vni, src, dst, icmp] of rows) {
          expect(vni).toBe(String(VNI));
          // outer (node -> node), inner (pod -> pod)
          expect([[UL.n1, A1.ip, UL.n2, B1.ip], [UL.n2, B1.ip, UL.n1, A1.ip]]).toContainEqual([...src.split(','), ...dst.split(',')]);
          expect(['0', '8']).toContain(icmp);
        }
        const s = await lab.status();
        for (const n of podwireNodes) expect(statusNode(s, n).underlay?.fabric.delivered, `${n} in-process hand-overs`).toBe(0);
      });
    }

    const transfers = [
      { from: A1, to: C1, what: 'podwire pod -> kernel pod' },
      { from: C1, to: A1, what: 'kernel pod -> podwire pod' },
      ...(c.n2 ? [{ from: A1, to: B1, what: 'n1 -> n2 over the bridge' }] : []),
    ];
    for (const t of transfers) {
      it(`20 MB over TCP, ${t.what} (${t.from.name} -> ${t.to.name}), arrives intact (sha256 at both ends)`, async () => {
        const t0 = performance.now();
        const r = await tcpTransfer(ns(t.from), ns(t.to), t.to.ip, MB20, 5201, SEED);
        const ms = performance.now() - t0;
        console.log(`mixed ${c.overlay}: 20 MB ${t.from.name} (${t.from.node}) -> ${t.to.name} (${t.to.node}) in ${ms.toFixed(0)} ms incl. start-up, ~${mbps(MB20, ms)}`);
        expect(r.sent.bytes).toBe(MB20);
        expect(r.received.bytes).toBe(MB20);
        expect(r.received.sha256).toBe(r.sent.sha256);
        // the same stream over the other path (super-frames whole vs segmented in software): the same bytes arrive
        const key = `${t.from.node}->${t.to.node}`;
        if (received.has(key)) expect(r.received.sha256, `${key}: as in the other vxlan lab`).toBe(received.get(key));
        else received.set(key, r.received.sha256);
      });
    }

    if (c.overlay === 'vxlan') {
      it(`on k1's bridge port during a TCP transfer from the podwire pod: VNI 1 from n1's address, segments within the pod MTU (by ${c.softwareGso ? 'podwire' : 'the kernel, from super-frames podwire wrote whole'}), good checksums`, async () => {
        let transfers = 0;
        // the bridge's port toward k1 without offloads: what crosses it is segmented and checksummed by the kernel
        // (skb_gso_segment, skb_checksum_help) before the capture sees it — br0 itself would show super-frames whole
        const port = underlayPortName(kernelNodeNs(c.lab));
        const off = await execIn(UNDERLAY_NS, ['ethtool', '-K', port, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'tx-udp_tnl-segmentation', 'off', 'tx-udp_tnl-csum-segmentation', 'off']);
        expect(off.code, `ethtool -K ${port}: ${off.stderr}`).toBe(0);
        const sentBefore = statusNode(await lab.status(), 'n1').events;
        const rows = await capture({
          ns: UNDERLAY_NS, iface: port, filter: `udp port ${VXLAN_PORT}`, count: 300,
          fields: ['frame.len', 'vxlan.vni', 'ip.src', 'ip.dst', 'ip.len', 'tcp.len', 'ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status'],
          decodeAs: [`udp.port==${VXLAN_PORT},vxlan`],
          prefs: ['ip.check_checksum:TRUE', 'tcp.check_checksum:TRUE', 'udp.check_checksum:TRUE'],
        }, async () => {
          const r = await tcpTransfer(ns(A1), ns(C1), C1.ip, 4 * MB, 5202);
          expect(r.received.sha256).toBe(r.sent.sha256);
          transfers++;
        });
        // what n1 did with a1's super-frames meanwhile: wrote them whole (the kernel segmented), or segmented them itself
        const sentAfter = statusNode(await lab.status(), 'n1').events;
        const whole = (sentAfter.tunnel_gso_sent ?? 0) - (sentBefore.tunnel_gso_sent ?? 0);
        const cut = (sentAfter.gso_segmented ?? 0) - (sentBefore.gso_segmented ?? 0);
        console.log(`mixed vxlan${c.softwareGso ? ' (software GSO)' : ''}: during the capture n1 wrote ${whole} super-frames whole, segmented ${cut} in software`);
        if (c.softwareGso) expect([whole, cut > 0]).toEqual([0, true]);
        else expect([whole > 0, cut]).toEqual([true, 0]);
        expect(rows.length, `${rows.length} frames in ${transfers} transfer(s)`).toBe(300);
        const parsed = rows.map(([frameLen, vni, src, dst, ipLen, tcpLen, ipCsum, tcpCsum, udpCsum]) => ({
          frameLen: Number(frameLen), vni, src: src.split(','), dst: dst.split(','), ipLen: ipLen.split(',').map(Number),
          tcpLen: Number(tcpLen), ipCsum: ipCsum.split(','), tcpCsum, udpCsum,
        }));
        // every frame on the wire is VXLAN VNI 1 between the pods' nodes, one IP header outside, one inside
        for (const f of parsed) {
          const what = JSON.stringify(f);
          expect(f.vni, what).toBe(String(VNI));
          expect([[UL.n1, A1.ip, UL.k1, C1.ip], [UL.k1, C1.ip, UL.n1, A1.ip]], what).toContainEqual([...f.src, ...f.dst]);
        }
        // podwire's frames (inner source a1): from n1's own underlay address; TCP in segments of the pod MTU
        // (no super-frame on the wire); outer and inner checksums complete.
        // (The kernel node's frames are not checked for checksums: captured on br0 they still carry the
        // partial checksums of checksum offload, which the receiving end never verifies.)
        const fromPodwire = parsed.filter((f) => f.src[1] === A1.ip);
        const data = fromPodwire.filter((f) => f.tcpLen > 0);
        expect(data.length, `data frames from ${A1.name} among ${parsed.length}`).toBeGreaterThan(50);
        for (const f of fromPodwire) {
          const what = JSON.stringify(f);
          expect(f.src[0], what).toBe(UL.n1);
          expect(f.ipLen[0], what).toBeLessThanOrEqual(UNDERLAY_MTU);
          expect(f.ipLen[1], what).toBeLessThanOrEqual(c.podMtu);
          expect(f.frameLen, what).toBeLessThanOrEqual(UNDERLAY_MTU + 14);
          expect(f.ipCsum.map(checksumGood), what).toEqual([true, true]);
          expect(checksumGood(f.tcpCsum), what).toBe(true);
          // VXLAN may leave the outer UDP checksum 0 (RFC 7348), as Linux does by default; if set, it must be right
          expect(checksumGood(f.udpCsum) || checksumAbsent(f.udpCsum), what).toBe(true);
        }
        const sizes = data.map((f) => f.ipLen[1]);
        console.log(`mixed vxlan: ${parsed.length} frames on br0 in ${transfers} transfer(s); ${fromPodwire.length} from n1, inner IP lengths ${Math.min(...sizes)}..${Math.max(...sizes)}`);
        // full-sized segments: the pod MTU exactly
        expect(Math.max(...sizes)).toBe(c.podMtu);
      });
    } else {
      it('on br0: the pods\' ICMP and TCP cross as plain packets between pod IPs (no UDP 8472), routed once (TTL 63)', async () => {
        const fields = ['ip.proto', 'ip.src', 'ip.dst', 'ip.ttl', 'udp.dstport'];
        const icmp = await capture({ ns: UNDERLAY_NS, filter: `icmp or udp port ${VXLAN_PORT}`, count: 4, fields }, () => ping(ns(A1), C1.ip, 1));
        const tcp = await capture({ ns: UNDERLAY_NS, filter: `tcp or udp port ${VXLAN_PORT}`, count: 40, fields },
          () => tcpTransfer(ns(A1), ns(C1), C1.ip, MB, 5202));
        expect(icmp, JSON.stringify(icmp)).toHaveLength(4);
        expect(tcp, JSON.stringify(tcp)).toHaveLength(40);
        for (const [rows, proto] of [[icmp, '1'], [tcp, '6']] as const) {
          for (const [p, src, dst, ttl, udpPort] of rows) {
            const what = JSON.stringify([p, src, dst, ttl, udpPort]);
            expect(p, what).toBe(proto); // one IP header: nothing wrapped around it
            expect(udpPort, what).toBe('');
            expect([[A1.ip, C1.ip], [C1.ip, A1.ip]], what).toContainEqual([src, dst]);
            expect(ttl, what).toBe('63');
          }
        }
        // both directions crossed: podwire's node and the kernel node each sent some
        for (const rows of [icmp, tcp]) expect(new Set(rows.map((r) => r[1]))).toEqual(new Set([A1.ip, C1.ip]));
      });
    }

    it('status --json: ' + (c.overlay === 'vxlan' ? `n1 encapsulated, decapsulated and ${c.softwareGso ? 'segmented' : 'crossed its TAP with super-frames whole'}` : 'n1 sent host-gw traffic') + '; no drops but frames flooded by br0', async () => {
      const s = await lab.status();
      // super-frames: written whole and read whole with UDP-tunnel GSO (k1's came whole too), or segmented by n1
      const events = c.overlay === 'vxlan' ? ['vxlan_encap', 'vxlan_decap', ...(c.softwareGso ? ['gso_segmented'] : ['tunnel_gso_sent', 'tunnel_gso_received'])] : ['host_gw_out'];
      for (const e of events) expect(grew(before, s, 'n1', e), `n1 ${e}`).toBeGreaterThan(0);
      if (c.n2) for (const e of ['vxlan_encap', 'vxlan_decap', ...(c.softwareGso ? [] : ['tunnel_gso_received'])]) expect(grew(before, s, 'n2', e), `n2 ${e}`).toBeGreaterThan(0);
      if (c.softwareGso) for (const n of podwireNodes) expect(grew(before, s, n, 'tunnel_gso_sent') + grew(before, s, n, 'tunnel_gso_received'), `${n} tunnel GSO`).toBe(0);
      // the other overlays' events stay at 0
      const others = ['vxlan_encap', 'vxlan_decap', 'ipip_encap', 'ipip_decap', 'host_gw_out'].filter((e) => !events.includes(e));
      for (const n of podwireNodes) {
        const st = statusNode(s, n);
        for (const e of others) expect(st.events[e], `${n} ${e}`).toBe(0);
        expect(nonZero(st.drops).filter(([k]) => !ALLOWED_DROPS.includes(k)), `${n} drops ${JSON.stringify(st.drops)}`).toEqual([]);
        for (const p of st.ports) expect([p.pod, p.rx_drops, p.tx_drops, p.tap_rx_errors, p.tap_tx_errors]).toEqual([p.pod, 0, 0, 0, 0]);
        expect(st.underlay?.fabric.delivered, `${n} in-process hand-overs`).toBe(0);
      }
      const n1 = statusNode(s, 'n1');
      // a1's 20 MB went out of n1 onto the bridge and c1's 20 MB came in from it
      expect(n1.underlay!.counters.tx_bytes).toBeGreaterThan(MB20);
      expect(n1.underlay!.counters.rx_bytes).toBeGreaterThan(MB20);
      console.log(`mixed ${c.overlay}: n1 events ${JSON.stringify(Object.fromEntries(nonZero(n1.events)))}, drops ${JSON.stringify(Object.fromEntries(nonZero(n1.drops)))}`);
      if (c.n2) console.log(`mixed ${c.overlay}: n2 drops ${JSON.stringify(Object.fromEntries(nonZero(statusNode(s, 'n2').drops)))}`);
    });

    it('SIGTERM: exits 0 and leaves no namespace of the lab (pods, the kernel node namespace, the underlay), no link, no state file', async () => {
      const pid = lab.proc.pid!;
      const state = readStateFile(lab.name);
      expect(state?.pid).toBe(pid);
      expect([...state!.namespaces].sort()).toEqual([...LAB_NAMESPACES].sort());
      expect(await lab.stop()).toBe(0);
      expect(lab.output()).toMatch(new RegExp(`lab "${lab.name}" removed`));
      expect(await hostLeftovers([...LAB_NAMESPACES, `pw-${pid}-`, ...state!.links])).toEqual({ namespaces: [], links: [] });
      expect(existsSync(statePathOf(lab.name))).toBe(false);
      expect(existsSync(statePathOf(lab.name).replace(/\.json$/, '.sock'))).toBe(false);
    });
  });
}

describe.skipIf(!isRoot)('a kernel node with overlay ipip (root)', () => {
  const NAME = 'mx-ipip';
  const MESSAGE = 'node k1: dataplane kernel cannot use overlay ipip (the host kernel here has no ipip module; use vxlan or host-gw)';
  const YAML = [
    'cluster:',
    '  clusterCIDR: 10.248.0.0/16',
    '  overlay: ipip',
    '  underlay: bridge',
    '  underlayCIDR: 172.31.252.0/24',
    'nodes:',
    '  - name: n1',
    '    pods: [mxi-a1]',
    '  - name: k1',
    '    dataplane: kernel',
    '    pods: [mxi-c1]',
    '',
  ].join('\n');

  it('is refused by podwire up with exit code 1 and the reason, creating nothing', async () => {
    const k1Before = (await hostLeftovers([kernelNodeNs(NAME)])).namespaces;
    // startLab rejects when `up` exits before "ready" (and would stop a lab that came up)
    const err = await startLab(YAML, { name: NAME }).then(() => undefined, (e: Error) => e);
    expect(err, 'podwire up came up').toBeInstanceOf(Error);
    expect(err!.message).toMatch(/: not ready \(exit 1\); output:\n/);
    const output = err!.message.slice(err!.message.indexOf('output:\n') + 8);
    // the only problem with this topology, on a line of its own
    expect(output).toMatch(/ is invalid:\n/);
    expect(output.split('\n').filter((l) => l.startsWith('  - '))).toEqual([`  - ${MESSAGE}`]);
    expect(await hostLeftovers(['pw-mxi-', `pw-ul-${NAME}`])).toEqual({ namespaces: [], links: [] });
    expect((await hostLeftovers([kernelNodeNs(NAME)])).namespaces).toEqual(k1Before);
    expect(existsSync(statePathOf(NAME))).toBe(false);
  });
});
