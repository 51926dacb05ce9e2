// Connection tracking, as the kernel's nf_conntrack keeps it for kube-proxy:
// one entry per flow, found by the 5-tuple of either direction.
//
// Two regions, both fixed at configure time:
//  - entries: `capacity` records of ENTRY bytes. An entry's index never
//    changes while it lives (the NAT stage may keep it in frame metadata);
//    free entries form a singly linked list (plus a high-water mark, so
//    configure touches nothing beyond the zero fill).
//  - index: open addressing, linear probing, power-of-two slots at most a
//    quarter full (two slots per entry, table at most half full). A slot is
//    8 bytes: ref u32 ((entry + 1) | REPLY_BIT for the reply direction's
//    slot; 0 = empty) and the tuple's 32-bit hash (home slot for backward-
//    shift deletion, and a cheap filter before comparing the tuple stored in
//    the entry). Deletion by backward shift, no tombstones.
//
// Time is the control-plane clock (ms, u32): an entry is expired once
// now - lastSeen >= timeout(state), wrap-safe. An expired entry is absent to
// lookups (which remove it, as the kernel's lookup does) and is collected
// incrementally by ctGc.
import { slotsFor, canFillHole } from "./open_addressing";
import { countEv, Ev } from "../counters";

// ---- entry layout (ENTRY = 48 bytes) ----
//  0 orig src ip u32   4 orig dst ip u32   8 orig sport u16  10 orig dport u16
// 12 reply src ip u32 16 reply dst ip u32 20 reply sport u16 22 reply dport u16
// 24 proto u8  25 state u8  26 flags u16  28 lastSeen u32 (ms)
// 32 next free u32 (entry + 1, 0 = end; only while free)  36..47 reserved
export const ENTRY: usize = 48;
export const O_ORIG: usize = 0;
export const O_REPLY: usize = 12;
export const O_PROTO: usize = 24;
export const O_STATE: usize = 25;
export const O_FLAGS: usize = 26;
export const O_SEEN: usize = 28;
const O_NEXT: usize = 32;

const SLOT: usize = 8;
const REPLY_BIT: u32 = 0x80000000;

export const PROTO_ICMP: u32 = 1;
export const PROTO_TCP: u32 = 6;
export const PROTO_UDP: u32 = 17;

// states: one numbering across protocols, so one timeout table serves all
export const enum CtState {
  NONE = 0,          // a free entry
  TCP_SYN_SENT = 1,
  TCP_SYN_RECV = 2,
  TCP_ESTABLISHED = 3,
  TCP_FIN_WAIT = 4,
  TCP_CLOSE_WAIT = 5,
  TCP_LAST_ACK = 6,
  TCP_TIME_WAIT = 7,
  TCP_CLOSE = 8,
  UDP_UNREPLIED = 9,
  UDP_REPLIED = 10,  // a reply was seen: "stream", assured
  ICMP_REQUEST = 11,
  ICMP_REPLIED = 12,
  OTHER = 13,        // any other protocol (generic timeout)
  COUNT = 14,
}

// flags
export const F_LIVE: u32 = 0x8000;     // the entry is in use
export const F_SEEN_REPLY: u32 = 1;
export const F_ASSURED: u32 = 2;
const F_FIN_ORIG: u32 = 4;   // the original direction sent a FIN
const F_FIN_REPLY: u32 = 8;  // the reply direction sent a FIN
const F_CLOSER_REPLY: u32 = 16; // the first FIN (ESTABLISHED -> FIN_WAIT) came in the reply direction

// TCP flags (byte 13 of the header)
export const TCP_FIN: u32 = 0x01;
export const TCP_SYN: u32 = 0x02;
export const TCP_RST: u32 = 0x04;
export const TCP_ACK: u32 = 0x10;

let entries: usize = 0;
let slots: usize = 0;
let mask: u32 = 0;
let capacity: u32 = 0;
let count: u32 = 0;
let freeHead: u32 = 0;   // entry + 1 of the first freed entry, 0 = none
let highWater: u32 = 0;  // entries [0, highWater) have been handed out at least once
let gcCursor: u32 = 0;
let timeouts: usize = 0; // CtState.COUNT x u32 ms

