// Loading a compiled data-plane module. Each node gets its own instance (own
// globals) but the nodes of a lab share one memory, each node's tables carved
// from its region by configure(); the module is compiled once per process.
import { readFileSync } from 'node:fs';
import { packageFile } from '../util/package-files.ts';

/** 'notrace': release compiled with every trace point removed (the benchmark's reference for the cost of tracing off). */
export type Build = 'release' | 'debug' | 'notrace';

/** The raw exports of assembly/index.ts. Pointers are byte offsets into `memory`. */
export interface DataplaneExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  configure(base: number, slots: number, slotSize: number, fdbCapacity: number, maxPorts: number,
    genSlots: number, genSlotSize: number, fibCapacity: number, neighCapacity: number, ctCapacity: number,
    svcCapacity: number, svcMaxBackends: number, maglev: number, fragQueues: number, policyCapacity: number, zeroed: number): number;
  processBatch(first: number, n: number): number;
  txClear(): void;
  rxAddrPtr(): number;
  rxCap(): number;
  regionEndPtr(): number;
  setUnderlay(port: number, ip: number, mac: bigint): void;
  setOverlay(kind: number, vni: number, udpPort: number, vtepMac: bigint): void;
  setUnderlayNoGso(on: number): void;
  setUnderlayTunnelGso(on: number): void;
  setUnderlayTunnelGsoCsum(on: number): void;
  tunnelHdrRelay(vnet: number): void;
  tunnelHdrPlace(vnet: number): void;
  fibAdd(prefix: number, len: number, kind: number, nextHop: number, vtepMac: bigint): number;
  fibDel(prefix: number, len: number): number;
  fibLookup(dst: number): number;
  fibCount(): number;
  fibSlotsBase(): number;
  fibSlots(): number;
  fibRecordsBase(): number;
  neighSet(ip: number, mac: bigint): number;
  neighDel(ip: number): number;
  neighLookup(ip: number): bigint;
  neighCount(): number;
  neighBase(): number;
  neighSlots(): number;
  parseBatch(n: number): number;
  benchRestore(first: number, n: number, src: number, stride: number, len: number): void;
  headroom(): number;
  vnetHeaderLen(): number;
  slotBase(): number;
  rxLenPtr(): number;
  rxPortPtr(): number;
  txPtr(): number;
  txEntryBytes(): number;
  txCap(): number;
  dropCountersPtr(): number;
  eventCountersPtr(): number;
  portCountersPtr(): number;
  dropReasonCount(): number;
  eventCount(): number;
  portCounterCount(): number;
  dropReasonName(i: number): number;
  eventName(i: number): number;
  portCounterName(i: number): number;
  setClock(ms: number): void;
  setGateway(ip: number, mac: bigint): void;
  portAttach(port: number, mtu: number, kind: number): number;
  portDetach(port: number): void;
  fdbExpire(now: number): number;
  fdbFlushPort(port: number): void;
  fdbSetAging(ms: number): void;
  fdbAging(): number;
  fdbCount(): number;
  fdbCapacity(): number;
  fdbBase(): number;
  fdbSlots(): number;
  fdbLookup(mac: bigint, now: number): number;
  fdbLearn(mac: bigint, port: number, now: number): void;
  fdbAddStatic(mac: bigint, port: number): number;
  /** entry * 2 + (1 when the reply direction matched), or -1 */
  ctLookup(proto: number, sip: number, dip: number, sport: number, dport: number, now: number): number;
  /** entry index, -1 table full, -2 a live entry holds either tuple */
  ctCreate(proto: number, oSip: number, oDip: number, oSport: number, oDport: number,
    rSip: number, rDip: number, rSport: number, rDport: number, now: number): number;
  ctDelete(entry: number): number;
  ctUpdate(entry: number, dirIsReply: number, tcpFlags: number, now: number): number;
  ctUpdateTcp(entry: number, dirIsReply: number, tcpFlags: number, now: number): number;
  ctUpdateUdp(entry: number, dirIsReply: number, now: number): number;
  ctUpdateIcmp(entry: number, dirIsReply: number, now: number): number;
  ctGc(now: number, budget: number): number;
  ctSetTimeout(state: number, ms: number): number;
  ctTimeout(state: number): number;
  ctState(entry: number): number;
  ctFlushReplySource(proto: number, ip: number, port: number): number;
  svcSetOptions(svc: number, flags: number, affinityMs: number): number;
  affForgetService(svc: number): void;
  setFlowPrefetch(on: number): void;
  maglevEnabled(): number;
  maglevTable(svc: number): number;
  maglevSlots(): number;
  ctFlags(entry: number): number;
  ctCount(): number;
  ctCapacity(): number;
  ctBase(): number;
  ctEntryBytes(): number;
  ctHighWater(): number;
  ctGcCursor(): number;
  /** frontend (vip, port, proto) -> service index; 0 when out of range or full */
  svcAddFrontend(vip: number, port: number, proto: number, svc: number): number;
  svcDelFrontend(vip: number, port: number, proto: number): number;
  /** service index, or -1 */
  svcLookup(vip: number, port: number, proto: number): number;
  svcClearBackends(svc: number): void;
  /** 0 when out of range or the service's backend list is full */
  svcAddBackend(svc: number, ip: number, port: number): number;
  svcBackendCount(svc: number): number;
  svcFrontendCount(): number;
  svcCapacity(): number;
  svcMaxBackends(): number;
  svcSetSeed(seed: number): void;
  // NetworkPolicy tables (assembly/tables/policy.ts): cleared and rewritten whole
  polClear(): void;
  /** 0, or -1 when full */
  polSetAddress(ip: number, identity: number, klass: number, flags: number): number;
  /** the class index, or -1 when full */
  polAddClass(net: number, prefixLen: number): number;
  /** 0, or -1 when full */
  polAddRange(ip: number, peer: number, dir: number, proto: number, lo: number, hi: number, rule: number): number;
  polDecide(local: number, peer: number, dir: number, proto: number, port: number): number;
  polLocalFlags(ip: number): number;
  polAddressCount(): number;
  polAllowCount(): number;
  polCapacity(): number;
  // decision traces (assembly/trace.ts, trace_session.ts)
  traceBegin(dry: number): void;
  traceEnd(): void;
  traceReset(): void;
  traceCount(): number;
  traceRingPtr(): number;
  traceRingCap(): number;
  traceBuilt(): number;
  traceStepCount(): number;
  traceStepName(i: number): number;
  /** route index -> prefix << 8 | length (as a bigint: i64), -1 when unknown */
  routePrefix(idx: number): bigint;
  svcFrontendBase(): number;
  svcFrontendSlots(): number;
  svcBase(): number;
  svcStrideBytes(): number;
}

const modules = new Map<Build, WebAssembly.Module>();

export function wasmPath(build: Build): string {
  return packageFile(`build/${build}.wasm`);
}

/** Memory for one or more nodes: they share it, each configured at the previous one's end. */
export function newMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 2 });
}

export function instantiate(build: Build = 'release', memory: WebAssembly.Memory = newMemory()): DataplaneExports {
  let mod = modules.get(build);
  if (!mod) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(wasmPath(build));
    } catch {
      throw new Error(`data plane not built: ${wasmPath(build)} is missing (run "npm run build")`);
    }
    mod = new WebAssembly.Module(new Uint8Array(bytes));
    modules.set(build, mod);
  }
  const inst = new WebAssembly.Instance(mod, {
    env: {
      memory,
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new Error(`data plane abort at ${line}:${col}`);
      },
    },
  });
  // with imported memory the instance exports none: give callers the one it uses
  const ex = { ...(inst.exports as object), memory } as unknown as DataplaneExports;
  ex._initialize();
  return ex;
}

// strings the module returns (names of drops, events, trace steps) are read by memory-views.ts
export { readString } from './memory-views.ts';
