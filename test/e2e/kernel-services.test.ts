// End-to-end, as root: Services on a kernel node (src/lab/kernel-services.ts).
// A mixed VXLAN lab — n1 podwire, k1 a `dataplane: kernel` node — where k1's
// namespace holds kube-proxy's nftables table. A client pod on k1 reaches a
// ClusterIP whose endpoints sit on both nodes (the same-node one relies on
// br_netfilter for the reply, the other crosses flannel.1 to podwire), a
// Service without endpoints refuses at once, ClientIP affinity sticks, a pod
// reaches itself (hairpin masquerade), the node itself reaches a NodePort
// (nat-output, external chain), `podwire apply` re-programs the table, and
// without br_netfilter the fallback masquerade keeps a same-node backend reachable.
// Names: lab kss, pods kss-*, cluster 10.236/16, services 10.92/16, underlay 172.31.246.0/24.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { nftRules, applyKernelServices } from '../../src/lab/kernel-services.ts';
import { startLab, stopAllLabs, isRoot, sleep, execIn, podwire, hostLeftovers, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { startPodServers, killAll, httpAnswers, connectOutcome } from '../helpers/pod-servers.ts';

if (!isRoot) console.warn('test/e2e/kernel-services.test.ts: skipped — needs root (creates network namespaces, TAPs, bridges, veth and vxlan devices, nftables); run as root (CI is root)');

const LAB = 'kss';
const NODE_NS = `pw-node-${LAB}-k1`;
const WEB = ['kss-web1', 'kss-web2']; // on n1 (podwire) and k1 (kernel)
const CLIENT = 'kss-client'; // on k1
/** k1's podCIDR is the second /24 (node order n1, k1); cni0 holds its first address */
const K1_POD_CIDR = '10.236.1.0/24';
const K1_GATEWAY = '10.236.1.1';

const TOPOLOGY = `
cluster:
  clusterCIDR: 10.236.0.0/16
  serviceCIDR: 10.92.0.0/16
  underlayCIDR: 172.31.246.0/24
  underlay: bridge
  overlay: vxlan
  dns: false
nodes:
  - name: n1
    pods:
      - { name: kss-web1, labels: { app: web } }
  - name: k1
    dataplane: kernel
    pods:
      - { name: kss-web2, labels: { app: web, self: "yes" } }
      - kss-client
services:
  - name: web
    type: NodePort
    selector: { app: web }
    ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }]
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
});

describe.skipIf(!isRoot)('kernel node Services: kube-proxy nftables rules (root)', () => {
  let lab: RunningLab;
  let st: StatusJson;
  let dir: string;
  let servers: ChildProcess[] = [];
  const svc = (name: string) => st.services.find((s) => s.name === name)!;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-kss-'));
    lab = await startLab(TOPOLOGY, { name: LAB });
    st = await lab.status();
    servers = await startPodServers(WEB, { clientAddress: true });
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(await hostLeftovers([`pw-${LAB}`, 'pw-node-kss', 'pw-ul-kss'])).toEqual({ namespaces: [], links: [] });
  });

  it('the kernel node holds table ip kube-proxy: services map, hooks, per-Service chains', async () => {
    const r = await execIn(NODE_NS, ['nft', 'list', 'ruleset']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('table ip kube-proxy');
    expect(r.stdout).toContain('type nat hook prerouting priority dstnat');
    expect(r.stdout).toMatch(new RegExp(`${svc('web').clusterIP.replace(/\./g, '\\.')} \\. tcp \\. 80 : goto service-[A-Z2-7]{8}-default/web/tcp/80`));
    expect(r.stdout).toMatch(/numgen random mod 2 vmap/);
    expect(r.stdout).toContain('tcp . 30080 : goto external-');
  });

  it('30 requests from a kernel-node pod to the ClusterIP: all answered, by both backends (same node and across VXLAN), client address kept', async () => {
    const got = await httpAnswers(`pw-${CLIENT}`, svc('web').clusterIP, 80, 30);
    expect(got).toHaveLength(30);
    const clientIp = st.pods.find((p) => p.name === CLIENT)!.ip;
    expect(new Set(got.map((l) => l.split(' ')[0]))).toEqual(new Set(WEB));
    for (const line of got) expect(line.split(' ')[1]).toBe(clientIp); // pod-to-ClusterIP is not masqueraded
  });

  it('a Service without endpoints: TCP refused at once (reset), UDP port unreachable', async () => {
    for (const [port, proto] of [[80, 'tcp'], [53, 'udp']] as const) {
      const { result, seconds } = await connectOutcome(`pw-${CLIENT}`, svc('empty').clusterIP, port, proto);
      expect(result, proto).toBe('refused');
      expect(seconds, `${proto} refused after`).toBeLessThan(1);
    }
  });

  it('sessionAffinity ClientIP sticks; hairpin (a pod through its own Service) is masqueraded to the gateway', async () => {
    const sticky = await httpAnswers(`pw-${CLIENT}`, svc('sticky').clusterIP, 80, 10);
    expect(new Set(sticky).size).toBe(1);
    const hair = await httpAnswers('pw-kss-web2', svc('self').clusterIP, 80, 3);
    expect(hair).toEqual(Array(3).fill(`kss-web2 ${K1_GATEWAY}`));
  });

  it('NodePort from the kernel node itself (nat-output, external chain): answered by both backends', async () => {
    const r = await execIn(NODE_NS, ['nft', 'list', 'set', 'ip', 'kube-proxy', 'nodeport-ips']);
    const address = /elements = \{ ([\d.]+)/.exec(r.stdout)?.[1];
    expect(address, r.stdout).toMatch(/^172\.31\.246\./);
    const got = await httpAnswers(NODE_NS, address!, 30080, 12);
    expect(new Set(got.map((l) => l.split(' ')[0]))).toEqual(new Set(WEB));
  });

  it('podwire apply: the kernel node\'s table is rewritten (a new Service works, a deleted one is gone)', async () => {
    const f = join(dir, 'more.yaml');
    writeFileSync(f, 'services:\n  - name: more\n    selector: { app: web }\n    ports: [{ port: 8081, targetPort: 8080 }]\n');
    const r = await podwire(['apply', f, '--name', LAB]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    st = await lab.status();
    const vip = svc('more').clusterIP;
    // the kernel nodes are re-synced in the background right after the apply: give it a moment
    const end = Date.now() + 10_000;
    let table = '';
    while (Date.now() < end) {
      table = (await execIn(NODE_NS, ['nft', 'list', 'map', 'ip', 'kube-proxy', 'service-ips'])).stdout;
      if (table.includes(`${vip} . tcp . 8081`)) break;
      await sleep(50);
    }
    expect(table).toContain(`${vip} . tcp . 8081`);
    const got = await httpAnswers(`pw-${CLIENT}`, vip, 8081, 6);
    expect(got.every((l) => WEB.includes(l.split(' ')[0]))).toBe(true);

    const d = await podwire(['delete', 'service', 'more', '--name', LAB]);
    expect(d.code, d.stderr + d.stdout).toBe(0);
    const end2 = Date.now() + 10_000;
    while (Date.now() < end2) {
      table = (await execIn(NODE_NS, ['nft', 'list', 'map', 'ip', 'kube-proxy', 'service-ips'])).stdout;
      if (!table.includes(`${vip} . tcp . 8081`)) break;
      await sleep(50);
    }
    expect(table).not.toContain(`${vip} . tcp . 8081`);
  });

  // last: it replaces k1's table with a hand-made one
  it('without br_netfilter, a same-node backend is reached only thanks to the fallback masquerade (ct status dnat)', async () => {
    const web2 = st.pods.find((p) => p.name === 'kss-web2')!.ip;
    expect(web2.startsWith('10.236.1.')).toBe(true);
    const off = await execIn(NODE_NS, ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0']);
    expect(off.code, off.stderr).toBe(0);
    const self = { vip: svc('self').clusterIP, port: 80, proto: 'tcp' as const, service: 'default/self', backends: [{ ip: web2, port: 8080 }] };
    await applyKernelServices(NODE_NS, nftRules([self], { clusterCIDR: '10.236.0.0/16', podCIDR: K1_POD_CIDR, serviceCIDR: '10.92.0.0/16', brNetfilter: false }));
    // the backend's reply is bridged straight to the client unless the flow is masqueraded: it is, to the gateway
    expect(await httpAnswers(`pw-${CLIENT}`, self.vip, 80, 3)).toEqual(Array(3).fill(`kss-web2 ${K1_GATEWAY}`));
  });
});
