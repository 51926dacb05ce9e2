// The live page's server (src/lab/ui-server.ts) without a lab: a fake source
// stands in for the lab's controls. The page's files and nothing else from
// disk, JSON shapes, 404 / 405 / 400 answers, the Host check against DNS
// rebinding, loopback-only listening, and the event stream's lab + tick
// events with per-second rates.
import { describe, it, expect, afterEach } from 'vitest';
import { request } from 'node:http';
import { connect } from 'node:net';
import { UiServer, parseUiListen, traceQuery, defaultAssetsDir, type UiSource } from '../../src/lab/ui-server.ts';
import { UiControl } from '../../src/lab/ui-control.ts';
import { labStatus, type LabStatus } from '../../src/lab/status.ts';
import { statsSnapshot, type StatsJson } from '../../src/lab/table-control.ts';
import { planTopology } from '../../src/model/topology.ts';
import type { NodeStats } from '../../src/dataplane/engine-protocol.ts';
import type { TraceReply, TraceRequest } from '../../src/lab/trace-control.ts';

const plan = planTopology({
  cluster: { name: 'ui' },
  nodes: [{ name: 'n1', pods: ['a1'] }, { name: 'n2', pods: [{ name: 'web1', labels: { app: 'web' } }] }],
  services: [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] }],
}, 'test');

/** Counters that grow by 1000 packets / 1 MB per call, on a clock that moves one second per call. */
function fakeSource(): UiSource & { traces: TraceRequest[] } {
  let calls = 0;
  const traces: TraceRequest[] = [];
  const nodeStats = (name: string, k: number): NodeStats => ({
    name,
    counters: {
      drops: { no_route: k, ttl_exceeded: 0 }, events: { routed: 10 * k },
      ports: [{ rx_packets: 1000 * k, rx_bytes: 1e6 * k, tx_packets: 0, tx_bytes: 0, rx_drops: 0, tx_drops: 0 }, {}, { rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, rx_drops: 0, tx_drops: 0 }],
    },
    fdb: [], fdbCapacity: 64, io: [], fabric: { noPeer: 0, tooDeep: 0, delivered: 0 }, underlayPort: 2, conntrackEntries: 3,
  });
  return {
    traces,
    lab: async (): Promise<LabStatus> => labStatus(plan, 1, '2030-01-01T00:00:00Z', []),
    stats: async (): Promise<StatsJson> => {
      calls++;
      return statsSnapshot(plan, [nodeStats('n1', calls), nodeStats('n2', 0)], new Date(Date.parse('2030-01-01T00:00:00Z') + calls * 1000));
    },
    trace: async (req: TraceRequest): Promise<TraceReply> => {
      traces.push(req);
      if (req.from !== 'a1') throw new Error(`no pod "${req.from}" in this lab`);
      return { hops: [{ node: 'n1', steps: [], lost: 0 }], outcomes: [{ node: 'n2', port: 'web1' }], from: { pod: 'a1', node: 'n1', ip: '10.244.0.2' }, to: { asked: req.to, ip: '10.96.0.10', service: 'default/web', port: 80 }, proto: req.proto ?? 'tcp' };
    },
  };
}

let servers: UiServer[] = [];
afterEach(() => { for (const s of servers) s.close(); servers = []; });

async function start(opts: { intervalMs?: number } = {}) {
  const source = fakeSource();
  const ui = await UiServer.start({ host: '127.0.0.1', port: 0 }, source, { intervalMs: opts.intervalMs ?? 1000 });
  servers.push(ui);
  return { ui, source };
}

