// End-to-end, as root, without a podwire lab: the real nginx (Debian's
// /usr/sbin/nginx) run by src/ingress/nginx-process.ts with the config
// src/ingress/nginx-config.ts renders from Ingress manifests, asserted with
// curl against the Kubernetes Ingress semantics (host then path; Exact,
// element-wise Prefix, longest match, Exact over Prefix, one-label wildcard
// hosts, rules without host, defaultBackend, 404, 503), HTTPS from a
// kubernetes.io/tls Secret made by openssl now, and a reload while a slow
// 50 MB download runs to the end.
// Namespaces (this suite's own): pw-ing-lan holds a bridge joining
// pw-ing-client (10.77.0.1), pw-ing-ctl (nginx, 10.77.0.2) and pw-ing-app
// (the backends: web 10.77.0.3:8080, api 10.77.0.4:8080, fallback 10.77.0.4:9090).
// Run: flock /tmp/pw-netns.lock npx vitest run test/e2e/ingress-nginx.test.ts
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { netnsAdd, netnsDel, netnsList, run } from '../../src/io/netns.ts';
import { parseManifests } from '../../src/model/manifests.ts';
import { checkIngressReferences } from '../../src/model/ingress.ts';
import { renderNginxConfig, upstreamKey, type TlsFiles } from '../../src/ingress/nginx-config.ts';
import { NginxProcess, nginxAvailable } from '../../src/ingress/nginx-process.ts';
import { isRoot, execIn, spawnIn } from '../helpers/lab.ts';

const have = (cmd: string) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; } };
const missing = [...(nginxAvailable().ok ? [] : ['nginx (Debian: nginx-light)']), ...['curl', 'openssl'].filter((c) => !have(c))];
const runnable = isRoot && missing.length === 0;
if (!isRoot) console.warn('test/e2e/ingress-nginx.test.ts: skipped — needs root (creates network namespaces and a bridge); run as root (CI is root)');
else if (missing.length) console.warn(`test/e2e/ingress-nginx.test.ts: skipped — missing ${missing.join(', ')}`);

const LAN = 'pw-ing-lan';
const CLIENT = 'pw-ing-client';
const CTL = 'pw-ing-ctl';
const APP = 'pw-ing-app';
const NAMESPACES = [LAN, CLIENT, CTL, APP];
const CLIENT_IP = '10.77.0.1';
const NGINX_IP = '10.77.0.2';
const BIG = 50 * 1024 * 1024;

/** The backends: each answers "NAME PATH xrip=... xff=... host=..."; /big?bytes=N streams N bytes. */
const BACKEND_JS = String.raw`
const http = require('http');
let up = 0;
const specs = process.argv.slice(1);
for (const spec of specs) {
  const [name, addr] = spec.split('=');
  const [ip, port] = addr.split(':');
  http.createServer((req, res) => {
    const big = /^\/big\?bytes=(\d+)$/.exec(req.url);
    if (big) {
      let left = Number(big[1]);
      res.writeHead(200, { 'content-length': left });
      const chunk = Buffer.alloc(65536, 120);
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
      return;
    }
    const body = name + ' ' + req.url + ' xrip=' + req.headers['x-real-ip'] + ' xff=' + req.headers['x-forwarded-for'] + ' host=' + req.headers.host + '\n';
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }).listen(Number(port), ip, () => { if (++up === specs.length) console.log('listening'); });
}
`;

const backend = (name: string, port: number | string = 80) => `{ service: { name: ${name}, port: { ${typeof port === 'number' ? 'number' : 'name'}: ${port} } } }`;
const INGRESS = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop }
spec:
  tls: [{ hosts: [secure.example], secretName: secure-tls }]
  rules:
    - host: shop.example
      http:
        paths:
          - { path: /api, pathType: Prefix, backend: ${backend('api')} }
          - { path: /, pathType: Prefix, backend: ${backend('web')} }
    - host: paths.example
      http:
        paths:
          - { path: /exact, pathType: Exact, backend: ${backend('api')} }
          - { path: /foo, pathType: Prefix, backend: ${backend('web')} }
          - { path: /foo/bar/, pathType: Prefix, backend: ${backend('api')} }
          - { path: /same, pathType: Prefix, backend: ${backend('web')} }
          - { path: /same, pathType: Exact, backend: ${backend('api')} }
          - { path: /empty, pathType: Prefix, backend: ${backend('empty')} }
    - host: "*.wild.example"
      http:
        paths:
          - { path: /, pathType: Prefix, backend: ${backend('api')} }
    - host: secure.example
      http:
        paths:
          - { path: /, pathType: Prefix, backend: ${backend('web', 'http')} }
    - http:
        paths:
          - { path: /nohost, pathType: Prefix, backend: ${backend('web')} }
