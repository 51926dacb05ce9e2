// One node's data plane: a WebAssembly instance and the control calls that
// program it (ports, routes, neighbours, Services, conntrack, traces), in the
// control plane's terms: addresses as strings, kinds by name. It reads and
// writes the module's memory only through memory-views.ts, which takes the
// layout from layout.ts (generated from assembly/); the names of the data
// plane's numbers are in kinds.ts.
import { maglevTable } from './maglev.ts';
import { instantiate, newMemory, type Build, type DataplaneExports } from './wasm.ts';
import { ipv4ToInt, macToBigInt, bigIntToMac } from '../model/addr.ts';
import { Drop, Services } from './layout.ts';
import {
  CT_PROTO, CT_STATES, CT_TIMEOUTS, OVERLAY_KIND, PORT_KIND, ROUTE_KIND,
  type CtStateName, type CtTimeoutName, type OverlayKind, type PortKind, type RouteKind, type ServiceProto,
} from './kinds.ts';
import {
  frameLists, readConntrack, readString, readCounters, readFdb, readNeighbors, readRoutes, readServiceTable, readTraceRing,
  slotReadOffset, txEntryAt, txEntryBytes, writeFrame, writeMaglevTable,
  type CounterNames, type CounterSnapshot, type CtEntry, type CtTuple, type FdbEntry, type RouteEntry, type ServiceBackend,
  type ServiceTableEntry, type TxEntry,
} from './memory-views.ts';

// the names and shapes callers have always imported from here
export { CT_PROTO, CT_STATES, CT_TIMEOUTS, type CtStateName, type CtTimeoutName, type OverlayKind, type PortKind, type RouteKind, type ServiceProto } from './kinds.ts';
export { GEN_SLOT, type CounterSnapshot, type CtEntry, type CtTuple, type FdbEntry, type PortCounters, type RouteEntry, type ServiceBackend, type ServiceTableEntry, type TxEntry } from './memory-views.ts';

export interface DataplaneOptions {
  /** frame slots = the largest batch (default 256) */
  slots?: number;
  /** bytes per slot; 64 KiB + headroom to hold GSO super-frames (default), ~2 KiB is enough with offloads off */
  slotSize?: number;
  fdbCapacity?: number;
  maxPorts?: number;
  build?: Build;
  /** share this memory with other nodes (see createNodes); default: a memory of its own */
  memory?: WebAssembly.Memory;
  /** where this node's region starts in the shared memory (0: after static data) */
  base?: number;
  /** the shared memory's region from `base` on was never written (createNodes: a fresh memory, regions in order), so it need not be zero-filled; a memory of its own always is */
  zeroed?: boolean;
  /**
   * generated-frame slots (ICMP errors, fragments, GSO segments) per round
   * (until txClear), and their size. Default 256 of 2304 bytes. A node that
   * segments super-frames (setUnderlayNoGso(true)) needs far more: see
   * genSlotsForSegmentation.
   */
  genSlots?: number;
  genSlotSize?: number;
  /** IPv4 reassembly buffers (64 KiB each; default 16): datagrams being reassembled at once before conntrack */
  fragBuffers?: number;
  fibCapacity?: number;
  neighCapacity?: number;
  /** conntrack entries (default 65536; about 80 bytes each with its index) */
  ctCapacity?: number;
  /** Service frontends (VIP, port, protocol), default 256, and backends per frontend, default 64 */
  svcCapacity?: number;
  svcMaxBackends?: number;
  /** room for a Maglev table per Service (8 KiB each), so addService may ask for scheduler 'maglev' */
  maglev?: boolean;
  /** NetworkPolicy room: pod addresses, allow entries (and twice as many port ranges); default 4096 */
  policyCapacity?: number;
}

/** How a frontend treats new flows beyond the backend choice (EngineServiceConfig carries the same fields). */
export interface ServiceOptions {
  /** source-NAT new flows to the node's gateway address (externalTrafficPolicy: Cluster on a NodePort / external address) */
  masquerade?: boolean;
  /** sessionAffinity: ClientIP for this many seconds (0 or absent: none) */
  affinitySeconds?: number;
  /** with no backends drop new flows (service_no_local_endpoints) instead of rejecting them */
  dropWhenEmpty?: boolean;
  /** how a new flow's backend is chosen: seeded random (default), or Maglev consistent hashing of its 5-tuple (IPVS "mh") */
  scheduler?: ServiceScheduler;
}
export type ServiceScheduler = 'random' | 'maglev';

