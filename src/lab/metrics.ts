// The Prometheus endpoint of a running lab (`podwire up --metrics
// [ADDR:]PORT`, off by default): GET /metrics answers the same counters
// `podwire stats` prints, in the text exposition format 0.0.4. It listens on
// loopback only: the counters describe the lab's traffic, and nothing else
// on the host's network should be able to ask.
//
// Formatting (formatMetrics) is separate from serving, so it is tested
// without a socket.
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { StatsJson } from './table-control.ts';

export interface MetricsAddress { host: string; port: number }

/** A metric family: one HELP and TYPE line, then its samples. */
interface Family { name: string; help: string; type: 'counter' | 'gauge'; samples: { labels: Record<string, string>; value: number }[] }

/** Port counters of `podwire stats` -> metric names (Prometheus: base unit, _total on counters). */
const PORT_FAMILIES: [keyof StatsJson['nodes'][number]['ports'][number], string, string][] = [
  ['rx_packets', 'podwire_port_receive_packets_total', 'Frames the data plane received on a port.'],
  ['rx_bytes', 'podwire_port_receive_bytes_total', 'Bytes the data plane received on a port (Ethernet frames, no virtio-net header).'],
  ['tx_packets', 'podwire_port_transmit_packets_total', 'Frames the data plane sent on a port.'],
  ['tx_bytes', 'podwire_port_transmit_bytes_total', 'Bytes the data plane sent on a port.'],
  ['rx_drops', 'podwire_port_receive_drops_total', 'Frames received on a port and dropped (any reason).'],
  ['tx_drops', 'podwire_port_transmit_drops_total', 'Frames for a port that were dropped.'],
  ['rx_errors', 'podwire_port_receive_errors_total', 'Failed reads on the port (TAP or underlay socket).'],
  ['tx_errors', 'podwire_port_transmit_errors_total', 'Failed writes on the port (TAP or underlay socket).'],
];

/** The snapshot in the text exposition format (version 0.0.4), one family per metric name. */
export function formatMetrics(s: StatsJson): string {
  const families: Family[] = [];
  for (const [key, name, help] of PORT_FAMILIES) {
    families.push({
      name, help, type: 'counter',
      samples: s.nodes.flatMap((n) => n.ports.map((p) => ({ labels: { node: n.name, port: p.name }, value: Number(p[key]) }))),
    });
  }
  families.push({
    name: 'podwire_drops_total', help: 'Frames the data plane dropped, by reason (every reason, zeros included).', type: 'counter',
    samples: s.nodes.flatMap((n) => Object.entries(n.drops).map(([reason, value]) => ({ labels: { node: n.name, reason }, value }))),
  });
  families.push({
    name: 'podwire_events_total', help: 'Data plane events: MACs learned, frames flooded, routed, encapsulated, Service NAT, conntrack.', type: 'counter',
    samples: s.nodes.flatMap((n) => Object.entries(n.events).map(([event, value]) => ({ labels: { node: n.name, event }, value }))),
  });
  const gauge = (name: string, help: string, value: (n: StatsJson['nodes'][number]) => number): Family => ({
    name, help, type: 'gauge', samples: s.nodes.map((n) => ({ labels: { node: n.name }, value: value(n) })),
  });
  families.push(gauge('podwire_fdb_entries', 'MAC addresses in the bridge forwarding table.', (n) => n.fdbEntries));
  families.push(gauge('podwire_fdb_capacity', 'MAC addresses the bridge forwarding table holds at most.', (n) => n.fdbCapacity));
  families.push(gauge('podwire_conntrack_entries', 'Connections in the conntrack table.', (n) => n.conntrackEntries));
  return families.map(formatFamily).join('');
}

function formatFamily(f: Family): string {
  let out = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
  for (const x of f.samples) {
    const labels = Object.entries(x.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
    out += `${f.name}${labels ? `{${labels}}` : ''} ${formatValue(x.value)}\n`;
  }
  return out;
}

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
/** HELP text escapes backslash and line feed only. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}

const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * `--metrics [ADDR:]PORT`: a bare port listens on 127.0.0.1; ADDR must be a
 * loopback address (127.0.0.0/8, ::1 as "[::1]:PORT", localhost).
 */
export function parseMetricsAddress(v: string): MetricsAddress {
  const m = /^(?:(\[[^\]]*\]|[^:]*):)?(\d+)$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--metrics: "${v}" is not [ADDR:]PORT with a port from 1 to 65535 (e.g. 9100 or 127.0.0.1:9100)`);
  }
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  if (!isLoopback(host)) {
    throw new Error(`--metrics: ${host || '(empty)'} is not a loopback address: the metrics endpoint only listens on loopback (127.0.0.1, ::1, localhost)`);
  }
  return { host, port };
}

/** Serve GET /metrics at `addr` from `snapshot()`; 404 for any other path. Resolves once listening. */
export function serveMetrics(addr: MetricsAddress, snapshot: () => Promise<StatsJson>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    snapshot().then((s) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : formatMetrics(s));
    }, (e: Error) => {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`data plane did not answer: ${e.message}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`--metrics: cannot listen on ${addr.host}:${addr.port}: ${e.message}`)));
    server.listen(addr.port, addr.host, () => resolve(server));
  });
}
