// IPv4 reassembly queues, as Linux's ip_fragment.c keeps them for
// nf_defrag_ipv4: one per datagram, keyed (source, destination, protocol,
// identification), each a fixed buffer able to hold a whole 64 KiB datagram,
// carved from the node's region in configure() (never static data: nodes
// share one memory). A fixed number of them: a new datagram finds a free one
// or an expired one, else its fragment is dropped (frag_no_buffer). A queue
// lives 30 s from its first fragment (Linux ipfrag_time), on the control
// plane's clock.
//
// Buffer layout: META bytes of fields, a bitmap of the 8-byte blocks received
// (65536 / 8 bits; overlap detection), then room for the link and IP headers
// of the first fragment (offset 0) right before the payload, with HEADROOM
// (and the vnet header) before them, so the finished datagram is a frame like
// any slot's.
import { HEADROOM } from "../frame";
import { VNET_HLEN } from "../wire/virtio";
import { Ev, countEv } from "../counters";

/** Linux ipfrag_time: 30 s from a queue's creation to its expiry. */
export const FRAG_TIMEOUT_MS: u32 = 30_000;
/** The longest link header kept for the datagram (802.1Q-tagged Ethernet). */
export const MAX_L2: u32 = 18;
const MAX_IHL: u32 = 60;

const F_USED: usize = 0;
const F_SRC: usize = 4;
const F_DST: usize = 8;
const F_PROTO_ID: usize = 12; // proto << 16 | id
const F_START: usize = 16;    // nowMs of the first fragment
const F_GOT: usize = 20;      // payload bytes received
const F_LEN: usize = 24;      // the datagram's payload length as far as known (the last fragment's end once seen)
const F_FLAGS: usize = 28;
const F_MAX: usize = 32;      // the largest fragment (IP header + payload): Linux max_size, frag_max_size
const F_MAX_DF: usize = 36;   // ... of those with DF: Linux max_df_size
const F_L2LEN: usize = 40;
const F_IHL: usize = 44;
const META: usize = 64;
const BITMAP: usize = META;
const BITMAP_BYTES: usize = 65536 / 8 / 8;
/** Where the payload starts: the first fragment's headers go right before it. */
const PAY: usize = BITMAP + BITMAP_BYTES + <usize>HEADROOM + <usize>MAX_L2 + <usize>MAX_IHL;
const STRIDE: usize = (PAY + 65536 + 63) & ~(<usize>63);

const FL_FIRST: u32 = 1; // offset 0 received
const FL_LAST: u32 = 2;  // the fragment without MF received

// results of fragQueue
export const FQ_HELD: i32 = 0;
export const FQ_COMPLETE: i32 = 1;
export const FQ_OVERLAP: i32 = -1;
export const FQ_TOO_BIG: i32 = -2;
export const FQ_INCONSISTENT: i32 = -3;

let base: usize = 0;
let count: u32 = 0;

/** The finished datagram of the last FQ_COMPLETE: its frame (vnet header before it, zeroed), length, link header length. */
export let fqFrame: usize = 0;
export let fqLen: u32 = 0;
export let fqL2len: u32 = 0;
/** ... the largest fragment it came in (frag_max_size), and whether that one had DF (the train keeps DF). */
export let fqMaxSize: u32 = 0;
export let fqDf: bool = false;

export function fragBytes(n: u32): usize { return <usize>n * STRIDE; }

export function fragInit(at: usize, n: u32): void {
  base = at;
  count = n;
  for (let i: u32 = 0; i < n; i++) store<u32>(at + <usize>i * STRIDE + F_USED, 0);
}

export function fragCapacity(): u32 { return count; }

/** Queues in use (expired ones included until something looks). */
export function fragInUse(): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < count; i++) if (load<u32>(base + <usize>i * STRIDE + F_USED) != 0) n++;
  return n;
}

@inline function q(i: i32): usize { return base + <usize>i * STRIDE; }

/** Forget queue `i` (its buffer is free for the next datagram). */
export function fragFree(i: i32): void { store<u32>(q(i) + F_USED, 0); }

/**
 * The queue of datagram (src, dst, proto, id): found, or made from a free
 * buffer. Expired queues met on the way are freed first (Ev.FRAG_TIMEOUTS).
 * -1 when every buffer holds a live datagram.
 */
