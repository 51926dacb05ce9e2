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

// ---- entry layout (ENTRY = 80 bytes) ----
//  0 orig src ip u32   4 orig dst ip u32   8 orig sport u16  10 orig dport u16
// 12 reply src ip u32 16 reply dst ip u32 20 reply sport u16 22 reply dport u16
// 24 proto u8  25 state u8  26 flags u16  28 lastSeen u32 (ms)
// 32 next free u32 (entry + 1, 0 = end; only while free)
// TCP window tracking (Linux's struct ip_ct_tcp, what podwire uses of it):
// 36 last u8 (index of the last in-window segment | direction << 7)
// 37 orig dir flags u8  38 reply dir flags u8  39 window scales u8 (orig | reply << 4)
// 40 last_end u32 (seq + len of the last ACK-only or ignored segment)
// 44 orig: td_end u32, td_maxend u32, td_maxwin u32, td_maxack u32
// 60 reply: the same
// 76 created u32 (ms; UDP's stream_ts is created + 2 s)
export const ENTRY: usize = 80;
export const O_ORIG: usize = 0;
export const O_REPLY: usize = 12;
export const O_PROTO: usize = 24;
export const O_STATE: usize = 25;
export const O_FLAGS: usize = 26;
export const O_SEEN: usize = 28;
// a tuple (at O_ORIG or O_REPLY)
export const T_SRC: usize = 0;
export const T_DST: usize = 4;
export const T_SPORT: usize = 8;
export const T_DPORT: usize = 10;
const O_NEXT: usize = 32;
const O_LAST: usize = 36;
const O_DFLAGS: usize = 37;  // + dir
const O_SCALES: usize = 39;
const O_LAST_END: usize = 40;
const O_WIN: usize = 44;     // + dir * 16
const W_END: usize = 0;
const W_MAXEND: usize = 4;
const W_MAXWIN: usize = 8;
const W_MAXACK: usize = 12;
const O_CREATED: usize = 76;

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
  UDP_UNREPLIED = 9, // the udp timeout (30 s): no reply yet, or one within 2 s of the first packet (SEEN_REPLY tells)
  UDP_REPLIED = 10,  // a stream: a reply seen and traffic after stream_ts (first packet + 2 s); assured
  ICMP_REQUEST = 11,
  ICMP_REPLIED = 12,
  OTHER = 13,        // any other protocol (generic timeout)
  // timeouts only (an entry's timeout class, never its state): Linux's
  // nf_conntrack_tcp_timeout_max_retrans and _unacknowledged
  TCP_RETRANS = 14,
  TCP_UNACK = 15,
  COUNT = 16,
}

// flags
export const F_LIVE: u32 = 0x8000;     // the entry is in use
export const F_SEEN_REPLY: u32 = 1;
export const F_ASSURED: u32 = 2;
// bits 8..11: the timeout class when not the state's own (0: the state's), as
// tcp_packet picks it: CLOSE after an RST that kept the state, UNACK while
// data is unacknowledged or a picked-up flow has no reply yet
export const F_TCLASS_SHIFT: u32 = 8;
const F_TCLASS: u32 = 0xf << F_TCLASS_SHIFT;

// per-direction TCP flags (Linux's IP_CT_TCP_FLAG_*)
const D_WSCALE: u32 = 1;      // sent the window scale option on its SYN
const D_CLOSE_INIT: u32 = 4;  // sent the first FIN (went to FIN_WAIT)
const D_MAXACK_SET: u32 = 8;  // td_maxack holds an ack it sent
const D_LIBERAL: u32 = 16;    // picked up mid-stream: no window checks (tcp_new sets it for both directions)
const D_UNACKED: u32 = 32;    // sent data the other side has not acked yet (DATA_UNACKNOWLEDGED)

// TCP flags (byte 13 of the header)
export const TCP_FIN: u32 = 0x01;
export const TCP_SYN: u32 = 0x02;
export const TCP_RST: u32 = 0x04;
export const TCP_ACK: u32 = 0x10;
const TCP_URG: u32 = 0x20;