// ---- undo (dry-run traces): entries created while on are removed by ctUndoEnd ----
const UNDO_MAX: u32 = 8;
// entry u32, its free-list link before it was taken u32; in the node's region (nodes share one memory: no static data)
let undoLog: usize = 0;
let undoOn = false;
let undoN: u32 = 0;
/** an entry was removed for another reason (expired) meanwhile: the free list can only be restored in meaning */
let undoOther = false;
let undoFree: u32 = 0;
let undoHigh: u32 = 0;

export function ctBytes(cap: u32): usize {
  return <usize>cap * ENTRY + <usize>slotsFor(cap, 4) * SLOT + <usize>CtState.COUNT * 4 + <usize>UNDO_MAX * 8;
}

export function ctInit(at: usize, cap: u32): void {
  capacity = cap;
  mask = slotsFor(cap, 4) - 1;
  entries = at;
  slots = at + <usize>cap * ENTRY;
  timeouts = slots + <usize>(mask + 1) * SLOT;
  undoLog = timeouts + <usize>CtState.COUNT * 4;
  count = 0;
  freeHead = 0;
  highWater = 0;
  gcCursor = 0;
  memory.fill(at, 0, ctBytes(cap));
  // Linux defaults (nf_conntrack_proto_{tcp,udp,icmp}.c, generic 600 s)
  setT(CtState.NONE, 0);
  setT(CtState.TCP_SYN_SENT, 120_000);
  setT(CtState.TCP_SYN_RECV, 60_000);
  setT(CtState.TCP_ESTABLISHED, 432_000_000);
  setT(CtState.TCP_FIN_WAIT, 120_000);
  setT(CtState.TCP_CLOSE_WAIT, 60_000);
  setT(CtState.TCP_LAST_ACK, 30_000);
  setT(CtState.TCP_TIME_WAIT, 120_000);
  setT(CtState.TCP_CLOSE, 10_000);
  setT(CtState.UDP_UNREPLIED, 30_000);
  setT(CtState.UDP_REPLIED, 120_000);
  setT(CtState.ICMP_REQUEST, 30_000);
  setT(CtState.ICMP_REPLIED, 30_000);
  setT(CtState.OTHER, 600_000);
}
@inline function setT(s: CtState, ms: u32): void { store<u32>(timeouts + (<usize>s << 2), ms); }

/** Set the timeout of `state` (a CtState), in ms. False for an unknown state. */
export function ctSetTimeout(state: u32, ms: u32): bool {
  if (state == 0 || state >= <u32>CtState.COUNT) return false;
  store<u32>(timeouts + (<usize>state << 2), ms);
  return true;
}
/** The timeout of `state`, in ms (0 for an unknown state). */
export function ctTimeout(state: u32): u32 {
  return state < <u32>CtState.COUNT ? load<u32>(timeouts + (<usize>state << 2)) : 0;
}

@inline function entryAt(e: u32): usize { return entries + <usize>e * ENTRY; }
@inline function isLive(e: u32): bool { return (<u32>load<u16>(entryAt(e), O_FLAGS) & F_LIVE) != 0; }
@inline function expiredAt(a: usize, now: u32): bool {
  return now - load<u32>(a, O_SEEN) >= load<u32>(timeouts + (<usize>load<u8>(a, O_STATE) << 2));
}

@inline export function hashTuple(proto: u32, sip: u32, dip: u32, sport: u32, dport: u32): u32 {
  const a = ((<u64>sip << 32) | <u64>dip) * 0x9E3779B97F4A7C15;
  const b = ((<u64>proto << 32) | (<u64>(sport & 0xffff) << 16) | <u64>(dport & 0xffff)) * 0xC2B2AE3D27D4EB4F;
  let h = a ^ (b + 0x165667B19E3779F9) ^ (a >> 29);
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93;
  return <u32>(h >> 32);
}

@inline function tupleEq(t: usize, sip: u32, dip: u32, sport: u32, dport: u32): bool {
  return load<u32>(t) == sip && load<u32>(t, 4) == dip &&
    <u32>load<u16>(t, 8) == (sport & 0xffff) && <u32>load<u16>(t, 10) == (dport & 0xffff);
}

/** Index slot holding `ref`'s key, found by probing from the tuple's home. */
function slotOf(ref: u32, h: u32): u32 {
  let i = h & mask;
  while (load<u32>(slots + <usize>i * SLOT) != ref) i = (i + 1) & mask;
  return i;
}

