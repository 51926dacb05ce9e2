// The forwarding worker's answers to the main thread's requests
// (engine-protocol.ts): one handler per request type. Handlers run between
// rounds, when no frame is in flight, and reply through the context.
import { frontendKey, type NodeServices } from './service-sync.ts';
import { programPolicies } from './policy-sync.ts';
import type { CaptureTap } from './capture-tap.ts';
import type { Fabric } from './engine-fabric.ts';
import type { EngineNode, EnginePort } from './engine-nodes.ts';
import type { EngineTrace } from './engine-trace.ts';
import type { EngineReply, EngineRequest, NodeStats, NodeTables, RouteConfig } from './engine-protocol.ts';
import type { Dataplane } from './dataplane.ts';

/** What the handlers work on. */
export interface EngineContext {
  nodes: EngineNode[];
  ports: EnginePort[];
  fabric: Fabric;
  tap: CaptureTap;
  /** each node's Service frontends as programmed, for `podwire apply`'s diffs */
  services: NodeServices[];
  trace: EngineTrace;
  /** the data plane clock, ms */
  clock(): number;
  reply(m: EngineReply): void;
  /** end the loop after this round */
  stop(): void;
}

type Handlers = { [K in EngineRequest['type']]: (req: Extract<EngineRequest, { type: K }>, ctx: EngineContext) => void };

const HANDLERS: Handlers = {
  stop: (_req, ctx) => ctx.stop(),

  crash: () => {
    if (process.env.PODWIRE_TEST_HOOKS === '1') throw new Error('test-crash-worker: told to crash (PODWIRE_TEST_HOOKS=1)');
  },

  trace: (req, ctx) => ctx.reply(ctx.trace.synthetic(req)),

  traceLive: (req, ctx) => {
    ctx.trace.setLive(req.on);
    ctx.reply({ type: 'traceLive', id: req.id });
  },

  capture: (req, ctx) => {
    const answer = ctx.tap.request(req);
    if (answer) ctx.reply(answer);
  },

  conntrack: (req, ctx) => {
    const now = ctx.clock();
    ctx.reply({ type: 'conntrack', id: req.id, nodes: ctx.nodes.map((n) => ({ name: n.name, nowMs: now, entries: n.dp.conntrack(now) })) });
  },

  services: (req, ctx) => {
    const i = ctx.nodes.findIndex((n) => n.name === req.node);
    try {
      if (i < 0) throw new Error(`no podwire node ${req.node} in this lab`);
      ctx.reply({ type: 'services', id: req.id, node: req.node, result: ctx.services[i].sync(req.services, req.only) });
    } catch (e) {
      ctx.reply({ type: 'services', id: req.id, node: req.node, error: (e as Error).message });
    }
  },

  announce: (req, ctx) => {
    const n = ctx.nodes.find((x) => x.name === req.node);
    try {
      if (!n) throw new Error(`no podwire node ${req.node} in this lab`);
      n.dp.setAnnounced(req.addresses);
      ctx.reply({ type: 'announce', id: req.id, node: req.node });
    } catch (e) {
      ctx.reply({ type: 'announce', id: req.id, node: req.node, error: (e as Error).message });
    }
  },

  peerRoutes: (req, ctx) => {
    const n = ctx.nodes.find((x) => x.name === req.node);
    try {
      if (!n) throw new Error(`no podwire node ${req.node} in this lab`);
      syncPeerRoutes(n.dp, req.routes);
      ctx.reply({ type: 'peerRoutes', id: req.id, node: req.node });
    } catch (e) {
      ctx.reply({ type: 'peerRoutes', id: req.id, node: req.node, error: (e as Error).message });
    }
  },

  policies: (req, ctx) => {
    const n = ctx.nodes.find((x) => x.name === req.node);
    try {
      if (!n) throw new Error(`no podwire node ${req.node} in this lab`);
      programPolicies(n.dp, req.policies);
      ctx.reply({ type: 'policies', id: req.id, node: req.node });
    } catch (e) {
      ctx.reply({ type: 'policies', id: req.id, node: req.node, error: (e as Error).message });
    }
  },

  tables: (req, ctx) => {
    const now = ctx.clock();
    ctx.reply({ type: 'tables', id: req.id, nodes: ctx.nodes.map((n, i): NodeTables => {
      const names = new Map(ctx.services[i].frontends.map((f) => [frontendKey(f), f.service]));
      return {
        name: n.name, nowMs: now, fdb: n.dp.fdb(now), fdbCapacity: n.dp.ex.fdbCapacity(), routes: n.dp.routes(), neighbors: n.dp.neighbors(),
        services: n.dp.serviceTable().map((s) => ({ ...s, ...(names.get(frontendKey(s)) ? { service: names.get(frontendKey(s)) } : {}) })),
        underlayPort: n.ulPort,
      };
    }) });
  },

  stats: (req, ctx) => {
    const now = ctx.clock();
    const stats: NodeStats[] = ctx.nodes.map((n, ni) => ({
      name: n.name,
      counters: n.dp.counters(),
      fdb: n.dp.fdb(now),
      fdbCapacity: n.dp.ex.fdbCapacity(),
      io: ctx.ports.filter((p) => p.node === ni).map((p) => ({ port: p.port, name: p.name, rxErrors: p.rxErrors, txErrors: p.txErrors, broken: p.broken })),
      fabric: ctx.fabric.stats,
      underlayPort: n.ulPort,
      ...(n.sock ? { socket: n.sock.stats } : {}),
      conntrackEntries: n.dp.ctCount(),
    }));
    ctx.reply({ type: 'stats', id: req.id, nodes: stats });
  },
};

/** The overlay kinds: a route of one of these leads to another node (node-tables.ts). */
const PEER_KINDS = new Set(['vxlan', 'ipip', 'host-gw']);

/**
 * A node's routes to other nodes become `want` (each with a next hop):
 * peer routes not wanted any more are deleted, new or changed ones added.
 * Routes without a next hop (the node's own pod CIDR, the underlay's
 * connected subnet) and announced addresses are left as they are.
 */
function syncPeerRoutes(dp: Dataplane, want: RouteConfig[]): void {
  const key = (r: { cidr: string; kind: string; nextHop?: string; vtepMac?: string }) => `${r.cidr} ${r.kind} ${r.nextHop ?? ''} ${(r.vtepMac ?? '').toLowerCase()}`;
  for (const r of want) if (!r.nextHop || !PEER_KINDS.has(r.kind)) throw new Error(`route ${r.cidr}: not a route to another node (kind ${r.kind}, next hop ${r.nextHop ?? 'none'})`);
  const wanted = new Set(want.map(key));
  const have = dp.routes().filter((r) => r.nextHop && PEER_KINDS.has(r.kind));
  const kept = new Set<string>();
  for (const r of have) {
    if (wanted.has(key(r))) kept.add(key(r));
    else dp.delRoute(r.cidr);
  }
  for (const r of want) if (!kept.has(key(r))) dp.addRoute(r.cidr, r.kind, r.nextHop, r.vtepMac);
}

/** Answer one request; a type this worker does not know is ignored (a newer main thread). */
export function handleRequest(req: EngineRequest, ctx: EngineContext): void {
  const handler = HANDLERS[req.type] as ((r: EngineRequest, c: EngineContext) => void) | undefined;
  if (handler) handler(req, ctx);
}