const invert = (t: CtTuple): CtTuple => ({ src: t.dst, dst: t.src, sport: t.dport, dport: t.sport });

/** The most TCP payload one super-frame carries: 64 KiB of IPv4 less minimal IPv4 and TCP headers. */
export const GSO_MAX_PAYLOAD = 65535 - 20 - 20;
/**
 * Linux's gso_size for a pod of MTU `podMtu`: the MSS less TCP timestamps
 * (tcp_current_mss: MTU - 20 IPv4 - 20 TCP - 12 timestamp option), 1398 at 1450.
 */
export const podGsoSize = (podMtu: number) => podMtu - 52;
/** Segments the largest super-frame makes with `gsoSize`-byte segments: 47 at 1398. */
export const gsoMaxSegments = (gsoSize: number) => Math.ceil(GSO_MAX_PAYLOAD / gsoSize);
/**
 * Generated slots a node needs per round when it segments super-frames for
 * its underlay (setUnderlayNoGso(true)): each of the `batch` frames one
 * processBatch takes may be a 64 KiB super-frame, cut into
 * ceil(65495 / gso_size) segments, each its own generated slot; plus
 * `extra` for what every node generates anyway (ICMP errors, fragments).
 *
 *   genSlots >= batch * ceil(65495 / gso_size) + extra
 *
 * gso_size is the smallest the pods use: podGsoSize(pod MTU) unless the
 * peers advertise a smaller MSS. Each generated slot must also hold a
 * segment behind the headroom: genSlotSize >= 130 + 14 + pod MTU (the
 * engine's maxMtu + 512 does). A super-frame the pool cannot take whole
 * this round is dropped whole (gen_pool_empty); the sender retransmits.
 * Example: batch 16, pod MTU 1450 (gso_size 1398) -> 16 * 47 + 256 = 1008.
 */
export function genSlotsForSegmentation(batch: number, podMtu: number, extra = 256): number {
  return batch * gsoMaxSegments(podGsoSize(podMtu)) + extra;
}

/** Room for a 64 KiB GSO frame + its vnet header behind the headroom. */
export const GSO_SLOT_SIZE = 65536 + 512;
export const MTU_SLOT_SIZE = 2048 + 256;

export class Dataplane {
  readonly ex: DataplaneExports;
  readonly slots: number;
  readonly slotSize: number;
  readonly maxPorts: number;
  readonly headroom: number;
  readonly vnetLen: number;
  /** where slot 0 starts in memory */
  readonly slotBase: number;
  /** end of this node's region: where the next node sharing the memory may start */
  readonly regionEnd: number;
  readonly rxCapacity: number;
  /** generated-frame slots per round, and their size (see genSlotsForSegmentation) */
  readonly genSlots: number;
  readonly genSlotSize: number;
  rxLen!: Uint32Array;
  rxPort!: Uint32Array;
  rxAddr!: Uint32Array;
  tx!: Uint32Array;
  readonly memory: WebAssembly.Memory;
  private readonly counterNames: CounterNames;
  /** "vip:port/proto" -> the service index the data plane knows it by */
  private readonly services = new Map<string, number>();
  private readonly freeServices: number[] = [];
  private nextService = 0;

  constructor(opts: DataplaneOptions = {}) {
    this.slots = opts.slots ?? 256;
    this.slotSize = opts.slotSize ?? GSO_SLOT_SIZE;
    this.maxPorts = opts.maxPorts ?? 64;
    const memory = opts.memory ?? newMemory();
    const ex = instantiate(opts.build ?? 'release', memory);
    this.genSlotSize = opts.genSlotSize ?? 2048 + 256;
    this.genSlots = opts.genSlots ?? 256;
    const rc = ex.configure(opts.base ?? 0, this.slots, this.slotSize, opts.fdbCapacity ?? 4096, this.maxPorts,
      this.genSlots, this.genSlotSize, opts.fibCapacity ?? 256, opts.neighCapacity ?? 1024,
      opts.ctCapacity ?? 65536, opts.svcCapacity ?? 256, opts.svcMaxBackends ?? 64, opts.maglev ? 1 : 0,
      opts.fragBuffers ?? 16, opts.policyCapacity ?? 4096, opts.memory === undefined || opts.zeroed === true ? 1 : 0);
    if (rc !== 0) throw new Error(`data plane configure failed (${rc}): slots=${this.slots} slotSize=${this.slotSize}`);
    this.ex = ex;
    this.memory = memory;
    this.headroom = ex.headroom();
    this.vnetLen = ex.vnetHeaderLen();
    this.slotBase = ex.slotBase();
    this.regionEnd = ex.regionEndPtr();
    this.rxCapacity = ex.rxCap();
    this.refreshViews();
    this.counterNames = {
      drops: names(ex, ex.dropReasonCount(), ex.dropReasonName),
      events: names(ex, ex.eventCount(), ex.eventName),
      ports: names(ex, ex.portCounterCount(), ex.portCounterName),
    };
  }