/** Empty index slot i and shift later members of its probe run back (Knuth 6.4 Algorithm R). */
function removeSlot(i: u32): void {
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const s = slots + <usize>j * SLOT;
    if (load<u32>(s) == 0) break;
    const home = load<u32>(s, 4) & mask;
    if (canFillHole(hole, j, home)) {
      store<u64>(slots + <usize>hole * SLOT, load<u64>(s));
      hole = j;
    }
  }
  store<u64>(slots + <usize>hole * SLOT, 0);
}

function insertSlot(ref: u32, h: u32): void {
  let i = h & mask;
  while (load<u32>(slots + <usize>i * SLOT) != 0) i = (i + 1) & mask;
  const s = slots + <usize>i * SLOT;
  store<u32>(s, ref);
  store<u32>(s, h, 4);
}

@inline function tupleHash(a: usize, t: usize): u32 {
  return hashTuple(<u32>load<u8>(a, O_PROTO), load<u32>(t), load<u32>(t, 4), <u32>load<u16>(t, 8), <u32>load<u16>(t, 10));
}

/** Unlink entry e (live) from both index slots and free it. */
function removeEntry(e: u32): void {
  const a = entryAt(e);
  const ref = e + 1;
  removeSlot(slotOf(ref, tupleHash(a, a + O_ORIG)));
  removeSlot(slotOf(ref | REPLY_BIT, tupleHash(a, a + O_REPLY)));
  memory.fill(a, 0, ENTRY);
  store<u32>(a, freeHead, O_NEXT);
  freeHead = ref;
  count--;
  if (undoOn) undoOther = true;
}

/** Start recording created entries (a dry-run trace). */
export function ctUndoBegin(): void {
  undoOn = true;
  undoN = 0;
  undoOther = false;
  undoFree = freeHead;
  undoHigh = highWater;
}

/**
 * Remove every entry created since ctUndoBegin, newest first, and put the
 * allocator back as it was (exactly, unless an expired entry was removed
 * meanwhile: then the free list differs in order, not in meaning).
 */
export function ctUndoEnd(): void {
  if (!undoOn) return;
  undoOn = false;
  for (let i = <i32>undoN - 1; i >= 0; i--) {
    const e = load<u32>(undoLog + <usize>i * 8);
    if (isLive(e)) removeEntry(e);
  }
  if (undoOther) return;
  for (let i: u32 = 0; i < undoN; i++) {
    store<u32>(entryAt(load<u32>(undoLog + <usize>i * 8)), load<u32>(undoLog + <usize>i * 8, 4), O_NEXT);
  }
  freeHead = undoFree;
  highWater = undoHigh;
}

/** Probe for a tuple: the matching slot's ref, or 0. Does not look at expiry. */
function findRef(proto: u32, sip: u32, dip: u32, sport: u32, dport: u32, h: u32): u32 {
  let i = h & mask;
  while (true) {
    const s = slots + <usize>i * SLOT;
    const ref = load<u32>(s);
    if (ref == 0) return 0;
    if (load<u32>(s, 4) == h) {
      const a = entryAt((ref & ~REPLY_BIT) - 1);
      if (<u32>load<u8>(a, O_PROTO) == proto &&
        tupleEq(a + ((ref & REPLY_BIT) != 0 ? O_REPLY : O_ORIG), sip, dip, sport, dport)) return ref;
    }
    i = (i + 1) & mask;
  }
}

/**
 * The entry a packet with this 5-tuple belongs to, as a ref: entry * 2 + 1
 * when the packet matched the reply direction, entry * 2 when the original;
 * -1 when there is none (or it expired: then it is removed, counted expired).
 * For ICMP echo, sport and dport are both the echo identifier.
 */
export function ctLookup(proto: u32, sip: u32, dip: u32, sport: u32, dport: u32, now: u32): i32 {
  const ref = findRef(proto, sip, dip, sport, dport, hashTuple(proto, sip, dip, sport, dport));
  if (ref == 0) return -1;
  const e = (ref & ~REPLY_BIT) - 1;
  if (expiredAt(entryAt(e), now)) {
    removeEntry(e);
    countEv(Ev.CT_EXPIRED);
    return -1;
  }
  return <i32>((e << 1) | (ref >> 31));
}
@inline export function ctRefEntry(ref: i32): u32 { return <u32>ref >> 1; }
@inline export function ctRefIsReply(ref: i32): bool { return (ref & 1) != 0; }