export function fragFind(src: u32, dst: u32, proto: u32, id: u32, now: u32): i32 {
  const key = (proto << 16) | (id & 0xffff);
  let free: i32 = -1;
  for (let i: i32 = 0; i < <i32>count; i++) {
    const e = q(i);
    if (load<u32>(e + F_USED) != 0 && now - load<u32>(e + F_START) >= FRAG_TIMEOUT_MS) {
      store<u32>(e + F_USED, 0);
      countEv(Ev.FRAG_TIMEOUTS);
    }
    if (load<u32>(e + F_USED) == 0) { if (free < 0) free = i; continue; }
    if (load<u32>(e + F_SRC) == src && load<u32>(e + F_DST) == dst && load<u32>(e + F_PROTO_ID) == key) return i;
  }
  if (free < 0) return -1;
  const e = q(free);
  store<u32>(e + F_USED, 1);
  store<u32>(e + F_SRC, src);
  store<u32>(e + F_DST, dst);
  store<u32>(e + F_PROTO_ID, key);
  store<u32>(e + F_START, now);
  store<u32>(e + F_GOT, 0);
  store<u32>(e + F_LEN, 0);
  store<u32>(e + F_FLAGS, 0);
  store<u32>(e + F_MAX, 0);
  store<u32>(e + F_MAX_DF, 0);
  memory.fill(e + BITMAP, 0, BITMAP_BYTES);
  return free;
}

/**
 * Add the fragment at `frame` (link header `l2len` bytes, IPv4 header at
 * frame + l2len, validated: its total length is within the frame) with
 * offset `off` bytes, `ihl`, payload `plen`, MF and DF, to queue `i`, as
 * Linux's ip_frag_queue: a non-last fragment's end is rounded down to 8
 * bytes; the last fixes the datagram's length. FQ_COMPLETE: the datagram is
 * built (fqFrame...) and the queue freed; FQ_OVERLAP and FQ_TOO_BIG free the
 * queue; FQ_INCONSISTENT keeps it (only this fragment is bad).
 */
export function fragQueue(i: i32, frame: usize, l2len: u32, ihl: u32, off: u32, plen: u32, mf: bool, df: bool): i32 {
  const e = q(i);
  const ip = frame + l2len;
  let end = off + plen;
  // no IPv4 datagram reaches past 65535 bytes, even with the shortest header
  if (end + 20 > 65535) { fragFree(i); return FQ_TOO_BIG; }
  let flags = load<u32>(e + F_FLAGS);
  let qlen = load<u32>(e + F_LEN);
  if (!mf) {
    if (end < qlen || ((flags & FL_LAST) != 0 && end != qlen)) return FQ_INCONSISTENT;
    flags |= FL_LAST;
    qlen = end;
  } else {
    end &= ~7;
    if (end > qlen) {
      if ((flags & FL_LAST) != 0) return FQ_INCONSISTENT;
      qlen = end;
    }
  }
  if (end <= off) return FQ_INCONSISTENT;
  // overlap: any 8-byte block already received (a duplicate too: Linux keeps
  // exact duplicates of what it has, but a lossless emulated wire has none)
  const b0 = off >> 3;
  const b1 = (end + 7) >> 3;
  const bm = e + BITMAP;
  for (let b = b0; b < b1; b++) {
    if ((load<u8>(bm + (<usize>b >> 3)) & (<u8>1 << <u8>(b & 7))) != 0) { fragFree(i); return FQ_OVERLAP; }
  }
  for (let b = b0; b < b1; b++) {
    const a = bm + (<usize>b >> 3);
    store<u8>(a, load<u8>(a) | (<u8>1 << <u8>(b & 7)));
  }
  const n = end - off;
  memory.copy(e + PAY + <usize>off, ip + ihl, n);
  if (off == 0) {
    // the datagram's headers are the first fragment's (Linux's head skb)
    memory.copy(e + PAY - <usize>ihl - <usize>l2len, frame, l2len + ihl);
    store<u32>(e + F_IHL, ihl);
    store<u32>(e + F_L2LEN, l2len);
    flags |= FL_FIRST;
  }
  const size = ihl + n;
  if (size > load<u32>(e + F_MAX)) store<u32>(e + F_MAX, size);
  if (df && size > load<u32>(e + F_MAX_DF)) store<u32>(e + F_MAX_DF, size);
  const got = load<u32>(e + F_GOT) + n;
  store<u32>(e + F_GOT, got);
  store<u32>(e + F_FLAGS, flags);
  store<u32>(e + F_LEN, qlen);
  if ((flags & (FL_FIRST | FL_LAST)) != (FL_FIRST | FL_LAST) || got != qlen) return FQ_HELD;
  // complete: the first fragment's headers, its length and flags rewritten
  const hl = load<u32>(e + F_IHL);
  const l2 = load<u32>(e + F_L2LEN);
  fragFree(i);
  if (hl + qlen > 65535) return FQ_TOO_BIG; // Linux ip_frag_reasm: "Oversized IP packet"
  const f = e + PAY - <usize>hl - <usize>l2;
  fqFrame = f;
  fqL2len = l2;
  fqLen = l2 + hl + qlen;
  fqMaxSize = load<u32>(e + F_MAX);
  fqDf = load<u32>(e + F_MAX_DF) == fqMaxSize;
  const v = f - VNET_HLEN;
  store<u64>(v, 0);
  store<u16>(v, 0, 8);
  return FQ_COMPLETE;
}

/** Where queue i's buffer starts (tests of the layout). */
export function fragBufferPtr(i: i32): usize { return q(i); }