  /**
   * Re-create the typed views over memory. Needed once after every node that
   * shares this memory is configured (growing a memory detaches old views);
   * after that it never grows.
   */
  refreshViews(): void {
    ({ rxLen: this.rxLen, rxPort: this.rxPort, rxAddr: this.rxAddr, tx: this.tx } = frameLists(this.memory, this.ex, this.rxCapacity));
  }

  /** Byte offset in memory where a read for slot i must land (vnet header first). */
  readOffset(slot: number): number {
    return slotReadOffset(this.slotBase, this.slotSize, slot);
  }
  /** The most a read into one slot may take (vnet header + frame). */
  get readCapacity(): number {
    return this.slotSize - this.headroom + this.vnetLen;
  }

  attachPort(port: number, mtu: number, kind: PortKind = 'bridge'): void {
    if (!this.ex.portAttach(port, mtu, PORT_KIND[kind])) throw new Error(`port ${port} out of range (max ${this.maxPorts - 1})`);
  }
  /** The node's link to other nodes: its port, underlay address and MAC. */
  setUnderlay(port: number, ip: string, mac: string): void {
    this.ex.setUnderlay(port, ipv4ToInt(ip), macToBigInt(mac));
  }
  /** The node's overlay: VXLAN (VNI, UDP port, this node's VTEP MAC), IP-in-IP or host-gw. */
  setOverlay(kind: OverlayKind, opts: { vni?: number; port?: number; vtepMac?: string } = {}): void {
    this.ex.setOverlay(OVERLAY_KIND[kind], opts.vni ?? 1, opts.port ?? 8472, opts.vtepMac ? macToBigInt(opts.vtepMac) : 0n);
  }
  /**
   * Whether the underlay egress cannot take GSO super-frames (a real device:
   * a TAP on a Linux bridge toward kernel nodes). When on, a super-frame
   * routed onto the underlay (VXLAN, IP-in-IP, host-gw) is segmented in
   * software first, each segment with a complete checksum and a zero vnet
   * header, and any other frame's partial checksum (NEEDS_CSUM) is finished.
   * Off by default (in-process peers take super-frames whole). Size the
   * generated pool for it: genSlotsForSegmentation.
   */
  setUnderlayNoGso(on: boolean): void {
    this.ex.setUnderlayNoGso(on ? 1 : 0);
  }
  /**
   * Whether the underlay TAP speaks UDP-tunnel GSO (its 24-byte virtio-net
   * header, TUN_F_UDP_TUNNEL_GSO accepted): VXLAN super-frames then go to it
   * whole and come from it whole (assembly/stages/tunnel_gso.ts); every frame
   * read from or written to it carries the 24-byte header
   * (Virtio.VNET_TNL_HLEN). Off by default.
   */
  setUnderlayTunnelGso(on: boolean): void {
    this.ex.setUnderlayTunnelGso(on ? 1 : 0);
  }
  /** With UDP-tunnel GSO: every segment gets an outer UDP checksum (assembly/node.ts). */
  setUnderlayTunnelGsoCsum(on: boolean): void {
    this.ex.setUnderlayTunnelGsoCsum(on ? 1 : 0);
  }
  /** Route `cidr` ("10.244.1.0/24"): on the local bridge, or via the node at `nextHop` (underlay IP; its VTEP MAC for VXLAN). */
  addRoute(cidr: string, kind: RouteKind, nextHop?: string, vtepMac?: string): void {
    const [net, len] = cidr.split('/');
    const r = this.ex.fibAdd(ipv4ToInt(net), Number(len), ROUTE_KIND[kind], nextHop ? ipv4ToInt(nextHop) : 0, vtepMac ? macToBigInt(vtepMac) : 0n);
    if (r < 0) throw new Error(`route ${cidr}: routing table full or bad prefix`);
  }
  delRoute(cidr: string): boolean {
    const [net, len] = cidr.split('/');
    return this.ex.fibDel(ipv4ToInt(net), Number(len)) !== 0;
  }
  private announced = new Set<string>();
  /**
   * The LoadBalancer addresses this node answers ARP for on its underlay
   * port (replacing the previous set): each is an 'announced' /32 route,
   * which the data plane treats as "ours to answer", never as a way out.
   */
  setAnnounced(addresses: string[]): void {
    const want = new Set(addresses);
    for (const ip of this.announced) if (!want.has(ip)) this.delRoute(`${ip}/32`);
    for (const ip of want) if (!this.announced.has(ip)) this.addRoute(`${ip}/32`, 'announced');
    this.announced = want;
  }
  /** Pin a pod's MAC to its port (never ages or moves), as the CNI knows where it attached the pod. */
  addStaticMac(mac: string, port: number): void {
    if (!this.ex.fdbAddStatic(macToBigInt(mac), port)) throw new Error(`static MAC ${mac}: forwarding table full`);
  }
  setNeighbor(ip: string, mac: string): void {
    if (!this.ex.neighSet(ipv4ToInt(ip), macToBigInt(mac))) throw new Error(`neighbour ${ip}: table full`);
  }
  delNeighbor(ip: string): boolean {
    return this.ex.neighDel(ipv4ToInt(ip)) !== 0;
  }
  neighbor(ip: string): string | undefined {
    const m = this.ex.neighLookup(ipv4ToInt(ip));
    return m === 0n ? undefined : bigIntToMac(m);
  }
  detachPort(port: number): void {
    this.ex.portDetach(port);
    this.ex.fdbFlushPort(port);
  }
  setGateway(ip: string, mac: string): void {
    this.ex.setGateway(ipv4ToInt(ip), macToBigInt(mac));
  }
  /** The data plane's clock, in ms (wraps at 2^32, which aging arithmetic tolerates). */
  setClock(ms: number): void {
    this.ex.setClock(ms >>> 0);
  }

