// Decision traces: every stage a frame meets can write a record of what it
// decided (which table entry, which rewrite, which verdict) into a ring the
// control plane reads after the batch (src/dataplane/trace.ts decodes it).
//
// Off (the default) a trace point costs one load of `traceOn` and a branch
// not taken; a build with `--use TRACE_BUILD=0` (asconfig target "notrace")
// compiles every trace point away, so the hot-path benchmark can show that
// the switch itself costs nothing measurable.
//
// `traceDry` makes a run leave no state behind (`podwire trace`'s synthetic
// packets): stages skip learning (bridge MACs, underlay neighbours, ClientIP
// affinity) and conntrack updates; conntrack entries the run creates are
// removed by traceEnd; counters, the backend-choice RNG and the IP ID
// counter are restored.

import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4Ttl, ipv4FlagsFrag, ipv4Check, IPV4_OK, FRAG_OFFSET_MASK, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_IPIP } from "./wire/ipv4";
import { be16 } from "./wire/checksum";
import { ethDst, ethSrc, ethPayloadType, ethHeaderLen, ETHERTYPE_IPV4, ETH_HLEN } from "./wire/ethernet";
import { VNET_HLEN } from "./wire/virtio";
import { txBase, TX_ENTRY, TX_PORT, TX_START, TX_LENGTH } from "./frame";
import { RouteKind } from "./tables/fib";
import { ulPort, ulMac, ulIp, overlay, Overlay, vxlanPort } from "./node";

// @ts-ignore: decorator
@lazy const TRACE_BUILT: bool = isDefined(TRACE_BUILD) ? TRACE_BUILD != 0 : true;

/** What a record is about. Names: STEP_NAMES (the decoder reads them through traceStepName). */
export const enum Step {
  RX = 0,          // a=in port, b=frame length, c=ethertype, d/e=destination MAC, f=source MAC low 32 bits
  PKT,             // the IPv4 packet as this stage sees it: a=src, b=dst, c=protocol, d=src port / ICMP id, e=dst port, f=TTL << 16 | total length
  L2_LEARN,        // a=port, b=MAC high 16 bits, c=MAC low 32 bits (the bridge learns it; a dry run puts the table back)
  FLOOD,           // a=ports the frame went out of, b/c=destination MAC
  GW_ARP_REPLY,    // a=address answered for
  GW_ECHO_REPLY,   // a=address answered from
  CT_HIT,          // a=entry, b=1 for the reply direction, c=state before
  CT_MISS,
  SVC_MATCH,       // a=Service slot, b=VIP, c=port, d=proto, e=backends, f=flags (SVC_*)
  SVC_BACKEND,     // code=why (Choice), a=Service slot, b=backend index, c=backend IP, d=backend port, e=Maglev slot / affinity ms
  SVC_NO_BACKEND,  // a=Service slot; code 1: dropped (Local policy), 0: rejected
  NAT,             // code=Nat kind, a=old IP, b=new IP, c=old port, d=new port
  CT_CREATE,       // a=entry (-1: failed), b=reply dst IP, c=reply dst port
  ROUTE,           // a=route index, b=prefix, c=prefix length, d=kind (RouteKind), e=next hop, f=MTU of the route
  NO_ROUTE,        // a=destination
  TTL,             // a=TTL before the decrement
  MTU,             // code=MtuVerdict, a=IP length, b=route MTU
  NEIGH,           // a=IP, b/c=MAC (0/0: none known)
  ENCAP,           // code=RouteKind, a=outer src, b=outer dst, c=VNI (VXLAN) / protocol 4 (IPIP) / 0, d=outer UDP sport, e=outer UDP dport, f=bytes added
  DECAP,           // code=RouteKind, a=outer src, b=outer dst, c=VNI / 4
  GENERATED,       // a node-originated packet: code 1 ICMP error (a=type, b=code), 2 TCP reset
  TX,              // a=port, b=length (frame, no vnet header), c=GSO type
  TX_REFUSED,      // a=port, code=the port's drop reason (e.g. oversize)
  VERDICT,         // code=Drop (0: forwarded), a=tx entries queued by this frame
  POLICY,          // a NetworkPolicy decision on a new connection: code=1 ingress / 2 egress, a=local pod IP, b=peer IP, c=1 allowed / 0 denied, d=the allowing rule (allowed) or the peer's identity / class (denied)
  COUNT,
}

