// The Prometheus text (src/lab/metrics.ts) and the stats snapshot it is made
// from (src/lab/table-control.ts): metric names valid, one HELP/TYPE per
// family, counters ending _total, label values escaped, every drop reason
// present (zeros too, so rate() works), the --metrics address loopback only,
// and the server answering /metrics only.
import { describe, it, expect, afterEach } from 'vitest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatMetrics, escapeLabelValue, parseMetricsAddress, serveMetrics } from '../../src/lab/metrics.ts';
import { statsSnapshot, statsRates, type StatsJson } from '../../src/lab/table-control.ts';
import { planTopology } from '../../src/model/topology.ts';
import type { NodeStats } from '../../src/dataplane/engine-protocol.ts';
import { formatStats } from '../../src/cli/stats.ts';

const plan = planTopology({ cluster: { name: 'm' }, nodes: [{ name: 'n1', pods: ['a1', 'a2'] }, { name: 'n2', pods: ['b1'] }] }, 'test');

const ports = (n: number, f: (p: number) => Record<string, number> = () => ({})) => Array.from({ length: 8 }, (_, p) => ({
  rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, rx_drops: 0, tx_drops: 0, ...(p < n || p === 7 ? f(p) : {}),
}));
const nodeStats = (name: string, pods: number, f?: (p: number) => Record<string, number>): NodeStats => ({
  name,
  counters: { drops: { no_route: name === 'n1' ? 3 : 0, ttl_exceeded: 0 }, events: { fdb_learned: 2, routed: 5 }, ports: ports(pods, f) },
  fdb: [{ mac: '0a:58:0a:f4:00:02', port: 0, ageMs: 0, static: true }],
  fdbCapacity: 4096,
  io: Array.from({ length: pods }, (_, p) => ({ port: p, name: `pod${p}`, rxErrors: p, txErrors: 0, broken: false })),
  fabric: { noPeer: 0, tooDeep: 0, delivered: 0 },
  underlayPort: 7,
  conntrackEntries: 4,
});

const snap = (): StatsJson => statsSnapshot(plan, [
  nodeStats('n1', 2, (p) => ({ rx_packets: 10 + p, rx_bytes: 1000 + p })),
  nodeStats('n2', 1),
], new Date('2030-01-01T00:00:00Z'));

describe('statsSnapshot', () => {
  it('names each pod port by its pod and the underlay port "underlay", with I/O errors and every drop reason', () => {
    const s = snap();
    expect(s.lab).toBe('m');
    const n1 = s.nodes[0];
    expect(n1.ports.map((p) => [p.port, p.name, p.kind])).toEqual([[0, 'a1', 'pod'], [1, 'a2', 'pod'], [7, 'underlay', 'underlay']]);
    expect(n1.ports[1]).toMatchObject({ rx_packets: 11, rx_bytes: 1001, rx_errors: 1, tx_errors: 0, gone: false });
    expect(n1.drops).toEqual({ no_route: 3, ttl_exceeded: 0 });
    expect(n1).toMatchObject({ fdbEntries: 1, fdbCapacity: 4096, conntrackEntries: 4 });
  });

  it('rates are per-second deltas between snapshots', () => {
    const a = snap();
    const b = structuredClone(a);
    b.time = '2030-01-01T00:00:02Z';
    b.nodes[0].ports[0].rx_packets += 20;
    b.nodes[0].drops.no_route += 4;
    const r = statsRates(a, b);
    expect(r.seconds).toBe(2);
    expect(r.nodes[0].ports[0]).toMatchObject({ name: 'a1', rx_packets: 10, rx_bytes: 0 });
    expect(r.nodes[0].drops).toEqual({ no_route: 2, ttl_exceeded: 0 });
  });
});

describe('formatStats (podwire stats text)', () => {
  it('a port table per node, non-zero drops and events; with rates a /S column beside each counter', () => {
    const a = snap();
    const plain = formatStats(a);
    expect(plain).toMatch(/^node n1  fdb 1\/4096  conntrack 4$/m);
    expect(plain).toMatch(/^1 +a2 +11 +1001 /m);
    expect(plain).toMatch(/^drops: no_route=3$/m);
    expect(plain).not.toMatch(/PKT\/S/);
    const b = structuredClone(a);
    b.time = '2030-01-01T00:00:02Z';
    b.nodes[0].ports[1].rx_packets += 30;
    const watched = formatStats(b, statsRates(a, b));
    expect(watched).toMatch(/RX PKTS +RX PKT\/S +RX BYTES +RX B\/S/);
    expect(watched).toMatch(/^1 +a2 +41 +15\.0 +1001 +0 /m);
    expect(watched).toMatch(/no_route=3 \(0\/s\)/);
  });
});

