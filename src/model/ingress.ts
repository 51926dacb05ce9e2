// Kubernetes Ingress objects in the model: what the topology's `ingresses:`
// list or networking.k8s.io/v1 Ingress / IngressClass and v1 Secret
// (kubernetes.io/tls) manifests ask for, checked as the API server checks
// them (pkg/apis/networking/validation), plus what the API server leaves to
// the controller but podwire refuses up front: a backend naming a Service
// that does not exist, a TLS Secret that is not a PEM certificate and key.
// Pure: nothing here runs nginx (src/ingress/ does).
import { X509Certificate, createPrivateKey } from 'node:crypto';

export const PATH_TYPES = ['Exact', 'Prefix', 'ImplementationSpecific'] as const;
export type PathType = (typeof PATH_TYPES)[number];

/** The controller name ingress-nginx registers its IngressClass with. */
export const NGINX_CONTROLLER = 'k8s.io/ingress-nginx';
/** The annotation that makes an IngressClass the one for Ingresses without ingressClassName. */
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/**
 * The IngressClass podwire's controller brings, as the ingress-nginx
 * manifests create it. It is the default class, so an Ingress without
 * ingressClassName (as in most examples) is served.
 */
export const BUILTIN_INGRESS_CLASS: IngressClassSpec = { name: 'nginx', controller: NGINX_CONTROLLER, isDefault: true };

export const INGRESS_SPEC_KEYS = ['ingressClassName', 'defaultBackend', 'rules', 'tls'];
/** A topology `ingresses:` entry: the spec's fields beside name and namespace. */
export const INGRESS_ENTRY_KEYS = ['name', 'namespace', ...INGRESS_SPEC_KEYS];
const RULE_KEYS = ['host', 'http'];
const PATH_KEYS = ['path', 'pathType', 'backend'];
const BACKEND_KEYS = ['service', 'resource'];
const SERVICE_BACKEND_KEYS = ['name', 'port'];
const PORT_KEYS = ['number', 'name'];
const TLS_KEYS = ['hosts', 'secretName'];
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

export interface IngressBackend {
  service: string;
  /** the Service port: its number, or its name */
  port: number | string;
}
export interface IngressPath { path: string; pathType: PathType; backend: IngressBackend }
export interface IngressRule {
  /** undefined: the rule applies to every host */
  host?: string;
  /** empty when the rule has no `http` */
  paths: IngressPath[];
}
export interface IngressTls { hosts: string[]; secretName?: string }
export interface IngressSpec {
  name: string;
  namespace: string;
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  rules: IngressRule[];
  tls: IngressTls[];
}
export interface IngressClassSpec { name: string; controller: string; isDefault: boolean }
/** A kubernetes.io/tls Secret: PEM text, checked to parse and to belong together. */
export interface TlsSecret { name: string; namespace: string; cert: string; key: string }

/** An object and where it came from, as messages name it ("document 2 (Ingress shop)", "ingress shop"), and the prefix of its spec fields ("spec." or ""). */
export interface Located<T> { value: T; origin: string; root: string }

type Say = (field: string, msg: string) => void;
/** Records a problem under a field; count() is how many problems the list holds. */
type Report = Say & { count: () => number };

// DNS-1123 subdomain / label, DNS-1035 label, IANA_SVC_NAME: as apimachinery's validation defines them
const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SERVICE_NAME_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PORT_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

export function isSubdomain(s: string): boolean { return s.length <= 253 && SUBDOMAIN_RE.test(s) && s.split('.').every((l) => l.length <= 63); }
const isLabel = (s: string) => s.length <= 63 && LABEL_RE.test(s);
const isServiceName = (s: string) => s.length <= 63 && SERVICE_NAME_RE.test(s);
const isPortName = (s: string) => s.length <= 15 && PORT_NAME_RE.test(s) && /[a-z]/.test(s) && !s.includes('--');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v);

function unknownKeys(obj: Record<string, unknown>, known: string[], where: string, p: Say): void {
  for (const k of Object.keys(obj)) if (!known.includes(k)) p(`${where}${k}`, `unknown key (known: ${known.join(', ')})`);
}