  /** Clear the tx list, then process rx entries [0, n); returns the tx entry count. */
  process(n: number): number {
    this.ex.txClear();
    return this.ex.processBatch(0, n);
  }
  /** Process rx entries [first, first + n) appending to the tx list; returns its length. */
  processRange(first: number, n: number): number {
    return this.ex.processBatch(first, n);
  }
  txClear(): void {
    this.ex.txClear();
  }
  txEntry(k: number): TxEntry {
    return txEntryAt(this.tx, k);
  }

  // ---- helpers for tests and the in-memory benchmark ----

  /** Copy a frame into slot `slot` as if read from `port`'s TAP. `vnet` defaults to all zero. */
  putFrame(slot: number, port: number, frame: Uint8Array, vnet?: Uint8Array): void {
    const at = this.readOffset(slot);
    if (frame.length > this.readCapacity - this.vnetLen) throw new Error('frame larger than a slot');
    writeFrame(this.memory, at, frame, vnet);
    this.rxLen[slot] = this.vnetLen + frame.length;
    this.rxPort[slot] = port;
    this.rxAddr[slot] = at;
  }
  /** The bytes tx entry k would write: vnet header and frame, copied out. */
  txBytes(k: number): { vnet: Uint8Array; frame: Uint8Array; port: number } {
    const e = this.txEntry(k);
    return { ...txEntryBytes(this.memory, e), port: e.port };
  }

  counters(): CounterSnapshot {
    return readCounters(this.memory, this.ex, this.counterNames, this.maxPorts);
  }

  /** The forwarding database as the data plane holds it. */
  fdb(nowMs: number): FdbEntry[] {
    return readFdb(this.memory, this.ex, nowMs);
  }

  /** The routing table as the data plane holds it (assembly/tables/fib.ts), longest prefix first. */
  routes(): RouteEntry[] {
    return readRoutes(this.memory, this.ex);
  }

  /** The neighbour table (IPv4 -> MAC) as the data plane holds it (assembly/tables/neighbors.ts), by address. */
  neighbors(): { ip: string; mac: string }[] {
    return readNeighbors(this.memory, this.ex);
  }

