// The HTTP side of `podwire ui`: the live web page of a running lab, served
// by the lab's own process (no second daemon) with Node's http module.
//
//   GET /, /app.js, /style.css   the page: static files from src/ui/ (no build step, nothing from the network)
//   GET /api/lab                 the lab as `podwire status --json` shows it (nodes, pods, Services, endpoints)
//   GET /api/stats               one counters snapshot (`podwire stats --json`)
//   GET /api/trace?from=&to=&proto=&port=   a dry-run trace (`podwire trace --json`)
//   GET /api/events              Server-Sent Events: `lab` when the lab's shape changes, `tick` with the
//                                counters and per-second rates every interval
//
// It listens on loopback only unless forced: the page shows the lab's
// traffic and runs traces. Requests whose Host header names anything but the
// loopback address it listens on are refused, so a web page elsewhere cannot
// reach it by DNS rebinding.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageFile } from '../util/package-files.ts';
import type { LabStatus } from './status.ts';
import { statsRates, type StatsJson } from './table-control.ts';
import type { TraceReply, TraceRequest } from './trace-control.ts';

export interface UiAddress { host: string; port: number }

/** What the page reads; the daemon passes the lab's controls, the unit tests a fake. */
export interface UiSource {
  lab(): Promise<LabStatus>;
  stats(): Promise<StatsJson>;
  trace(req: TraceRequest): Promise<TraceReply>;
  /**
   * Something that changes whenever the lab's shape does (nodes, pods,
   * Services, endpoints), cheaper to get than lab(): each tick compares it and
   * reads lab() only on a change. Absent: lab() every tick.
   */
  shape?(): unknown;
}

export interface UiServerOptions {
  /** listen on a non-loopback address (--force): the page then answers anyone who can reach it */
  force?: boolean;
  /** how often the event stream sends counters (ms); 1000 unless a test wants it faster */
  intervalMs?: number;
  /** where index.html, app.js and style.css are (default: src/ui of this checkout) */
  assetsDir?: string;
}

export const isLoopbackHost = (host: string) =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * `--listen [ADDR:]PORT`: a bare port listens on 127.0.0.1; PORT 0 lets the
 * kernel pick one. ADDR must be loopback (127.0.0.0/8, [::1], localhost)
 * unless `force`.
 */
export function parseUiListen(v: string, force = false): UiAddress {
  const m = /^(?:(\[[^\]]*\]|[^:]*):)?(\d+)$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--listen: "${v}" is not [ADDR:]PORT with a port from 0 to 65535 (e.g. 8470 or 127.0.0.1:8470)`);
  }
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  if (host !== 'localhost' && !isIP(host)) throw new Error(`--listen: "${host}" is not an IP address (or localhost)`);
  if (!force && !isLoopbackHost(host)) {
    throw new Error(`--listen: ${host} is not a loopback address: the page shows the lab's traffic and runs traces, so it listens on loopback only (127.0.0.1, [::1], localhost); --force to listen there anyway`);
  }
  return { host, port };
}

