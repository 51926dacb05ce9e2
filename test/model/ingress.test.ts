// Ingress objects read into the model (src/model/ingress.ts): the topology's
// `ingresses:` list and networking.k8s.io/v1 Ingress / IngressClass and v1
// kubernetes.io/tls Secret manifests, and every refusal the API server (or
// podwire, for references) makes, each naming the document and field.
// Certificates are made by openssl at test time (no fixture to go stale).
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifests } from '../../src/model/manifests.ts';
import {
  parseIngressList, checkIngressReferences, ingressesForController, hostProblem, BUILTIN_INGRESS_CLASS,
  type ServiceRef,
} from '../../src/model/ingress.ts';
import { refusalProblems } from '../helpers/problems.ts';

const manifestProblems = (text: string) => refusalProblems(() => parseManifests(text), text);
function listProblems(raw: unknown): string[] {
  const problems: string[] = [];
  parseIngressList(raw, problems);
  return problems;
}

/** A self-signed certificate and its key for `cn`, made by openssl (PEM text). */
function opensslCert(cn: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pw-ingress-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
const b64 = (s: string) => Buffer.from(s).toString('base64');
const indent = (s: string, n: number) => s.trim().split('\n').map((l) => ' '.repeat(n) + l).join('\n');

const SHOP = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop }
spec:
  ingressClassName: nginx
  defaultBackend: { service: { name: web, port: { name: http } } }
  tls: [{ hosts: [shop.example, "*.shop.example"], secretName: shop-tls }]
  rules:
    - host: shop.example
      http:
        paths:
          - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { number: 80 } } } }
          - { path: /, pathType: Exact, backend: { service: { name: web, port: { number: 80 } } } }
    - http:
        paths:
          - { pathType: ImplementationSpecific, backend: { service: { name: web, port: { number: 80 } } } }
`;

describe('ingress: read', () => {
  it('an Ingress manifest, every field', () => {
    const m = parseManifests(SHOP, 'shop.yaml');
    expect(m.services).toEqual([]);
    expect(m.ingresses).toEqual([{
      origin: 'document 1 (Ingress shop)', root: 'spec.',
      value: {
        name: 'shop', namespace: 'default', ingressClassName: 'nginx',
        defaultBackend: { service: 'web', port: 'http' },
        tls: [{ hosts: ['shop.example', '*.shop.example'], secretName: 'shop-tls' }],
        rules: [
          { host: 'shop.example', paths: [
            { path: '/api', pathType: 'Prefix', backend: { service: 'api', port: 80 } },
            { path: '/', pathType: 'Exact', backend: { service: 'web', port: 80 } },
          ] },
          // ImplementationSpecific without a path: the API server's default, "/"
          { paths: [{ path: '/', pathType: 'ImplementationSpecific', backend: { service: 'web', port: 80 } }] },
        ],
      },
    }]);
  });

  it("the topology's ingresses: list, namespace default", () => {
    const problems: string[] = [];
    const list = parseIngressList([
      { name: 'shop', rules: [{ host: 'shop.example', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } } }] } }] },
      { name: 'fallback', namespace: 'web', defaultBackend: { service: { name: 'web', port: { number: 8080 } } } },
    ], problems);
    expect(problems).toEqual([]);
    expect(list.map((l) => [l.origin, l.value.namespace, l.value.rules.length])).toEqual([['ingress shop', 'default', 1], ['ingress web/fallback', 'web', 0]]);
    expect(list[1].value.defaultBackend).toEqual({ service: 'web', port: 8080 });
  });

  it('an IngressClass, default by annotation', () => {
    const m = parseManifests(`
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
  annotations: { ingressclass.kubernetes.io/is-default-class: "true" }