  /** Every Service frontend with its backends and options, as the data plane holds them (assembly/tables/services.ts). */
  serviceTable(): ServiceTableEntry[] {
    return readServiceTable(this.memory, this.ex);
  }

  // ---- connection tracking (assembly/tables/conntrack.ts) ----

  /** The entry a packet with this tuple belongs to, and whether it matched the reply direction; undefined when none (or expired: removed). */
  ctLookup(proto: number, t: CtTuple, nowMs: number): { entry: number; reply: boolean } | undefined {
    const r = this.ex.ctLookup(proto, ipv4ToInt(t.src), ipv4ToInt(t.dst), t.sport, t.dport, nowMs >>> 0);
    return r < 0 ? undefined : { entry: r >>> 1, reply: (r & 1) === 1 };
  }
  /**
   * New entry: `orig` as the first packet had it, `reply` as replies will
   * (default: `orig` inverted; NAT passes the translated one). Returns the
   * entry index, -1 when the table is full (conntrack_full), -2 when a live
   * entry holds either tuple.
   */
  ctCreate(proto: number, orig: CtTuple, nowMs: number, reply: CtTuple = invert(orig)): number {
    return this.ex.ctCreate(proto, ipv4ToInt(orig.src), ipv4ToInt(orig.dst), orig.sport, orig.dport,
      ipv4ToInt(reply.src), ipv4ToInt(reply.dst), reply.sport, reply.dport, nowMs >>> 0);
  }
  ctDelete(entry: number): boolean {
    return this.ex.ctDelete(entry) !== 0;
  }
  /** A packet of `entry` seen (TCP: with its flags byte); returns the new state. */
  ctUpdate(entry: number, reply: boolean, nowMs: number, tcpFlags = 0): CtStateName {
    return CT_STATES[this.ex.ctUpdate(entry, reply ? 1 : 0, tcpFlags, nowMs >>> 0)];
  }
  /**
   * Forget every `proto` flow answered by `ip`:`port` (a backend removed from
   * its Service), as kube-proxy flushes UDP entries; returns how many went.
   */
  ctFlushBackend(proto: ServiceProto, ip: string, port: number): number {
    return this.ex.ctFlushReplySource(CT_PROTO[proto], ipv4ToInt(ip), port);
  }
  ctState(entry: number): CtStateName {
    return CT_STATES[this.ex.ctState(entry)];
  }
  /** Incremental GC: look at up to `budget` entries from where the last call stopped; returns how many expired ones went. */
  ctGc(nowMs: number, budget: number): number {
    return this.ex.ctGc(nowMs >>> 0, budget);
  }
  ctCount(): number {
    return this.ex.ctCount();
  }
  setCtTimeout(name: CtTimeoutName, ms: number): void {
    this.ex.ctSetTimeout(CT_TIMEOUTS[name], ms >>> 0);
  }
  ctTimeout(name: CtTimeoutName): number {
    return this.ex.ctTimeout(CT_TIMEOUTS[name]);
  }

  // ---- Services (assembly/tables/services.ts, assembly/stages/service_nat.ts) ----

