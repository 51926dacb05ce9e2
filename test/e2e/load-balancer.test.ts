// End-to-end, as root: LoadBalancer addresses reached from a host outside the
// cluster, as MetalLB's layer-2 mode serves them. The topology's `external:`
// host (namespace pw-lbx-laptop, on the underlay bridge with an address of
// underlayCIDR) curls Services whose addresses come from
// cluster.loadBalancerPool. The Linux kernel is the oracle: the laptop's own
// ARP resolves each address, and tshark on the underlay bridge counts who
// answers (exactly one node's MAC per address) and sees the gratuitous ARP a
// node sends when it takes an address (`podwire apply`). With
// externalTrafficPolicy Local the backend sees the laptop's address, and the
// only eligible announcer is a node with a local endpoint: for `kweb` that
// is the kernel node k1, whose kernel answers ARP and whose nftables rules
// (kube-proxy's) translate. The laptop has no route to pods.
// A second lab, one podwire node on the default (in-process) underlay: its
// external host still gets a bridge to sit on, and the node a port on it.
// Names: labs lbx and lbs, pods lbx-* / lbs-*, clusters 10.236/16 and 10.235/16,
// Services 10.92/16, underlays 172.31.246.0/24 and 172.31.245.0/24.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startLab, stopAllLabs, isRoot, podwire, execIn, hostLeftovers, type RunningLab } from '../helpers/lab.ts';
import { startPodServers, killAll, httpAnswers, tally } from '../helpers/pod-servers.ts';
import { capture } from '../helpers/capture.ts';
import { macForIp } from '../../src/model/addr.ts';

if (!isRoot) console.warn('test/e2e/load-balancer.test.ts: skipped — needs root (creates network namespaces, TAPs and a bridge); run as root (CI is root)');

const LAB = 'lbx';
const LAPTOP = 'pw-lbx-laptop';
const UL = '172.31.246';
// node order n1, n2, k1: underlay addresses .1 .2 .3; the laptop the next one
const NODE_IP: Record<string, string> = { n1: `${UL}.1`, n2: `${UL}.2`, k1: `${UL}.3` };
const LAPTOP_IP = `${UL}.4`;
const WEB = ['lbx-web1', 'lbx-web2', 'lbx-web3'];

const TOPOLOGY = `
cluster:
  clusterCIDR: 10.236.0.0/16
  serviceCIDR: 10.92.0.0/16
  underlayCIDR: ${UL}.0/24
  loadBalancerPool: ${UL}.200/29
  overlay: vxlan
  dns: false
external:
  - name: lbx-laptop
nodes:
  - name: n1
    pods: [{ name: lbx-web1, labels: { app: web, local: "yes" } }]
  - name: n2
    pods: [{ name: lbx-web2, labels: { app: web, side: two } }]
  - name: k1
    dataplane: kernel
    pods: [{ name: lbx-web3, labels: { app: kweb } }]
services:
  - name: web
    type: LoadBalancer
    selector: { app: web }
    ports: [{ port: 80, targetPort: 8080 }]
  - name: web-local
    type: LoadBalancer
    externalTrafficPolicy: Local
    selector: { local: "yes" }
    ports: [{ port: 80, targetPort: 8080 }]
  - name: kweb
    type: LoadBalancer
    externalTrafficPolicy: Local
    selector: { app: kweb }
    ports: [{ port: 80, targetPort: 8080 }]
`;