/** GET with an explicit Host header (fetch would not let a test lie about it). */
function get(ui: UiServer, path: string, opts: { host?: string; method?: string } = {}): Promise<{ status: number; type: string; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: ui.address.port, path, method: opts.method ?? 'GET', headers: { Host: opts.host ?? `127.0.0.1:${ui.address.port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The status code of a hand-written request (to send no Host header). */
function rawStatus(port: number, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(text));
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (c) => { buf += c; });
    sock.on('end', () => resolve(Number(/^HTTP\/1\.\d (\d+)/.exec(buf)?.[1])));
    sock.on('error', reject);
  });
}

describe('parseUiListen: loopback only unless forced', () => {
  it('a bare port is 127.0.0.1; loopback addresses pass', () => {
    expect(parseUiListen('8470')).toEqual({ host: '127.0.0.1', port: 8470 });
    expect(parseUiListen('127.0.0.5:0')).toEqual({ host: '127.0.0.5', port: 0 });
    expect(parseUiListen('[::1]:8470')).toEqual({ host: '::1', port: 8470 });
    expect(parseUiListen('localhost:8470')).toEqual({ host: 'localhost', port: 8470 });
  });
  it('refuses other addresses, naming the flag and the way out', () => {
    expect(() => parseUiListen('0.0.0.0:8470')).toThrow(/--listen: 0\.0\.0\.0 is not a loopback address.*--force/);
    expect(() => parseUiListen('192.168.1.10:80')).toThrow(/not a loopback address/);
    expect(() => parseUiListen('[::]:80')).toThrow(/not a loopback address/);
    expect(parseUiListen('0.0.0.0:8470', true)).toEqual({ host: '0.0.0.0', port: 8470 });
  });
  it('refuses what is not [ADDR:]PORT', () => {
    for (const bad of ['', 'x', '70000', '127.0.0.1:', 'example.com:80', '1.2.3.4:-1']) expect(() => parseUiListen(bad), bad).toThrow(/--listen/);
  });
  it('the server itself will not listen on a non-loopback address without force', async () => {
    await expect(UiServer.start({ host: '0.0.0.0', port: 0 }, fakeSource())).rejects.toThrow(/not a loopback address/);
  });
});

describe('traceQuery', () => {
  it('takes from, to, proto, port', () => {
    expect(traceQuery(new URLSearchParams('from=a1&to=web&proto=UDP&port=53'))).toEqual({ from: 'a1', to: 'web', proto: 'udp', port: 53 });
    expect(traceQuery(new URLSearchParams('from=a1&to=web'))).toEqual({ from: 'a1', to: 'web', proto: 'tcp' });
  });
  it('names the field that is wrong', () => {
    expect(() => traceQuery(new URLSearchParams('to=web'))).toThrow(/^from:/);
    expect(() => traceQuery(new URLSearchParams('from=a1'))).toThrow(/^to:/);
    expect(() => traceQuery(new URLSearchParams('from=a1&to=web&proto=sctp'))).toThrow(/^proto: "sctp"/);
    expect(() => traceQuery(new URLSearchParams('from=a1&to=web&port=0'))).toThrow(/^port: "0"/);
    expect(() => traceQuery(new URLSearchParams('from=a1&to=web&port=8o'))).toThrow(/^port: "8o"/);
  });
});

describe('UiServer', () => {
  it('serves the page and its two files, with a policy that allows this origin only', async () => {
    const { ui } = await start();
    expect(defaultAssetsDir()).toMatch(/src\/ui$/);
    const page = await get(ui, '/');
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.body).toContain('<script src="/app.js"');
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing from the network
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'self'");
    expect((await get(ui, '/app.js')).type).toContain('text/javascript');
    expect((await get(ui, '/style.css')).type).toContain('text/css');
  });

  it('answers 404 for anything else, never reading a path it was given', async () => {
    const { ui } = await start();
    for (const path of ['/nope', '/../package.json', '/%2e%2e/package.json', '/src/ui/app.js', '/api', '/api/lab/x']) {
      const r = await get(ui, path);
      expect(r.status, path).toBe(404);
      expect(JSON.parse(r.body).error).toMatch(/^not found/);
    }
  });

  it('405 for methods other than GET and HEAD', async () => {
    const { ui } = await start();
    const r = await get(ui, '/api/lab', { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });

  it('refuses a Host that is not the loopback address and port it listens on (DNS rebinding)', async () => {
    const { ui } = await start();
    const port = ui.address.port;
    expect((await get(ui, '/api/lab', { host: `evil.example:${port}` })).status).toBe(421);
    expect((await get(ui, '/api/lab', { host: `127.0.0.1:${port + 1}` })).status).toBe(421);
    expect(await rawStatus(port, 'GET /api/lab HTTP/1.0\r\n\r\n')).toBe(421); // no Host at all
    expect((await get(ui, '/api/lab', { host: `localhost:${port}` })).status).toBe(200);
  });

  it('/api/lab is the status JSON: nodes, pods with IPs, Services with endpoints', async () => {
    const { ui } = await start();
    const lab = JSON.parse((await get(ui, '/api/lab')).body) as LabStatus;
    expect(lab.lab).toBe('ui');
    expect(lab.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(lab.pods.map((p) => [p.name, p.node])).toEqual([['a1', 'n1'], ['web1', 'n2']]);
    expect(lab.pods[0].ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const web = lab.services.find((s) => s.name === 'web')!;
    expect(web.endpoints.map((e) => e.ip)).toEqual([lab.pods[1].ip]);
  });

  it('/api/stats is the stats snapshot', async () => {
    const { ui } = await start();
    const s = JSON.parse((await get(ui, '/api/stats')).body) as StatsJson;
    expect(s.nodes[0]).toMatchObject({ name: 'n1', conntrackEntries: 3 });
    expect(s.nodes[0].ports.map((p) => p.name)).toEqual(['a1', 'underlay']);
  });

  it('/api/trace runs the trace; a bad query or a refused trace is a 400 with the reason', async () => {
    const { ui, source } = await start();
    const ok = await get(ui, '/api/trace?from=a1&to=web&proto=tcp&port=80');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ to: { service: 'default/web' }, outcomes: [{ node: 'n2', port: 'web1' }] });
    expect(source.traces).toEqual([{ from: 'a1', to: 'web', proto: 'tcp', port: 80 }]);
    const bad = await get(ui, '/api/trace?from=a1&to=web&port=99999');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/^port:/);
    const refused = await get(ui, '/api/trace?from=zz&to=web');
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).error).toBe('no pod "zz" in this lab');
  });

  it('/api/events: the lab once, then a tick per interval with per-second rates', async () => {
    const { ui } = await start({ intervalMs: 50 });
    const events = await new Promise<{ event: string; data: Record<string, unknown> }[]>((resolve, reject) => {
      const got: { event: string; data: Record<string, unknown> }[] = [];
      const req = request({ host: '127.0.0.1', port: ui.address.port, path: '/api/events', headers: { Host: `127.0.0.1:${ui.address.port}` } }, (res) => {
        expect(res.headers['content-type']).toContain('text/event-stream');
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) got.push({ event, data: JSON.parse(data) });
          }
          if (got.filter((e) => e.event === 'tick').length >= 3) { req.destroy(); resolve(got); }
        });
      });
      req.on('error', (e) => { if (got.length < 4) reject(e); });
      req.end();
    });
    expect(events[0].event).toBe('lab');
    expect(events.filter((e) => e.event === 'lab')).toHaveLength(1); // the lab did not change shape
    const ticks = events.filter((e) => e.event === 'tick');
    expect(ticks[0].data.rates).toBeUndefined(); // one snapshot: no rate yet
    const rates = ticks[1].data.rates as { nodes: { name: string; ports: Record<string, number>[]; drops: Record<string, number> }[] };
    // the fake's clock moves a second per snapshot, its counters 1000 packets and 1 MB
    expect(rates.nodes[0].ports[0]).toMatchObject({ name: 'a1', rx_packets: 1000, rx_bytes: 1e6 });
    expect(rates.nodes[0].drops.no_route).toBe(1);
  });
});

describe('the event stream with a shape', () => {
  it('reads the lab only when its shape changes, and sends it again then', async () => {
    const source = fakeSource();
    let labReads = 0;
    let shape = 1;
    const lab = source.lab;
    const ui = await UiServer.start({ host: '127.0.0.1', port: 0 }, { ...source, lab: () => { labReads++; return lab(); }, shape: () => shape }, { intervalMs: 40 });
    servers.push(ui);
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: ui.address.port, path: '/api/events', headers: { Host: `127.0.0.1:${ui.address.port}` } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          for (const m of c.matchAll(/^event: (\w+)$/gm)) seen.push(m[1]);
          const ticks = seen.filter((e) => e === 'tick').length;
          if (ticks === 3) shape = 2; // the lab changed (a Service applied)
          if (ticks >= 6) { req.destroy(); resolve(); }
        });
      });
      req.on('error', (e) => { if (seen.length < 6) reject(e); });
      req.end();
    });
    expect(seen.filter((e) => e === 'lab')).toHaveLength(2);
    expect(labReads).toBe(2);
    expect(seen.indexOf('lab', 1)).toBeGreaterThan(seen.indexOf('tick'));
  });
});

describe('UiControl (the lab side of `podwire ui`)', () => {
  it('starts the server once; asking again answers the same URL; another address is refused', async () => {
    const c = new UiControl(fakeSource());
    try {
      const a = await c.serve({ listen: '127.0.0.1:0' });
      expect(a).toMatchObject({ already: false, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/) });
      expect(await c.serve({})).toEqual({ url: a.url, already: true });
      await expect(c.serve({ listen: '127.0.0.1:1' })).rejects.toThrow(/already serves its page at/);
      await expect(c.serve({ listen: '0.0.0.0:0' })).rejects.toThrow(/not a loopback address/);
    } finally {
      c.close();
    }
  });
});