describe('formatMetrics', () => {
  const text = formatMetrics(snap());
  const lines = text.trimEnd().split('\n');

  it('every metric name is valid; HELP and TYPE once per family, before its samples; counters end in _total', () => {
    const types = new Map<string, string>();
    const helps = new Set<string>();
    for (const l of lines) {
      const help = /^# HELP (\S+) .+$/.exec(l);
      const type = /^# TYPE (\S+) (counter|gauge)$/.exec(l);
      if (help) { expect(helps.has(help[1])).toBe(false); helps.add(help[1]); continue; }
      if (type) { expect(types.has(type[1])).toBe(false); types.set(type[1], type[2]); continue; }
      const m = /^([^{ ]+)(\{[^}]*\})? (\S+)$/.exec(l);
      expect(m, l).not.toBeNull();
      const name = m![1];
      expect(name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      expect(types.get(name), `${name} sample before its TYPE`).toBeDefined();
      expect(helps.has(name)).toBe(true);
      expect(Number.isFinite(Number(m![3]))).toBe(true);
      if (m![2]) for (const k of m![2].slice(1, -1).matchAll(/([^=,]+)="((?:[^"\\]|\\.)*)"/g)) expect(k[1]).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
    }
    for (const [name, type] of types) expect(name.endsWith('_total')).toBe(type === 'counter');
    expect([...types.keys()]).toEqual(expect.arrayContaining([
      'podwire_port_receive_packets_total', 'podwire_port_receive_bytes_total', 'podwire_port_transmit_packets_total',
      'podwire_port_transmit_bytes_total', 'podwire_drops_total', 'podwire_events_total', 'podwire_fdb_entries', 'podwire_conntrack_entries',
    ]));
  });

  it('carries the snapshot\'s values, zero drop reasons included', () => {
    expect(lines).toContain('podwire_port_receive_packets_total{node="n1",port="a2"} 11');
    expect(lines).toContain('podwire_port_receive_errors_total{node="n1",port="a2"} 1');
    expect(lines).toContain('podwire_drops_total{node="n1",reason="no_route"} 3');
    expect(lines).toContain('podwire_drops_total{node="n2",reason="ttl_exceeded"} 0');
    expect(lines).toContain('podwire_events_total{node="n2",event="routed"} 5');
    expect(lines).toContain('podwire_fdb_entries{node="n1"} 1');
    expect(lines).toContain('podwire_conntrack_entries{node="n2"} 4');
  });

  it('escapes backslash, double quote and newline in label values', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const s = snap();
    s.nodes[0].ports[0].name = 'we"ird\\\n';
    expect(formatMetrics(s)).toContain('podwire_port_receive_packets_total{node="n1",port="we\\"ird\\\\\\n"} 10\n');
  });
});

describe('parseMetricsAddress', () => {
  it('a bare port listens on 127.0.0.1; loopback addresses are taken', () => {
    expect(parseMetricsAddress('9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseMetricsAddress('127.0.0.2:9100')).toEqual({ host: '127.0.0.2', port: 9100 });
    expect(parseMetricsAddress('[::1]:9100')).toEqual({ host: '::1', port: 9100 });
    expect(parseMetricsAddress('localhost:80')).toEqual({ host: 'localhost', port: 80 });
  });
  it('refuses non-loopback addresses and bad ports, saying why', () => {
    expect(() => parseMetricsAddress('0.0.0.0:9100')).toThrow(/0\.0\.0\.0 is not a loopback address/);
    expect(() => parseMetricsAddress('192.168.1.5:9100')).toThrow(/not a loopback/);
    expect(() => parseMetricsAddress('[::]:9100')).toThrow(/not a loopback/);
    expect(() => parseMetricsAddress(':9100')).toThrow(/not a loopback/);
    expect(() => parseMetricsAddress('0')).toThrow(/port from 1 to 65535/);
    expect(() => parseMetricsAddress('70000')).toThrow(/port from 1 to 65535/);
    expect(() => parseMetricsAddress('x')).toThrow(/\[ADDR:\]PORT/);
  });
});

describe('serveMetrics', () => {
  let server: Server | undefined;
  afterEach(() => { server?.close(); server = undefined; });

  it('GET /metrics answers the text format; other paths 404', async () => {
    // port 0 (refused by parseMetricsAddress) lets the kernel pick a free port
    server = await serveMetrics({ host: '127.0.0.1', port: 0 }, async () => snap());
    const { port } = server.address() as AddressInfo;
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await r.text()).toBe(formatMetrics(snap()));
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('a failing snapshot is a 500, not a crash', async () => {
    server = await serveMetrics({ host: '127.0.0.1', port: 0 }, () => Promise.reject(new Error('gone')));
    const { port } = server.address() as AddressInfo;
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.status).toBe(500);
    expect(await r.text()).toMatch(/gone/);
  });
});