  /**
   * Program Service frontend `vip`:`port`/`proto`, load-balanced to
   * `backends` (possibly none: new flows are then rejected, service_no_endpoints,
   * or dropped with `dropWhenEmpty`). Calling it again for the same frontend
   * replaces the backends and options; flows already tracked keep the
   * backend conntrack chose for them.
   */
  addService(vip: string, port: number, proto: ServiceProto, backends: ServiceBackend[], opts: ServiceOptions = {}): void {
    const max = this.ex.svcMaxBackends();
    if (backends.length > max) throw new Error(`service ${vip}:${port}/${proto}: ${backends.length} backends, at most ${max}`);
    const key = `${vip}:${port}/${proto}`;
    let idx = this.services.get(key);
    if (idx === undefined) {
      idx = this.freeServices.pop() ?? this.nextService;
      if (idx >= this.ex.svcCapacity()) throw new Error(`service ${key}: table full (${this.ex.svcCapacity()})`);
      if (this.ex.svcAddFrontend(ipv4ToInt(vip), port, CT_PROTO[proto], idx) === 0) {
        throw new Error(`service ${key}: frontend table full`);
      }
      if (idx === this.nextService) this.nextService++;
      this.services.set(key, idx);
    }
    this.ex.svcClearBackends(idx);
    for (const b of backends) this.ex.svcAddBackend(idx, ipv4ToInt(b.ip), b.port);
    const maglev = opts.scheduler === 'maglev';
    if (maglev) {
      if (this.ex.maglevEnabled() === 0) throw new Error(`service ${key}: scheduler maglev needs a data plane configured with maglev: true`);
      // written before the flag is set: the table always matches the list it indexes
      writeMaglevTable(this.memory, this.ex, idx, maglevTable(backends.map((b) => `${b.ip}:${b.port}`), this.ex.maglevSlots()));
    }
    const flags = (opts.masquerade ? Services.SVC_MASQUERADE : 0) | (opts.dropWhenEmpty ? Services.SVC_DROP_EMPTY : 0)
      | (maglev ? Services.SVC_MAGLEV : 0);
    this.ex.svcSetOptions(idx, flags, Math.round((opts.affinitySeconds ?? 0) * 1000) >>> 0);
  }
  /** Remove a Service frontend; flows already tracked keep going to their backends. False when there was none. */
  removeService(vip: string, port: number, proto: ServiceProto): boolean {
    const key = `${vip}:${port}/${proto}`;
    const idx = this.services.get(key);
    if (idx === undefined) return false;
    this.ex.svcDelFrontend(ipv4ToInt(vip), port, CT_PROTO[proto]);
    this.ex.svcClearBackends(idx);
    this.ex.svcSetOptions(idx, 0, 0);
    this.ex.affForgetService(idx); // the index will serve another frontend
    this.services.delete(key);
    this.freeServices.push(idx);
    return true;
  }
  /** Seed the backend choice (xorshift32): the same seed and traffic choose the same backends. */
  setServiceSeed(seed: number): void {
    this.ex.svcSetSeed(seed >>> 0);
  }
  serviceBackendCount(vip: string, port: number, proto: ServiceProto): number {
    const idx = this.services.get(`${vip}:${port}/${proto}`);
    return idx === undefined ? 0 : this.ex.svcBackendCount(idx);
  }

  /** A drop reason's name by its number (trace records carry numbers). */
  dropName(reason: number): string {
    // Drop.HELD: a fragment queued for reassembly (not a drop)
    if (reason === Drop.HELD) return 'held';
    return this.counterNames.drops[reason] ?? `drop_${reason}`;
  }

  /** Record every decision from now on (`dry`: and leave no state behind; see assembly/trace.ts). */
  traceBegin(dry: boolean): void {
    this.ex.traceBegin(dry ? 1 : 0);
  }
  /** Stop recording (a dry run's changes are undone); the records stay until the next traceBegin. */
  traceEnd(): void {
    this.ex.traceEnd();
  }
  /** The records written since traceBegin / the last traceReset, copied out, and how many did not fit the ring. */
  traceRecords(): { words: Uint32Array; lost: number } {
    return readTraceRing(this.memory, this.ex);
  }

  /** The conntrack table as the data plane holds it (`podwire conntrack -L`); expired entries not yet collected are left out. */
  conntrack(nowMs: number): CtEntry[] {
    return readConntrack(this.memory, this.ex, nowMs);
  }
}

/**
 * `count` nodes sharing one memory, so a frame one node sends on the underlay
 * can be handed to another by address, without a copy.
 */
export function createNodes(count: number, opts: Omit<DataplaneOptions, 'memory' | 'base'> = {}): Dataplane[] {
  const memory = newMemory();
  const nodes: Dataplane[] = [];
  let base = 0;
  for (let i = 0; i < count; i++) {
    const dp = new Dataplane({ ...opts, memory, base, zeroed: true }); // a fresh memory, each region after the last
    base = dp.regionEnd;
    nodes.push(dp);
    // every node's region is the size of the first's (same options): grow once for all of them, not once
    // per node (50 nodes: a third of the time configuring them)
    if (i === 0 && count > 1) {
      const pages = Math.ceil((dp.regionEnd * count) / 65536) - memory.buffer.byteLength / 65536;
      if (pages > 0) memory.grow(pages);
    }
  }
  for (const dp of nodes) dp.refreshViews();
  return nodes;
}

function names(ex: DataplaneExports, n: number, fn: (i: number) => number): string[] {
  return Array.from({ length: n }, (_, i) => readString(ex.memory, fn.call(ex, i)));
}