const STEP_NAMES: StaticArray<string> = [
  "rx", "pkt", "l2_learn", "flood", "gw_arp_reply", "gw_echo_reply",
  "ct_hit", "ct_miss", "svc_match", "svc_backend", "svc_no_backend", "nat", "ct_create",
  "route", "no_route", "ttl", "mtu", "neigh", "encap", "decap", "generated", "tx", "tx_refused", "verdict", "policy",
];

export const enum Choice { RANDOM = 1, MAGLEV = 2, AFFINITY = 3 }
export const enum Nat { DNAT = 0, SNAT = 1, UNDNAT = 2, UNSNAT = 3 }
export const enum MtuVerdict { FITS = 0, FRAGMENT = 1, FRAG_NEEDED = 2, GSO = 3 }

// record, 32 bytes: seq u32 (the frame), step u16, code u16, then six u32 fields a..f
export const RECORD: usize = 32;
export const R_SEQ: usize = 0;
export const R_STEP: usize = 4;
export const R_CODE: usize = 6;
export const R_A: usize = 8;

export let traceOn = false;
export let traceDry = false;
/** Records written (may exceed capacity: the rest were lost). */
let written: u32 = 0;
let ringBase: usize = 0;
let ringCap: u32 = 0;
/** The frame being processed: every processed frame takes the next number while tracing. */
let seq: u32 = 0;

export function traceInit(at: usize, records: u32): void {
  ringBase = at;
  ringCap = records;
}
export function traceBytes(records: u32): usize { return <usize>records * RECORD; }

/** Is tracing compiled in and switched on? Stages test this before building a record. */
@inline export function tracing(): bool { return TRACE_BUILT && traceOn; }

/** A new frame's records begin (processBatch). */
@inline export function traceFrame(): void {
  if (TRACE_BUILT && traceOn) seq++;
}

export function trace(step: Step, code: u32, a: u32, b: u32, c: u32, d: u32, e: u32, f: u32): void {
  const i = written++;
  if (i >= ringCap) return;
  const r = ringBase + <usize>i * RECORD;
  store<u32>(r, seq, R_SEQ);
  store<u16>(r, <u16>step, R_STEP);
  store<u16>(r, <u16>code, R_CODE);
  store<u32>(r, a, R_A);
  store<u32>(r, b, R_A + 4);
  store<u32>(r, c, R_A + 8);
  store<u32>(r, d, R_A + 12);
  store<u32>(r, e, R_A + 16);
  store<u32>(r, f, R_A + 20);
}

/** Switch tracing (and dry-run mode) on or off; the ring starts empty. */
export function traceSet(on: bool, dry: bool): void {
  traceOn = on && TRACE_BUILT;
  traceDry = on && dry;
  written = 0;
}
/** Switch tracing off, keeping the ring's records for the control plane to read. */
export function traceOff(): void {
  traceOn = false;
  traceDry = false;
}
/** Empty the ring (after the control plane read it). */
export function traceReset(): void { written = 0; }
export function traceCount(): u32 { return written; }
export function traceRingPtr(): usize { return ringBase; }
export function traceRingCap(): u32 { return ringCap; }
export function traceBuilt(): bool { return TRACE_BUILT; }
export function traceStepCount(): u32 { return <u32>Step.COUNT; }
export function traceStepName(i: i32): usize { return changetype<usize>(STEP_NAMES[i]); }

/** Only in a dry run (`podwire trace`): skip what would change the tables. */
@inline export function dryRun(): bool { return TRACE_BUILT && traceOn && traceDry; }

/** A MAC as two record fields: high 16 bits, low 32 bits. */
@inline export function macHi(m: u64): u32 { return <u32>(m >> 32); }
@inline export function macLo(m: u64): u32 { return <u32>m; }

/**
 * A frame as it arrived (vnet header at `vnet`, `total` bytes with it): RX,
 * the source MAC the bridge learns (pod ports), and the IPv4 packet when the
 * frame holds a whole valid header (the stages drop anything else, named).
 */