// ---- batched lookups (stages/flow_prefetch.ts) ----
// Two reads per lookup, the second depending on the first (index slot, then
// entry), each a cache and TLB miss in a big table: a batch's lookups one
// after another wait for 2 x n misses in a row. Touching every frame's slot
// first, then every entry, lets the CPU overlap the misses.

/** Read the home slot of hash `h` (a flow's first probe). */
@inline export function ctTouchSlot(h: u32): u32 { return load<u32>(slots + <usize>(h & mask) * SLOT); }

/** Read the entry the first index slot with hash `h` in its probe run refers to (0 when none nearby). */
export function ctTouchEntry(h: u32): u32 {
  let i = h & mask;
  for (let k = 0; k < 4; k++) {
    const s = slots + <usize>i * SLOT;
    const ref = load<u32>(s);
    if (ref == 0) return 0;
    if (load<u32>(s, 4) == h) return load<u32>(entryAt((ref & ~REPLY_BIT) - 1));
    i = (i + 1) & mask;
  }
  return 0;
}

/** Drop a matching entry if it expired (so a new one may take its tuple). False when a live one holds it. */
function clearTuple(proto: u32, sip: u32, dip: u32, sport: u32, dport: u32, now: u32): bool {
  const ref = findRef(proto, sip, dip, sport, dport, hashTuple(proto, sip, dip, sport, dport));
  if (ref == 0) return true;
  const e = (ref & ~REPLY_BIT) - 1;
  if (!expiredAt(entryAt(e), now)) return false;
  removeEntry(e);
  countEv(Ev.CT_EXPIRED);
  return true;
}

/**
 * New entry for a flow whose first packet has the original tuple
 * (proto, oSip, oDip, oSport, oDport); replies are expected with the reply
 * tuple (the original inverted, or translated by NAT). Initial state: TCP
 * SYN_SENT, UDP UNREPLIED, ICMP REQUEST, others OTHER; last seen `now`.
 * Returns the entry index, -1 when the table is full (counted
 * conntrack_full; nothing else changes), -2 when a live entry already holds
 * either tuple (an expired one is removed first).
 */
export function ctCreate(proto: u32, oSip: u32, oDip: u32, oSport: u32, oDport: u32,
  rSip: u32, rDip: u32, rSport: u32, rDport: u32, now: u32): i32 {
  if (!clearTuple(proto, oSip, oDip, oSport, oDport, now)) return -2;
  if (!clearTuple(proto, rSip, rDip, rSport, rDport, now)) return -2;
  if (count >= capacity) { countEv(Ev.CT_FULL); return -1; }
  // a dry run makes at most a few (one per node it crosses): more would not be undone
  if (undoOn && undoN >= UNDO_MAX) return -1;
  let e: u32;
  if (freeHead != 0) {
    e = freeHead - 1;
    freeHead = load<u32>(entryAt(e), O_NEXT);
  } else {
    e = highWater++;
  }
  const a = entryAt(e);
  if (undoOn) {
    store<u32>(undoLog + <usize>undoN * 8, e);
    store<u32>(undoLog + <usize>undoN * 8, load<u32>(a, O_NEXT), 4);
    undoN++;
  }
  store<u32>(a, oSip, O_ORIG); store<u32>(a, oDip, O_ORIG + 4);
  store<u16>(a, <u16>oSport, O_ORIG + 8); store<u16>(a, <u16>oDport, O_ORIG + 10);
  store<u32>(a, rSip, O_REPLY); store<u32>(a, rDip, O_REPLY + 4);
  store<u16>(a, <u16>rSport, O_REPLY + 8); store<u16>(a, <u16>rDport, O_REPLY + 10);
  store<u8>(a, <u8>proto, O_PROTO);
  const st = proto == PROTO_TCP ? CtState.TCP_SYN_SENT : proto == PROTO_UDP ? CtState.UDP_UNREPLIED
    : proto == PROTO_ICMP ? CtState.ICMP_REQUEST : CtState.OTHER;
  store<u8>(a, <u8>st, O_STATE);
  store<u16>(a, <u16>F_LIVE, O_FLAGS);
  store<u32>(a, now, O_SEEN);
  store<u32>(a, 0, O_NEXT);
  insertSlot(e + 1, hashTuple(proto, oSip, oDip, oSport, oDport));
  insertSlot((e + 1) | REPLY_BIT, hashTuple(proto, rSip, rDip, rSport, rDport));
  count++;
  countEv(Ev.CT_CREATED);
  return <i32>e;
}

