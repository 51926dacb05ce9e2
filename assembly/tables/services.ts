// Service frontends and their backends, as kube-proxy programs them: a
// frontend (virtual IP, port, protocol) names a service index; each service
// index has up to `maxBackends` backends (ip, port), chosen per new flow by a
// seeded xorshift PRNG (deterministic labs and tests). The control plane
// (src/dataplane/dataplane.ts) picks the service indices.
//
// Two regions, fixed at configure time:
//  - frontends: open addressing, linear probing, power-of-two slots at most
//    half full. A slot is 16 bytes: key u64 (vip << 24 | port << 8 | proto),
//    ref u32 (service + 1; 0 = empty), pad. Deletion by backward shift, no
//    tombstones: a lookup costs the same whatever the number of services.
//  - backends: `capacity` services x (a 16-byte header: count u32, flags
//    u32 (SVC_*), affinity timeout ms u32, pad; then maxBackends x 8 bytes:
//    ip u32, port u16, pad).
import { slotsFor, canFillHole } from "./open_addressing";

const FSLOT: usize = 16;
const F_REF: usize = 8;
const KEY_VIP_SHIFT: u64 = 24;
const KEY_PORT_SHIFT: u64 = 8;
const SVC_HDR: usize = 16;
const H_COUNT: usize = 0;
const H_FLAGS: usize = 4;
const H_AFFINITY_MS: usize = 8;
const BACKEND: usize = 8;
const B_IP: usize = 0;
const B_PORT: usize = 4;

/** Source-NAT every new flow to the node's gateway address (externalTrafficPolicy: Cluster on a NodePort / external address). */
export const SVC_MASQUERADE: u32 = 1;
/** With no backends, drop new flows silently (a Local traffic policy with no local endpoint), not reject them. */
export const SVC_DROP_EMPTY: u32 = 2;
/** Choose backends by the Service's Maglev table (tables/maglev.ts), not at random. */
export const SVC_MAGLEV: u32 = 4;

let fslots: usize = 0;
let fmask: u32 = 0;
let fcount: u32 = 0;
let svcs: usize = 0;
let capacity: u32 = 0;
let maxBe: u32 = 0;
let svcStride: usize = 0;
let rng: u32 = 0x9E3779B9;

export function svcBytes(cap: u32, maxBackends: u32): usize {
  return <usize>slotsFor(cap) * FSLOT + <usize>cap * (SVC_HDR + <usize>maxBackends * BACKEND);
}

export function svcInit(at: usize, cap: u32, maxBackends: u32): void {
  capacity = cap;
  maxBe = maxBackends;
  fmask = slotsFor(cap) - 1;
  fslots = at;
  svcs = at + <usize>(fmask + 1) * FSLOT;
  svcStride = SVC_HDR + <usize>maxBackends * BACKEND;
  fcount = 0;
  rng = 0x9E3779B9;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
}

@inline function key(vip: u32, port: u32, proto: u32): u64 {
  return (<u64>vip << KEY_VIP_SHIFT) | (<u64>(port & 0xffff) << KEY_PORT_SHIFT) | <u64>(proto & 0xff);
}
@inline function hashKey(k: u64): u32 {
  let h = k * 0x9E3779B97F4A7C15;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9;
  return <u32>(h >> 32);
}
@inline function fslotAt(i: u32): usize { return fslots + <usize>i * FSLOT; }
@inline function svcAt(s: u32): usize { return svcs + <usize>s * svcStride; }

/** The service index of frontend (vip, port, proto), or -1. */
export function svcLookup(vip: u32, port: u32, proto: u32): i32 {
  const k = key(vip, port, proto);
  let i = hashKey(k) & fmask;
  while (true) {
    const s = fslotAt(i);
    const ref = load<u32>(s, F_REF);
    if (ref == 0) return -1;
    if (load<u64>(s) == k) return <i32>(ref - 1);
    i = (i + 1) & fmask;
  }
}

/**
 * Map frontend (vip, port, proto) to service `svc` (replacing an existing
 * mapping). False when `svc` is out of range or the frontend table is full.
 */