/** What a TCP segment of a tracked flow may do (ctTcpSegment). */
export const enum CtVerdict {
  ACCEPT = 0,  // in window: state and timeout updated
  IGNORE = 1,  // passed on, nothing changed (Linux: sIG, or an old retransmission)
  INVALID = 2, // conntrack INVALID: kube-proxy's ruleset drops it
  REOPEN = 3,  // a SYN reopening a closed flow: the entry was deleted, look up afresh
  KILL = 4,    // an RST before any reply: translate it, then delete the entry
}

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
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
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
  setT(CtState.TCP_RETRANS, 300_000);
  setT(CtState.TCP_UNACK, 300_000);
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
  const tc = (<u32>load<u16>(a, O_FLAGS) >> F_TCLASS_SHIFT) & 0xf;
  const st = tc != 0 ? tc : <u32>load<u8>(a, O_STATE);
  return now - load<u32>(a, O_SEEN) >= load<u32>(timeouts + (<usize>st << 2));
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
  return load<u32>(t, T_SRC) == sip && load<u32>(t, T_DST) == dip &&
    <u32>load<u16>(t, T_SPORT) == (sport & 0xffff) && <u32>load<u16>(t, T_DPORT) == (dport & 0xffff);
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
  return hashTuple(<u32>load<u8>(a, O_PROTO), load<u32>(t, T_SRC), load<u32>(t, T_DST), <u32>load<u16>(t, T_SPORT), <u32>load<u16>(t, T_DPORT));
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
    if (load<u32>(s, 4) == h) {
      // an entry spans two cache lines (80 bytes): the tuple in the first, the
      // TCP window state in the second; an established packet reads both
      const a = entryAt((ref & ~REPLY_BIT) - 1);
      return load<u32>(a) + load<u32>(a, ENTRY - 4);
    }
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
  store<u32>(a, oSip, O_ORIG + T_SRC); store<u32>(a, oDip, O_ORIG + T_DST);
  store<u16>(a, <u16>oSport, O_ORIG + T_SPORT); store<u16>(a, <u16>oDport, O_ORIG + T_DPORT);
  store<u32>(a, rSip, O_REPLY + T_SRC); store<u32>(a, rDip, O_REPLY + T_DST);
  store<u16>(a, <u16>rSport, O_REPLY + T_SPORT); store<u16>(a, <u16>rDport, O_REPLY + T_DPORT);
  store<u8>(a, <u8>proto, O_PROTO);
  const st = proto == PROTO_TCP ? CtState.TCP_SYN_SENT : proto == PROTO_UDP ? CtState.UDP_UNREPLIED
    : proto == PROTO_ICMP ? CtState.ICMP_REQUEST : CtState.OTHER;
  store<u8>(a, <u8>st, O_STATE);
  store<u16>(a, <u16>F_LIVE, O_FLAGS);
  store<u32>(a, now, O_SEEN);
  store<u32>(a, 0, O_NEXT);
  store<u32>(a, now, O_CREATED);
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

