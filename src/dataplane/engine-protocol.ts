// Messages between the main thread and the forwarding worker (engine.ts).
import type { CounterSnapshot, OverlayKind, RouteKind, CtEntry, RouteEntry, ServiceTableEntry } from './dataplane.ts';
import type { CompiledPolicies } from '../model/network-policy-compile.ts';
import type { ServiceSyncResult } from './service-sync.ts';
import type { TraceResult, TraceHop } from './trace-walk.ts';
import type { NetemSpec } from '../model/netem.ts';
import type { ImpairmentStats } from './impairment.ts';

/** A pod's port; `mac` (the pod's eth0) is pinned in the bridge's table when given. */
export interface EnginePortConfig { port: number; fd: number; mtu: number; name: string; mac?: string; /** frames to this port are impaired (impairment.ts) */ netem?: NetemSpec }
// The route shape is the model's (node-tables.ts plans it); the worker takes it as is.
export type { RouteConfig } from '../model/node-tables.ts';
import type { RouteConfig } from '../model/node-tables.ts';
/**
 * A node whose peers run on other hosts (`podwire up --node`): its underlay
 * port is carried by a host socket (src/dataplane/socket-underlay.ts) —
 * UDP on the VXLAN port, or raw IP protocol 4 — bound to the node's address.
 */
export interface SocketUnderlayConfig {
  kind: 'vxlan' | 'ipip';
  /** the open socket (src/io/socket.ts UnderlaySocket), owned by the main thread */
  fd: number;
  localIp: string;
  /** the VXLAN UDP port (unused for ipip) */
  port: number;
  /** the other nodes: the underlay MAC the data plane addresses them by, and the host address they are reached at */
  peers: { mac: string; ip: string }[];
  /** VXLAN: the sockets to send from, one source port each (txPorts), picked per inner flow; empty: send from fd */
  txFds: number[];
  txPorts: number[];
  /** the kernel took UDP_SEGMENT: send runs of datagrams as one GSO send (else sendmmsg) */
  gso: boolean;
  /** UDP_GRO is on for fd: reads may return coalesced datagrams */
  gro: boolean;
  /** TCP segments decapsulated for a pod are written to its TAP coalesced into super-frames (tap-gro.ts) */
  coalesce: boolean;
}
export interface EngineNodeConfig {
  name: string;
  gatewayIp: string;
  gatewayMac: string;
  fdbCapacity: number;
  maxPorts: number;
  ports: EnginePortConfig[];
  /** the node's link to the other nodes; in-process (fd -1): the engine's fabric carries it */
  underlay?: {
    port: number; ip: string; mac: string; mtu: number; fd: number;
    /** the underlay device cannot take encapsulated super-frames: segment TCP in software first */
    segment: boolean;
    /** the underlay TAP (fd) speaks UDP-tunnel GSO with a 24-byte vnet header: VXLAN super-frames cross it whole */
    tunnelGso?: boolean;
    /** ...and every segment gets an outer UDP checksum (a `--node` host's TAP: the receivers' GRO needs one) */
    tunnelGsoCsum?: boolean;
    /** carried by a host socket to nodes on other hosts (fd above stays -1; with a TAP fd, the socket only receives) */
    socket?: SocketUnderlayConfig;
  };
  overlay: { kind: OverlayKind; vni: number; port: number; vtepMac: string };
  routes: RouteConfig[];
  neighbors: { ip: string; mac: string }[];
  /**
   * Service frontends (ClusterIP:port/proto) and their ready backends, as
   * kube-proxy programs them on every node; a frontend with no backends
   * drops new flows (service_no_endpoints).
   */
  services: EngineServiceConfig[];
  /** LoadBalancer addresses this node answers ARP for on its underlay port (lab/lb-announcer.ts) */
  announced?: string[];
  /** NetworkPolicies compiled for this node (model/network-policy-compile.ts); absent: none */
  policies?: CompiledPolicies;
}
export interface EngineServiceConfig {
  vip: string;
  port: number;
  proto: 'tcp' | 'udp';
  backends: { ip: string; port: number }[];
  /** the Service this frontend belongs to ("namespace/name"), for status and traces */
  service?: string;
  /** source-NAT new flows to the node's gateway address (NodePort / external addresses under externalTrafficPolicy: Cluster) */
  masquerade?: boolean;
  /** sessionAffinity: ClientIP, for this many seconds */
  affinitySeconds?: number;
  /** with no backends, drop new flows silently (a Local traffic policy with no local endpoint) instead of rejecting them */
  dropWhenEmpty?: boolean;
  /** backend choice for new flows: 'maglev' (consistent hashing) or, absent, seeded random */
  scheduler?: 'random' | 'maglev';
}
export interface EngineConfig {
  nodes: EngineNodeConfig[];
  /** eventfd the main thread signals after posting a message */
  wakeFd: number;
  /** frame slots per node = the largest batch */
  batch: number;
  slotSize: number;
  macAgingMs: number;
  /** each node's Service tables (cluster.serviceCapacity / serviceMaxBackends); the Dataplane's defaults when absent */
  svcCapacity?: number;
  svcMaxBackends?: number;
  /** each node's NetworkPolicy tables (cluster.policyCapacity) */
  policyCapacity?: number;
  /** room for a Maglev table per Service (cluster.serviceScheduler: maglev) */
  maglev?: boolean;
  /** capture bytes posted to the main thread and not yet handled by it (one Int32: capture-tap.ts) */
  captureBacklog?: SharedArrayBuffer;
  /** impaired node-to-node links of the in-process underlay (`links:`), both directions each */
  links?: { between: [string, string]; netem: NetemSpec }[];
}

