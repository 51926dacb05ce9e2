// End-to-end, as root: `podwire stats / fdb / routes / services` and the
// Prometheus endpoint of a running two-node vxlan lab (`up --metrics`).
// After a ping across the nodes: stats counts rx packets on the pod's port,
// fdb holds the pod's MAC on its port, routes holds both pod CIDRs (the
// remote one through vxlan to n2) and the neighbours, services lists the
// Service's frontend with its two backends, and /metrics carries the same
// counters stats prints.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { startLab, stopAllLabs, isRoot, podwire, PODWIRE, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { ping } from '../helpers/traffic.ts';
import type { StatsJson, FdbEntryJson, NodeRoutesJson, ServiceFrontendJson } from '../../src/lab/table-control.ts';

if (!isRoot) console.warn('test/e2e/stats.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'pwst';
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.232.0.0/16',
  '  serviceCIDR: 10.88.0.0/16',
  '  underlayCIDR: 172.31.232.0/24',
  '  overlay: vxlan',
  '  dns: false',
  'nodes:',
  '  - name: n1',
  '    pods: [pwst-a1, { name: pwst-a2, labels: { app: web } }]',
  '  - name: n2',
  '    pods: [{ name: pwst-b1, labels: { app: web } }]',
  'services:',
  '  - name: web',
  '    selector: { app: web }',
  '    ports: [{ port: 80, targetPort: 8080 }]',
  '',
].join('\n');

