// End-to-end, as root: Kubernetes namespaces in a running two-node lab.
// Two pods named web, one in namespace a (n1) and one in b (n2), each with
// a TCP server on its named port http (8080) answering with its namespace;
// a Service web in namespace a selects app: web with targetPort http. From
// a client in default, every connection to the ClusterIP is answered by
// a/web (b/web, same labels, is reachable at its own address but is no
// endpoint). Each pod's resolv.conf searches its own namespace first, so
// the short name "web" resolves in a and not in b (glibc's getent as the
// resolver). trace takes NAMESPACE/NAME and NAME.NAMESPACE; status shows
// the namespace; `podwire apply` refuses a bad named targetPort and adds a
// Service in b that reaches only b/web. After SIGTERM nothing is left.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startLab, stopAllLabs, hostLeftovers, isRoot, podwire, spawnIn, sleep, type RunningLab, type StatusJson } from '../helpers/lab.ts';

if (!isRoot) console.warn('test/e2e/namespaces.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const PYTHON = '/usr/bin/python3';
const LAB = 'nsdemo';
const CLIENT = 'ns-client';
// the network namespaces podwire names: pw-<pod> in default, pw-<pod>_<namespace> elsewhere
const NETNS = { a: 'pw-web_a', b: 'pw-web_b', client: `pw-${CLIENT}` };

const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.238.0.0/16',
  '  serviceCIDR: 10.94.0.0/16',
  '  underlayCIDR: 172.31.246.0/24',
  'namespaces:',
  '  - { name: a, labels: { team: a } }',
  'nodes:',
  '  - name: n1',
  `    pods: [${CLIENT}, { name: web, namespace: a, labels: { app: web }, ports: [{ name: http, containerPort: 8080 }] }]`,
  '  - name: n2',
  '    pods: [{ name: web, namespace: b, labels: { app: web }, ports: [{ name: http, containerPort: 8080 }] }]',
  'services:',
  '  - { name: web, namespace: a, selector: { app: web }, ports: [{ port: 80, targetPort: http }] }',
  '',
].join('\n');