export function svcAddFrontend(vip: u32, port: u32, proto: u32, svc: u32): bool {
  if (svc >= capacity) return false;
  const k = key(vip, port, proto);
  let i = hashKey(k) & fmask;
  while (true) {
    const s = fslotAt(i);
    const ref = load<u32>(s, F_REF);
    if (ref == 0) break;
    if (load<u64>(s) == k) { store<u32>(s, svc + 1, F_REF); return true; }
    i = (i + 1) & fmask;
  }
  if (fcount >= capacity) return false; // at most half the slots used
  const s = fslotAt(i);
  store<u64>(s, k);
  store<u32>(s, svc + 1, F_REF);
  fcount++;
  return true;
}

/** Remove frontend (vip, port, proto). False when there was none. */
export function svcDelFrontend(vip: u32, port: u32, proto: u32): bool {
  const k = key(vip, port, proto);
  let i = hashKey(k) & fmask;
  while (true) {
    const s = fslotAt(i);
    if (load<u32>(s, F_REF) == 0) return false;
    if (load<u64>(s) == k) break;
    i = (i + 1) & fmask;
  }
  // backward-shift deletion (Knuth 6.4 Algorithm R)
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & fmask;
    const s = fslotAt(j);
    if (load<u32>(s, F_REF) == 0) break;
    const home = hashKey(load<u64>(s)) & fmask;
    if (canFillHole(hole, j, home)) {
      memory.copy(fslotAt(hole), s, FSLOT);
      hole = j;
    }
  }
  memory.fill(fslotAt(hole), 0, FSLOT);
  fcount--;
  return true;
}

/** Set service `svc`'s SVC_* flags and its ClientIP affinity timeout (0 = no affinity). False when out of range. */
export function svcSetOptions(svc: u32, flags: u32, affinityMs: u32): bool {
  if (svc >= capacity) return false;
  store<u32>(svcAt(svc), flags, H_FLAGS);
  store<u32>(svcAt(svc), affinityMs, H_AFFINITY_MS);
  return true;
}
@inline export function svcFlags(svc: u32): u32 { return load<u32>(svcAt(svc), H_FLAGS); }
@inline export function svcAffinityMs(svc: u32): u32 { return load<u32>(svcAt(svc), H_AFFINITY_MS); }

/** Forget service `svc`'s backends (flows already tracked keep theirs: conntrack holds them). */
export function svcClearBackends(svc: u32): void {
  if (svc < capacity) store<u32>(svcAt(svc), 0, H_COUNT);
}

/** Add a backend to service `svc`. False when `svc` is out of range or its list is full. */
export function svcAddBackend(svc: u32, ip: u32, port: u32): bool {
  if (svc >= capacity) return false;
  const a = svcAt(svc);
  const n = load<u32>(a, H_COUNT);
  if (n >= maxBe) return false;
  const b = a + SVC_HDR + <usize>n * BACKEND;
  store<u32>(b, ip, B_IP);
  store<u16>(b, <u16>port, B_PORT);
  store<u32>(a, n + 1, H_COUNT);
  return true;
}

export function svcBackendCount(svc: u32): u32 { return svc < capacity ? load<u32>(svcAt(svc), H_COUNT) : 0; }
export function svcFrontendCount(): u32 { return fcount; }
export function svcCapacity(): u32 { return capacity; }
export function svcMaxBackends(): u32 { return maxBe; }
// layout, so the control plane can list frontends and backends as the data plane holds them (Dataplane.serviceTable)
export function svcFrontendBase(): usize { return fslots; }
export function svcFrontendSlots(): u32 { return fmask + 1; }
export function svcBase(): usize { return svcs; }
export function svcStrideBytes(): u32 { return <u32>svcStride; }

/** Seed the backend choice (0 is taken as the default seed: xorshift needs a non-zero state). */
export function svcSetSeed(seed: u32): void { rng = seed != 0 ? seed : 0x9E3779B9; }

/** The backend choice's state (a dry-run trace puts it back). */
export function svcSeed(): u32 { return rng; }

/** Choose one of `svc`'s backends (xorshift32): its index, or -1 when it has none. */
export function svcPick(svc: u32): i32 {
  const n = load<u32>(svcAt(svc), H_COUNT);
  if (n == 0) return -1;
  let x = rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng = x;
  return <i32>(<u32>((<u64>x * <u64>n) >> 32));
}
@inline export function svcBackendIp(svc: u32, i: u32): u32 { return load<u32>(svcAt(svc) + SVC_HDR + <usize>i * BACKEND, B_IP); }
@inline export function svcBackendPort(svc: u32, i: u32): u32 { return <u32>load<u16>(svcAt(svc) + SVC_HDR + <usize>i * BACKEND, B_PORT); }
