// End-to-end, as root: a podwire lab with `cluster.ingress: nginx` runs the
// real nginx (Debian's /usr/sbin/nginx) in the pod ingress-nginx/
// ingress-nginx-controller, behind its LoadBalancer Service. A client pod
// curls the controller's ClusterIP and load-balancer address with Host
// headers: by host and path to two Services whose pods sit on two nodes, 404
// for an unknown host; the controller's requests to the backends cross
// podwire (its port's counters, the overlay's); `podwire apply` of a changed
// Ingress while a long download through it runs (the download ends whole);
// an Ingress naming a missing Service refused with document and field, the
// lab unchanged; a Service's endpoints changed by apply; HTTPS from a TLS
// Secret applied with its Ingress; `podwire delete ingress`; status; a lab
// killed with SIGKILL leaves no nginx and no files after `podwire down`.
// Run: flock /tmp/pw-netns.lock npx vitest run test/e2e/ingress-lab.test.ts
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { nginxAvailable } from '../../src/ingress/nginx-process.ts';
import { startNameBackend, secureIngressManifests } from '../helpers/ingress-backends.ts';
import { isRoot, startLab, stopAllLabs, podwire, execIn, spawnIn, hostLeftovers, runProgram, type RunningLab } from '../helpers/lab.ts';

const have = (cmd: string) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; } };
const missing = [...(nginxAvailable().ok ? [] : ['nginx (Debian: nginx-light)']), ...['curl', 'openssl'].filter((c) => !have(c))];
const runnable = isRoot && missing.length === 0;
if (!isRoot) console.warn('test/e2e/ingress-lab.test.ts: skipped — needs root (creates network namespaces); run as root (CI is root)');
else if (missing.length) console.warn(`test/e2e/ingress-lab.test.ts: skipped — missing ${missing.join(', ')}`);

const LAB = 'iwlab';
const LB_IP = '172.30.255.200';
const BIG = 40 * 1024 * 1024;

const TOPOLOGY = `
cluster: { ingress: nginx, ingressLoadBalancerIP: ${LB_IP} }
nodes:
  - name: n1
    pods: [iw-client, { name: iw-api, labels: { app: api } }]
  - name: n2
    pods: [{ name: iw-web, labels: { app: web } }]
services:
  - { name: api, selector: { app: api }, ports: [{ port: 80, targetPort: 8080 }] }
  - { name: web, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
ingresses:
  - name: shop
    rules:
      - host: shop.example
        http:
          paths:
            - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { number: 80 } } } }
            - { path: /, pathType: Prefix, backend: { service: { name: web, port: { name: http } } } }
`;

/** The changed Ingress applied during the download: /v2 (Exact) goes to api too. */
const SHOP_V2 = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop }
spec:
  rules:
    - host: shop.example
      http:
        paths:
          - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { number: 80 } } } }
          - { path: /v2, pathType: Exact, backend: { service: { name: api, port: { number: 80 } } } }
          - { path: /, pathType: Prefix, backend: { service: { name: web, port: { name: http } } } }
`;
const BAD = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: bad }
spec:
  rules:
    - host: bad.example
      http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: nope, port: { number: 80 } } } }
`;


let lab: RunningLab | undefined;
const servers: ChildProcess[] = [];
let dir = '';
let controllerIP = '';

async function startBackend(ns: string, name: string): Promise<void> {
  servers.push(await startNameBackend(ns, name));
}