// a TCP server on 8080 that writes argv[1] and closes, until killed
const SERVER_PY = String.raw`
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 8080)); s.listen(16)
print('listening', flush=True)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[1].encode()); c.close()
`;
// N connections to host:port, one answer per line
const CLIENT_PY = String.raw`
import socket, sys
for _ in range(int(sys.argv[3])):
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    print(c.recv(64).decode(), flush=True); c.close()
`;

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('namespaces: web in a and in b, a Service in a (root)', () => {
  let lab: RunningLab;
  let status: StatusJson;
  const servers: ChildProcess[] = [];

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    status = await lab.status();
    for (const ns of ['a', 'b'] as const) {
      const p = spawnIn(NETNS[ns], [PYTHON, '-c', SERVER_PY, ns]);
      servers.push(p);
      await new Promise<void>((resolve, reject) => {
        p.stdout!.once('data', () => resolve());
        p.once('exit', (code) => reject(new Error(`server in ${NETNS[ns]} exited ${code}`)));
      });
    }
  }, 60_000);

  afterAll(() => {
    for (const p of servers) p.kill('SIGKILL');
  });

  it('status --json: both pods named web, each with its namespace and its own network namespace; the Service has only a/web', () => {
    expect((status as StatusJson & { namespaces: { name: string; labels: Record<string, string>; implicit?: boolean }[] }).namespaces).toEqual([
      { name: 'a', labels: { team: 'a', 'kubernetes.io/metadata.name': 'a' } },
      { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' }, implicit: true },
      { name: 'b', labels: { 'kubernetes.io/metadata.name': 'b' }, implicit: true },
      { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' }, implicit: true },
    ]);
    expect(status.pods.map((p) => [p.namespace, p.name, p.netns, p.node])).toEqual([
      ['default', CLIENT, NETNS.client, 'n1'], ['a', 'web', NETNS.a, 'n1'], ['b', 'web', NETNS.b, 'n2'],
    ]);
    const web = status.services.find((s) => s.namespace === 'a' && s.name === 'web')!;
    const aWeb = status.pods.find((p) => p.namespace === 'a')!;
    expect(web.ports).toEqual([{ port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(web.endpoints).toEqual([{ pod: 'web', node: 'n1', ip: aWeb.ip, ready: true, targetPorts: { 'http/TCP': 8080 } }]);
  });

  it('from default, every connection to the ClusterIP is answered by a/web; b/web answers at its own address', async () => {
    const web = status.services.find((s) => s.namespace === 'a' && s.name === 'web')!;
    const viaService = await lab.exec(NETNS.client, [PYTHON, '-c', CLIENT_PY, web.clusterIP, '80', '12'], { timeoutMs: 30_000 });
    expect(viaService.code, viaService.stderr).toBe(0);
    expect(viaService.stdout.trim().split('\n')).toEqual(Array(12).fill('a'));
    const bIp = status.pods.find((p) => p.namespace === 'b')!.ip;
    const direct = await lab.exec(NETNS.client, [PYTHON, '-c', CLIENT_PY, bIp, '8080', '1'], { timeoutMs: 30_000 });
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout.trim()).toBe('b');
  });

  it("each pod's resolv.conf searches its own namespace first; the short name web resolves in a, not in b", async () => {
    const search = (netns: string) => readFileSync(`/etc/netns/${netns}/resolv.conf`, 'utf8').split('\n').find((l) => l.startsWith('search '));
    expect(search(NETNS.a)).toBe('search a.svc.cluster.local svc.cluster.local cluster.local');
    expect(search(NETNS.b)).toBe('search b.svc.cluster.local svc.cluster.local cluster.local');
    expect(search(NETNS.client)).toBe('search default.svc.cluster.local svc.cluster.local cluster.local');
    const web = status.services.find((s) => s.namespace === 'a' && s.name === 'web')!;
    const inA = await lab.exec(NETNS.a, ['getent', 'hosts', 'web'], { timeoutMs: 15_000 });
    expect(inA.code, inA.stderr).toBe(0);
    expect(inA.stdout.trim().split(/\s+/)).toEqual([web.clusterIP, 'web.a.svc.cluster.local']);
    const inB = await lab.exec(NETNS.b, ['getent', 'hosts', 'web'], { timeoutMs: 15_000 });
    expect(inB.code).toBe(2);
  });

  it('trace names pods as NAMESPACE/NAME and NAME.NAMESPACE; status (text) shows the namespace', async () => {
    const r = await podwire(['trace', '--name', LAB, '--from', 'web.a', '--to', 'b/web', '--port', '8080', '--json'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as { from: { pod: string; node: string }; to: { pod?: string; ip: string } };
    expect(t.from).toMatchObject({ pod: 'a/web', node: 'n1' });
    expect(t.to).toMatchObject({ pod: 'b/web', ip: status.pods.find((p) => p.namespace === 'b')!.ip });
    const missing = await podwire(['trace', '--name', LAB, '--from', 'web', '--to', 'a/web', '--port', '8080'], { timeoutMs: 20_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no pod "web" in this lab (NAME for namespace default, NAMESPACE/NAME or NAME.NAMESPACE elsewhere)');
    const s = await podwire(['status', '--name', LAB], { timeoutMs: 20_000 });
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^\s*\d+\s+a\s+web\s+10\.238\.0\.\d+\s/m);
    expect(s.stdout).toMatch(/^\s*\d+\s+b\s+web\s+10\.238\.1\.\d+\s/m);
    expect(s.stdout).toMatch(/^a\s+web\s+ClusterIP\s+10\.94\.\d+\.\d+\s+<none>\s+80\/TCP->http\s+10\.238\.0\.\d+$/m);
  });

  it('podwire apply: a bad named targetPort is refused naming the document and field, the lab unchanged; a Service in b reaches only b/web', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-ns-apply-'));
    try {
      const svc = (targetPort: string) => `apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: b }\nspec: { selector: { app: web }, ports: [{ port: 80, targetPort: ${targetPort} }] }\n`;
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, svc('"http--x"'));
      const refused = await podwire(['apply', bad, '--name', LAB], { timeoutMs: 20_000 });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('document 1 (Service web): spec.ports[0].targetPort: "http--x" is neither a port number nor a valid port name');
      expect((await lab.status()).services).toEqual(status.services);
      const good = join(dir, 'good.yaml');
      writeFileSync(good, svc('http'));
      const applied = await podwire(['apply', good, '--name', LAB], { timeoutMs: 20_000 });
      expect(applied.code, applied.stderr).toBe(0);
      const bWeb = (await lab.status()).services.find((x) => x.namespace === 'b' && x.name === 'web')!;
      expect(bWeb.endpoints.map((e) => e.ip)).toEqual([status.pods.find((p) => p.namespace === 'b')!.ip]);
      const r = await lab.exec(NETNS.client, [PYTHON, '-c', CLIENT_PY, bWeb.clusterIP, '80', '6'], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(Array(6).fill('b'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGTERM: exits 0; no namespace, link or resolv.conf left', async () => {
    for (const p of servers) p.kill('SIGKILL');
    await sleep(100);
    const pid = lab.proc.pid!;
    expect(await lab.stop()).toBe(0);
    const netns = [NETNS.a, NETNS.b, NETNS.client];
    expect(await hostLeftovers([...netns, `pw-dns.${LAB}`, `pw-${pid}-`])).toEqual({ namespaces: [], links: [] });
    for (const ns of netns) expect(existsSync(`/etc/netns/${ns}`), ns).toBe(false);
  });
});