// ---- TCP: Linux's nf_conntrack_proto_tcp.c (tcp_conntracks, tcp_new, tcp_packet, tcp_in_window) ----
// Segment index (get_conntrack_index): RST, else SYN / SYN+ACK, else FIN, else ACK, else none.
const I_SYN: u32 = 0;
const I_SYNACK: u32 = 1;
const I_FIN: u32 = 2;
const I_ACK: u32 = 3;
const I_RST: u32 = 4;
const I_NONE: u32 = 5;
const S_IG: u8 = 0xfd; // ignore: pass on, change nothing
const S_IV: u8 = 0xfe; // invalid
// tcp_conntracks[dir][index][state], states NONE..CLOSE (podwire has no SYN_SENT2:
// a SYN from the reply side in SYN_SENT, a simultaneous open, is ignored instead).
// Read-only static data: the same for every node.
const TRANS: usize = memory.data<u8>([
  // ORIGINAL  sNO   sSS   sSR   sES   sFW   sCW   sLA   sTW   sCL
  /* syn    */ 1,    1,    S_IG, S_IG, S_IG, S_IG, S_IG, 1,    1,
  /* synack */ S_IV, S_IV, S_IG, S_IG, S_IG, S_IG, S_IG, S_IG, S_IG,
  /* fin    */ S_IV, S_IV, 4,    4,    6,    6,    6,    7,    8,
  /* ack    */ 3,    S_IV, 3,    3,    5,    5,    7,    7,    8,
  /* rst    */ S_IV, 8,    8,    8,    8,    8,    8,    8,    8,
  /* none   */ S_IV, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV,
  // REPLY
  /* syn    */ S_IV, S_IG, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV,
  /* synack */ S_IV, 2,    S_IG, S_IG, S_IG, S_IG, S_IG, S_IG, S_IG,
  /* fin    */ S_IV, S_IV, 4,    4,    6,    6,    6,    7,    8,
  /* ack    */ S_IV, S_IG, 2,    3,    5,    5,    7,    7,    8,
  /* rst    */ S_IV, 8,    8,    8,    8,    8,    8,    8,    8,
  /* none   */ S_IV, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV, S_IV,
]);

/** get_conntrack_index */
@inline function tcpIndex(f: u32): u32 {
  return (f & TCP_RST) != 0 ? I_RST : (f & TCP_SYN) != 0 ? ((f & TCP_ACK) != 0 ? I_SYNACK : I_SYN)
    : (f & TCP_FIN) != 0 ? I_FIN : (f & TCP_ACK) != 0 ? I_ACK : I_NONE;
}

/**
 * tcp_valid_flags (tcp_error): the flag combinations conntrack accepts at
 * all, PSH/ECE/CWR aside. Anything else (SYN+FIN, SYN+RST, a FIN without
 * ACK, no flags, ...) is INVALID, with or without an entry.
 */
export function ctTcpFlagsValid(f: u32): bool {
  const g = f & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK | TCP_URG);
  return g == TCP_SYN || g == (TCP_SYN | TCP_URG) || g == (TCP_SYN | TCP_ACK) || g == TCP_RST ||
    g == (TCP_RST | TCP_ACK) || g == (TCP_FIN | TCP_ACK) || g == (TCP_FIN | TCP_ACK | TCP_URG) ||
    g == TCP_ACK || g == (TCP_ACK | TCP_URG);
}

/** May a segment with these flags begin a flow (tcp_new: SYN, or ACK with nf_conntrack_tcp_loose = 1)? */
export function ctTcpMayCreate(f: u32): bool {
  if (!ctTcpFlagsValid(f)) return false;
  const i = tcpIndex(f);
  return i == I_SYN || i == I_ACK;
}