/** A host as IngressRule.host and IngressTLS.hosts take it: a DNS-1123 subdomain, optionally behind one leading `*.` label; never an IP. */
export function hostProblem(host: unknown): string | undefined {
  if (typeof host !== 'string' || host === '') return `${show(host)}: expected a host name like shop.example or *.example.com`;
  if (IPV4_RE.test(host) || host.includes(':')) return `${show(host)} must be a DNS name, not an IP address (and without a port)`;
  const rest = host.startsWith('*.') ? host.slice(2) : host;
  if (rest.includes('*')) return `${show(host)}: a wildcard must be the whole first label, as in *.example.com (only one, and never "*" alone)`;
  if (!isSubdomain(rest)) return `${show(host)} is not a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", each label starting and ending with a letter or digit and at most 63, at most 253 in all)`;
  return undefined;
}

// the API server refuses these in an Exact or Prefix path (validation.go: invalidPathSequences, invalidPathSuffixes)
const BAD_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const BAD_PATH_SUFFIXES = ['/..', '/.'];

function readBackend(v: unknown, where: string, p: Report): IngressBackend | undefined {
  if (!isObject(v)) { p(where, 'expected a mapping like { service: { name: web, port: { number: 80 } } }'); return undefined; }
  unknownKeys(v, BACKEND_KEYS, `${where}.`, p);
  if (v.resource !== undefined) {
    p(`${where}.resource`, v.service !== undefined ? 'cannot set both service and resource' : 'resource backends are not modelled: name a Service (service: { name, port })');
    return undefined;
  }
  const s = v.service;
  if (!isObject(s)) { p(`${where}.service`, s === undefined ? 'required (a backend names a Service and its port)' : 'expected a mapping like { name: web, port: { number: 80 } }'); return undefined; }
  unknownKeys(s, SERVICE_BACKEND_KEYS, `${where}.service.`, p);
  let ok = true;
  if (typeof s.name !== 'string' || !isServiceName(s.name)) {
    p(`${where}.service.name`, s.name === undefined ? 'required' : `${show(s.name)} is not a valid Service name (lowercase letters, digits, "-", starting with a letter, at most 63)`);
    ok = false;
  }
  const port = s.port;
  let portRef: number | string | undefined;
  if (!isObject(port)) { p(`${where}.service.port`, port === undefined ? 'required: { number: N } or { name: NAME }' : 'expected { number: N } or { name: NAME }'); return undefined; }
  unknownKeys(port, PORT_KEYS, `${where}.service.port.`, p);
  if (port.number !== undefined && port.name !== undefined) p(`${where}.service.port`, 'cannot set both port name and port number');
  else if (port.number !== undefined) {
    if (typeof port.number !== 'number' || !Number.isInteger(port.number) || port.number < 1 || port.number > 65535) p(`${where}.service.port.number`, `${show(port.number)} is not an integer in [1, 65535]`);
    else portRef = port.number;
  } else if (port.name !== undefined) {
    if (typeof port.name !== 'string' || !isPortName(port.name)) p(`${where}.service.port.name`, `${show(port.name)} is not a valid port name (lowercase letters, digits, "-", at most 15, at least one letter)`);
    else portRef = port.name;
  } else p(`${where}.service.port`, 'port name or number is required');
  return ok && portRef !== undefined ? { service: s.name as string, port: portRef } : undefined;
}