`;
/** What `podwire apply` of a second Ingress would add: a defaultBackend. */
const FALLBACK = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: fallback }
spec:
  defaultBackend: ${backend('fallback')}
`;
const SERVICES = [
  { name: 'web', namespace: 'default', ports: [{ name: 'http', port: 80 }] },
  { name: 'api', namespace: 'default', ports: [{ port: 80 }] },
  { name: 'fallback', namespace: 'default', ports: [{ port: 80 }] },
  { name: 'empty', namespace: 'default', ports: [{ port: 80 }] },
];
const UPSTREAMS = new Map([
  [upstreamKey({ namespace: 'default', service: 'web', port: 80 }), ['10.77.0.3:8080']],
  [upstreamKey({ namespace: 'default', service: 'web', port: 'http' }), ['10.77.0.3:8080']],
  [upstreamKey({ namespace: 'default', service: 'api', port: 80 }), ['10.77.0.4:8080']],
  [upstreamKey({ namespace: 'default', service: 'fallback', port: 80 }), ['10.77.0.4:9090']],
  // empty: a Service without ready endpoints
]);

async function removeOurNamespaces(): Promise<void> {
  const present = new Set(await netnsList());
  for (const ns of NAMESPACES) if (present.has(ns)) await netnsDel(ns);
}