/** Remove entry `e` (both directions). False when it is not a live entry. */
export function ctDelete(e: u32): bool {
  if (e >= highWater || !isLive(e)) return false;
  removeEntry(e);
  countEv(Ev.CT_DELETED);
  return true;
}

/**
 * Advance a TCP entry's state for a segment with `tcpFlags` seen in the
 * original (dirIsReply false) or reply direction, and refresh its last-seen
 * time. The kernel's nf_conntrack_proto_tcp table, simplified (no window
 * tracking, FIN directions remembered instead):
 *   RST (either way)                                 -> CLOSE
 *   SYN (orig) in TIME_WAIT / CLOSE                  -> SYN_SENT (port reuse; flags cleared)
 *   SYN+ACK (reply) in SYN_SENT                      -> SYN_RECV
 *   ACK (orig, no SYN/FIN) in SYN_RECV               -> ESTABLISHED, assured
 *   FIN in SYN_RECV / ESTABLISHED                    -> FIN_WAIT
 *   ACK (no FIN) from the other side in FIN_WAIT     -> CLOSE_WAIT
 *   FIN from the other side in FIN_WAIT / CLOSE_WAIT -> LAST_ACK
 *   ACK (no FIN) from the first closer in LAST_ACK   -> TIME_WAIT
 *   anything else                                    -> unchanged
 * A segment in the reply direction sets SEEN_REPLY. Returns the new state
 * (0 when `e` is not a live TCP entry).
 */
export function ctUpdateTcp(e: u32, dirIsReply: bool, tcpFlags: u32, now: u32): u32 {
  if (e >= highWater || !isLive(e)) return 0;
  const a = entryAt(e);
  if (<u32>load<u8>(a, O_PROTO) != PROTO_TCP) return 0;
  let st = <u32>load<u8>(a, O_STATE);
  let fl = <u32>load<u16>(a, O_FLAGS);
  const syn = (tcpFlags & TCP_SYN) != 0;
  const ack = (tcpFlags & TCP_ACK) != 0;
  const fin = (tcpFlags & TCP_FIN) != 0;
  const myFin = dirIsReply ? F_FIN_REPLY : F_FIN_ORIG;
  const otherFin = dirIsReply ? F_FIN_ORIG : F_FIN_REPLY;
  if ((tcpFlags & TCP_RST) != 0) {
    st = CtState.TCP_CLOSE;
  } else if (syn) {
    if (!dirIsReply && !ack && (st == CtState.TCP_TIME_WAIT || st == CtState.TCP_CLOSE)) {
      st = CtState.TCP_SYN_SENT;
      fl = F_LIVE;
    } else if (dirIsReply && ack && st == CtState.TCP_SYN_SENT) {
      st = CtState.TCP_SYN_RECV;
    }
  } else if (fin) {
    if (st == CtState.TCP_SYN_RECV || st == CtState.TCP_ESTABLISHED) {
      st = CtState.TCP_FIN_WAIT;
      fl |= myFin | (dirIsReply ? F_CLOSER_REPLY : 0);
    } else if ((st == CtState.TCP_FIN_WAIT || st == CtState.TCP_CLOSE_WAIT) && (fl & otherFin) != 0 && (fl & myFin) == 0) {
      st = CtState.TCP_LAST_ACK;
      fl |= myFin;
    }
  } else if (ack) {
    if (st == CtState.TCP_SYN_RECV && !dirIsReply) {
      st = CtState.TCP_ESTABLISHED;
      fl |= F_ASSURED;
    } else if (st == CtState.TCP_FIN_WAIT && (fl & otherFin) != 0) {
      st = CtState.TCP_CLOSE_WAIT;
    } else if (st == CtState.TCP_LAST_ACK && ((fl & F_CLOSER_REPLY) != 0) == dirIsReply) {
      st = CtState.TCP_TIME_WAIT;
    }
  }
  if (dirIsReply) fl |= F_SEEN_REPLY;
  store<u8>(a, <u8>st, O_STATE);
  store<u16>(a, <u16>fl, O_FLAGS);
  store<u32>(a, now, O_SEEN);
  return st;
}