function readPath(v: unknown, where: string, p: Report): IngressPath | undefined {
  if (!isObject(v)) { p(where, 'expected a mapping with path, pathType and backend'); return undefined; }
  unknownKeys(v, PATH_KEYS, `${where}.`, p);
  const before = p.count();
  const pathType = v.pathType;
  if (pathType === undefined) p(`${where}.pathType`, `required (one of ${PATH_TYPES.join(', ')})`);
  else if (!PATH_TYPES.includes(pathType as PathType)) p(`${where}.pathType`, `${show(pathType)} is not supported (one of ${PATH_TYPES.join(', ')})`);
  let path = v.path;
  if (path === undefined && pathType === 'ImplementationSpecific') path = '/';
  if (typeof path !== 'string' || !path.startsWith('/')) p(`${where}.path`, path === undefined ? `required for pathType ${pathType} (it must begin with "/")` : `${show(path)} must begin with "/"`);
  else if (pathType === 'Exact' || pathType === 'Prefix') {
    const seq = BAD_PATH_SEQUENCES.find((s) => path.includes(s));
    const suf = BAD_PATH_SUFFIXES.find((s) => path.endsWith(s));
    if (seq) p(`${where}.path`, `${show(path)} must not contain ${show(seq)}`);
    else if (suf) p(`${where}.path`, `${show(path)} cannot end with ${show(suf)}`);
  }
  // nginx.conf syntax: these would end or escape the location's path (a client never sends "#")
  if (/[\s{};#'"\\]/.test(typeof path === 'string' ? path : '')) p(`${where}.path`, `${show(path)}: whitespace, quotes, braces, "#", ";" and "\\" are not accepted in a path`);
  const backend = readBackend(v.backend, `${where}.backend`, p);
  if (p.count() !== before || !backend) return undefined;
  return { path: path as string, pathType: pathType as PathType, backend };
}

function reporter(problems: string[], label: string, root: string): Report {
  const say: Say = (field, msg) => { problems.push(`${label}${root}${field}: ${msg}`); };
  return Object.assign(say, { count: () => problems.length });
}

/**
 * The spec fields of one Ingress. `label` prefixes every message ("document
 * 2 (Ingress shop): ", "ingress shop: "), `root` every field path ("spec."
 * in a manifest). Undefined (problems recorded) when anything is wrong.
 */
export function readIngressSpec(obj: Record<string, unknown>, label: string, root: string, problems: string[], keysChecked = false): Omit<IngressSpec, 'name' | 'namespace'> | undefined {
  const before = problems.length;
  const p = reporter(problems, label, root);
  if (!keysChecked) unknownKeys(obj, INGRESS_SPEC_KEYS, '', p);
  const out: Omit<IngressSpec, 'name' | 'namespace'> = { rules: [], tls: [] };
  if (obj.ingressClassName !== undefined) {
    if (typeof obj.ingressClassName !== 'string' || !isSubdomain(obj.ingressClassName)) p('ingressClassName', `${show(obj.ingressClassName)} is not a valid IngressClass name (a DNS-1123 subdomain)`);
    else out.ingressClassName = obj.ingressClassName;
  }
  if (obj.defaultBackend !== undefined) out.defaultBackend = readBackend(obj.defaultBackend, 'defaultBackend', p);
  if (obj.rules !== undefined) {
    if (!Array.isArray(obj.rules)) p('rules', 'expected a list');
    else obj.rules.forEach((r, i) => {
      const w = `rules[${i}]`;
      if (!isObject(r)) { p(w, 'expected a mapping with host and http'); return; }
      unknownKeys(r, RULE_KEYS, `${w}.`, p);
      const rule: IngressRule = { paths: [] };
      if (r.host !== undefined) {
        const why = hostProblem(r.host);
        if (why) p(`${w}.host`, why);
        else rule.host = r.host as string;
      }
      if (r.http !== undefined) {
        const h = r.http;
        if (!isObject(h)) p(`${w}.http`, 'expected a mapping with paths');
        else {
          unknownKeys(h, ['paths'], `${w}.http.`, p);
          if (!Array.isArray(h.paths) || h.paths.length === 0) p(`${w}.http.paths`, h.paths === undefined ? 'required: a list of at least one path' : 'expected a list of at least one path');
          else h.paths.forEach((x, j) => { const path = readPath(x, `${w}.http.paths[${j}]`, p); if (path) rule.paths.push(path); });
        }
      }
      out.rules.push(rule);
    });
  }
  if (out.rules.length === 0 && obj.defaultBackend === undefined) p('rules', 'either defaultBackend or rules must be specified');
  if (obj.tls !== undefined) {
    if (!Array.isArray(obj.tls)) p('tls', 'expected a list');
    else obj.tls.forEach((t, i) => {
      const w = `tls[${i}]`;
      if (!isObject(t)) { p(w, 'expected a mapping with hosts and secretName'); return; }
      unknownKeys(t, TLS_KEYS, `${w}.`, p);
      const tls: IngressTls = { hosts: [] };
      if (t.hosts !== undefined) {
        if (!Array.isArray(t.hosts)) p(`${w}.hosts`, 'expected a list of host names');
        else t.hosts.forEach((h, j) => { const why = hostProblem(h); if (why) p(`${w}.hosts[${j}]`, why); else tls.hosts.push(h as string); });
      }
      if (t.secretName !== undefined) {
        if (typeof t.secretName !== 'string' || !isSubdomain(t.secretName)) p(`${w}.secretName`, `${show(t.secretName)} is not a valid Secret name (a DNS-1123 subdomain)`);
        else tls.secretName = t.secretName;
      }
      out.tls.push(tls);
    });
  }
  return problems.length === before ? out : undefined;
}

/** The topology's `ingresses:` list, each entry checked (problems recorded, bad entries dropped). */
export function parseIngressList(raw: unknown, problems: string[]): Located<IngressSpec>[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) { problems.push('ingresses: expected a list'); return []; }
  const out: Located<IngressSpec>[] = [];
  raw.forEach((e, i) => {
    if (!isObject(e)) { problems.push(`ingresses[${i}]: expected a mapping with name and rules or defaultBackend`); return; }
    const before = problems.length;
    unknownKeys(e, INGRESS_ENTRY_KEYS, `ingresses[${i}].`, (f, m) => problems.push(`${f}: ${m}`));
    const nameOk = typeof e.name === 'string' && isSubdomain(e.name);
    if (!nameOk) problems.push(`ingresses[${i}].name: ${e.name === undefined ? 'required' : `${show(e.name)} is not a valid Ingress name (a DNS-1123 subdomain)`}`);
    const namespace = e.namespace === undefined ? 'default' : e.namespace;
    const nsOk = typeof namespace === 'string' && isLabel(namespace);
    if (!nsOk) problems.push(`ingresses[${i}].namespace: ${show(namespace)} is not a valid namespace (lowercase letters, digits, "-", at most 63)`);
    const origin = nameOk && nsOk ? ingressLabel({ name: e.name as string, namespace: namespace as string }) : `ingresses[${i}]`;
    const spec = readIngressSpec(e, `${origin}: `, '', problems, true);
    if (spec && problems.length === before) out.push({ value: { name: e.name as string, namespace: namespace as string, ...spec }, origin, root: '' });
  });
  return out;
}

/** How messages name an Ingress of the topology: "ingress shop", or "ingress web/shop" outside the default namespace. */
export function ingressLabel(i: { name: string; namespace: string }): string {
  return i.namespace === 'default' ? `ingress ${i.name}` : `ingress ${i.namespace}/${i.name}`;
}

/** An IngressClass manifest's spec (metadata already checked by the caller). */
export function readIngressClass(obj: Record<string, unknown>, name: string, label: string, problems: string[]): IngressClassSpec | undefined {
  const before = problems.length;
  const p = reporter(problems, label, '');
  const spec = obj.spec;
  if (!isObject(spec)) { p('spec', 'expected a mapping with controller'); return undefined; }
  unknownKeys(spec, ['controller', 'parameters'], 'spec.', p);
  if (typeof spec.controller !== 'string' || !/^[a-z0-9.-]+\/[A-Za-z0-9._/-]+$/.test(spec.controller) || spec.controller.length > 250) {
    p('spec.controller', spec.controller === undefined ? `required (podwire's controller is ${NGINX_CONTROLLER})` : `${show(spec.controller)} is not a domain-prefixed path like ${NGINX_CONTROLLER}`);
  }
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const ann = isObject(meta.annotations) ? meta.annotations : {};
  const dflt = ann[DEFAULT_CLASS_ANNOTATION];
  if (dflt !== undefined && dflt !== 'true' && dflt !== 'false') p(`metadata.annotations.${DEFAULT_CLASS_ANNOTATION}`, `${show(dflt)}: expected "true" or "false"`);
  if (problems.length !== before) return undefined;
  return { name, controller: spec.controller as string, isDefault: dflt === 'true' };
}

/** A v1 Secret manifest of type kubernetes.io/tls: tls.crt and tls.key from `data` (base64) or `stringData`, PEM checked. */
export function readTlsSecret(obj: Record<string, unknown>, name: string, namespace: string, label: string, problems: string[]): TlsSecret | undefined {
  const before = problems.length;
  const p = reporter(problems, label, '');
  if (obj.type !== TLS_SECRET_TYPE) {
    p('type', `${show(obj.type)}: podwire reads Secrets of type ${TLS_SECRET_TYPE} only (the certificate and key an Ingress's tls names)`);
    return undefined;
  }
  const text: Record<string, string> = {};
  if (obj.data !== undefined) {
    if (!isObject(obj.data)) p('data', 'expected a mapping of key to base64 value');
    else for (const [k, v] of Object.entries(obj.data)) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(v) || v.replace(/\s/g, '').length % 4 !== 0) { p(`data.${k}`, 'not valid base64 (data holds base64; give PEM text in stringData instead)'); continue; }
      text[k] = Buffer.from(v, 'base64').toString('utf8');
    }
  }
  if (obj.stringData !== undefined) {
    if (!isObject(obj.stringData)) p('stringData', 'expected a mapping of key to text');
    else for (const [k, v] of Object.entries(obj.stringData)) {
      if (typeof v !== 'string') p(`stringData.${k}`, 'expected text');
      else text[k] = v; // stringData wins over data, as the API server merges them
    }
  }
  if (problems.length !== before) return undefined;
  const field = (k: string) => (isObject(obj.stringData) && k in obj.stringData ? `stringData.${k}` : `data.${k}`);
  for (const k of ['tls.crt', 'tls.key']) if (text[k] === undefined) p(field(k), `required in a ${TLS_SECRET_TYPE} Secret (in data, base64, or stringData)`);
  if (problems.length !== before) return undefined;
  const cert = text['tls.crt'], key = text['tls.key'];
  let x509: X509Certificate | undefined;
  try {
    if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "-----BEGIN CERTIFICATE-----" block');
    x509 = new X509Certificate(cert);
  } catch (e) { p(field('tls.crt'), `not a PEM certificate (${(e as Error).message})`); }
  let pkey: ReturnType<typeof createPrivateKey> | undefined;
  try {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error('no "-----BEGIN ... PRIVATE KEY-----" block');
    pkey = createPrivateKey(key);
  } catch (e) { p(field('tls.key'), `not a PEM private key (${(e as Error).message})`); }
  if (x509 && pkey && !x509.checkPrivateKey(pkey)) p(field('tls.key'), `is not the private key of the certificate in ${field('tls.crt')}`);
  if (problems.length !== before) return undefined;
  return { name, namespace, cert, key };
}

