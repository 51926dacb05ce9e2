// The nginx.conf an Ingress controller runs, rendered from Ingress objects:
// a pure function (Ingresses + each backend's endpoints + TLS file paths ->
// text), with the semantics of the Kubernetes Ingress documentation, which
// are not nginx's own:
//  - hosts: a request is matched on its host first ("Incoming requests are
//    first evaluated for a host match"), then on the paths of that host's
//    rules. A precise host is an nginx exact server_name; a wildcard
//    `*.foo.com` matches exactly one label, so it becomes the regex
//    `~^[^.]+\.foo\.com$` (nginx's own `*.foo.com` would also take
//    `a.b.foo.com`). Rules without a host serve every host that has no
//    rule of its own (the default server).
//  - paths: Prefix is element-wise (`/foo` matches `/foo`, `/foo/`,
//    `/foo/bar`, never `/foobar`; a trailing slash is ignored), so Prefix
//    `/foo` becomes two locations, `= /foo` and `^~ /foo/`; Exact `/foo`
//    is `= /foo`. nginx then picks an exact location first, else the
//    longest `^~` prefix, which is "longest path wins, Exact over Prefix at
//    equal length". ImplementationSpecific is nginx's plain prefix match
//    (`^~ /foo` also takes `/foobar`), as ingress-nginx treats it without
//    its regex annotations. No regex location is ever written, so `^~`
//    decides alone.
//  - nothing matched: the first defaultBackend among the Ingresses, else
//    404 from nginx itself. A backend without ready endpoints answers 503.
import type { IngressBackend, IngressSpec, PathType } from '../model/ingress.ts';

/** A Service port an Ingress backend names, qualified by the Ingress's namespace. */
export interface UpstreamRef { namespace: string; service: string; port: number | string }
/** The key of `NginxConfigInput.upstreams`: "namespace/service:port" (port as the Ingress names it: number or name). */
export const upstreamKey = (r: UpstreamRef) => `${r.namespace}/${r.service}:${r.port}`;

export interface TlsFiles { cert: string; key: string }

export interface NginxConfigInput {
  /** the Ingresses this controller serves, in a stable order (the first defaultBackend wins) */
  ingresses: IngressSpec[];
  /** upstreamKey -> the ready endpoints, "ip:port"; a key missing or empty answers 503 */
  upstreams: Map<string, string[]>;
  /** "namespace/secretName" -> the PEM files nginx reads; a tls entry whose Secret has none here is served on HTTP only */
  tls?: Map<string, TlsFiles>;
  /** listening ports, default 80 and 443 */
  httpPort?: number;
  httpsPort?: number;
}

/**
 * The access log line: the client's address first, so that a Service with
 * externalTrafficPolicy: Local in front of the controller shows the real
 * client there, then the host, request, status, bytes and the endpoint used.
 */
export const ACCESS_LOG_FORMAT = '$remote_addr - [$time_local] "$host" "$request" $status $body_bytes_sent upstream=$upstream_addr rt=$request_time';
/** Files nginx writes, relative to its prefix (`nginx -p`): the process runner creates the directories. */
export const NGINX_FILES = { pid: 'nginx.pid', accessLog: 'logs/access.log', errorLog: 'logs/error.log', tempDir: 'tmp' };
const TEMP_PATHS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];
/** Idle connections each nginx worker keeps open per upstream. */
const UPSTREAM_KEEPALIVE = 32;

interface Route { key: string; backend: Target }
type Target = { upstream: string } | { status: number };

const PATH_TYPE_ORDER: Record<PathType, number> = { Exact: 0, Prefix: 1, ImplementationSpecific: 2 };

/** The nginx upstream name of a backend: letters, digits, "-" and "_" only (names and port names are DNS labels). */
function upstreamName(r: UpstreamRef): string {
  return `${r.namespace}_${r.service}_${r.port}`;
}

/** server_name for an Ingress host: exact, or a one-label regex for `*.` (see the top of this file). */
export function serverName(host: string): string {
  if (!host.startsWith('*.')) return host;
  return `~^[^.]+\\.${host.slice(2).replace(/\./g, '\\.')}$`;
}