interface LbStatus { name: string; status?: { loadBalancer: { ingress?: { ip: string }[] }; pending?: string; announcedBy?: string } }

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('LoadBalancer addresses from a host outside the cluster (root)', () => {
  let lab: RunningLab;
  let servers: ChildProcess[] = [];
  let services: LbStatus[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pw-lbx-'));
  const lbIp = (name: string) => services.find((s) => s.name === name)!.status!.loadBalancer.ingress![0].ip;
  const announcer = (name: string) => services.find((s) => s.name === name)!.status!.announcedBy!;

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    services = (await lab.status()).services as LbStatus[];
    servers = await startPodServers(WEB, { clientAddress: true });
  }, 90_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pool addresses in order, shown the Kubernetes way; the laptop is listed with its address', async () => {
    expect(services.map((s) => [s.name, s.status?.loadBalancer.ingress?.[0].ip])).toEqual([
      ['web', `${UL}.200`], ['web-local', `${UL}.201`], ['kweb', `${UL}.202`],
    ]);
    // Local: only a node with a ready local endpoint may announce (MetalLB's rule)
    expect(announcer('web-local')).toBe('n1');
    expect(announcer('kweb')).toBe('k1');
    const st = (await lab.status()) as unknown as { external: { name: string; netns: string; ip: string }[] };
    expect(st.external.map((h) => [h.netns, h.ip])).toEqual([[LAPTOP, LAPTOP_IP]]);
    const text = await podwire(['status', '--name', LAB]);
    expect(text.stdout).toMatch(/EXTERNAL-IP/);
    expect(text.stdout).toMatch(new RegExp(`web-local\\s+LoadBalancer\\s+\\S+\\s+${UL}\\.201`));
    expect(text.stdout).toContain(LAPTOP);
  });

  it('ETP Cluster: the laptop reaches the address; both backends answer, the client masqueraded', async () => {
    const got = await httpAnswers(LAPTOP, lbIp('web'), 80, 12);
    const t = tally(got.map((l) => l.split(' ')[0]));
    expect(Object.keys(t).sort()).toEqual(['lbx-web1', 'lbx-web2']);
    for (const line of got) expect(line.split(' ')[1]).not.toBe(LAPTOP_IP);
  });

  it('ETP Local: the backend sees the laptop\'s own address (podwire node n1, and kernel node k1)', async () => {
    for (const [svc, pod] of [['web-local', 'lbx-web1'], ['kweb', 'lbx-web3']]) {
      const got = await httpAnswers(LAPTOP, lbIp(svc), 80, 4);
      expect(got, svc).toEqual(Array(4).fill(`${pod} ${LAPTOP_IP}`));
    }
  });

  it('ARP for each address is answered by exactly one node: the announcing one (tshark on the underlay bridge)', async () => {
    const ips = ['web', 'web-local', 'kweb'].map(lbIp);
    const rows = await capture({
      ns: `pw-ul-${LAB}`, filter: 'arp', count: 200, seconds: 6,
      fields: ['arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4'],
    }, async () => {
      // the laptop's kernel forgets and asks again
      await execIn(LAPTOP, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      for (const ip of ips) await execIn(LAPTOP, ['curl', '-s', '-m', '2', '-o', '/dev/null', `http://${ip}/`]);
    });
    for (const name of ['web', 'web-local', 'kweb']) {
      const ip = lbIp(name);
      const asked = rows.filter((r) => r[0] === '1' && r[2] === LAPTOP_IP && r[3] === ip);
      const repliers = new Set(rows.filter((r) => r[0] === '2' && r[2] === ip).map((r) => r[1]));
      expect(asked.length, `${name}: the laptop asked for ${ip}`).toBeGreaterThan(0);
      expect([...repliers], `${name} ${ip}: answered by`).toEqual([macForIp(NODE_IP[announcer(name)])]);
    }
  });

  it('podwire apply of a new LoadBalancer Service: the next address, a gratuitous ARP from its node, then reachable', async () => {
    const file = join(dir, 'late.yaml');
    writeFileSync(file, 'services:\n  - { name: late, type: LoadBalancer, selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }\n');
    const ip = `${UL}.203`;
    let applied = 0;
    const rows = await capture({
      ns: `pw-ul-${LAB}`, filter: `arp host ${ip}`, count: 1, seconds: 10,
      fields: ['arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4', 'eth.dst'],
    }, async () => {
      // apply, and if tshark was not listening yet, delete and apply again (the address moves back: announced anew)
      if (applied++ > 0) expect((await podwire(['delete', 'service', 'late', '--name', LAB])).code).toBe(0);
      const r = await podwire(['apply', '-f', file, '--name', LAB]);
      expect(r.code, r.stderr).toBe(0);
      await new Promise((res) => setTimeout(res, 1000));
    });
    services = (await lab.status()).services as LbStatus[];
    expect(lbIp('late')).toBe(ip);
    const mac = macForIp(NODE_IP[announcer('late')]);
    expect(rows).toEqual([['1', mac, ip, ip, 'ff:ff:ff:ff:ff:ff']]);
    const got = await httpAnswers(LAPTOP, ip, 80, 4);
    expect(got.length).toBe(4);
  });

  it('apply moves a Local Service\'s only endpoint to n2: n2 takes the address with a gratuitous ARP, the laptop\'s kernel follows', async () => {
    const ip = lbIp('web-local');
    // the laptop knows n1's MAC for the address
    expect((await httpAnswers(LAPTOP, ip, 80, 1))[0]).toBe(`lbx-web1 ${LAPTOP_IP}`);
    const file = join(dir, 'local-two.yaml');
    writeFileSync(file, 'services:\n  - { name: web-local, type: LoadBalancer, externalTrafficPolicy: Local, selector: { side: two }, ports: [{ port: 80, targetPort: 8080 }] }\n');
    const n2Mac = macForIp(NODE_IP.n2);
    let applied = 0;
    const rows = await capture({
      ns: `pw-ul-${LAB}`, filter: `arp host ${ip}`, count: 1, seconds: 10,
      fields: ['arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4'],
    }, async () => {
      // applied once: the address moves once (a re-apply is unchanged); later rounds only wait
      if (applied++ === 0) {
        await new Promise((res) => setTimeout(res, 500)); // tshark says "Capturing on" a moment before it receives
        const r = await podwire(['apply', '-f', file, '--name', LAB]);
        expect(r.code, r.stderr).toBe(0);
      }
      await new Promise((res) => setTimeout(res, 500));
    });
    expect(rows).toEqual([['1', n2Mac, ip, ip]]);
    services = (await lab.status()).services as LbStatus[];
    expect(announcer('web-local')).toBe('n2');
    expect(lbIp('web-local'), 'the address stays').toBe(ip);
    // the Linux kernel on the laptop took the announcement: its neighbour entry now names n2
    const neigh = await execIn(LAPTOP, ['ip', 'neigh', 'show', ip]);
    expect(neigh.stdout).toContain(`lladdr ${n2Mac}`);
    expect(await httpAnswers(LAPTOP, ip, 80, 3)).toEqual(Array(3).fill(`lbx-web2 ${LAPTOP_IP}`));
  });

  it('a used-up pool leaves a Service pending, saying why; status shows <pending>', async () => {
    const file = join(dir, 'many.yaml');
    const names = ['p1', 'p2', 'p3', 'p4', 'p5'];
    writeFileSync(file, `services:\n${names.map((n) => `  - { name: ${n}, type: LoadBalancer, selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }\n`).join('')}`);
    const r = await podwire(['apply', '-f', file, '--name', LAB]);
    expect(r.code, r.stderr).toBe(0);
    services = (await lab.status()).services as LbStatus[];
    // 8 addresses: web, web-local, kweb, late, p1..p4; p5 waits
    expect(services.find((s) => s.name === 'p5')!.status).toEqual({
      loadBalancer: {}, pending: `cluster.loadBalancerPool ${UL}.200/29 has no free address left (8 addresses, all held)`,
    });
    const text = await podwire(['status', '--name', LAB]);
    expect(text.stdout).toMatch(/p5\s+LoadBalancer\s+\S+\s+<pending>/);
  });

  it('the laptop is outside the cluster: no route to a pod, while a node address answers', async () => {
    const pod = (await lab.status()).pods.find((p) => p.name === 'lbx-web1')!;
    const r = await execIn(LAPTOP, ['ping', '-c', '1', '-W', '1', pod.ip]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/Network is unreachable/);
    expect((await execIn(LAPTOP, ['ping', '-c', '1', '-W', '2', NODE_IP.k1])).code).toBe(0);
  });

  it('down removes the laptop\'s namespace with the rest', async () => {
    await lab.stop();
    const left = await hostLeftovers([LAPTOP, `pw-ul-${LAB}`, 'pw-lbx-']);
    expect(left.namespaces).toEqual([]);
  });
});