/** A port nothing listens on now (the kernel's choice), for --metrics. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as AddressInfo; s.close(() => resolve(port)); });
  });
}

async function cli<T>(args: string[]): Promise<T> {
  const r = await podwire([...args, '--name', LAB, '--json'], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`podwire ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('stats, fdb, routes, services and /metrics of a running lab (root)', () => {
  let lab: RunningLab;
  let status: StatusJson;
  let metricsPort: number;
  const pod = (name: string) => status.pods.find((p) => p.name === name)!;

  beforeAll(async () => {
    metricsPort = await freePort();
    lab = await startLab(TOPOLOGY, { name: LAB, extraArgs: ['--metrics', String(metricsPort)] });
    status = await lab.status();
    const r = await ping('pw-pwst-a1', pod('pwst-b1').ip, 3);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('stats --json: rx packets on the pinging pod\'s port, named after it; every drop reason listed', async () => {
    const s = await cli<StatsJson>(['stats']);
    expect(s.lab).toBe(LAB);
    expect(s.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    const n1 = s.nodes[0];
    const a1 = n1.ports.find((p) => p.name === 'pwst-a1')!;
    expect(a1).toMatchObject({ port: pod('pwst-a1').port, kind: 'pod' });
    expect(a1.rx_packets).toBeGreaterThanOrEqual(3);
    expect(n1.ports.find((p) => p.kind === 'underlay')!.tx_packets).toBeGreaterThanOrEqual(3);
    expect(n1.drops).toHaveProperty('no_route');
    expect(n1.events.vxlan_encap).toBeGreaterThanOrEqual(3);
  });

  it('stats --node n2 (text) prints only n2; an unknown node is an error naming the nodes', async () => {
    const r = await podwire(['stats', '--name', LAB, '--node', 'n2'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^node n2 /m);
    expect(r.stdout).not.toMatch(/^node n1 /m);
    expect(r.stdout).toMatch(/pwst-b1/);
    const bad = await podwire(['stats', '--name', LAB, '--node', 'n9'], { timeoutMs: 20_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no podwire node "n9".*n1, n2/);
  });

  it('stats --watch --json prints one snapshot per interval, rates from the second on, and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [PODWIRE, 'stats', '--name', LAB, '--json', '--watch', '0.5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const deadline = Date.now() + 15_000;
    while (out.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StatsJson & { rates?: { seconds: number } });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0].rates).toBeUndefined();
    expect(lines[1].rates!.seconds).toBeGreaterThan(0.3);
  });

  it('fdb --json: each pod\'s MAC, pinned on its port', async () => {
    const fdb = await cli<FdbEntryJson[]>(['fdb']);
    const a1 = fdb.find((e) => e.mac === pod('pwst-a1').mac);
    expect(a1).toMatchObject({ node: 'n1', port: pod('pwst-a1').port, portName: 'pwst-a1', static: true });
    expect(fdb.find((e) => e.mac === pod('pwst-b1').mac)).toMatchObject({ node: 'n2', portName: 'pwst-b1' });
  });

  it('routes --json: the node\'s own pod CIDR local, the other\'s through vxlan to n2; neighbours by address', async () => {
    const routes = await cli<NodeRoutesJson[]>(['routes']);
    const n1 = routes.find((r) => r.node === 'n1')!;
    const podCidr = (node: string) => status.nodes.find((n) => n.name === node)!.podCIDR;
    expect(n1.routes).toContainEqual({ cidr: podCidr('n1'), kind: 'local' });
    expect(n1.routes).toContainEqual(expect.objectContaining({ cidr: podCidr('n2'), kind: 'vxlan', via: 'n2' }));
    expect(n1.neighbors).toContainEqual({ ip: pod('pwst-a1').ip, mac: pod('pwst-a1').mac, owner: 'pod pwst-a1' });
    expect(n1.neighbors.some((n) => n.owner === 'node n2')).toBe(true);
    const only = await cli<NodeRoutesJson[]>(['routes', '--node', 'n2']);
    expect(only.map((r) => r.node)).toEqual(['n2']);
  });

  it('services --json: the Service\'s frontend on every node with its two backends, named', async () => {
    const services = await cli<ServiceFrontendJson[]>(['services']);
    const web = status.services.find((s) => s.name === 'web')!;
    for (const node of ['n1', 'n2']) {
      const f = services.find((s) => s.node === node && s.vip === web.clusterIP && s.port === 80)!;
      expect(f).toMatchObject({ proto: 'tcp', service: 'default/web', masquerade: false, maglev: false });
      expect(f.backends).toEqual(expect.arrayContaining([
        { ip: pod('pwst-a2').ip, port: 8080, pod: 'pwst-a2' },
        { ip: pod('pwst-b1').ip, port: 8080, pod: 'pwst-b1' },
      ]));
      expect(f.backends).toHaveLength(2);
    }
  });

  it('GET /metrics on 127.0.0.1 has the counters stats prints; other paths are 404', async () => {
    const url = `http://127.0.0.1:${metricsPort}`;
    // traffic between the two reads would change the counters: read until two stats snapshots agree around one scrape
    let matched = false;
    for (let i = 0; i < 5 && !matched; i++) {
      const before = await cli<StatsJson>(['stats']);
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const after = await cli<StatsJson>(['stats']);
      if (JSON.stringify(before.nodes) !== JSON.stringify(after.nodes)) continue;
      for (const n of after.nodes) {
        for (const p of n.ports) {
          expect(text).toContain(`podwire_port_receive_packets_total{node="${n.name}",port="${p.name}"} ${p.rx_packets}\n`);
          expect(text).toContain(`podwire_port_transmit_bytes_total{node="${n.name}",port="${p.name}"} ${p.tx_bytes}\n`);
        }
        for (const [reason, v] of Object.entries(n.drops)) expect(text).toContain(`podwire_drops_total{node="${n.name}",reason="${reason}"} ${v}\n`);
        expect(text).toContain(`podwire_events_total{node="${n.name}",event="vxlan_encap"} ${n.events.vxlan_encap}\n`);
        expect(text).toContain(`podwire_fdb_entries{node="${n.name}"} ${n.fdbEntries}\n`);
      }
      matched = true;
    }
    expect(matched, 'counters kept changing between reads').toBe(true);
    expect((await fetch(`${url}/`)).status).toBe(404);
  });
});