/**
 * A UDP datagram (or, with `other`, any non-TCP/UDP/ICMP packet) of entry
 * `e` seen in the given direction: refresh; the first reply makes it
 * REPLIED (stream timeout), SEEN_REPLY and ASSURED. Returns the new state.
 */
export function ctUpdateUdp(e: u32, dirIsReply: bool, now: u32): u32 {
  return ctUpdate(e, dirIsReply, 0, now);
}
/** An ICMP echo request (original) or reply of entry `e`: refresh; a reply makes it ICMP_REPLIED. */
export function ctUpdateIcmp(e: u32, dirIsReply: bool, now: u32): u32 {
  return ctUpdate(e, dirIsReply, 0, now);
}

/** Any protocol: a packet of entry `e` seen in the given direction (TCP with its flags). Returns the new state, 0 when `e` is not live. */
export function ctUpdate(e: u32, dirIsReply: bool, tcpFlags: u32, now: u32): u32 {
  if (e >= highWater || !isLive(e)) return 0;
  const a = entryAt(e);
  const proto = <u32>load<u8>(a, O_PROTO);
  if (proto == PROTO_TCP) return ctUpdateTcp(e, dirIsReply, tcpFlags, now);
  let st = <u32>load<u8>(a, O_STATE);
  let fl = <u32>load<u16>(a, O_FLAGS);
  if (dirIsReply) {
    fl |= F_SEEN_REPLY;
    if (proto == PROTO_UDP) { st = CtState.UDP_REPLIED; fl |= F_ASSURED; }
    else if (proto == PROTO_ICMP) st = CtState.ICMP_REPLIED;
  }
  store<u8>(a, <u8>st, O_STATE);
  store<u16>(a, <u16>fl, O_FLAGS);
  store<u32>(a, now, O_SEEN);
  return st;
}

/**
 * Remove every live `proto` entry whose reply comes from `ip`:`port` (a
 * Service backend that went away), as kube-proxy's `conntrack -D` does for
 * UDP: the next datagram of such a flow then picks a live backend. Scans the
 * table (a control-plane operation). Returns how many went.
 */
export function ctFlushReplySource(proto: u32, ip: u32, port: u32): u32 {
  let removed: u32 = 0;
  for (let e: u32 = 0; e < highWater; e++) {
    if (!isLive(e)) continue;
    const a = entryAt(e);
    if (<u32>load<u8>(a, O_PROTO) == proto && load<u32>(a, O_REPLY) == ip && <u32>load<u16>(a, O_REPLY + 8) == port) {
      removeEntry(e);
      removed++;
    }
  }
  if (removed > 0) countEv(Ev.CT_DELETED, removed);
  return removed;
}

/**
 * Incremental garbage collection: look at up to `budget` entries from a
 * cursor kept between calls (wrapping), removing the expired ones (counted
 * conntrack_expired). Returns how many went.
 */
export function ctGc(now: u32, budget: u32): u32 {
  if (highWater == 0) return 0;
  let removed: u32 = 0;
  for (let n: u32 = 0; n < budget; n++) {
    const e = gcCursor;
    gcCursor = gcCursor + 1 >= highWater ? 0 : gcCursor + 1;
    if (isLive(e) && expiredAt(entryAt(e), now)) { removeEntry(e); removed++; }
  }
  if (removed > 0) countEv(Ev.CT_EXPIRED, removed);
  return removed;
}

/** Entry `e`'s state (0 when free), flags, last-seen time; for tests and the control plane. */
export function ctState(e: u32): u32 { return e < capacity ? <u32>load<u8>(entryAt(e), O_STATE) : 0; }
export function ctFlags(e: u32): u32 { return e < capacity ? <u32>load<u16>(entryAt(e), O_FLAGS) : 0; }
export function ctCount(): u32 { return count; }
export function ctCapacity(): u32 { return capacity; }
export function ctBase(): usize { return entries; }
export function ctEntryBytes(): u32 { return <u32>ENTRY; }
/** Entries [0, ctHighWater()) may be live: the control plane scans only those. */
export function ctHighWater(): u32 { return highWater; }
export function ctGcCursor(): u32 { return gcCursor; }