spec: { controller: k8s.io/ingress-nginx }
`);
    expect(m.ingressClasses).toEqual([{ name: 'nginx', controller: 'k8s.io/ingress-nginx', isDefault: true }]);
  });

  it('which Ingresses the nginx controller serves (ingressClassName, default class)', () => {
    const ings = [{ n: 'a' }, { n: 'b', ingressClassName: 'nginx' }, { n: 'c', ingressClassName: 'other' }];
    expect(ingressesForController(ings, [BUILTIN_INGRESS_CLASS]).map((i) => i.n)).toEqual(['a', 'b']);
    expect(ingressesForController(ings, [{ ...BUILTIN_INGRESS_CLASS, isDefault: false }]).map((i) => i.n)).toEqual(['b']);
    expect(ingressesForController(ings, [{ name: 'other', controller: 'example.com/lb', isDefault: true }]).map((i) => i.n)).toEqual([]);
  });
});

describe('ingress: hosts as IngressRule.host takes them', () => {
  it.each([
    ['shop.example'], ['*.shop.example'], ['a-1.b.c'],
  ])('accepts %s', (h) => expect(hostProblem(h)).toBeUndefined());
  it.each([
    ['*', /wildcard/], ['*.*.example', /wildcard/], ['foo.*.example', /wildcard/], ['*foo.example', /wildcard/],
    ['10.0.0.1', /not an IP address/], ['shop.example:80', /not an IP address \(and without a port\)/],
    ['Shop.example', /DNS-1123 subdomain/], ['-shop.example', /DNS-1123 subdomain/], ['shop..example', /DNS-1123/], [`${'a'.repeat(64)}.example`, /at most 63/], ['', /expected a host name/],
  ])('refuses %s', (h, why) => expect(hostProblem(h)).toMatch(why));
});

describe('ingress: refused, naming document and field', () => {
  const doc = (spec: string) => `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: shop }\nspec:\n${indent(spec, 2)}\n`;
  const path = (p: string) => doc(`rules:\n  - host: shop.example\n    http:\n      paths:\n        - ${p}`);
  const B = 'backend: { service: { name: web, port: { number: 80 } } }';

  it.each([
    ['a bad pathType', path(`{ path: /a, pathType: Regex, ${B} }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].pathType: "Regex" is not supported (one of Exact, Prefix, ImplementationSpecific)'],
    ['no pathType', path(`{ path: /a, ${B} }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].pathType: required (one of Exact, Prefix, ImplementationSpecific)'],
    ['a Prefix path without /', path(`{ path: a, pathType: Prefix, ${B} }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].path: "a" must begin with "/"'],
    ['an Exact path without any path', path(`{ pathType: Exact, ${B} }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].path: required for pathType Exact (it must begin with "/")'],
    ['// in a Prefix path', path(`{ path: /a//b, pathType: Prefix, ${B} }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].path: "/a//b" must not contain "//"'],
    ['a path ending in /..', path(`{ path: /a/.., pathType: Exact, ${B} }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].path: "/a/.." cannot end with "/.."'],
    ['a path with a brace (nginx syntax)', path(`{ path: "/a{", pathType: ImplementationSpecific, ${B} }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].path: "/a{": whitespace, quotes, braces, "#", ";" and "\\" are not accepted in a path'],
    ['port number and name', path('{ path: /a, pathType: Prefix, backend: { service: { name: web, port: { number: 80, name: http } } } }'), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.port: cannot set both port name and port number'],
    ['neither port number nor name', path('{ path: /a, pathType: Prefix, backend: { service: { name: web, port: {} } } }'), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.port: port name or number is required'],
    ['a port number out of range', path('{ path: /a, pathType: Prefix, backend: { service: { name: web, port: { number: 70000 } } } }'), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.port.number: 70000 is not an integer in [1, 65535]'],
    ['a bad Service name', path('{ path: /a, pathType: Prefix, backend: { service: { name: Web, port: { number: 80 } } } }'), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.name: "Web" is not a valid Service name (lowercase letters, digits, "-", starting with a letter, at most 63)'],
    ['a resource backend', path('{ path: /a, pathType: Prefix, backend: { resource: { kind: Bucket, name: b } } }'), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.resource: resource backends are not modelled: name a Service (service: { name, port })'],
    ['a wildcard host of two labels', doc(`rules: [{ host: "*.*.example", http: { paths: [{ path: /, pathType: Prefix, ${B} }] } }]`), 'document 1 (Ingress shop): spec.rules[0].host: "*.*.example": a wildcard must be the whole first label, as in *.example.com (only one, and never "*" alone)'],
    ['an empty paths list', doc('rules: [{ host: a.example, http: { paths: [] } }]'), 'document 1 (Ingress shop): spec.rules[0].http.paths: expected a list of at least one path'],
    ['neither rules nor defaultBackend', doc('tls: []'), 'document 1 (Ingress shop): spec.rules: either defaultBackend or rules must be specified'],
    ['a bad tls host', doc(`defaultBackend: { service: { name: web, port: { number: 80 } } }\ntls: [{ hosts: ["1.2.3.4"], secretName: x }]`), 'document 1 (Ingress shop): spec.tls[0].hosts[0]: "1.2.3.4" must be a DNS name, not an IP address (and without a port)'],
    ['an unknown key', path(`{ path: /a, pathType: Prefix, ${B}, regex: true }`), 'document 1 (Ingress shop): spec.rules[0].http.paths[0].regex: unknown key (known: path, pathType, backend)'],
    ['a wrong apiVersion', 'apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: { name: shop }\nspec: { defaultBackend: { service: { name: web, port: { number: 80 } } } }', 'document 1 (Ingress shop): apiVersion: "extensions/v1beta1" is not networking.k8s.io/v1 (a Ingress is apiVersion networking.k8s.io/v1)'],
    ['an IngressClass without controller', 'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: { name: nginx }\nspec: {}', 'document 1 (IngressClass nginx): spec.controller: required (podwire\'s controller is k8s.io/ingress-nginx)'],
  ])('%s', (_what, text, message) => {
    expect(manifestProblems(text)).toContain(message);
  });

  it('topology entries name the entry and field', () => {
    expect(listProblems([{ name: 'shop', rules: [{ http: { paths: [{ path: '/a', pathType: 'Glob', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] }]))
      .toEqual(['ingress shop: rules[0].http.paths[0].pathType: "Glob" is not supported (one of Exact, Prefix, ImplementationSpecific)']);
    expect(listProblems([{ rules: [] }, { name: 'x', namespace: 'Bad', defaultBackend: {} }, 'text', { name: 'y', defaultBackend: { service: { name: 'w', port: { number: 1 } } }, paths: [] }])).toEqual([
      'ingresses[0].name: required',
      'ingresses[0]: rules: either defaultBackend or rules must be specified',
      'ingresses[1].namespace: "Bad" is not a valid namespace (lowercase letters, digits, "-", at most 63)',
      'ingresses[1]: defaultBackend.service: required (a backend names a Service and its port)',
      'ingresses[2]: expected a mapping with name and rules or defaultBackend',
      'ingresses[3].paths: unknown key (known: name, namespace, ingressClassName, defaultBackend, rules, tls)',
    ]);
  });

  it('a backend naming a missing Service, or a port the Service lacks; a tls Secret not given', () => {
    const m = parseManifests(SHOP, 'shop.yaml');
    const services: ServiceRef[] = [{ name: 'web', namespace: 'default', ports: [{ name: 'http', port: 80 }] }];
    const problems: string[] = [];
    checkIngressReferences(m.ingresses, services, [], problems);
    expect(problems).toEqual([
      'document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.name: no Service "api" in namespace default',
      'document 1 (Ingress shop): spec.tls[0].secretName: no kubernetes.io/tls Secret "shop-tls" in namespace default',
    ]);
    const wrongPort: string[] = [];
    checkIngressReferences(m.ingresses, [{ name: 'web', namespace: 'default', ports: [{ port: 8080 }] }, { name: 'api', namespace: 'default', ports: [{ port: 80 }] }], [{ name: 'shop-tls', namespace: 'default' }], wrongPort);
    expect(wrongPort).toEqual([
      'document 1 (Ingress shop): spec.defaultBackend.service.port.name: Service web has no port named "http" (its ports: 8080)',
      'document 1 (Ingress shop): spec.rules[0].http.paths[1].backend.service.port.number: Service web has no port 80 (its ports: 8080)',
      'document 1 (Ingress shop): spec.rules[1].http.paths[0].backend.service.port.number: Service web has no port 80 (its ports: 8080)',
    ]);
    // a Service of the same name in another namespace is not the one
    const otherNs: string[] = [];
    checkIngressReferences(m.ingresses, [{ name: 'api', namespace: 'shop', ports: [{ port: 80 }] }, ...services], [{ name: 'shop-tls', namespace: 'default' }], otherNs);
    expect(otherNs).toEqual(['document 1 (Ingress shop): spec.rules[0].http.paths[0].backend.service.name: no Service "api" in namespace default']);
  });
});

describe('ingress: kubernetes.io/tls Secrets', () => {
  let shop: { cert: string; key: string };
  let other: { cert: string; key: string };
  beforeAll(() => { shop = opensslCert('shop.example'); other = opensslCert('other.example'); });
  const secret = (body: string) => `apiVersion: v1\nkind: Secret\nmetadata: { name: shop-tls, namespace: shop }\ntype: kubernetes.io/tls\n${body}`;

  it('PEM in data (base64) or stringData', () => {
    const fromData = parseManifests(secret(`data:\n  tls.crt: ${b64(shop.cert)}\n  tls.key: ${b64(shop.key)}\n`)).secrets;
    expect(fromData).toEqual([{ name: 'shop-tls', namespace: 'shop', cert: shop.cert, key: shop.key }]);
    const fromString = parseManifests(secret(`stringData:\n  tls.crt: |\n${indent(shop.cert, 4)}\n  tls.key: |\n${indent(shop.key, 4)}\n`)).secrets;
    expect(fromString[0].cert.trim()).toBe(shop.cert.trim());
  });

  it.each([
    ['a certificate that is not PEM', () => secret(`data:\n  tls.crt: ${b64('hello')}\n  tls.key: ${b64(shop.key)}\n`), /^document 1 \(Secret shop-tls\): data\.tls\.crt: not a PEM certificate \(no "-----BEGIN CERTIFICATE-----" block\)$/],
    ['a PEM block that is not a certificate', () => secret(`stringData:\n  tls.crt: "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n"\n  tls.key: ${JSON.stringify(shop.key)}\n`), /^document 1 \(Secret shop-tls\): stringData\.tls\.crt: not a PEM certificate \(/],
    ['a key that is not PEM', () => secret(`stringData:\n  tls.crt: ${JSON.stringify(shop.cert)}\n  tls.key: nope\n`), /^document 1 \(Secret shop-tls\): stringData\.tls\.key: not a PEM private key/],
    ['the key of another certificate', () => secret(`data:\n  tls.crt: ${b64(shop.cert)}\n  tls.key: ${b64(other.key)}\n`), /^document 1 \(Secret shop-tls\): data\.tls\.key: is not the private key of the certificate in data\.tls\.crt$/],
    ['data that is not base64', () => secret(`data:\n  tls.crt: "***"\n  tls.key: ${b64(shop.key)}\n`), /^document 1 \(Secret shop-tls\): data\.tls\.crt: not valid base64/],
    ['no tls.key', () => secret(`data:\n  tls.crt: ${b64(shop.cert)}\n`), /^document 1 \(Secret shop-tls\): data\.tls\.key: required in a kubernetes\.io\/tls Secret/],
    ['another Secret type', () => secret('').replace('kubernetes.io/tls', 'Opaque'), /^document 1 \(Secret shop-tls\): type: "Opaque": podwire reads Secrets of type kubernetes\.io\/tls only/],
  ])('%s', (_what, text, message) => {
    const problems = manifestProblems(text());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });
});
