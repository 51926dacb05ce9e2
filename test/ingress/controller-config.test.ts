// From manifests to the controller's nginx.conf (src/ingress/controller-config.ts)
// and `podwire ingress render FILE [--check]`: which Ingresses are served
// (IngressClass), upstreams from ready endpoints and targetPorts, the TLS
// Secret as files under nginx's prefix, references refused by name.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifests } from '../../src/model/manifests.ts';
import { controllerConfig } from '../../src/ingress/controller-config.ts';
import { nginxAvailable } from '../../src/ingress/nginx-process.ts';
import { podwire } from '../helpers/lab.ts';

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: api }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: api-1, labels: { kubernetes.io/service-name: api } }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:
  - { addresses: [10.244.0.2] }
  - { addresses: [10.244.1.2], conditions: { ready: false } }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
`;
const INGRESSES = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop }
spec:
  tls: [{ hosts: [shop.example], secretName: shop-tls }]
  rules:
    - host: shop.example
      http:
        paths:
          - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { name: http } } } }
          - { path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: elsewhere }
spec:
  ingressClassName: haproxy
  defaultBackend: { service: { name: api, port: { number: 80 } } }
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: haproxy }
spec: { controller: haproxy.org/ingress-controller }
`;

describe('ingress controller config from manifests', () => {
  let dir: string;
  let secret: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pw-ingress-cc-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=shop.example',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    const b64 = (f: string) => readFileSync(join(dir, f)).toString('base64');
    secret = `apiVersion: v1\nkind: Secret\nmetadata: { name: shop-tls }\ntype: kubernetes.io/tls\ndata: { tls.crt: ${b64('c.pem')}, tls.key: ${b64('k.pem')} }\n`;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const build = (text: string) => {
    const m = parseManifests(text);
    const problems: string[] = [];
    const out = controllerConfig({ ingresses: m.ingresses, classes: m.ingressClasses, secrets: m.secrets, services: m.services }, problems);
    return { out, problems };
  };

  it('serves the Ingresses of its class; ready endpoints at their targetPort; no endpoints: 503; the Secret as prefix files', () => {
    const { out, problems } = build(`${SERVICES}---\n${INGRESSES}---\n${secret}`);
    expect(problems).toEqual([]);
    expect(out!.served.map((s) => s.value.name)).toEqual(['shop']);
    expect(out!.config).toContain('  upstream default_api_http {\n    server 10.244.0.2:8080;\n    keepalive 32;\n  }');
    expect(out!.config).toContain('location / { return 503; }'); // web: selected pods, none known here
    expect(out!.config).toContain('ssl_certificate tls/default-shop-tls.crt;');
    expect(out!.files.map((f) => [f.path, f.mode])).toEqual([['tls/default-shop-tls.crt', 0o644], ['tls/default-shop-tls.key', 0o600]]);
    expect(out!.config).not.toContain('default_api_80'); // the haproxy-class Ingress's defaultBackend is not ours
  });

  it('a missing Service or Secret is refused, naming document and field', () => {
    expect(build(INGRESSES).problems).toEqual([
      'document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.name: no Service "api" in namespace default',
      'document 1 (Ingress shop): spec.rules[0].http.paths[1].backend.service.name: no Service "web" in namespace default',
      'document 1 (Ingress shop): spec.tls[0].secretName: no kubernetes.io/tls Secret "shop-tls" in namespace default',
      'document 2 (Ingress elsewhere): spec.defaultBackend.service.name: no Service "api" in namespace default',
    ]);
  });

  it.skipIf(!nginxAvailable().ok)('podwire ingress render FILE --check: nginx -t passes, the config is printed', async () => {
    const file = join(dir, 'shop.yaml');
    writeFileSync(file, `${SERVICES}---\n${INGRESSES}---\n${secret}`);
    const r = await podwire(['ingress', 'render', file, '--check', '--http-port', '18080', '--https-port', '18443']);
    expect(r.stderr).toBe('nginx -t: the configuration for 1 Ingress(es) is valid\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('listen 18443 ssl;');
    writeFileSync(file, INGRESSES);
    const bad = await podwire(['ingress', 'render', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${file} is invalid:\n  - document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.name: no Service "api" in namespace default`);
  });
});