/** What a reference check needs of a Service: its name and ports. */
export interface ServiceRef { name: string; namespace: string; ports: { name?: string; port: number }[] }

/**
 * Every backend names an existing Service (in the Ingress's namespace) and
 * one of its ports; every tls[].secretName names a given TLS Secret. The
 * API server leaves these to the controller; podwire refuses them, naming
 * the document and field, so a typo never becomes a silent 503.
 */
export function checkIngressReferences(ingresses: Located<IngressSpec>[], services: ServiceRef[], secrets: Pick<TlsSecret, 'name' | 'namespace'>[], problems: string[]): void {
  const svc = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const sec = new Set(secrets.map((s) => `${s.namespace}/${s.name}`));
  for (const { value: ing, origin, root } of ingresses) {
    const p = (field: string, msg: string) => problems.push(`${origin}: ${root}${field}: ${msg}`);
    const backend = (b: IngressBackend, where: string) => {
      const s = svc.get(`${ing.namespace}/${b.service}`);
      if (!s) { p(`${where}.service.name`, `no Service "${b.service}" in namespace ${ing.namespace}`); return; }
      const found = typeof b.port === 'number' ? s.ports.some((x) => x.port === b.port) : s.ports.some((x) => x.name === b.port);
      const field = typeof b.port === 'number' ? 'number' : 'name';
      if (!found) p(`${where}.service.port.${field}`, `Service ${b.service} has no port ${typeof b.port === 'number' ? b.port : `named "${b.port}"`} (its ports: ${s.ports.map((x) => (x.name ? `${x.name}/${x.port}` : x.port)).join(', ') || 'none'})`);
    };
    if (ing.defaultBackend) backend(ing.defaultBackend, 'defaultBackend');
    ing.rules.forEach((r, i) => r.paths.forEach((x, j) => backend(x.backend, `rules[${i}].http.paths[${j}].backend`)));
    ing.tls.forEach((t, i) => {
      if (t.secretName !== undefined && !sec.has(`${ing.namespace}/${t.secretName}`)) p(`tls[${i}].secretName`, `no ${TLS_SECRET_TYPE} Secret "${t.secretName}" in namespace ${ing.namespace}`);
    });
  }
}

/**
 * The Ingresses an nginx controller serves, as ingress-nginx picks them: an
 * ingressClassName naming one of `classes` whose controller is ours, or none
 * when one of those classes is the default.
 */
export function ingressesForController<T extends { ingressClassName?: string }>(ingresses: T[], classes: IngressClassSpec[], controller = NGINX_CONTROLLER): T[] {
  const ours = classes.filter((c) => c.controller === controller);
  const names = new Set(ours.map((c) => c.name));
  const takesClassless = ours.some((c) => c.isDefault);
  return ingresses.filter((i) => (i.ingressClassName === undefined ? takesClassless : names.has(i.ingressClassName)));
}
