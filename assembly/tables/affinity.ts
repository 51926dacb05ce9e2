// Session affinity (sessionAffinity: ClientIP), as kube-proxy's iptables
// `recent` match keeps it: per (Service, client address) the backend the
// client's last new connection went to and when; a new connection within the
// timeout goes to the same backend if it is still one of the Service's.
//
// A 4-way set-associative table sized at configure time: a key hashes to one
// bucket of WAYS entries; an insert takes the key's own entry, else a free or
// expired one, else evicts the least recently used (counted: the client may
// then land on another backend, as it would after the timeout). Fixed cost
// per lookup, no deletion bookkeeping.
//
// Entry (16 bytes): key u32 (service + 1; 0 = free), client ip u32,
// backend ip u32 (the caller checks it is still one of the Service's: the
// list may have changed), lastSeen u32 (ms).
import { countEv, Ev } from "../counters";

const ENTRY: usize = 16;
const WAYS: u32 = 4;

let base: usize = 0;
let bucketMask: u32 = 0;

/** Buckets for `cap` entries: a power of two, at least one. */
function bucketsFor(cap: u32): u32 {
  let b: u32 = 1;
  while (b * WAYS < cap) b <<= 1;
  return b;
}

export function affBytes(cap: u32): usize { return <usize>bucketsFor(cap) * WAYS * ENTRY; }

export function affInit(at: usize, cap: u32): void {
  base = at;
  bucketMask = bucketsFor(cap) - 1;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
}

@inline function bucketOf(svc: u32, client: u32): usize {
  let h = (<u64>svc << 32 | <u64>client) * 0x9E3779B97F4A7C15;
  h ^= h >> 29;
  return base + <usize>(<u32>(h >> 32) & bucketMask) * WAYS * ENTRY;
}

/** The entry address holding (svc, client) if live within `timeoutMs` of now, else 0. */
export function affFind(svc: u32, client: u32, now: u32, timeoutMs: u32): usize {
  const b = bucketOf(svc, client);
  for (let w: u32 = 0; w < WAYS; w++) {
    const e = b + <usize>w * ENTRY;
    if (load<u32>(e) == svc + 1 && load<u32>(e, 4) == client) {
      return now - load<u32>(e, 12) < timeoutMs ? e : 0;
    }
  }
  return 0;
}
@inline export function affBackend(e: usize): u32 { return load<u32>(e, 8); }

/** Remember that `client`'s new connection to `svc` went to the backend at address `backend` at `now`. */
export function affRemember(svc: u32, client: u32, backend: u32, now: u32, timeoutMs: u32): void {
  const b = bucketOf(svc, client);
  // prefer the key's own entry, then a free or expired one, then the least recently used
  const FREE: u32 = 0xffffffff;
  let victim: usize = 0;
  let score: u32 = 0;
  let own = false;
  for (let w: u32 = 0; w < WAYS; w++) {
    const e = b + <usize>w * ENTRY;
    const k = load<u32>(e);
    if (k == svc + 1 && load<u32>(e, 4) == client) { victim = e; own = true; break; }
    const age = now - load<u32>(e, 12);
    const s = k == 0 || age >= timeoutMs ? FREE : age;
    if (victim == 0 || s > score) { victim = e; score = s; }
  }
  if (!own && score != FREE) countEv(Ev.AFFINITY_EVICTED);
  store<u32>(victim, svc + 1);
  store<u32>(victim, client, 4);
  store<u32>(victim, backend, 8);
  store<u32>(victim, now, 12);
}

/** Forget every client's affinity to `svc` (its frontend went away or its index is reused). */
export function affForgetService(svc: u32): void {
  const end = base + affBytes((bucketMask + 1) * WAYS);
  for (let e = base; e < end; e += ENTRY) if (load<u32>(e) == svc + 1) store<u32>(e, 0);
}