/** Does the tls host `tlsHost` (precise or `*.`) cover the server host `host`? */
function tlsCovers(tlsHost: string, host: string): boolean {
  if (tlsHost === host) return true;
  if (!tlsHost.startsWith('*.') || host.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === tlsHost.slice(2);
}

/**
 * nginx location keys for one Ingress path, as the top of this file explains.
 * A prefix key is its path alone (the `^~` is added when writing; `/` stays
 * plain), so `location /x` and `location ^~ /x`, which nginx calls
 * duplicates, are one key here.
 */
export function locationKeys(path: string, pathType: PathType): string[] {
  if (pathType === 'Exact') return [`= ${path}`];
  if (pathType === 'ImplementationSpecific') return [path];
  const p = path.replace(/\/+$/, '');
  return p === '' ? ['/'] : [`= ${p}`, `${p}/`];
}

function writeLocation(key: string, target: Target, out: string[]): void {
  const head = key.startsWith('= ') ? key : key === '/' ? '/' : `^~ ${key}`;
  const body = 'upstream' in target ? `proxy_pass http://${target.upstream};` : `return ${target.status};`;
  out.push(`    location ${head} { ${body} }`);
}

/** Render nginx.conf (see the top of this file for the semantics). */
export function renderNginxConfig(input: NginxConfigInput): string {
  const httpPort = input.httpPort ?? 80;
  const httpsPort = input.httpsPort ?? 443;
  const tlsFiles = input.tls ?? new Map<string, TlsFiles>();
  const upstreams = new Map<string, string[]>(); // nginx name -> endpoints, in first-use order
  const target = (namespace: string, b: IngressBackend): Target => {
    const ref = { namespace, service: b.service, port: b.port };
    const eps = input.upstreams.get(upstreamKey(ref)) ?? [];
    if (eps.length === 0) return { status: 503 };
    const name = upstreamName(ref);
    upstreams.set(name, eps);
    return { upstream: name };
  };

  // every path of every rule, grouped by host ('' = no host), best first: Exact, Prefix, then
  // ImplementationSpecific, each in Ingress order; the first to claim a location key keeps it
  type Candidate = { host: string; path: string; pathType: PathType; namespace: string; backend: IngressBackend; order: number };
  const candidates: Candidate[] = [];
  const hosts: string[] = ['']; // server order: the default server, then hosts as they first appear
  for (const ing of input.ingresses) {
    for (const rule of ing.rules) {
      const host = rule.host ?? '';
      if (!hosts.includes(host)) hosts.push(host);
      for (const p of rule.paths) candidates.push({ host, path: p.path, pathType: p.pathType, namespace: ing.namespace, backend: p.backend, order: candidates.length });
    }
  }
  // a host named only in tls still gets a server, so HTTPS to it is answered (by the default backend or 404)
  const certFor = new Map<string, TlsFiles>();
  for (const ing of input.ingresses) for (const t of ing.tls) {
    const files = t.secretName === undefined ? undefined : tlsFiles.get(`${ing.namespace}/${t.secretName}`);
    if (!files) continue;
    for (const h of t.hosts) if (!hosts.includes(h)) hosts.push(h);
  }
  for (const h of hosts) {
    if (h === '') continue;
    for (const ing of input.ingresses) for (const t of ing.tls) {
      const files = t.secretName === undefined ? undefined : tlsFiles.get(`${ing.namespace}/${t.secretName}`);
      if (files && !certFor.has(h) && t.hosts.some((th) => tlsCovers(th, h))) certFor.set(h, files);
    }
  }
  candidates.sort((a, b) => PATH_TYPE_ORDER[a.pathType] - PATH_TYPE_ORDER[b.pathType] || a.order - b.order);

  const fallbackIngress = input.ingresses.find((i) => i.defaultBackend);
  const servers: string[] = [];
  for (const host of hosts) {
    const routes = new Map<string, Route>();
    for (const c of candidates) {
      if (c.host !== host) continue;
      for (const key of locationKeys(c.path, c.pathType)) if (!routes.has(key)) routes.set(key, { key, backend: target(c.namespace, c.backend) });
    }
    if (!routes.has('/')) {
      routes.set('/', { key: '/', backend: fallbackIngress ? target(fallbackIngress.namespace, fallbackIngress.defaultBackend!) : { status: 404 } });
    }
    const out: string[] = ['  server {'];
    const cert = certFor.get(host);
    if (host === '') {
      out.push(`    listen ${httpPort} default_server;`);
      // HTTPS for a host no tls entry names: refuse the handshake rather than show another host's certificate
      if (certFor.size > 0) out.push(`    listen ${httpsPort} ssl default_server;`, '    ssl_reject_handshake on;');
      out.push('    server_name _;');
    } else {
      out.push(`    listen ${httpPort};`);
      if (cert) out.push(`    listen ${httpsPort} ssl;`, `    ssl_certificate ${cert.cert};`, `    ssl_certificate_key ${cert.key};`);
      out.push(`    server_name ${serverName(host)};`);
    }
    // longest first: only for the reader, nginx orders locations itself
    const bare = (k: string) => k.replace(/^= /, '');
    const sorted = [...routes.values()].sort((a, b) => bare(b.key).length - bare(a.key).length || (bare(a.key) < bare(b.key) ? -1 : bare(a.key) > bare(b.key) ? 1 : 0));
    for (const r of sorted) writeLocation(r.key, r.backend, out);
    out.push('  }');
    servers.push(out.join('\n'));
  }

  // keepalive: idle connections to the endpoints are reused (proxy_http_version 1.1 and an empty
  // Connection header below), as ingress-nginx does; otherwise every request opens one
  const upstreamBlocks = [...upstreams].map(([name, eps]) => [`  upstream ${name} {`, ...eps.map((e) => `    server ${e};`), `    keepalive ${UPSTREAM_KEEPALIVE};`, '  }'].join('\n'));
  return [
    '# Rendered by podwire from Ingress objects; replaced on every change.',
    'worker_processes 1;',
    `pid ${NGINX_FILES.pid};`,
    `error_log ${NGINX_FILES.errorLog} notice;`,
    'events { worker_connections 1024; }',
    'http {',
    `  log_format podwire '${ACCESS_LOG_FORMAT}';`,
    `  access_log ${NGINX_FILES.accessLog} podwire;`,
    ...TEMP_PATHS.map((t) => `  ${t}_temp_path ${NGINX_FILES.tempDir}/${t};`),
    '  server_names_hash_bucket_size 128;',
    '  proxy_http_version 1.1;',
    '  proxy_set_header Connection "";',
    '  proxy_set_header Host $host;',
    '  proxy_set_header X-Real-IP $remote_addr;',
    '  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '  proxy_set_header X-Forwarded-Proto $scheme;',
    '  proxy_connect_timeout 5s;',
    ...upstreamBlocks,
    ...servers,
    '}',
    '',
  ].join('\n');
}
