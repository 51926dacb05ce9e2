// The running lab's side of `podwire stats`, `fdb`, `routes` and `services`
// (and the metrics endpoint, src/lab/metrics.ts): the data plane's counters
// and tables, reached through the control socket (up.ts), with the names
// only the plan knows joined in — a port's pod, a neighbour's or backend's
// pod or node, a route's next-hop node. Counters and tables themselves are
// what the data plane holds (read from WASM memory by the worker), never
// the plan's idea of them.
import { podLabel } from '../model/pod-refs.ts';
import { labId, localNodes, type LabPlan } from '../model/topology.ts';
import type { NodeStats, NodeTables } from '../dataplane/engine-protocol.ts';
import type { Lab } from './lab.ts';
import { withDnsPod } from './cluster-dns.ts';

/** One data plane port's counters: the data plane's own (rx_packets, ...) plus the TAP/socket I/O errors. */
export interface StatsPortJson {
  port: number;
  /** the pod on it, or "underlay" (the node's link to the other nodes) */
  name: string;
  kind: 'pod' | 'underlay';
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
  rx_drops: number;
  tx_drops: number;
  /** read / write (or recvfrom / sendto) failures on the port's fd */
  rx_errors: number;
  tx_errors: number;
  /** the TAP vanished (its namespace was deleted) */
  gone: boolean;
}
export interface StatsNodeJson {
  name: string;
  ports: StatsPortJson[];
  /** every drop reason, zeros included (the names are assembly/counters.ts's) */
  drops: Record<string, number>;
  events: Record<string, number>;
  fdbEntries: number;
  fdbCapacity: number;
  conntrackEntries: number;
}
/** `podwire stats --json`: one snapshot of every podwire node's counters. */
export interface StatsJson { lab: string; time: string; nodes: StatsNodeJson[] }

/** Per-second rates between two snapshots, shaped like a snapshot's counters. */
export interface StatsRatesJson {
  seconds: number;
  nodes: { name: string; ports: Record<string, number | string>[]; drops: Record<string, number>; events: Record<string, number> }[];
}

export interface FdbEntryJson { node: string; mac: string; port: number; portName: string; ageSeconds: number; static: boolean }
export interface RouteJson { cidr: string; kind: string; nextHop?: string; vtepMac?: string; /** the node owning nextHop */ via?: string }
export interface NeighborJson { ip: string; mac: string; /** "pod a1", "node n2", "gateway" when the plan knows the address */ owner?: string }
export interface NodeRoutesJson { node: string; routes: RouteJson[]; neighbors: NeighborJson[] }
export interface ServiceFrontendJson {
  node: string;
  vip: string;
  port: number;
  proto: string;
  /** "namespace/name" from the programmed config; absent for a frontend no config names */
  service?: string;
  masquerade: boolean;
  dropWhenEmpty: boolean;
  maglev: boolean;
  affinitySeconds: number;
  backends: { ip: string; port: number; pod?: string }[];
}
/** What the 'tables' control command returns; the CLI commands each print a part. */
export interface TablesJson { lab: string; fdb: FdbEntryJson[]; routes: NodeRoutesJson[]; services: ServiceFrontendJson[] }

const PORT_COUNTERS = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes', 'rx_drops', 'tx_drops'] as const;

/** Port number -> name for one node: its pods by the plan, the underlay port, else the worker's name for the fd. */
function portNames(plan: LabPlan, node: string, underlayPort: number, io: NodeStats['io'] = []): Map<number, string> {
  const names = new Map<number, string>();
  for (const p of io) names.set(p.port, p.name);
  for (const p of localNodes(plan).find((n) => n.name === node)?.pods ?? []) names.set(p.port, podLabel(p));
  if (underlayPort >= 0) names.set(underlayPort, 'underlay');
  return names;
}

/** The stats snapshot from the worker's NodeStats: pods' and underlay ports named, I/O errors added. */
export function statsSnapshot(plan: LabPlan, stats: NodeStats[], now = new Date()): StatsJson {
  return {
    lab: labId(plan),
    time: now.toISOString(),
    nodes: stats.map((s) => {
      const names = portNames(plan, s.name, s.underlayPort, s.io);
      const ports = [...names.keys()].sort((a, b) => a - b).map((port): StatsPortJson => {
        const c = s.counters.ports[port] ?? {};
        const io = s.io.find((i) => i.port === port);
        const ul = port === s.underlayPort;
        const sock = ul ? s.socket : undefined;
        return {
          port, name: names.get(port)!, kind: ul ? 'underlay' : 'pod',
          ...Object.fromEntries(PORT_COUNTERS.map((k) => [k, c[k] ?? 0])) as Record<(typeof PORT_COUNTERS)[number], number>,
          rx_errors: (io?.rxErrors ?? 0) + (sock?.rxErrors ?? 0),
          tx_errors: (io?.txErrors ?? 0) + (sock?.txErrors ?? 0),
          gone: io?.broken ?? false,
        };
      });
      return {
        name: s.name, ports, drops: { ...s.counters.drops }, events: { ...s.counters.events },
        fdbEntries: s.fdb.length, fdbCapacity: s.fdbCapacity, conntrackEntries: s.conntrackEntries ?? 0,
      };
    }),
  };
}

