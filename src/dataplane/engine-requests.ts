// The forwarding worker's answers to the main thread's requests
// (engine-protocol.ts): one handler per request type. Handlers run between
// rounds, when no frame is in flight, and reply through the context.
import { frontendKey, type NodeServices } from './service-sync.ts';
import { programPolicies } from './policy-sync.ts';
import type { CaptureTap } from './capture-tap.ts';
import type { Fabric } from './engine-fabric.ts';
import type { EngineNode, EnginePort } from './engine-nodes.ts';
import type { EngineTrace } from './engine-trace.ts';
import { tapSink, type Impairments } from './impairment.ts';
import type { EngineReply, EngineRequest, LoopStats, NodeStats, NodeTables, RouteConfig } from './engine-protocol.ts';
import type { Dataplane } from './dataplane.ts';

/** What the handlers work on. */
export interface EngineContext {
  nodes: EngineNode[];
  ports: EnginePort[];
  /** each node's pod ports by name (what capture resolves a pod to) */
  podPorts: { port: number; name: string }[][];
  /** poll the ports list again after a port was added or removed */
  portsChanged(): void;
  fabric: Fabric;
  /** what the forwarding loop did (engine-io-loop.ts), shared by every node */
  loop: LoopStats;
  tap: CaptureTap;
  /** each node's Service frontends as programmed, for `podwire apply`'s diffs */
  services: NodeServices[];
  trace: EngineTrace;
  /** impaired ports (`podwire netem`) */
  impair: Impairments;
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

  neighbors: (req, ctx) => {
    const n = ctx.nodes.find((x) => x.name === req.node);
    try {
      if (!n) throw new Error(`no podwire node ${req.node} in this lab`);
      for (const ip of req.del) n.dp.delNeighbor(ip);
      for (const nb of req.set) n.dp.setNeighbor(nb.ip, nb.mac);
      ctx.reply({ type: 'neighbors', id: req.id, node: req.node });
    } catch (e) {
      ctx.reply({ type: 'neighbors', id: req.id, node: req.node, error: (e as Error).message });
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

  netem: (req, ctx) => {
    const ni = ctx.nodes.findIndex((x) => x.name === req.node);
    const fd = ni < 0 ? -1 : ctx.nodes[ni].fds[req.port];
    if (ni < 0) ctx.reply({ type: 'netem', id: req.id, error: `no podwire node ${req.node} in this lab` });
    else if (fd < 0 || req.port === ctx.nodes[ni].ulPort) ctx.reply({ type: 'netem', id: req.id, error: `node ${req.node} has no pod on port ${req.port}` });
    else {
      ctx.impair.set(ni, req.port, tapSink(fd), req.spec ?? undefined);
      ctx.reply({ type: 'netem', id: req.id });
    }
  },

  netemLink: (req, ctx) => {
    const [a, b] = req.between.map((name) => ctx.nodes.findIndex((n) => n.name === name));
    const inProcess = (i: number) => ctx.nodes[i].ulPort >= 0 && ctx.nodes[i].ulFd < 0 && !ctx.nodes[i].sock;
    if (a < 0 || b < 0) ctx.reply({ type: 'netem', id: req.id, error: `no podwire node ${a < 0 ? req.between[0] : req.between[1]} in this lab` });
    else if (!inProcess(a) || !inProcess(b)) ctx.reply({ type: 'netem', id: req.id, error: 'only nodes on the in-process underlay have impairable links' });
    else {
      ctx.impair.setLink(a, b, (f) => ctx.fabric.deliverHeld(b, f), req.spec ?? undefined);
      ctx.impair.setLink(b, a, (f) => ctx.fabric.deliverHeld(a, f), req.spec ?? undefined);
      ctx.reply({ type: 'netem', id: req.id });
    }
  },

  attachPort: (req, ctx) => {
    const ni = ctx.nodes.findIndex((n) => n.name === req.node);
    try {
      if (ni < 0) throw new Error(`no podwire node ${req.node} in this lab`);
      const n = ctx.nodes[ni];
      const p = req.port;
      if (p.port < 0 || p.port >= n.dp.maxPorts || p.port === n.ulPort) throw new Error(`port ${p.port} is not a pod port`);
      if (n.fds[p.port] >= 0 || ctx.podPorts[ni].some((q) => q.port === p.port)) throw new Error(`port ${p.port} is in use`);
      n.dp.attachPort(p.port, p.mtu);
      n.dp.addStaticMac(p.mac, p.port);
      n.dp.setNeighbor(req.ip, p.mac);
      n.fds[p.port] = p.fd;
      ctx.ports.push({ node: ni, port: p.port, fd: p.fd, name: p.name, rxErrors: 0, txErrors: 0, broken: false });
      ctx.podPorts[ni].push({ port: p.port, name: p.name });
      ctx.portsChanged();
      ctx.reply({ type: 'attachPort', id: req.id });
    } catch (e) {
      ctx.reply({ type: 'attachPort', id: req.id, error: (e as Error).message });
    }
  },

  detachPort: (req, ctx) => {
    const ni = ctx.nodes.findIndex((n) => n.name === req.node);
    try {
      if (ni < 0) throw new Error(`no podwire node ${req.node} in this lab`);
      const n = ctx.nodes[ni];
      if (req.port < 0 || req.port >= n.dp.maxPorts || req.port === n.ulPort) throw new Error(`port ${req.port} is not a pod port`);
      n.dp.detachPort(req.port); // also forgets the MACs learned or pinned there
      n.dp.delNeighbor(req.ip);
      n.fds[req.port] = -1;
      const at = ctx.ports.findIndex((q) => q.node === ni && q.port === req.port);
      if (at >= 0) ctx.ports.splice(at, 1);
      const named = ctx.podPorts[ni].findIndex((q) => q.port === req.port);
      if (named >= 0) ctx.podPorts[ni].splice(named, 1);
      ctx.portsChanged();
      ctx.reply({ type: 'detachPort', id: req.id });
    } catch (e) {
      ctx.reply({ type: 'detachPort', id: req.id, error: (e as Error).message });
    }
  },

  dropPorts: (req, ctx) => {
    const wanted = new Set(req.names);
    const dropped: string[] = [];
    for (const p of ctx.ports) {
      if (!wanted.has(p.name) || p.broken || p.sock) continue;
      // listed as gone, as a TAP whose device vanished is; never read or written again
      p.broken = true;
      ctx.nodes[p.node].fds[p.port] = -1;
      dropped.push(p.name);
    }
    if (dropped.length) ctx.portsChanged();
    ctx.reply({ type: 'dropPorts', id: req.id, names: dropped });
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
      loop: ctx.loop,
      underlayPort: n.ulPort,
      ...(n.sock ? { socket: n.sock.stats } : {}),
      conntrackEntries: n.dp.ctCount(),
      ...(ctx.impair.any ? { netem: ctx.impair.stats(ni) } : {}),
      ...(ctx.impair.anyLink ? { linkNetem: ctx.impair.linkStats(ni).map((l) => ({ ...l, to: ctx.nodes[l.to].name })) } : {}),
      // nodes are laid out one after another (createNodes): a region ends where the next begins
      memory: { regionBytes: n.dp.regionEnd - (ni > 0 ? ctx.nodes[ni - 1].dp.regionEnd : 0), wasmBytes: n.dp.memory.buffer.byteLength },
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