export function uiUrl(a: UiAddress): string {
  return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/`;
}

/** src/ui of the package: the page is served as it is, from source or compiled alike. */
export function defaultAssetsDir(): string {
  return packageFile('src/ui');
}

/** The page's files: a fixed list, so no request path ever reaches the file system. */
const ASSETS: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/** Only this origin: no script, style, image or connection elsewhere (no CDN, nothing from the network). */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

export class UiServer {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private prev: StatsJson | undefined;
  private labKey = '';
  private ticking = false;

  private constructor(readonly server: Server, readonly address: UiAddress, private readonly source: UiSource,
    private readonly intervalMs: number) {}

  get url(): string { return uiUrl(this.address); }

  /** Listen at `addr`; resolves once listening (with the kernel's port when 0 was asked). */
  static async start(addr: UiAddress, source: UiSource, opts: UiServerOptions = {}): Promise<UiServer> {
    if (!opts.force && !isLoopbackHost(addr.host)) throw new Error(`--listen: ${addr.host} is not a loopback address (--force to listen there anyway)`);
    const assets = opts.assetsDir ?? defaultAssetsDir();
    let ui: UiServer | undefined;
    const server = createServer((req, res) => { void ui!.serve(req, res, assets, opts.force ?? false); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`podwire ui: cannot listen on ${uiUrl(addr)}: ${e.message}`)));
      server.listen(addr.port, addr.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    ui = new UiServer(server, { host: addr.host, port }, source, opts.intervalMs ?? 1000);
    return ui;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.server.close();
    this.server.closeAllConnections();
  }

  private async serve(req: IncomingMessage, res: ServerResponse, assets: string, anyHost: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!anyHost && !this.hostAllowed(req.headers.host)) {
      sendText(res, 421, `this page answers only as ${this.url} (Host "${req.headers.host ?? ''}" refused)\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendText(res, 405, 'method not allowed\n');
      return;
    }
    try {
      const asset = ASSETS[url.pathname];
      if (asset) {
        const body = await readFile(join(assets, asset[0]));
        res.writeHead(200, { 'Content-Type': asset[1], 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      if (url.pathname === '/api/lab') return sendJson(res, 200, await this.source.lab());
      if (url.pathname === '/api/stats') return sendJson(res, 200, await this.source.stats());
      if (url.pathname === '/api/trace') {
        let q: TraceRequest;
        try { q = traceQuery(url.searchParams); } catch (e) { return sendJson(res, 400, { error: (e as Error).message }); }
        // a trace the lab refuses (unknown pod, a Service without that port) is the asker's mistake: 400 with the lab's words
        try { return sendJson(res, 200, await this.source.trace(q)); } catch (e) { return sendJson(res, 400, { error: (e as Error).message }); }
      }
      if (url.pathname === '/api/events') return this.subscribe(res);
      sendJson(res, 404, { error: `not found: ${url.pathname} (the page is at /, data under /api/lab, /api/stats, /api/trace, /api/events)` });
    } catch (e) {
      sendJson(res, 500, { error: `the lab did not answer: ${(e as Error).message}` });
    }
  }

  private hostAllowed(host: string | undefined): boolean {
    if (!host) return false;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    if (!m || Number(m[2] ?? 80) !== this.address.port) return false;
    return isLoopbackHost(m[1].replace(/^\[|\]$/g, '').toLowerCase());
  }

  /** One more event-stream client; the first starts the ticker, the last one leaving stops it. */
  private subscribe(res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`retry: 2000\n\n`);
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) { clearInterval(this.timer); this.timer = undefined; this.prev = undefined; }
    });
    this.labKey = ''; // the new client needs the lab's shape once
    void this.tick();
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
  }

  /** Read the counters once for every client: `lab` first when the shape changed (or someone new came), then `tick`. */
  private async tick(): Promise<void> {
    if (this.ticking) return; // a slow data plane: skip a beat rather than pile requests up
    this.ticking = true;
    try {
      const shapeOf = (lab: LabStatus) => [lab.nodes.map((n) => n.name), lab.pods, lab.services, lab.external];
      const cheap = this.source.shape?.();
      const lab = cheap === undefined ? await this.source.lab() : undefined;
      const key = JSON.stringify(cheap ?? shapeOf(lab!));
      if (key !== this.labKey) {
        this.labKey = key;
        this.broadcast('lab', lab ?? await this.source.lab());
      }
      const cur = await this.source.stats();
      const rates = this.prev ? statsRates(this.prev, cur) : undefined;
      this.prev = cur;
      this.broadcast('tick', { stats: cur, ...(rates ? { rates } : {}) });
    } catch (e) {
      this.broadcast('problem', { error: `the lab did not answer: ${(e as Error).message}` });
    } finally {
      this.ticking = false;
    }
  }

  private broadcast(event: string, data: unknown): void {
    const msg = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) c.write(msg);
  }
}

/** The trace form's query, checked the way `podwire trace` checks its flags. */
export function traceQuery(q: URLSearchParams): TraceRequest {
  const from = q.get('from')?.trim() ?? '';
  const to = q.get('to')?.trim() ?? '';
  if (!from || from.length > 253) throw new Error('from: a pod (NAME or NAMESPACE/NAME) or an external host, at most 253 characters');
  if (!to || to.length > 253) throw new Error('to: a pod, a Service (name, name.namespace, DNS name) or an IPv4 address, at most 253 characters');
  const proto = (q.get('proto') ?? 'tcp').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') throw new Error(`proto: "${proto}" is not tcp, udp or icmp`);
  const portText = q.get('port')?.trim();
  let port: number | undefined;
  if (portText) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new Error(`port: "${portText}" is not a port from 1 to 65535`);
  }
  return { from, to, proto, ...(port !== undefined ? { port } : {}) };
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}