/** Per-second deltas from `prev` to `cur` (ports matched by node and number; a counter that went back counts 0). */
export function statsRates(prev: StatsJson, cur: StatsJson): StatsRatesJson {
  const seconds = Math.max((Date.parse(cur.time) - Date.parse(prev.time)) / 1000, 1e-3);
  const rate = (a: number, b: number | undefined) => Math.max(0, a - (b ?? a)) / seconds;
  const rates = (c: Record<string, number>, p: Record<string, number> | undefined) =>
    Object.fromEntries(Object.entries(c).map(([k, v]) => [k, rate(v, p?.[k])]));
  return {
    seconds,
    nodes: cur.nodes.map((n) => {
      const p = prev.nodes.find((x) => x.name === n.name);
      return {
        name: n.name,
        ports: n.ports.map((port) => {
          const q = p?.ports.find((x) => x.port === port.port) as unknown as Record<string, number> | undefined;
          const out: Record<string, number | string> = { port: port.port, name: port.name };
          for (const k of [...PORT_COUNTERS, 'rx_errors', 'tx_errors'] as const) out[k] = rate(port[k], q?.[k]);
          return out;
        }),
        drops: rates(n.drops, p?.drops),
        events: rates(n.events, p?.events),
      };
    }),
  };
}

/** The tables as the data plane holds them, with the plan's names joined in. */
export function tablesSnapshot(plan: LabPlan, tables: NodeTables[]): TablesJson {
  const owners = new Map<string, string>();
  const nodeByIp = new Map<string, string>();
  for (const n of plan.nodes) {
    owners.set(n.underlayIp, `node ${n.name}`);
    nodeByIp.set(n.underlayIp, n.name);
    for (const p of n.pods) owners.set(p.ip, `pod ${podLabel(p)}`);
  }
  const podByIp = new Map(plan.nodes.flatMap((n) => n.pods.map((p) => [p.ip, podLabel(p)] as const)));
  return {
    lab: labId(plan),
    fdb: tables.flatMap((t) => {
      const names = portNames(plan, t.name, t.underlayPort);
      return t.fdb.map((e) => ({
        node: t.name, mac: e.mac, port: e.port, portName: names.get(e.port) ?? `port ${e.port}`,
        ageSeconds: Math.floor(e.ageMs / 1000), static: e.static ?? false,
      }));
    }),
    routes: tables.map((t) => {
      const gw = plan.nodes.find((n) => n.name === t.name)?.gateway;
      return {
        node: t.name,
        routes: t.routes.map((r) => ({ ...r, ...(r.nextHop && nodeByIp.has(r.nextHop) ? { via: nodeByIp.get(r.nextHop) } : {}) })),
        neighbors: t.neighbors.map((nb) => {
          const owner = nb.ip === gw ? 'gateway' : owners.get(nb.ip);
          return { ...nb, ...(owner ? { owner } : {}) };
        }),
      };
    }),
    services: tables.flatMap((t) => t.services.map((s) => ({
      node: t.name, vip: s.vip, port: s.port, proto: String(s.proto), ...(s.service ? { service: s.service } : {}),
      masquerade: s.masquerade, dropWhenEmpty: s.dropWhenEmpty, maglev: s.maglev, affinitySeconds: s.affinitySeconds,
      backends: s.backends.map((b) => ({ ...b, ...(podByIp.has(b.ip) ? { pod: podByIp.get(b.ip) } : {}) })),
    }))),
  };
}

export class TableControl {
  constructor(private readonly lab: Lab) {}

  /** The answer to 'stats' or 'tables', or undefined for other commands. */
  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'stats') return this.stats();
    if (req.cmd === 'tables') return this.tables();
    return undefined;
  }

  // the plan with the cluster DNS pod on its node, as the data plane has it (a port, a neighbour, a backend)
  async stats(): Promise<StatsJson> {
    return statsSnapshot(withDnsPod(this.lab.plan), await this.lab.stats());
  }

  async tables(): Promise<TablesJson> {
    return tablesSnapshot(withDnsPod(this.lab.plan), await this.lab.tables());
  }
}
