// End-to-end, as root: changing a running lab's Services with `podwire apply`
// and `podwire delete service`, and reading its connection table with
// `podwire conntrack`. One node: web pods (app: web) behind Service web;
// udp-1/udp-2 answer UDP for a selector-less Service given endpoints by an
// EndpointSlice. A new Service applied live is reachable at once and listed
// by status; an invalid file changes nothing (named document and field);
// conntrack shows the ClusterIP flow with the backend in its reply tuple;
// removing the backend a UDP flow uses moves that same flow (same 5-tuple)
// to the other backend (the conntrack flush kube-proxy does); an endpoint
// removed while iperf3 runs to another one leaves that transfer undisturbed.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, stopAllLabs, hostLeftovers, isRoot, podwire, spawnIn, sleep, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { PYTHON } from '../helpers/traffic.ts';
import { startPodServers, killAll } from '../helpers/pod-servers.ts';

if (!isRoot) console.warn('test/e2e/apply.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'apl';
const SERVERS = ['apl-web1', 'apl-web2', 'apl-udp1', 'apl-udp2'];
const CLIENT = 'apl-client';
const PODS = [...SERVERS, CLIENT];

const TOPOLOGY = `
cluster:
  clusterCIDR: 10.238.0.0/16
  serviceCIDR: 10.94.0.0/16
  underlayCIDR: 172.31.248.0/24
nodes:
  - name: n1
    pods:
      - { name: apl-web1, labels: { app: web } }
      - { name: apl-web2, labels: { app: web } }
      - apl-udp1
      - apl-udp2
      - apl-client
services:
  - name: web
    selector: { app: web }
    ports: [{ port: 80, targetPort: 8080 }]
`;

// One datagram from a fixed source port (the same flow every run); prints who answered.
const UDP_ONCE_PY = String.raw`
import socket, sys
vip, port, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', sport))
s.settimeout(2)
s.connect((vip, port))
s.send(b'who')
print(s.recv(2048).decode())
`;

// An EndpointSlice giving Service `service` these ready endpoints on `port`.
const endpointSlice = (service: string, port: number, protocol: string, ips: string[]) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-1
  labels: { kubernetes.io/service-name: ${service} }
addressType: IPv4
ports: [{ port: ${port}, protocol: ${protocol} }]
endpoints:
${ips.map((ip) => `  - addresses: [${ip}]\n    conditions: { ready: true }`).join('\n')}
`;

const echoManifests = (ips: string[]) => `
apiVersion: v1
kind: Service
metadata: { name: echo }
spec:
  clusterIPs: [10.94.0.53]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  ports: [{ port: 53, protocol: UDP }]
---
${endpointSlice('echo', 5353, 'UDP', ips)}`;

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('podwire apply / delete service / conntrack on a running lab (root)', () => {
  let lab: RunningLab;
  let before: StatusJson;
  let dir: string;
  let servers: ChildProcess[] = [];
  const ipOf = (pod: string) => before.pods.find((p) => p.name === pod)!.ip;
  const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };
  const curl = (ip: string, port = 80) => lab.exec(`pw-${CLIENT}`, ['curl', '-s', '--max-time', '3', `http://${ip}:${port}/`], { timeoutMs: 10_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-apply-'));
    lab = await startLab(TOPOLOGY, { name: LAB });
    before = await lab.status();
    servers = await startPodServers(SERVERS);
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('apply a new Service: "created", reachable at once, listed by status; web keeps its ClusterIP', async () => {
    const f = file('api.yaml', 'apiVersion: v1\nkind: Service\nmetadata: { name: api }\nspec:\n  selector: { app: web }\n  ports: [{ port: 8081, targetPort: 8080 }]\n');
    const r = await podwire(['apply', f, '--name', LAB]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('service/api created');
    const s = await lab.status();
    const web = s.services.find((x) => x.name === 'web')!;
    const api = s.services.find((x) => x.name === 'api')!;
    expect(web.clusterIP).toBe(before.services.find((x) => x.name === 'web')!.clusterIP);
    expect(api.clusterIP.startsWith('10.94.')).toBe(true);
    expect(api.endpoints.map((e) => e.pod)).toEqual(['apl-web1', 'apl-web2']);
    const c = await curl(api.clusterIP, 8081);
    expect(c.code, c.stderr).toBe(0);
    expect(['apl-web1', 'apl-web2']).toContain(c.stdout.trim());
    // the same file again: unchanged
    const again = await podwire(['apply', '-f', f, '--name', LAB]);
    expect(again.stdout.trim()).toBe('service/api unchanged');
  });

  it('an invalid file: non-zero exit naming document and field; the lab unchanged, traffic still flows', async () => {
    const s0 = await lab.status();
    const bad = file('bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata: { name: ok }\nspec: { ports: [{ port: 80 }] }\n---\n'
      + 'apiVersion: v1\nkind: Service\nmetadata: { name: api }\nspec: { ports: [{ port: eighty }] }\n');
    const r = await podwire(['apply', bad, '--name', LAB]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('document 2 (Service api): spec.ports[0].port: "eighty" is not an integer in [1, 65535]');
    // valid on its own, refused against the lab: the ClusterIP is web's
    const web = s0.services.find((x) => x.name === 'web')!;
    const clash = file('clash.yaml', `apiVersion: v1\nkind: Service\nmetadata: { name: ok }\nspec: { ports: [{ port: 80 }] }\n---\napiVersion: v1\nkind: Service\nmetadata: { name: x }\nspec: { clusterIP: ${web.clusterIP}, ports: [{ port: 80 }] }\n`);
    const r2 = await podwire(['apply', clash, '--name', LAB]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain(`document 2 (Service x): clusterIP ${web.clusterIP} is already the clusterIP of service web`);
    expect((await lab.status()).services).toEqual(s0.services); // service "ok" was not half-applied
    const c = await curl(web.clusterIP);
    expect(c.code, c.stderr).toBe(0);
  });

  it('conntrack --json: the ClusterIP flow, the backend in its reply tuple; plain output like conntrack -L', async () => {
    const web = before.services.find((x) => x.name === 'web')!;
    expect((await curl(web.clusterIP)).code).toBe(0);
    const r = await podwire(['conntrack', '--json', '--name', LAB]);
    expect(r.code, r.stderr).toBe(0);
    const entries = JSON.parse(r.stdout) as { node: string; proto: string; state: string; timeoutSeconds: number; orig: { src: string; dst: string; sport: number; dport: number }; reply: { src: string; dst: string; sport: number; dport: number }; assured: boolean; seenReply: boolean }[];
    const flow = entries.find((e) => e.proto === 'tcp' && e.orig.dst === web.clusterIP && e.orig.dport === 80 && e.orig.src === ipOf(CLIENT));
    expect(flow, JSON.stringify(entries)).toBeDefined();
    expect(flow!.node).toBe('n1');
    expect([ipOf('apl-web1'), ipOf('apl-web2')]).toContain(flow!.reply.src);
    expect(flow!.reply).toMatchObject({ sport: 8080, dst: ipOf(CLIENT), dport: flow!.orig.sport });
    expect(flow!.seenReply).toBe(true);
    const plain = await podwire(['conntrack', '--name', LAB, '--node', 'n1']);
    expect(plain.stdout).toMatch(new RegExp(`^tcp {6}6 \\d+ [A-Z_]+ src=${ipOf(CLIENT).replace(/\./g, '\\.')} dst=${web.clusterIP.replace(/\./g, '\\.')} sport=\\d+ dport=80 src=10\\.238\\.0\\.\\d+ dst=\\S+ sport=8080 dport=\\d+ .*mark=0 use=1$`, 'm'));
    expect(plain.stdout).toMatch(/^conntrack v1\.4 \(podwire\): \d+ flow entries have been shown\.$/m);
  });

  it('UDP failover: removing the backend a flow uses moves the same flow to the other backend', async () => {
    const both = [ipOf('apl-udp1'), ipOf('apl-udp2')];
    const r = await podwire(['apply', file('echo.yaml', echoManifests(both)), '--name', LAB]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('service/echo created');
    const send = async () => {
      const x = await lab.exec(`pw-${CLIENT}`, [PYTHON, '-c', UDP_ONCE_PY, '10.94.0.53', '53', '40555'], { timeoutMs: 10_000 });
      expect(x.code, x.stderr).toBe(0);
      return x.stdout.trim();
    };
    const first = await send();
    expect(['apl-udp1', 'apl-udp2']).toContain(first);
    expect(await send()).toBe(first); // the same flow stays on its backend
    const other = first === 'apl-udp1' ? 'apl-udp2' : 'apl-udp1';
    const r2 = await podwire(['apply', file('echo2.yaml', echoManifests([ipOf(other)])), '--name', LAB]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout.trim()).toBe('service/echo configured');
    expect(await send()).toBe(other);
  });

  it('endpoint churn under a running iperf3: removing another endpoint does not disturb it', async () => {
    // ClientIP affinity keeps iperf3's control and data connections on one backend
    const bulk = (ips: string[]) => `
apiVersion: v1
kind: Service
metadata: { name: bulk }
spec:
  clusterIP: 10.94.0.52
  sessionAffinity: ClientIP
  ports: [{ port: 5201, protocol: TCP }]
---
${endpointSlice('bulk', 5201, 'TCP', ips)}`;
    const pods = ['apl-web1', 'apl-web2'];
    expect((await podwire(['apply', file('bulk.yaml', bulk(pods.map(ipOf))), '--name', LAB])).code).toBe(0);
    const iperfServers = pods.map((p) => spawnIn(`pw-${p}`, ['iperf3', '-s', '-1', '-p', '5201']));
    try {
      await sleep(300);
      const run = lab.exec(`pw-${CLIENT}`, ['iperf3', '-c', '10.94.0.52', '-t', '4', '-i', '0.5', '-J'], { timeoutMs: 30_000 });
      await sleep(1500);
      const ct = await podwire(['conntrack', '--json', '--name', LAB]);
      const flows = (JSON.parse(ct.stdout) as { orig: { dst: string; dport: number }; reply: { src: string } }[])
        .filter((e) => e.orig.dst === '10.94.0.52' && e.orig.dport === 5201);
      expect(flows.length).toBeGreaterThanOrEqual(2); // control and data connections
      const used = new Set(flows.map((e) => e.reply.src));
      expect(used.size).toBe(1);
      const [usedIp] = used;
      const r = await podwire(['apply', file('bulk2.yaml', bulk([usedIp])), '--name', LAB]);
      expect(r.stdout.trim()).toBe('service/bulk configured');
      const res = await run;
      expect(res.code, res.stderr).toBe(0);
      const j = JSON.parse(res.stdout) as { error?: string; intervals: { sum: { bytes: number } }[]; end: { sum_received: { bytes: number } } };
      expect(j.error).toBeUndefined();
      expect(j.end.sum_received.bytes).toBeGreaterThan(0);
      // every half second moved data, also after the change
      expect(j.intervals.map((i) => i.sum.bytes).filter((b) => b === 0)).toEqual([]);
    } finally {
      killAll(iperfServers);
    }
  });

  it('delete service: gone from status; unknown names refused', async () => {
    const r = await podwire(['delete', 'service', 'api', '--name', LAB]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('service "api" deleted');
    expect((await lab.status()).services.map((s) => s.name)).not.toContain('api');
    const r2 = await podwire(['delete', 'service', 'api', '--name', LAB]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain('services "api" not found');
  });

  it('SIGTERM: exits 0 and leaves no namespace or link behind', async () => {
    killAll(servers);
    const pid = lab.proc.pid!;
    expect(await lab.stop()).toBe(0);
    expect(await hostLeftovers([...PODS.map((p) => `pw-${p}`), `pw-${pid}-`])).toEqual({ namespaces: [], links: [] });
  });
});
