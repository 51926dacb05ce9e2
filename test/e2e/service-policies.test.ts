// End-to-end, as root: what kube-proxy does beyond ClusterIP DNAT, on real
// traffic through a two-node vxlan lab on a bridge underlay (pw-ul-<lab>).
// A host outside the cluster (namespace pw-pol-ext, plugged into the
// underlay bridge like another machine on the LAN) reaches NodePorts on
// each node's address; every web pod answers with its name and the address
// it saw the request come from, so masquerade (externalTrafficPolicy:
// Cluster) and source preservation (Local) are visible. In the cluster:
// ClientIP affinity sticks, a pod reaches itself through its own Service
// (hairpin), and a Service with no endpoints refuses at once (TCP RST,
// ICMP port unreachable for UDP) instead of timing out. Every backend is
// chosen by Maglev consistent hashing (cluster.serviceScheduler: maglev).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { startLab, stopAllLabs, statusNode, isRoot, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { startPodServers, killAll, httpAnswers, connectOutcome } from '../helpers/pod-servers.ts';
import { attachVethNode, removeNamespaces, type Underlay } from '../../src/lab/underlay.ts';
import { netnsAdd } from '../../src/io/netns.ts';

if (!isRoot) console.warn('test/e2e/service-policies.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'pol';
const EXT_NS = 'pw-pol-ext';
const EXT_IP = '172.31.248.200';
const WEB = ['pol-web1', 'pol-web2'];
const CLIENT = 'pol-client';

const TOPOLOGY = `
cluster:
  clusterCIDR: 10.238.0.0/16
  serviceCIDR: 10.94.0.0/16
  underlayCIDR: 172.31.248.0/24
  underlay: bridge
  overlay: vxlan
  dns: false
  serviceScheduler: maglev     # every choice below by Maglev consistent hashing
nodes:
  - name: n1
    pods:
      - { name: pol-web1, labels: { app: web, self: "yes" } }
      - pol-client
  - name: n2
    pods:
      - { name: pol-web2, labels: { app: web } }
services:
  - name: web
    type: NodePort
    selector: { app: web }
    ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }]
  - name: web-local
    type: NodePort
    externalTrafficPolicy: Local
    selector: { app: web }
    ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }]
  - name: sticky
    selector: { app: web }
    sessionAffinity: ClientIP
    ports: [{ port: 80, targetPort: 8080 }]
  - name: self
    selector: { self: "yes" }
    ports: [{ port: 80, targetPort: 8080 }]
  - name: empty
    selector: { app: nothing }
    ports: [{ name: http, port: 80, targetPort: 8080 }, { name: dns, port: 53, targetPort: 53, protocol: UDP }]
`;

afterAll(async () => {
  await stopAllLabs();
  await removeNamespaces([EXT_NS]).catch(() => {});
});

describe.skipIf(!isRoot)('Service policies: NodePort from outside, masquerade, Local, affinity, hairpin, reject (root)', () => {
  let lab: RunningLab;
  let st: StatusJson;
  let servers: ChildProcess[] = [];
  const svc = (name: string) => st.services.find((s) => s.name === name)!;
  const podIp = (name: string) => st.pods.find((p) => p.name === name)!.ip;
  const nodeOf = (name: string) => statusNode(st, name);

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    st = await lab.status();
    servers = await startPodServers(WEB, { clientAddress: true });
    // a machine on the same LAN as the nodes, outside the cluster
    await removeNamespaces([EXT_NS]).catch(() => {});
    await netnsAdd(EXT_NS);
    const underlay = { ns: `pw-ul-${LAB}`, bridge: 'br0', cidr: st.cluster.underlayCIDR, prefixLen: 24 } as Underlay;
    await attachVethNode(underlay, EXT_NS, { ip: EXT_IP, mac: '0a:58:ac:1f:f8:c8' });
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
    await removeNamespaces([EXT_NS]).catch(() => {});
  });

  it('NodePort (externalTrafficPolicy Cluster) from outside, on each node\'s address: answered, client masqueraded to that node', async () => {
    for (const n of ['n1', 'n2']) {
      const node = nodeOf(n);
      const got = await httpAnswers(EXT_NS, node.underlay!.ip, 30080, 8);
      for (const line of got) {
        const [pod, seen] = line.split(' ');
        expect(WEB).toContain(pod);
        expect(seen, `${pod} saw the request from`).toBe(node.gateway); // masqueraded to the node's gateway address
      }
    }
    const s = await lab.status();
    expect(statusNode(s, 'n1').events.service_snat).toBeGreaterThanOrEqual(8);
  });

  it('NodePort (externalTrafficPolicy Local): only the node\'s own endpoint answers, and sees the client\'s real address', async () => {
    for (const [n, pod] of [['n1', 'pol-web1'], ['n2', 'pol-web2']]) {
      const got = await httpAnswers(EXT_NS, nodeOf(n).underlay!.ip, 30081, 4);
      expect(got).toEqual(Array(4).fill(`${pod} ${EXT_IP}`));
    }
  });

  it('sessionAffinity ClientIP: 20 connections from one client all reach the same pod', async () => {
    const got = await httpAnswers(`pw-${CLIENT}`, svc('sticky').clusterIP, 80, 20);
    expect(new Set(got).size).toBe(1);
    expect(got[0]).toMatch(/^pol-web[12] /);
    // the same 20 to the non-sticky Service spread (the seeded choice, not a stuck one)
    const spread = await httpAnswers(`pw-${CLIENT}`, svc('web').clusterIP, 80, 20);
    expect(new Set(spread.map((l) => l.split(' ')[0])).size).toBe(2);
  });

  it('hairpin: a pod reaches itself through its own Service (masqueraded to the gateway, so its reply comes back translated)', async () => {
    const got = await httpAnswers('pw-pol-web1', svc('self').clusterIP, 80, 3);
    expect(got).toEqual(Array(3).fill(`pol-web1 ${nodeOf('n1').gateway}`));
  });

  it('no endpoints: TCP connect refused at once (RST), UDP gets port unreachable (ECONNREFUSED), counted', async () => {
    const before = nodeOf('n1');
    for (const [port, proto] of [[80, 'tcp'], [53, 'udp']] as const) {
      const { result, seconds } = await connectOutcome(`pw-${CLIENT}`, svc('empty').clusterIP, port, proto);
      expect(result, proto).toBe('refused');
      expect(seconds, `${proto} refused after`).toBeLessThan(1); // not the 5 s timeout
    }
    const n1 = statusNode(await lab.status(), 'n1');
    expect(n1.drops.service_no_endpoints - (before.drops.service_no_endpoints ?? 0)).toBe(2);
    expect(n1.events.service_rejects - (before.events.service_rejects ?? 0)).toBe(2);
    expect(podIp(CLIENT)).toBeTruthy();
  });
});
