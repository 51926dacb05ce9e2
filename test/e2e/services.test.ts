// End-to-end, as root: a ClusterIP Service in a running two-node lab (vxlan).
// Service web (port 80 -> targetPort 8080/TCP) selects three pods, one on the
// client's node and two on the other; each answers HTTP with its own name.
// From pod svc-client, 100 sequential requests to the ClusterIP all succeed
// and are answered by all three backends: n1 DNATs each new flow to a backend
// (service_dnat), routes it (locally or through the tunnel), and translates
// the replies back to the ClusterIP (service_undnat) — the client's socket,
// connected to the ClusterIP, would drop anything else. A UDP Service on the
// same pods does the same for datagrams. `podwire status` shows the Services.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { startLab, stopAllLabs, hostLeftovers, statusNode, isRoot, podwire, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { PYTHON } from '../helpers/traffic.ts';
import { startPodServers, killAll, httpRequests, tally } from '../helpers/pod-servers.ts';

if (!isRoot) console.warn('test/e2e/services.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'svc';
const WEB = ['svc-web1', 'svc-web2', 'svc-web3'];
const CLIENT = 'svc-client';
const PODS = [...WEB, CLIENT];
const SERVICE_NET = '10.95.'; // serviceCIDR 10.95.0.0/16

const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.239.0.0/16',
  '  serviceCIDR: 10.95.0.0/16',
  '  underlayCIDR: 172.31.249.0/24',
  '  overlay: vxlan',
  'nodes:',
  '  - name: n1',
  '    pods:',
  '      - { name: svc-web1, labels: { app: web } }',
  '      - svc-client',
  '  - name: n2',
  '    pods:',
  '      - { name: svc-web2, labels: { app: web } }',
  '      - { name: svc-web3, labels: { app: web } }',
  'services:',
  '  - name: web',
  '    selector: { app: web }',
  '    ports: [{ port: 80, targetPort: 8080, protocol: TCP }]',
  '  - name: echo',
  '    selector: { app: web }',
  '    ports: [{ port: 53, targetPort: 5353, protocol: UDP }]',
  '',
].join('\n');

// N datagrams, each from a new connected socket (a new flow); a reply must come from the ClusterIP.
const UDP_CLIENT_PY = String.raw`
import json, socket, sys
vip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
got, fails = {}, []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((vip, port))
    try:
        s.send(b'who')
        body = s.recv(2048).decode()
        got[body] = got.get(body, 0) + 1
    except Exception as e:
        fails.append(repr(e))
    s.close()
print(json.dumps({'got': got, 'fails': fails}))
`;

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('ClusterIP Services in a two-node vxlan lab (root)', () => {
  let lab: RunningLab;
  let before: StatusJson;
  let servers: ChildProcess[] = [];
  let web: StatusJson['services'][number];
  let echo: StatusJson['services'][number];

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    before = await lab.status();
    web = before.services.find((s) => s.name === 'web')!;
    echo = before.services.find((s) => s.name === 'echo')!;
    servers = await startPodServers(WEB);
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
  });

  it('status --json lists the Services: ClusterIPs in serviceCIDR, three ready endpoints each', () => {
    expect(before.services.map((s) => [s.namespace, s.name, s.type])).toEqual([['default', 'web', 'ClusterIP'], ['default', 'echo', 'ClusterIP'], ['kube-system', 'kube-dns', 'ClusterIP']]); // the cluster DNS's last (test/e2e/dns.test.ts)
    expect(before.services[0]).toBe(web);
    expect(web.clusterIP.startsWith(SERVICE_NET)).toBe(true);
    expect(echo.clusterIP.startsWith(SERVICE_NET)).toBe(true);
    expect(web.ports).toMatchObject([{ port: 80, targetPort: 8080, protocol: 'TCP' }]);
    expect(echo.ports).toMatchObject([{ port: 53, targetPort: 5353, protocol: 'UDP' }]);
    const ipOf = (p: string) => before.pods.find((x) => x.name === p)!.ip;
    const eps = WEB.map((p) => ({ pod: p, node: p === 'svc-web1' ? 'n1' : 'n2', ip: ipOf(p), ready: true }));
    expect(web.endpoints).toEqual(eps);
    expect(echo.endpoints).toEqual(eps);
  });

  it('curl http://<clusterIP>/ from pw-svc-client is answered by a web pod', async () => {
    const r = await lab.exec(`pw-${CLIENT}`, ['curl', '-s', '--max-time', '3', `http://${web.clusterIP}/`], { timeoutMs: 10_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(WEB).toContain(r.stdout.trim());
  });

  it('100 sequential requests to the ClusterIP all succeed, answered by all three backends', async () => {
    const { got: answers, fails } = await httpRequests(`pw-${CLIENT}`, web.clusterIP, 80, 100, { timeoutMs: 120_000 });
    expect(fails).toEqual([]);
    const got = tally(answers);
    expect(Object.keys(got).sort()).toEqual(WEB);
    expect(Object.values(got).reduce((a, b) => a + b, 0)).toBe(100);
    const s = await lab.status();
    const n1 = statusNode(s, 'n1');
    expect(n1.events.service_dnat - (statusNode(before, 'n1').events.service_dnat ?? 0)).toBeGreaterThanOrEqual(100);
    expect(n1.events.service_undnat).toBeGreaterThan(0);
    expect(n1.events.vxlan_encap).toBeGreaterThan(0); // backends on n2 were reached through the tunnel
    expect(n1.drops.service_no_endpoints ?? 0).toBe(0);
    expect(n1.drops.service_nat_failed ?? 0).toBe(0);
    // n2 only forwards: the translation (both ways) is n1's
    expect(statusNode(s, 'n2').events.service_dnat ?? 0).toBe(0);
  });

  it('UDP: 30 datagrams to the echo ClusterIP, each answered from the ClusterIP by a backend', async () => {
    const r = await lab.exec(`pw-${CLIENT}`, [PYTHON, '-c', UDP_CLIENT_PY, echo.clusterIP, '53', '30'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const { got, fails } = JSON.parse(r.stdout) as { got: Record<string, number>; fails: string[] };
    expect(fails).toEqual([]);
    expect(Object.values(got).reduce((a, b) => a + b, 0)).toBe(30);
    for (const name of Object.keys(got)) expect(WEB).toContain(name);
    expect(Object.keys(got).length).toBeGreaterThanOrEqual(2);
  });

  it('podwire status (text) prints the services table', async () => {
    const r = await podwire(['status', '--name', LAB], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^NAMESPACE\s+NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+ENDPOINTS$/m);
    expect(r.stdout).toMatch(new RegExp(`^default\\s+web\\s+ClusterIP\\s+${web.clusterIP.replace(/\./g, '\\.')}\\s+<none>\\s+80/TCP->8080\\s+\\S+`, 'm'));
  });

  it('SIGTERM: exits 0 and leaves no namespace, link or server behind', async () => {
    killAll(servers);
    const pid = lab.proc.pid!;
    expect(await lab.stop()).toBe(0);
    expect(await hostLeftovers([...PODS.map((p) => `pw-${p}`), `pw-${pid}-`])).toEqual({ namespaces: [], links: [] });
  });
});