// RFC 1982 sequence comparisons (Linux's before/after)
@inline function before(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
@inline function after(a: u32, b: u32): bool { return <i32>(b - a) < 0; }

@inline function win(a: usize, dir: u32): usize { return a + O_WIN + (<usize>dir << 4); }
@inline function dflags(a: usize, dir: u32): u32 { return <u32>load<u8>(a + O_DFLAGS + <usize>dir); }
@inline function setDflags(a: usize, dir: u32, v: u32): void { store<u8>(a + O_DFLAGS + <usize>dir, <u8>v); }
@inline function scaleOf(a: usize, dir: u32): u32 { return (<u32>load<u8>(a, O_SCALES) >> (dir << 2)) & 0xf; }
function setScale(a: usize, dir: u32, s: u32): void {
  const v = <u32>load<u8>(a, O_SCALES) & ~(0xf << (dir << 2));
  store<u8>(a, <u8>(v | ((s & 0xf) << (dir << 2))), O_SCALES);
}
/** tcp_options for window scale only: `wscale` < 0 when the SYN had no window scale option. */
function setOptions(a: usize, dir: u32, wscale: i32): void {
  let f = dflags(a, dir) & ~D_WSCALE;
  if (wscale >= 0) { f |= D_WSCALE; setScale(a, dir, wscale > 14 ? 14 : <u32>wscale); } else setScale(a, dir, 0);
  setDflags(a, dir, f);
}
/** tcp_init_sender: a SYN or SYN+ACK (re)starts its direction's window data. */
function initSender(a: usize, dir: u32, end: u32, w: u32, wscale: i32): void {
  const s = win(a, dir);
  store<u32>(s, end, W_END);
  store<u32>(s, end, W_MAXEND);
  store<u32>(s, w == 0 ? 1 : w, W_MAXWIN);
  setOptions(a, dir, wscale);
  // RFC 7323: window scaling only when both sides offered it
  if ((dflags(a, dir) & D_WSCALE) == 0 || (dflags(a, dir ^ 1) & D_WSCALE) == 0) {
    setScale(a, dir, 0);
    setScale(a, dir ^ 1, 0);
  }
}

/**
 * tcp_in_window: are seq / ack within what each side has allowed? Updates the
 * window data when so. ACCEPT, IGNORE (SEQ under the lower bound, or an ACK
 * under it: an old retransmission or a late ACK) or INVALID (SEQ over the
 * receiver's window, or an ACK of data not sent yet). Not implemented: SACK
 * blocks (the ack is used: stricter only for the ACK lower bound) and NAT
 * sequence offsets (podwire rewrites no sequence numbers).
 */
function inWindow(a: usize, dir: u32, index: u32, f: u32, seq: u32, ack: u32, w: u32, end: u32, wscale: i32, st: u32): CtVerdict {
  const snd = win(a, dir);
  const rcv = win(a, dir ^ 1);
  const syn = (f & TCP_SYN) != 0;
  const hasAck = (f & TCP_ACK) != 0;
  const rst = (f & TCP_RST) != 0;
  let sack = ack;
  if (load<u32>(snd, W_MAXWIN) == 0) {
    if (syn) {
      initSender(a, dir, end, w, wscale);
      if (!hasAck) return CtVerdict.ACCEPT; // simultaneous open
    } else {
      // the middle of a connection whose start we did not see
      store<u32>(snd, end, W_END);
      let sw = w << scaleOf(a, dir);
      if (sw == 0) sw = 1;
      store<u32>(snd, sw, W_MAXWIN);
      store<u32>(snd, end + sw, W_MAXEND);
      if (load<u32>(rcv, W_MAXWIN) == 0) {
        store<u32>(rcv, sack, W_END);
        store<u32>(rcv, sack, W_MAXEND);
      } else if (sack == load<u32>(rcv, W_END) + 1) {
        store<u32>(rcv, load<u32>(rcv, W_END) + 1, W_END); // likely a keepalive's answer
      }
    }
  } else if (syn && after(end, load<u32>(snd, W_END)) && (st == CtState.TCP_SYN_SENT || st == CtState.TCP_SYN_RECV)) {
    // RFC 793: a reinitialized TCP uses higher sequence numbers; restart this direction
    initSender(a, dir, end, w, wscale);
    if (dir == 1 && !hasAck) return CtVerdict.ACCEPT;
  }
  const rEnd = load<u32>(rcv, W_END);
  if (!hasAck || (rst && ack == 0)) { ack = rEnd; sack = rEnd; } // no ACK (or a broken stack's RST+ACK 0): pretend it fits
  if (rst && seq == 0 && st == CtState.TCP_SYN_SENT) { seq = load<u32>(snd, W_END); end = seq; } // RST answering a SYN
  const liberal = (dflags(a, dir) & D_LIBERAL) != 0;
  const sMaxwin = load<u32>(snd, W_MAXWIN);
  const maxAckWin = sMaxwin > 66000 ? sMaxwin : 66000; // MAXACKWINDOW
  const rMaxwin = load<u32>(rcv, W_MAXWIN);
  // I. upper bound for data: seq <= sender's td_maxend
  if (!before(seq, load<u32>(snd, W_MAXEND) + 1)) {
    const overshot = end - load<u32>(snd, W_MAXEND) + 1;
    const ackOk = after(sack, rEnd - maxAckWin - 1);
    const inRecv = rMaxwin != 0 && after(end, load<u32>(snd, W_END) - rMaxwin - 1);
    if (inRecv && ackOk && overshot <= rMaxwin && before(sack, rEnd + 1)) {
      // a TCP that sent a little more than the window allowed: let its ACK through later
      store<u32>(snd, end, W_END);
      setDflags(a, dir, dflags(a, dir) | D_UNACKED);
      return CtVerdict.ACCEPT;
    }
    return liberal ? CtVerdict.ACCEPT : CtVerdict.INVALID; // be_liberal: accepted, not tracked
  }
  // III. upper bound for acks: nothing the receiver has not sent
  if (!before(sack, rEnd + 1)) return liberal ? CtVerdict.ACCEPT : CtVerdict.INVALID;
  // II. lower bound for data and IV. for acks: old segments are let through, untracked
  const inRecv = rMaxwin == 0 || after(end, load<u32>(snd, W_END) - rMaxwin - 1);
  if (!inRecv || !after(sack, rEnd - maxAckWin - 1)) return liberal ? CtVerdict.ACCEPT : CtVerdict.IGNORE;
  if (!syn) w <<= scaleOf(a, dir);
  const swin = w + (sack - ack);
  if (sMaxwin < swin) store<u32>(snd, swin, W_MAXWIN);
  if (after(end, load<u32>(snd, W_END))) { store<u32>(snd, end, W_END); setDflags(a, dir, dflags(a, dir) | D_UNACKED); }
  if (hasAck) {
    const df = dflags(a, dir);
    if ((df & D_MAXACK_SET) == 0) { store<u32>(snd, ack, W_MAXACK); setDflags(a, dir, df | D_MAXACK_SET); }
    else if (after(ack, load<u32>(snd, W_MAXACK))) store<u32>(snd, ack, W_MAXACK);
  }
  const sMaxend = load<u32>(snd, W_MAXEND);
  if (rMaxwin != 0 && after(end, sMaxend)) store<u32>(rcv, rMaxwin + (end - sMaxend), W_MAXWIN);
  if (after(sack + w, load<u32>(rcv, W_MAXEND) - 1)) store<u32>(rcv, sack + w + (w == 0 ? 1 : 0), W_MAXEND);
  if (ack == load<u32>(rcv, W_END)) setDflags(a, dir ^ 1, dflags(a, dir ^ 1) & ~D_UNACKED);
  if (index == I_ACK) store<u32>(a, end, O_LAST_END);
  return CtVerdict.ACCEPT;
}

/**
 * A TCP segment of entry `e` in the given direction (tcp_packet). `end` is
 * seq + payload length + SYN + FIN; `wscale` the window scale option of a
 * SYN (-1 none). With `track` false only the flags are looked at (no
 * sequence or window checks: the flags-only ctUpdate). Returns a CtVerdict;
 * on ACCEPT the state, flags and last-seen time are updated; on REOPEN the
 * entry is gone (counted conntrack_deleted).
 *
 * From tcp_packet:
 *  - the transition is tcp_conntracks[dir][index][state]; sIV is INVALID,
 *    sIG passes on unchanged (remembered as the last segment);
 *  - a SYN in TIME_WAIT, or in CLOSE after a FIN or after an RST sent by the
 *    same side, deletes the entry and is looked up again (NF_REPEAT): a port
 *    reused after a backend left picks a live backend (RFC 1122 4.2.2.13);
 *    in CLOSE after the other side's RST it is ignored;
 *  - an RST: always accepted in the closing states (tcp_can_early_drop);
 *    else, once the receiver has acked, an RST with seq before its max ack
 *    is INVALID ("invalid rst"); in ESTABLISHED (and assured) one whose seq
 *    is not exactly that ack, nor the end of the sender's last segment, is
 *    passed on but keeps the state (the receiver answers with a challenge
 *    ACK, RFC 5961); RSTs answering a SYN or an ACK that was let through
 *    bypass the window check;
 *  - then tcp_in_window; an RST before any reply deletes the entry (KILL);
 *    ESTABLISHED reached from SYN_RECV or ESTABLISHED with a reply seen sets
 *    ASSURED.
 * Not modelled: SYN_SENT2 (simultaneous open), the resync on a SYN+ACK that
 * answers an ignored SYN, and the shorter UNACK/RETRANS timeouts.
 */
function tcpPacket(e: u32, dirIsReply: bool, f: u32, seq: u32, ack: u32, w: u32, end: u32, wscale: i32, now: u32, track: bool): CtVerdict {
  const a = entryAt(e);
  const dir: u32 = dirIsReply ? 1 : 0;
  const old = <u32>load<u8>(a, O_STATE);
  let fl = <u32>load<u16>(a, O_FLAGS);
  if (!ctTcpFlagsValid(f)) return CtVerdict.INVALID;
  const index = tcpIndex(f);
  const last = <u32>load<u8>(a, O_LAST);
  const lastIndex = last & 0x7f;
  const lastDir = last >> 7;
  let nst = <u32>load<u8>(TRANS + <usize>(dir * 54 + index * 9 + (old <= 8 ? old : 8)));
  let checkWindow = track;
  if (nst == <u32>CtState.TCP_SYN_SENT && old >= <u32>CtState.TCP_TIME_WAIT) {
    if (((dflags(a, 0) | dflags(a, 1)) & D_CLOSE_INIT) != 0 || (lastDir == dir && lastIndex == I_RST)) {
      removeEntry(e);
      countEv(Ev.CT_DELETED);
      return CtVerdict.REOPEN;
    }
    nst = S_IG;
  }
  if (nst == S_IG) {
    // ignored: may be in sync with the real endpoints while we are not
    store<u8>(a, <u8>(index | (dir << 7)), O_LAST);
    store<u32>(a, end, O_LAST_END);
    return CtVerdict.IGNORE;
  }
  if (nst == S_IV) return CtVerdict.INVALID;
  if (nst == <u32>CtState.TCP_CLOSE && index == I_RST && track) {
    const established = old == <u32>CtState.TCP_ESTABLISHED && (fl & F_ASSURED) != 0;
    if (old >= <u32>CtState.TCP_FIN_WAIT && old <= <u32>CtState.TCP_CLOSE) {
      checkWindow = false; // tcp_can_early_drop: the tuple may be reused already
    } else {
      let decided = false;
      if ((dflags(a, dir ^ 1) & D_MAXACK_SET) != 0 && lastIndex != I_SYN) {
        const maxack = load<u32>(win(a, dir ^ 1), W_MAXACK);
        if (seq == 0 && !established) decided = true;
        else if (before(seq, maxack)) return CtVerdict.INVALID; // "invalid rst"
        else if (!established || seq == maxack) decided = true;
        else if (lastIndex == I_ACK && lastDir == dir && seq == load<u32>(a, O_LAST_END)) decided = true; // end of a train
        else nst = old; // in window but not exact: keep ESTABLISHED for a challenge ACK
      }
      if (!decided) {
        const lastEnd = load<u32>(a, O_LAST_END);
        // an RST answering a SYN or ACK we let through (ignored): skip the window check
        if ((((fl & F_SEEN_REPLY) != 0 && lastIndex == I_SYN) || ((fl & F_ASSURED) == 0 && lastIndex == I_ACK)) && ack == lastEnd) checkWindow = false;
        else if (old == <u32>CtState.TCP_SYN_SENT && lastIndex == I_SYN && lastDir != dir && seq == lastEnd) checkWindow = false;
      }
    }
  }
  if (checkWindow) {
    const v = inWindow(a, dir, index, f, seq, ack, w, end, wscale, old);
    if (v != CtVerdict.ACCEPT) return v;
  }
  // from now on an in-window segment
  store<u8>(a, <u8>(index | (dir << 7)), O_LAST);
  if (nst != old && nst == <u32>CtState.TCP_FIN_WAIT) setDflags(a, dir, dflags(a, dir) | D_CLOSE_INIT);
  // the timeout: CLOSE's after any RST (also one that kept the state), UNACK's
  // while data is unacknowledged (when shorter); not modelled: RETRANS's after
  // 3 retransmissions or a zero window
  let tc: u32 = 0;
  if (index == I_RST) tc = CtState.TCP_CLOSE;
  else if (((dflags(a, 0) | dflags(a, 1)) & D_UNACKED) != 0 && ctTimeout(nst) > ctTimeout(CtState.TCP_UNACK)) tc = CtState.TCP_UNACK;
  let v = CtVerdict.ACCEPT;
  if ((fl & F_SEEN_REPLY) == 0) {
    // only an RST answering: no connection, delete the entry at once
    if (index == I_RST) v = CtVerdict.KILL;
    // ESTABLISHED with no reply yet (picked up): not the long timeout
    if (nst == <u32>CtState.TCP_ESTABLISHED && ctTimeout(tc != 0 ? tc : nst) > ctTimeout(CtState.TCP_UNACK)) tc = CtState.TCP_UNACK;
  } else if ((fl & F_ASSURED) == 0 && (old == <u32>CtState.TCP_SYN_RECV || old == <u32>CtState.TCP_ESTABLISHED) &&
    nst == <u32>CtState.TCP_ESTABLISHED) {
    fl |= F_ASSURED;
  }
  if (dirIsReply) fl |= F_SEEN_REPLY; // nf_conntrack_in sets it after the protocol handler
  fl = (fl & ~F_TCLASS) | (tc == nst ? 0 : tc << F_TCLASS_SHIFT);
  store<u8>(a, <u8>nst, O_STATE);
  store<u16>(a, <u16>fl, O_FLAGS);
  store<u32>(a, now, O_SEEN);
  return v;
}

/**
 * The TCP segment of a live TCP entry `e`, with its sequence numbers (see
 * tcpPacket). A KILL verdict leaves the entry for the caller to translate
 * the segment with and then delete (ctDelete).
 */
export function ctTcpSegment(e: u32, dirIsReply: bool, f: u32, seq: u32, ack: u32, w: u32, end: u32, wscale: i32, now: u32): u32 {
  if (e >= highWater || !isLive(e)) return CtVerdict.INVALID;
  if (<u32>load<u8>(entryAt(e), O_PROTO) != PROTO_TCP) return CtVerdict.INVALID;
  return tcpPacket(e, dirIsReply, f, seq, ack, w, end, wscale, now, true);
}

/**
 * The first segment of a TCP entry just made by ctCreate (tcp_new, then
 * tcp_packet from state NONE): a SYN starts SYN_SENT with the original
 * direction's window data from it; an ACK (nf_conntrack_tcp_loose) is
 * picked up ESTABLISHED, both directions liberal (no window checks, as
 * Linux: the window scale is unknown). Anything else is INVALID (the
 * caller deletes the entry; ctTcpMayCreate tells beforehand).
 */
export function ctTcpFirst(e: u32, f: u32, seq: u32, ack: u32, w: u32, end: u32, wscale: i32, now: u32): u32 {
  if (e >= highWater || !isLive(e)) return CtVerdict.INVALID;
  const a = entryAt(e);
  if (<u32>load<u8>(a, O_PROTO) != PROTO_TCP || !ctTcpMayCreate(f)) return CtVerdict.INVALID;
  store<u8>(a, <u8>CtState.NONE, O_STATE);
  const s = win(a, 0);
  if (tcpIndex(f) == I_SYN) {
    store<u32>(s, end, W_END);
    store<u32>(s, end, W_MAXEND);
    store<u32>(s, w == 0 ? 1 : w, W_MAXWIN);
    setOptions(a, 0, wscale);
  } else {
    store<u32>(s, end, W_END);
    const mw = w == 0 ? 1 : w;
    store<u32>(s, mw, W_MAXWIN);
    store<u32>(s, end + mw, W_MAXEND);
    setDflags(a, 0, D_LIBERAL);
    setDflags(a, 1, D_LIBERAL);
  }
  const v = tcpPacket(e, false, f, seq, ack, w, end, wscale, now, true);
  if (<u32>load<u8>(a, O_STATE) == <u32>CtState.NONE) store<u8>(a, <u8>CtState.TCP_SYN_SENT, O_STATE); // never left NONE (not reached: SYN/ACK are accepted)
  return v;
}

/**
 * Advance a TCP entry's state for a segment with `tcpFlags` seen in the
 * original (dirIsReply false) or reply direction, from the flags alone (no
 * sequence numbers: no window or RST-sequence checks), and refresh it; see
 * tcpPacket. Returns the new state; 0 when `e` is not a live TCP entry or a
 * SYN reopening a closed flow deleted it; an INVALID or ignored segment
 * leaves state and time as they were.
 */
export function ctUpdateTcp(e: u32, dirIsReply: bool, tcpFlags: u32, now: u32): u32 {
  if (e >= highWater || !isLive(e)) return 0;
  const a = entryAt(e);
  if (<u32>load<u8>(a, O_PROTO) != PROTO_TCP) return 0;
  const v = tcpPacket(e, dirIsReply, tcpFlags, 0, 0, 0, 0, -1, now, false);
  if (v == CtVerdict.REOPEN) return 0;
  if (v == CtVerdict.KILL) { removeEntry(e); countEv(Ev.CT_DELETED); return <u32>CtState.TCP_CLOSE; }
  return <u32>load<u8>(a, O_STATE);
}

/**
 * A UDP datagram (or, with `other`, any non-TCP/UDP/ICMP packet) of entry
 * `e` seen in the given direction: refresh (nf_conntrack_proto_udp.c
 * nf_conntrack_udp_packet). Once a reply has been seen, a packet more than
 * 2 s after the flow's first (stream_ts) makes it a stream: REPLIED, the
 * stream timeout, ASSURED; before that the unreplied timeout stays, so a
 * DNS-like query and answer lasts 30 s. SEEN_REPLY is set after the packet
 * is handled (nf_conntrack_in), so the first reply alone is never a stream.
 */
export function ctUpdateUdp(e: u32, dirIsReply: bool, now: u32): u32 {
  return ctUpdate(e, dirIsReply, 0, now);
}
/** An ICMP echo request (original) or reply of entry `e`: refresh; a reply makes it ICMP_REPLIED. */
export function ctUpdateIcmp(e: u32, dirIsReply: bool, now: u32): u32 {
  return ctUpdate(e, dirIsReply, 0, now);
}

/** UDP's stream_ts: 2 s after the first packet (time_after: strictly later). */
const UDP_STREAM_AFTER_MS: u32 = 2000;

/** Any protocol: a packet of entry `e` seen in the given direction (TCP with its flags). Returns the new state, 0 when `e` is not live. */
export function ctUpdate(e: u32, dirIsReply: bool, tcpFlags: u32, now: u32): u32 {
  if (e >= highWater || !isLive(e)) return 0;
  const a = entryAt(e);
  const proto = <u32>load<u8>(a, O_PROTO);
  if (proto == PROTO_TCP) return ctUpdateTcp(e, dirIsReply, tcpFlags, now);
  let st = <u32>load<u8>(a, O_STATE);
  let fl = <u32>load<u16>(a, O_FLAGS);
  if (proto == PROTO_UDP) {
    if ((fl & F_SEEN_REPLY) != 0 && now - load<u32>(a, O_CREATED) > UDP_STREAM_AFTER_MS) {
      st = CtState.UDP_REPLIED;
      fl |= F_ASSURED;
    }
  } else if (dirIsReply && proto == PROTO_ICMP) st = CtState.ICMP_REPLIED;
  if (dirIsReply) fl |= F_SEEN_REPLY;
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
 * conntrack_expired). Returns how many went. One pass is at most the
 * entries that may be live (the high-water mark): a budget of the whole
 * capacity must not walk a small table's few entries thousands of times.
 */
export function ctGc(now: u32, budget: u32): u32 {
  if (highWater == 0) return 0;
  let removed: u32 = 0;
  const look = min(budget, highWater);
  for (let n: u32 = 0; n < look; n++) {
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