/** GET through the controller from the client pod: "STATUS BODY" for 200 (BODY: "NAME PATH"), else the status. */
async function get(host: string, path: string, ip = controllerIP): Promise<string> {
  const r = await execIn('pw-iw-client', ['curl', '-sS', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', '-H', `Host: ${host}`, `http://${ip}${path}`]);
  if (r.code !== 0) throw new Error(`curl ${host}${path} via ${ip}: exit ${r.code}: ${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  const status = lines.pop()!;
  return status === '200' ? `200 ${lines.join('\n').trim()}` : status;
}

const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };
type IngressJson = { namespace: string; name: string; class?: string; served: boolean; hosts: string[]; address: string; ports: number[]; rules: { host: string; path: string; pathType: string; backend: string }[] };
const ingressesOf = async () => ((await lab!.status()) as unknown as { ingresses: IngressJson[] }).ingresses;

describe.skipIf(!runnable)('Ingress controller in a lab (nginx in the pod ingress-nginx/ingress-nginx-controller)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-iwlab-'));
    lab = await startLab(TOPOLOGY, { name: LAB });
    await startBackend('pw-iw-api', 'api');
    await startBackend('pw-iw-web', 'web');
    const s = await lab.status();
    controllerIP = s.services.find((x) => x.namespace === 'ingress-nginx' && x.name === 'ingress-nginx-controller')!.clusterIP;
  }, 60_000);

  afterAll(async () => {
    for (const p of servers) p.kill('SIGKILL');
    await stopAllLabs();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('status lists the Ingress: class, hosts, the controller Service\'s load-balancer address, rules', async () => {
    expect(lab!.output()).toMatch(/Ingress controller nginx: Service ingress-nginx\/ingress-nginx-controller .*LoadBalancer 172\.30\.255\.200/);
    expect(await ingressesOf()).toEqual([{
      namespace: 'default', name: 'shop', served: true, hosts: ['shop.example'], address: LB_IP, ports: [80],
      rules: [
        { host: 'shop.example', path: '/api', pathType: 'Prefix', backend: 'api:80' },
        { host: 'shop.example', path: '/', pathType: 'Prefix', backend: 'web:http' },
      ],
    }]);
    const text = await podwire(['status', '--name', LAB]);
    expect(text.stdout).toMatch(/ingresses:\nNAMESPACE +NAME +CLASS +HOSTS +ADDRESS[^\n]*\ndefault +shop +<none> +shop\.example +172\.30\.255\.200 +80 +shop\.example\/api \(Prefix\) -> api:80/);
  });

  it('by host and path through the ClusterIP and the load-balancer address: /api -> api, / -> web, unknown host 404', async () => {
    for (const ip of [controllerIP, LB_IP]) {
      expect(await get('shop.example', '/api/items', ip)).toBe('200 api /api/items');
      expect(await get('shop.example', '/', ip)).toBe('200 web /');
      expect(await get('shop.example', '/apix', ip)).toBe('200 web /apix'); // element-wise Prefix: /api does not take /apix
      expect(await get('nope.example', '/api/items', ip)).toBe('404');
    }
  });

  it("nginx's access log: the client pod's address through the ClusterIP, the node's gateway through the LB address (externalTrafficPolicy Cluster masquerades)", async () => {
    const s = await lab!.status();
    const client = s.pods.find((p) => p.name === 'iw-client')!;
    const gateway = s.nodes.find((n) => n.name === 'n1')!.gateway;
    const log = readFileSync(join(tmpdir(), `pw-ingress-${LAB}`, 'logs', 'access.log'), 'utf8').split('\n').filter((l) => l.includes('"shop.example" "GET /api/items '));
    expect(log.map((l) => l.split(' ')[0])).toEqual([client.ip, gateway]);
    expect(log[0]).toMatch(/"shop\.example" "GET \/api\/items HTTP\/1\.1" 200 \d+ upstream=10\.244\.0\.3:8080/);
  });

  it("the controller's requests to the backends cross podwire: its port's counters, and the overlay to web on n2", async () => {
    const r = await podwire(['stats', '--json', '--name', LAB]);
    expect(r.code).toBe(0);
    const nodes = (JSON.parse(r.stdout) as { nodes: { name: string; ports: { name: string; rx_packets: number; tx_packets: number }[]; events: Record<string, number> }[] }).nodes;
    const n1 = nodes.find((n) => n.name === 'n1')!;
    const ctl = n1.ports.find((p) => p.name === 'ingress-nginx/ingress-nginx-controller');
    expect(ctl, JSON.stringify(n1.ports.map((p) => p.name))).toBeDefined();
    // 8 requests came in and went out to a backend: at least a SYN and a request each way
    expect(ctl!.rx_packets).toBeGreaterThan(8);
    expect(ctl!.tx_packets).toBeGreaterThan(8);
    const web = nodes.find((n) => n.name === 'n2')!.ports.find((p) => p.name === 'iw-web')!;
    expect(web.rx_packets).toBeGreaterThan(0);
    expect(n1.events.vxlan_encap).toBeGreaterThan(0);
  });

  it('podwire apply of a changed Ingress while a long download through it runs: the download ends whole, new requests see the change', async () => {
    expect(await get('shop.example', '/v2')).toBe('200 web /v2');
    const dl = spawnIn('pw-iw-client', ['curl', '-sS', '--limit-rate', '8M', '-o', '/dev/null', '-w', '%{http_code} %{size_download}',
      '-H', 'Host: shop.example', `http://${controllerIP}/big?bytes=${BIG}`]);
    let out = '';
    dl.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const done = new Promise<number>((r) => dl.once('exit', (c) => r(c ?? -1)));
    await new Promise((r) => setTimeout(r, 1000));
    const a = await podwire(['apply', file('v2.yaml', SHOP_V2), '--name', LAB], { timeoutMs: 30_000 });
    expect(a.stderr).toBe('');
    expect(a.stdout).toBe('ingress.networking.k8s.io/shop configured\n');
    expect(dl.exitCode).toBe(null); // still downloading after the reload
    expect(await get('shop.example', '/v2')).toBe('200 api /v2');
    expect(await done).toBe(0);
    expect(out).toBe(`200 ${BIG}`);
  }, 60_000);

  it('an Ingress naming a missing Service is refused, naming the document and field; the lab is unchanged', async () => {
    const before = await ingressesOf();
    const r = await podwire(['apply', file('bad.yaml', BAD), '--name', LAB], { timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('document 1 (Ingress bad): spec.rules[0].http.paths[0].backend.service.name: no Service "nope" in namespace default');
    expect(await ingressesOf()).toEqual(before);
    expect(await get('bad.example', '/')).toBe('404');
    // deleting a Service an Ingress routes to is refused the same way
    const d = await podwire(['delete', 'service', 'api', '--name', LAB]);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toContain('ingress shop: spec.rules[0].http.paths[0].backend.service.name: no Service "api" in namespace default');
    expect(await get('shop.example', '/api/x')).toBe('200 api /api/x');
  });

  it('a Service applied with other endpoints: nginx follows them (web now selects the api pod)', async () => {
    const svc = 'apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: api }, ports: [{ name: http, port: 80, targetPort: 8080 }] }\n';
    const r = await podwire(['apply', file('web-to-api.yaml', svc), '--name', LAB], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('service/web configured\n');
    expect(await get('shop.example', '/')).toBe('200 api /');
    const back = await podwire(['apply', file('web.yaml', svc.replace('app: api', 'app: web')), '--name', LAB], { timeoutMs: 30_000 });
    expect(back.stdout).toBe('service/web configured\n');
    expect(await get('shop.example', '/')).toBe('200 web /');
  });

  it('HTTPS from a kubernetes.io/tls Secret applied with its Ingress: curl --cacert verifies the certificate', async () => {
    const { manifests, crt } = secureIngressManifests(dir);
    const r = await podwire(['apply', file('secure.yaml', manifests), '--name', LAB], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('secret/secure-tls created\ningress.networking.k8s.io/secure created\n');
    const c = await execIn('pw-iw-client', ['curl', '-sS', '--max-time', '5', '--cacert', crt, '--resolve', `secure.example:443:${LB_IP}`, 'https://secure.example/x']);
    expect(c.stderr).toBe('');
    expect(c.stdout).toBe('web /x\n');
    expect((await ingressesOf()).find((i) => i.name === 'secure')?.ports).toEqual([80, 443]);
    const gone = await podwire(['delete', 'ingress', 'secure', '--name', LAB], { timeoutMs: 30_000 });
    expect(gone.code).toBe(0);
  });

  it('podwire delete ingress: its hosts answer 404, status no longer lists it; a second delete says not found', async () => {
    const r = await podwire(['delete', 'ingress', 'shop', '--name', LAB], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ingress.networking.k8s.io "shop" deleted\n');
    expect(await get('shop.example', '/api/x')).toBe('404');
    expect(await ingressesOf()).toEqual([]);
    const again = await podwire(['delete', 'ingress', 'shop', '--name', LAB]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('ingresses.networking.k8s.io "shop" not found');
  });

  it('a lab killed with SIGKILL: podwire down stops its nginx (pid from the state file) and leaves nothing behind', async () => {
    const prefix = join(tmpdir(), `pw-ingress-${LAB}`);
    expect(existsSync(prefix)).toBe(true);
    expect((await runProgram('pgrep', ['-f', prefix])).stdout).not.toBe('');
    lab!.proc.kill('SIGKILL');
    await lab!.stop(); // the helper runs podwire down --name when the state file still names the dead pid
    await new Promise((r) => setTimeout(r, 500)); // SIGTERM: the master stops its workers
    expect((await hostLeftovers(['pw-ingress.', 'pw-iw-'])).namespaces).toEqual([]);
    expect(existsSync(prefix)).toBe(false);
    const ps = await runProgram('pgrep', ['-f', prefix]);
    expect(ps.stdout).toBe('');
  }, 30_000);
});

/**
 * cluster.ingressExternalTrafficPolicy: Local, as ingress-nginx's cloud
 * manifests deploy it: through the load-balancer address the client's own
 * address reaches nginx (its access log), and a node without the
 * controller pod drops the flow instead of forwarding it.
 */
describe.skipIf(!runnable)('the controller Service with externalTrafficPolicy: Local', () => {
  const LOCAL = `
cluster: { ingress: nginx, ingressExternalTrafficPolicy: Local, ingressLoadBalancerIP: ${LB_IP} }
nodes:
  - name: n1
    pods: [iwl-client, { name: iwl-web, labels: { app: web } }]
  - name: n2
    pods: [iwl-far]
services:
  - { name: web, selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
ingresses:
  - { name: site, defaultBackend: { service: { name: web, port: { number: 80 } } } }
`;
  let local: RunningLab | undefined;
  beforeAll(async () => {
    local = await startLab(LOCAL, { name: 'iwlocal' });
    await startBackend('pw-iwl-web', 'web');
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
  });

  it("the client's address is kept (nginx logs it); from a node without the controller pod the flow is dropped", async () => {
    const s = await local!.status();
    const client = s.pods.find((p) => p.name === 'iwl-client')!;
    const r = await execIn('pw-iwl-client', ['curl', '-sS', '--max-time', '5', '-H', 'Host: any.example', `http://${LB_IP}/local`]);
    expect(r.stdout).toBe('web /local\n');
    const log = readFileSync(join(tmpdir(), 'pw-ingress-iwlocal', 'logs', 'access.log'), 'utf8').split('\n').filter((l) => l.includes('"GET /local '));
    expect(log.map((l) => l.split(' ')[0])).toEqual([client.ip]);
    const far = await execIn('pw-iwl-far', ['curl', '-sS', '--max-time', '2', `http://${LB_IP}/far`]);
    expect(far.code).not.toBe(0);
    expect(s.nodes.find((n) => n.name === 'n2')!.drops.service_no_local_endpoints ?? 0).toBe(0);
    const after = await local!.status();
    expect(after.nodes.find((n) => n.name === 'n2')!.drops.service_no_local_endpoints).toBeGreaterThan(0);
  });
});