describe.skipIf(!isRoot)('one podwire node, default underlay: an external host still reaches a LoadBalancer address (root)', () => {
  const SOLO = `
cluster:
  clusterCIDR: 10.235.0.0/16
  serviceCIDR: 10.92.0.0/16
  underlayCIDR: 172.31.245.0/24
  loadBalancerPool: 172.31.245.240/30
  dns: false
external: [{ name: lbs-ext, address: 172.31.245.77 }]
nodes:
  - name: n1
    pods: [{ name: lbs-web, labels: { app: web } }]
services:
  - { name: web, type: LoadBalancer, selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
`;
  let lab: RunningLab;
  let servers: ChildProcess[] = [];

  beforeAll(async () => {
    lab = await startLab(SOLO, { name: 'lbs' });
    servers = await startPodServers(['lbs-web'], { clientAddress: true });
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
  });

  it('the bridge exists for the external host; the address answers, the client masqueraded to the node', async () => {
    const st = await lab.status();
    expect(st.cluster.underlayCIDR).toBe('172.31.245.0/24');
    const got = await httpAnswers('pw-lbs-ext', '172.31.245.240', 80, 3);
    expect(got).toEqual(Array(3).fill(`lbs-web ${st.nodes[0].gateway}`));
    // and the node's own address answers ping from outside, as on a LAN
    expect((await execIn('pw-lbs-ext', ['ping', '-c', '1', '-W', '2', '172.31.245.1'])).code).toBe(0);
  });
});