/** GET through nginx from the client namespace: "STATUS BODY" (BODY's first word is the backend's name). */
async function get(host: string, path: string): Promise<string> {
  const r = await execIn(CLIENT, ['curl', '-sS', '--path-as-is', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', '-H', `Host: ${host}`, `http://${NGINX_IP}${path}`]);
  if (r.code !== 0) throw new Error(`curl ${host}${path}: exit ${r.code}: ${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  const status = lines.pop()!;
  const body = lines.join('\n');
  return status === '200' ? `200 ${body.split(' ')[0]}` : status;
}

describe.skipIf(!runnable)('ingress: the real nginx with a rendered config (root)', () => {
  let dir: string;
  let nginx: NginxProcess | undefined;
  let servers: ChildProcess | undefined;
  let tls: Map<string, TlsFiles>;
  let ingresses: ReturnType<typeof parseManifests>['ingresses'];

  beforeAll(async () => {
    await removeOurNamespaces(); // a crashed earlier run of this suite
    dir = mkdtempSync(join(tmpdir(), 'pw-ing-'));
    for (const ns of NAMESPACES) await netnsAdd(ns);
    await run('ip', ['-n', LAN, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', LAN, 'link', 'set', 'br0', 'up']);
    const hosts: [string, string[]][] = [[CLIENT, [CLIENT_IP]], [CTL, [NGINX_IP]], [APP, ['10.77.0.3', '10.77.0.4']]];
    for (const [i, [ns, ips]] of hosts.entries()) {
      await run('ip', ['-n', LAN, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run('ip', ['-n', LAN, 'link', 'set', `v${i}`, 'master', 'br0', 'up']);
      for (const a of ips) await run('ip', ['-n', ns, 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }

    servers = spawnIn(APP, [process.execPath, '-e', BACKEND_JS, 'web=10.77.0.3:8080', 'api=10.77.0.4:8080', 'fallback=10.77.0.4:9090']);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      servers!.stderr!.on('data', (d) => { err += d; });
      servers!.stdout!.on('data', (d) => { if (String(d).includes('listening')) resolve(); });
      servers!.on('exit', (c) => reject(new Error(`backends exited (${c}): ${err}`)));
    });

    // the certificate a user would put in a Secret, made now by openssl
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=secure.example',
      '-addext', 'subjectAltName=DNS:secure.example', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.pem')], { stdio: 'ignore' });
    const b64 = (f: string) => readFileSync(join(dir, f)).toString('base64');
    const secretDoc = `apiVersion: v1\nkind: Secret\nmetadata: { name: secure-tls }\ntype: kubernetes.io/tls\ndata:\n  tls.crt: ${b64('ca.pem')}\n  tls.key: ${b64('key.pem')}\n`;

    const m = parseManifests(`${INGRESS}\n---\n${secretDoc}`, 'ingress.yaml');
    const problems: string[] = [];
    checkIngressReferences(m.ingresses, SERVICES, m.secrets, problems);
    expect(problems).toEqual([]);
    ingresses = m.ingresses;
    // the Secret's PEM as the controller writes it for nginx: files of its own, the key 0600
    const s = m.secrets[0];
    writeFileSync(join(dir, 'secure-tls.crt'), s.cert);
    writeFileSync(join(dir, 'secure-tls.key'), s.key, { mode: 0o600 });
    tls = new Map([[`${s.namespace}/${s.name}`, { cert: join(dir, 'secure-tls.crt'), key: join(dir, 'secure-tls.key') }]]);

    nginx = await NginxProcess.start({ ns: CTL, config: renderNginxConfig({ ingresses: ingresses.map((i) => i.value), upstreams: UPSTREAMS, tls }) });
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    servers?.kill('SIGKILL');
    await removeOurNamespaces();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('routes by host and by path across two Services', async () => {
    expect(await get('shop.example', '/api/items')).toBe('200 api');
    expect(await get('shop.example', '/api')).toBe('200 api');
    expect(await get('shop.example', '/apiary')).toBe('200 web'); // not under /api: falls to Prefix /
    expect(await get('shop.example', '/')).toBe('200 web');
    expect(await get('shop.example:80', '/api/x')).toBe('200 api'); // the port in Host is not part of the host
  });

  it('Exact matches the path only', async () => {
    expect(await get('paths.example', '/exact')).toBe('200 api');
    expect(await get('paths.example', '/exact/')).toBe('404');
    expect(await get('paths.example', '/exact/x')).toBe('404');
  });

  it('Prefix is element-wise: /foo matches /foo, /foo/, /foo/bar, not /foobar; a trailing slash in the rule is ignored', async () => {
    expect(await get('paths.example', '/foo')).toBe('200 web');
    expect(await get('paths.example', '/foo/')).toBe('200 web');
    expect(await get('paths.example', '/foo/x')).toBe('200 web');
    expect(await get('paths.example', '/foobar')).toBe('404');
    expect(await get('paths.example', '/foo/bar')).toBe('200 api'); // rule /foo/bar/
  });

  it('the longest matching path wins', async () => {
    expect(await get('paths.example', '/foo/bar/baz')).toBe('200 api');
    expect(await get('paths.example', '/foo/barbaz')).toBe('200 web');
  });

  it('Exact wins over Prefix at equal length', async () => {
    expect(await get('paths.example', '/same')).toBe('200 api');
    expect(await get('paths.example', '/same/')).toBe('200 web');
    expect(await get('paths.example', '/same/x')).toBe('200 web');
  });

  it('a wildcard host matches exactly one label', async () => {
    expect(await get('a.wild.example', '/')).toBe('200 api');
    expect(await get('b.a.wild.example', '/')).toBe('404');
    expect(await get('wild.example', '/')).toBe('404');
  });

  it('a rule without host serves hosts that have no rule of their own', async () => {
    expect(await get('anything.example', '/nohost/x')).toBe('200 web');
    expect(await get('b.a.wild.example', '/nohost')).toBe('200 web');
    expect(await get('anything.example', '/')).toBe('404');
  });

  it('a backend without endpoints answers 503', async () => {
    expect(await get('paths.example', '/empty')).toBe('503');
  });

  it('the backend sees the client: X-Real-IP, X-Forwarded-For, Host; nginx logs the client address', async () => {
    const r = await execIn(CLIENT, ['curl', '-sS', '--max-time', '5', '-H', 'Host: shop.example', `http://${NGINX_IP}/api/who`]);
    expect(r.stdout.trim()).toBe(`api /api/who xrip=${CLIENT_IP} xff=${CLIENT_IP} host=shop.example`);
    const log = readFileSync(nginx!.accessLogPath, 'utf8').trim().split('\n');
    expect(log.at(-1)).toMatch(new RegExp(`^${CLIENT_IP.replace(/\./g, '\\.')} - \\[.*\\] "shop.example" "GET /api/who HTTP/1.1" 200 \\d+ upstream=10\\.77\\.0\\.4:8080 `));
  });

  it('HTTPS with the Secret\'s certificate (curl --cacert); a host without tls is refused at the handshake', async () => {
    const https = (host: string) => execIn(CLIENT, ['curl', '-sS', '--max-time', '5', '--cacert', join(dir, 'ca.pem'), '--resolve', `${host}:443:${NGINX_IP}`, `https://${host}/hello`]);
    const ok = await https('secure.example');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^web \/hello xrip=10\.77\.0\.1 /);
    const refused = await https('shop.example');
    expect(refused.code).not.toBe(0);
  });

  it('a configuration nginx refuses leaves the running one in place', async () => {
    await expect(nginx!.reload('events {}\nhttp { server { listen 80; nonsense on; } }\n')).rejects.toThrow(/nginx refused the new configuration .*unknown directive "nonsense"/);
    expect(await get('shop.example', '/api')).toBe('200 api');
  });

  it('a change applied (reload) while a slow 50 MB download runs: the download ends complete, new requests see the change', async () => {
    expect(await get('anything.example', '/')).toBe('404');
    const dl = spawnIn(CLIENT, ['curl', '-sS', '--limit-rate', '10M', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '-H', 'Host: shop.example', `http://${NGINX_IP}/big?bytes=${BIG}`]);
    let out = '';
    dl.stdout!.on('data', (d) => { out += d; });
    const done = new Promise<number>((r) => dl.on('exit', (c) => r(c ?? -1)));
    await new Promise((r) => setTimeout(r, 1500));

    const more = parseManifests(FALLBACK, 'fallback.yaml').ingresses;
    await nginx!.reload(renderNginxConfig({ ingresses: [...ingresses, ...more].map((i) => i.value), upstreams: UPSTREAMS, tls }));
    expect(dl.exitCode).toBe(null); // still downloading after the reload took effect
    expect(await get('anything.example', '/')).toBe('200 fallback');
    expect(await get('paths.example', '/foobar')).toBe('200 fallback');

    expect(await done).toBe(0);
    expect(out).toBe(`200 ${BIG}`);
  }, 30_000);
});