export type EngineRequest =
  | { type: 'stats'; id: number }
  | { type: 'stop' }
  // tests only, honoured with PODWIRE_TEST_HOOKS=1: the worker throws in its loop, as an uncaught error there would
  | { type: 'crash' }
  // `podwire conntrack`: every node's connection table, on the data plane's own clock
  | { type: 'conntrack'; id: number }
  // `podwire apply`: node `node`'s Service frontends become `services` (a diff: service-sync.ts);
  // with `only`, just the frontends of those Services ("namespace/name") are replaced
  | { type: 'services'; id: number; node: string; services: EngineServiceConfig[]; only?: string[] }
  // LoadBalancer addresses node `node` answers ARP for on the underlay (replacing the previous set)
  | { type: 'announce'; id: number; node: string; addresses: string[] }
  // multi-host labs with a shared store: the routes through the overlay to other nodes become `routes`
  // (nodes whose lease expired leave, nodes that joined arrive); local and connected routes stay
  | { type: 'peerRoutes'; id: number; node: string; routes: RouteConfig[] }
  // a `--node` host's TAP underlay: peer underlay addresses whose next hop's MAC changed (set) or is unknown (del)
  | { type: 'neighbors'; id: number; node: string; set: { ip: string; mac: string }[]; del: string[] }
  // `podwire apply` / `delete networkpolicy`: node `node`'s policy tables become `policies` (policy-sync.ts)
  | { type: 'policies'; id: number; node: string; policies: CompiledPolicies }
  // `podwire trace`: run `frame` (Ethernet) as if read from `port` of `node`, dry (trace-walk.ts)
  | { type: 'trace'; id: number; node: string; port: number; frame: Uint8Array }
  // `podwire trace --live`: record every node's decisions on real traffic (on) or stop (off)
  | { type: 'traceLive'; id: number; on: boolean }
  // `podwire fdb / routes / services`: every node's tables as its data plane holds them
  | { type: 'tables'; id: number }
  // `podwire netem set|clear`: impair frames to `port` of `node` with `spec`, or stop (null)
  | { type: 'netem'; id: number; node: string; port: number; spec: NetemSpec | null }
  // `podwire netem set|clear A:B`: impair both directions of the in-process underlay between nodes A and B, or stop
  | { type: 'netemLink'; id: number; between: [string, string]; spec: NetemSpec | null }
  // `podwire capture`: tap `target` (a pod, a node, or "underlay": capture-tap.ts resolves it) until
  // the same id is turned off; the worker answers 'capture' with the ports, then posts 'captured'
  | { type: 'capture'; id: number; on: true; target: string }
  | { type: 'capture'; id: number; on: false }
  // a pod a container runtime attached (CNI ADD, src/lab/cni-control.ts): its TAP becomes a port of `node`,
  // its MAC pinned there and its address a neighbour; 'detachPort' (CNI DEL) undoes exactly that
  | { type: 'attachPort'; id: number; node: string; port: EnginePortConfig & { mac: string }; ip: string }
  | { type: 'detachPort'; id: number; node: string; port: number; ip: string }
  // pods whose namespace was deleted under the lab (netns-watch.ts): stop reading and writing their
  // ports, which stay listed as gone (status tap_gone), so their TAP fds can be closed
  | { type: 'dropPorts'; id: number; names: string[] };

/** One node's tables read from its data plane's memory; Service frontends carry the Service name the config gave them. */
export interface NodeTables {
  name: string;
  nowMs: number;
  fdb: NodeStats['fdb'];
  fdbCapacity: number;
  routes: RouteEntry[];
  neighbors: { ip: string; mac: string }[];
  services: (ServiceTableEntry & { service?: string })[];
  underlayPort: number;
}

/** A tapped port: node index and port number in the worker, and its name in a capture ("n1/a1", "n1/underlay"). */
export interface CapturePort { node: number; port: number; name: string }

/** One node's connection table (Dataplane.conntrack), read at `nowMs` on the engine's clock. */
export interface NodeConntrack { name: string; nowMs: number; entries: CtEntry[] }