export function traceIngress(port: u32, vnet: usize, total: u32, underlay: bool): void {
  if (total <= VNET_HLEN) { trace(Step.RX, 0, port, 0, 0, 0, 0, 0); return; }
  const frame = vnet + VNET_HLEN;
  const len = total - VNET_HLEN;
  const l2len = ethHeaderLen(frame, len);
  if (l2len == 0) { trace(Step.RX, 0, port, len, 0, 0, 0, 0); return; }
  traceRx(port, frame, len, l2len);
  const src = ethSrc(frame);
  if (!underlay && (src & 1) == 0 && src != 0) trace(Step.L2_LEARN, 0, port, macHi(src), macLo(src), 0, 0, 0);
  if (ethPayloadType(frame, l2len) == ETHERTYPE_IPV4 && ipv4Check(frame + l2len, len - l2len) == IPV4_OK) tracePkt(frame + l2len, len - l2len);
}

/**
 * TX: tx entry `k` (slot, port, start, length: frame.ts), as queued; on the
 * underlay, first what encapsulation (or host-gw) made of it, read from the
 * outer headers, so the encap stage needs no trace point of its own.
 */
export function traceTx(k: u32): void {
  const e = txBase + <usize>k * TX_ENTRY;
  const port = load<u32>(e, TX_PORT);
  const vnet = <usize>load<u32>(e, TX_START);
  const len = load<u32>(e, TX_LENGTH) - VNET_HLEN;
  if (port == ulPort) traceEncap(vnet + VNET_HLEN, len);
  trace(Step.TX, 0, port, len, <u32>load<u8>(vnet, 1), 0, 0, 0);
}

function traceEncap(frame: usize, len: u32): void {
  if (len < ETH_HLEN + 20 || ethPayloadType(frame, ETH_HLEN) != ETHERTYPE_IPV4 || ethSrc(frame) != ulMac) return;
  const ip = frame + ETH_HLEN;
  const src = ipv4Src(ip);
  const dst = ipv4Dst(ip);
  const proto = <u32>ipv4Proto(ip);
  const ihl = ipv4HeaderLen(ip);
  if (overlay == Overlay.VXLAN && proto == <u32>IPPROTO_UDP && len >= ETH_HLEN + ihl + 16 && <u32>be16(ip + ihl + 2) == <u32>vxlanPort) {
    const vniField = <u32>bswap<u32>(load<u32>(ip + ihl + 12)) >> 8;
    trace(Step.ENCAP, <u32>RouteKind.VXLAN, src, dst, vniField, <u32>be16(ip + ihl), <u32>vxlanPort, 50);
  } else if (overlay == Overlay.IPIP && proto == <u32>IPPROTO_IPIP) {
    trace(Step.ENCAP, <u32>RouteKind.IPIP, src, dst, 4, 0, 0, 20);
  } else if (overlay == Overlay.HOST_GW && src != ulIp) {
    trace(Step.ENCAP, <u32>RouteKind.HOST_GW, src, dst, 0, 0, 0, 0);
  }
}

/** RX: the frame as it arrived on `port` (`len` bytes, L2 header `l2len`, 0 when unknown). */
function traceRx(port: u32, frame: usize, len: u32, l2len: u32): void {
  const dst = ethDst(frame);
  trace(Step.RX, 0, port, len, l2len != 0 ? <u32>ethPayloadType(frame, l2len) : 0, macHi(dst), macLo(dst), macLo(ethSrc(frame)));
}

/** PKT: the IPv4 packet at `ip` (header validated; `avail` bytes from it), ports when present. */
export function tracePkt(ip: usize, avail: u32): void {
  const proto = <u32>ipv4Proto(ip);
  const ihl = ipv4HeaderLen(ip);
  let sp: u32 = 0;
  let dp: u32 = 0;
  if ((ipv4FlagsFrag(ip) & FRAG_OFFSET_MASK) == 0) {
    if ((proto == <u32>IPPROTO_TCP || proto == <u32>IPPROTO_UDP) && avail >= ihl + 4) {
      sp = <u32>be16(ip + ihl);
      dp = <u32>be16(ip + ihl + 2);
    } else if (proto == <u32>IPPROTO_ICMP && avail >= ihl + 8) {
      sp = <u32>be16(ip + ihl + 4); // echo identifier
      dp = <u32>load<u8>(ip + ihl) << 8 | <u32>load<u8>(ip + ihl + 1); // type, code
    }
  }
  trace(Step.PKT, 0, ipv4Src(ip), ipv4Dst(ip), proto, sp, dp, <u32>ipv4Ttl(ip) << 16 | ipv4TotalLen(ip));
}
