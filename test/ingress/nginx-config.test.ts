// The nginx.conf rendered from Ingress objects (src/ingress/nginx-config.ts):
// which locations and servers each Ingress construct becomes, and that nginx
// itself (`nginx -t`) accepts the result. What those locations match is
// asserted against a running nginx in test/e2e/ingress-nginx.test.ts.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderNginxConfig, locationKeys, serverName, upstreamKey, ACCESS_LOG_FORMAT } from '../../src/ingress/nginx-config.ts';
import { testNginxConfig, nginxAvailable } from '../../src/ingress/nginx-process.ts';
import { parseIngressList } from '../../src/model/ingress.ts';
import type { IngressSpec } from '../../src/model/ingress.ts';

function ingresses(raw: unknown[]): IngressSpec[] {
  const problems: string[] = [];
  const list = parseIngressList(raw, problems);
  expect(problems).toEqual([]);
  return list.map((l) => l.value);
}
const svc = (name: string, port: number | string = 80) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } });
/** The lines of the server block whose server_name is `name`. */
function server(conf: string, name: string): string[] {
  const blocks = conf.split('\n  server {').slice(1).map((b) => b.split('\n').map((l) => l.trim()).filter(Boolean));
  const found = blocks.find((b) => b.includes(`server_name ${name};`));
  if (!found) throw new Error(`no server ${name} in:\n${conf}`);
  return found.slice(0, found.indexOf('}') + 1);
}