export interface PortIoStats { port: number; name: string; rxErrors: number; txErrors: number; broken: boolean }
/** Frames the in-process underlay could not deliver: no node owns the MAC, or a forwarding loop ran too deep. */
export interface FabricStats { noPeer: number; tooDeep: number; delivered: number }
/**
 * The forwarding loop (one for every node of a lab): rounds run, ready fds
 * it examined in all (a round looks at the ready ones only, so readyFds /
 * rounds stays near the number of busy ports however many pods there are),
 * the fds it watches, and the rounds that were allowed to sleep; how often
 * it checked whether it may poll after traffic (spin-policy.ts) and found
 * another thread waiting for a CPU, so blocked instead.
 */
export interface LoopStats { rounds: number; readyFds: number; watchedFds: number; sleeps: number; spinChecks: number; spinYielded: number }
/** What a socket underlay sent and received, and what it could not. */
export interface SocketUnderlayStats {
  kind: 'vxlan' | 'ipip';
  /** how datagrams leave: UDP GSO sends of runs, or sendmmsg (UDP_SEGMENT refused or turned off) */
  txPath: 'udp-gso' | 'sendmmsg';
  /** how they arrive: coalesced by UDP_GRO, or one per recvmsg */
  rxPath: 'udp-gro' | 'recvmsg';
  /** the source ports flows are spread over (VXLAN) */
  sourcePorts: number[];
  /** datagrams sent */
  txPackets: number;
  txBytes: number;
  /** send system calls made (sendmsg/sendmmsg) */
  txSends: number;
  /** of them, GSO sends of more than one datagram */
  txGsoSends: number;
  /** a GSO send the kernel refused at run time (EIO/EINVAL): sendmmsg from then on */
  txGsoRefused: number;
  /** datagrams the kernel would not send (lastTxErrno says why) */
  txErrors: number;
  /** an underlay frame for a MAC no peer has */
  txNoPeer: number;
  /** an underlay frame that is not this overlay's tunnel packet (nothing to send it as) */
  txNotTunnel: number;
  lastTxErrno: number;
  /** datagrams received (each of a coalesced read counted) */
  rxPackets: number;
  rxBytes: number;
  /** reads that returned several datagrams coalesced (UDP_GRO) */
  rxGroBatches: number;
  rxErrors: number;
  /** segments for pods written coalesced (tap-gro.ts): super-frames written, the segments they held, writes that failed */
  toPodSuperFrames: number;
  toPodCoalesced: number;
  toPodErrors: number;
  /** a datagram from an address that is no peer's */
  rxUnknownPeer: number;
  /** a datagram larger than a frame slot */
  rxTooBig: number;
  rxTooShort: number;
  lastRxErrno: number;
}
export interface NodeStats {
  name: string;
  counters: CounterSnapshot;
  fdb: { mac: string; port: number; ageMs: number; static?: boolean }[];
  fdbCapacity: number;
  io: PortIoStats[];
  fabric: FabricStats;
  /** the forwarding loop's figures (the same for every node of the lab) */
  loop?: LoopStats;
  /** the underlay port's number, -1 without one */
  underlayPort: number;
  /** with a socket underlay (nodes on other hosts) */
  socket?: SocketUnderlayStats;
  /** connections in the conntrack table (expired ones not yet collected included) */
  conntrackEntries?: number;
  /** impaired ports (impairment.ts): the spec and what it did */
  netem?: { port: number; spec: NetemSpec; stats: ImpairmentStats }[];
  /** impaired links (`links:`): frames this node hands to node `to` */
  linkNetem?: { to: string; spec: NetemSpec; stats: ImpairmentStats }[];
  /**
   * regionBytes: this node's region of the shared wasm memory (frame slots
   * and tables, sized at up; the first node's includes the module's static
   * data); wasmBytes: the whole shared memory
   */
  memory?: { regionBytes: number; wasmBytes: number };
}

export type EngineReply =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'stats'; id: number; nodes: NodeStats[] }
  | { type: 'portGone'; names: string[] }
  | { type: 'conntrack'; id: number; nodes: NodeConntrack[] }
  | { type: 'services'; id: number; node: string; result?: ServiceSyncResult; error?: string }
  | { type: 'announce'; id: number; node: string; error?: string }
  | { type: 'peerRoutes'; id: number; node: string; error?: string }
  | { type: 'neighbors'; id: number; node: string; error?: string }
  | { type: 'policies'; id: number; node: string; error?: string }
  | { type: 'trace'; id: number; result?: TraceResult; error?: string }
  | { type: 'traceLive'; id: number }
  // while live tracing is on: one round's decisions, per node (only nodes that processed frames)
  | { type: 'traceRecords'; hops: TraceHop[] }
  | { type: 'tables'; id: number; nodes: NodeTables[] }
  | { type: 'netem'; id: number; error?: string }
  | { type: 'capture'; id: number; ports?: CapturePort[]; error?: string }
  | { type: 'attachPort'; id: number; error?: string }
  | { type: 'detachPort'; id: number; error?: string }
  | { type: 'dropPorts'; id: number; names: string[] }
  // one round's copies of tapped frames (record layout: capture-tap.ts), and per-port frames the tap
  // could not take (as [node, port, count] triples): one message per worker round, not per frame
  | { type: 'captured'; data: ArrayBuffer; drops: number[] };