const SHOP = ingresses([
  {
    name: 'shop',
    rules: [
      { host: 'shop.example', http: { paths: [
        { path: '/api', pathType: 'Prefix', backend: svc('api') },
        { path: '/api', pathType: 'Exact', backend: svc('web') },
        { path: '/static/', pathType: 'Prefix', backend: svc('web') },
        { path: '/raw', pathType: 'ImplementationSpecific', backend: svc('web') },
      ] } },
      { host: '*.shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: svc('web', 'http') }] } },
      { http: { paths: [{ path: '/any', pathType: 'Prefix', backend: svc('api') }] } },
    ],
  },
]);
const UPSTREAMS = new Map([
  [upstreamKey({ namespace: 'default', service: 'api', port: 80 }), ['10.244.0.2:8080', '10.244.1.2:8080']],
  [upstreamKey({ namespace: 'default', service: 'web', port: 80 }), ['10.244.0.3:8080']],
  [upstreamKey({ namespace: 'default', service: 'web', port: 'http' }), ['10.244.0.3:8080']],
]);

describe('nginx-config: locations', () => {
  it('Prefix is element-wise: = /foo and ^~ /foo/ (a trailing slash ignored); Exact is = ; / stays the plain catch-all', () => {
    expect(locationKeys('/foo', 'Prefix')).toEqual(['= /foo', '/foo/']);
    expect(locationKeys('/foo/', 'Prefix')).toEqual(['= /foo', '/foo/']);
    expect(locationKeys('/', 'Prefix')).toEqual(['/']);
    expect(locationKeys('/foo/', 'Exact')).toEqual(['= /foo/']);
    expect(locationKeys('/foo', 'ImplementationSpecific')).toEqual(['/foo']);
  });

  it('one server per host; Exact keeps = /api over Prefix /api; longest first; 404 when nothing matches', () => {
    const conf = renderNginxConfig({ ingresses: SHOP, upstreams: UPSTREAMS });
    expect(server(conf, 'shop.example')).toEqual([
      'listen 80;',
      'server_name shop.example;',
      'location ^~ /static/ { proxy_pass http://default_web_80; }',
      'location = /static { proxy_pass http://default_web_80; }',
      'location ^~ /api/ { proxy_pass http://default_api_80; }',
      'location = /api { proxy_pass http://default_web_80; }',
      'location ^~ /raw { proxy_pass http://default_web_80; }',
      'location / { return 404; }',
      '}',
    ]);
  });

  it('a wildcard host matches one label: a regex server_name, never nginx\'s own *.', () => {
    expect(serverName('*.shop.example')).toBe('~^[^.]+\\.shop\\.example$');
    const conf = renderNginxConfig({ ingresses: SHOP, upstreams: UPSTREAMS });
    expect(server(conf, '~^[^.]+\\.shop\\.example$')).toContain('location / { proxy_pass http://default_web_http; }');
    expect(conf).not.toContain('server_name *.');
  });

  it('rules without host go to the default server', () => {
    const conf = renderNginxConfig({ ingresses: SHOP, upstreams: UPSTREAMS });
    expect(server(conf, '_')).toEqual(['listen 80 default_server;', 'server_name _;', 'location ^~ /any/ { proxy_pass http://default_api_80; }', 'location = /any { proxy_pass http://default_api_80; }', 'location / { return 404; }', '}']);
  });

  it('defaultBackend answers what nothing else matches, on every server', () => {
    const conf = renderNginxConfig({ ingresses: [...SHOP, ...ingresses([{ name: 'fb', defaultBackend: svc('web') }])], upstreams: UPSTREAMS });
    for (const name of ['_', 'shop.example']) expect(server(conf, name)).toContain('location / { proxy_pass http://default_web_80; }');
  });

  it('a backend with no endpoints answers 503; upstream blocks list the endpoints', () => {
    const conf = renderNginxConfig({ ingresses: SHOP, upstreams: new Map([[upstreamKey({ namespace: 'default', service: 'api', port: 80 }), ['10.244.0.2:8080', '10.244.1.2:8080']]]) });
    expect(server(conf, 'shop.example')).toContain('location = /api { return 503; }');
    expect(conf).toContain('  upstream default_api_80 {\n    server 10.244.0.2:8080;\n    server 10.244.1.2:8080;\n    keepalive 32;\n  }');
    expect(conf).not.toContain('upstream default_web');
  });

  it('headers to the backend, and an access log with the client address', () => {
    const conf = renderNginxConfig({ ingresses: SHOP, upstreams: UPSTREAMS });
    for (const h of ['Host $host', 'X-Real-IP $remote_addr', 'X-Forwarded-For $proxy_add_x_forwarded_for']) expect(conf).toContain(`proxy_set_header ${h};`);
    expect(ACCESS_LOG_FORMAT.startsWith('$remote_addr ')).toBe(true);
    expect(conf).toContain('access_log logs/access.log podwire;');
  });

  it('TLS: the Secret\'s files on the hosts tls names (a *. tls host covers one label); other HTTPS refused at the handshake', () => {
    const ing = ingresses([{
      name: 'shop',
      tls: [{ hosts: ['*.shop.example'], secretName: 'wild' }, { hosts: ['only-tls.example'], secretName: 'solo' }, { hosts: ['nocert.example'], secretName: 'missing' }],
      rules: [
        { host: 'a.shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: svc('web') }] } },
        { host: 'a.b.shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: svc('web') }] } },
      ],
    }]);
    const tls = new Map([['default/wild', { cert: '/s/wild.crt', key: '/s/wild.key' }], ['default/solo', { cert: '/s/solo.crt', key: '/s/solo.key' }]]);
    const conf = renderNginxConfig({ ingresses: ing, upstreams: UPSTREAMS, tls, httpPort: 8080, httpsPort: 8443 });
    expect(server(conf, 'a.shop.example').slice(0, 4)).toEqual(['listen 8080;', 'listen 8443 ssl;', 'ssl_certificate /s/wild.crt;', 'ssl_certificate_key /s/wild.key;']);
    expect(server(conf, 'a.b.shop.example').slice(0, 2)).toEqual(['listen 8080;', 'server_name a.b.shop.example;']);
    expect(server(conf, 'only-tls.example')).toContain('location / { return 404; }');
    expect(server(conf, '_').slice(0, 3)).toEqual(['listen 8080 default_server;', 'listen 8443 ssl default_server;', 'ssl_reject_handshake on;']);
    expect(conf).not.toContain('nocert.example');
  });
});

describe.skipIf(!nginxAvailable().ok)('nginx-config: nginx -t accepts what is rendered', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  const prefix = () => { const d = mkdtempSync(join(tmpdir(), 'pw-nginx-t-')); dirs.push(d); return d; };

  it('the shop Ingress, with a default backend and no endpoints for some', async () => {
    await testNginxConfig(prefix(), renderNginxConfig({ ingresses: [...SHOP, ...ingresses([{ name: 'fb', defaultBackend: svc('web') }])], upstreams: UPSTREAMS, httpPort: 18080 }));
    await testNginxConfig(prefix(), renderNginxConfig({ ingresses: SHOP, upstreams: new Map(), httpPort: 18080 }));
  });

  it('a refused configuration is an error carrying nginx\'s message', async () => {
    await expect(testNginxConfig(prefix(), 'http { nonsense on; }\n')).rejects.toThrow(/nginx refused the new configuration .*unknown directive "nonsense"/);
  });
});
