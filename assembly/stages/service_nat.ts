// Service NAT, as kube-proxy's PREROUTING DNAT (and POSTROUTING masquerade)
// and the kernel's conntrack do it: run on every routed IPv4 packet (from
// pods, decapsulated from the underlay, addressed to the node itself) before
// the route lookup, so the translated destination is what gets routed.
//  - conntrack hit, original direction: rewrite the destination to the
//    entry's reply source (the backend chosen when the flow began), and the
//    source to the reply destination when the flow was masqueraded;
//  - conntrack hit, reply direction: the inverse ("un-DNAT", "un-SNAT");
//  - miss, and the destination is a Service frontend: choose a backend
//    (ClientIP affinity, else the seeded random choice), masquerade the
//    source to the node's gateway address when the frontend asks for it
//    (externalTrafficPolicy: Cluster) or the client is its own backend
//    (hairpin), track the flow (reply tuple backend -> client or gateway),
//    rewrite; with no backend: reject (TCP RST / ICMP port unreachable), or
//    drop for a Local policy with no local endpoint;
//  - TCP: conntrack's verdict first (tables/conntrack.ts, Linux's
//    nf_conntrack_proto_tcp.c): a segment it calls INVALID (impossible flags,
//    out of window, an RST before the receiver's ack, a FIN/RST/SYN+ACK with
//    no entry) is dropped, ct_invalid, as kube-proxy's ruleset drops it; a
//    SYN reusing a closed flow's tuple deletes the entry and is a new flow;
//  - an ICMP error quoting a tracked flow's packet: translate the quote and
//    the outer addresses back (service_icmp.ts);
//  - anything else passes untouched (no entry is made for it).
// serviceNat says whether it changed the packet (NAT_TRANSLATED): the node's
// own addresses only forward what was translated; and, for the policy stage,
// whether the flow was tracked already (NAT_CT_HIT) or tracked just now
// (NAT_CREATED).
// Checksums are updated incrementally (RFC 1624); a partial checksum (virtio
// NEEDS_CSUM) holds only the pseudo-header sum, so only the address part of
// it changes (ports are summed when it is completed).
// IP fragments pass untouched (no defragmentation; the kernel would reassemble first).
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, ipv4Checksum, setIpv4Checksum,
  FLAG_MF, FRAG_OFFSET_MASK, SRC, DST, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP } from "../wire/ipv4";
import { be16, setBe16, setBe32, csumUpdate16, csumUpdate32 } from "../wire/checksum";
import { VNET_HLEN, VNET_F_NEEDS_CSUM, vnetFlags, vnetCsumStart, vnetCsumOffset, vnetFinishChecksum } from "../wire/virtio";
import { ctLookup, ctCreate, ctUpdate, ctRefEntry, ctRefIsReply, ctBase, ctCount, ctDelete, ENTRY, O_ORIG, O_REPLY,
  ctTcpSegment, ctTcpFirst, ctTcpMayCreate, CtVerdict, TCP_SYN, TCP_FIN } from "../tables/conntrack";
import { tcpHeaderLen, tcpSeq, tcpAck, tcpWindow } from "../wire/tcp";
import { svcLookup, svcPick, svcBackendIp, svcBackendPort, svcBackendCount, svcFrontendCount, svcFlags, svcAffinityMs,
  SVC_MASQUERADE, SVC_DROP_EMPTY, SVC_MAGLEV } from "../tables/services";
import { maglevPick, maglevEnabled } from "../tables/maglev";
import { hashTuple } from "../tables/conntrack";
import { affFind, affBackend, affRemember } from "../tables/affinity";
import { gwIp } from "../node";
import { serviceReject } from "./service_reject";
import { natIcmpError, NAT_DROP, NAT_TRANSLATED, NAT_CT_HIT, NAT_CREATED } from "./service_icmp";
export { NAT_DROP, NAT_TRANSLATED, NAT_CT_HIT, NAT_CREATED };
import { nowMs } from "../clock";
import { Drop, Ev, countEv } from "../counters";
import { Step, Choice, Nat, tracing, trace, dryRun } from "../trace";
import { MAGLEV_M } from "../tables/maglev";
import { ctState } from "../tables/conntrack";

const TCP_CSUM: u32 = 16;
const UDP_CSUM: u32 = 6;
const TCP_FLAGS: u32 = 13;
/** Masquerade ports tried after the client's own: Linux's nf_nat picks from the whole range above 1024 too. */
const SNAT_TRIES: u32 = 64;

/**
 * Translate the packet at `frame + l2len` (IPv4, header validated) in place
 * if it belongs to a Service flow. Returns a drop reason, or Drop.NONE
 * (passes untouched) with the flags NAT_TRANSLATED (passes translated),
 * NAT_CT_HIT, NAT_CREATED (service_icmp.ts).
 */
export function serviceNat(frame: usize, len: u32, l2len: u32): i32 {
  // nothing programmed, nothing tracked: nothing to do (the common case for a node with no Services)
  if (svcFrontendCount() == 0 && ctCount() == 0) return Drop.NONE;
  const ip = frame + l2len;
  const proto = <u32>ipv4Proto(ip);
  if (proto == <u32>IPPROTO_ICMP) {
    return natIcmpError(frame, len, l2len);
  }
  if (proto != <u32>IPPROTO_TCP && proto != <u32>IPPROTO_UDP) return Drop.NONE;
  if ((ipv4FlagsFrag(ip) & (FLAG_MF | FRAG_OFFSET_MASK)) != 0) return Drop.NONE;
  const ihl = ipv4HeaderLen(ip);
  const total = ipv4TotalLen(ip);
  const l4 = ip + ihl;
  const l4len = total > ihl ? total - ihl : 0;
  const isTcp = proto == <u32>IPPROTO_TCP;
  const l4min: u32 = isTcp ? 20 : 8;
  if (l4len < l4min) return Drop.NONE;
  const sip = ipv4Src(ip);
  const dip = ipv4Dst(ip);
  const sport = <u32>be16(l4);
  const dport = <u32>be16(l4 + 2);
  const now = nowMs;
  const tcpFlags = isTcp ? <u32>load<u8>(l4 + TCP_FLAGS) : 0;

  // TCP: what conntrack's window tracking needs (tcp_error: a bad header length is INVALID for tracked flows)
  const hlen = isTcp ? tcpHeaderLen(l4, l4len) : 0;
  const seq = hlen != 0 ? tcpSeq(l4) : 0;
  const end = hlen != 0 ? seq + (l4len - hlen) + ((tcpFlags & TCP_SYN) != 0 ? 1 : 0) + ((tcpFlags & TCP_FIN) != 0 ? 1 : 0) : 0;
  const wscale = hlen != 0 && (tcpFlags & TCP_SYN) != 0 ? synWscale(l4, hlen) : -1;

  const ref = ctLookup(proto, sip, dip, sport, dport, now);
  if (ref >= 0) {
    countEv(Ev.CT_HIT);
    const e = ctRefEntry(ref);
    const reply = ctRefIsReply(ref);
    if (tracing()) trace(Step.CT_HIT, 0, e, reply ? 1 : 0, ctState(e), 0, 0, 0);
    // a dry run leaves the flow's state and age alone
    const update = !tracing() || !dryRun();
    let v = CtVerdict.ACCEPT;
    if (isTcp && update) {
      v = hlen == 0 ? CtVerdict.INVALID
        : ctTcpSegment(e, reply, tcpFlags, seq, tcpAck(l4), <u32>tcpWindow(l4), end, wscale, now);
    } else if (update) {
      ctUpdate(e, reply, tcpFlags, now);
    }
    if (v == CtVerdict.INVALID) return Drop.CT_INVALID;
    // REOPEN: a SYN on a closed flow; the entry is gone, the SYN is a new flow (NF_REPEAT)
    if (v != CtVerdict.REOPEN) {
      const d = translateHit(frame, len, ip, l4, isTcp, e, reply, sip, dip, sport, dport);
      if (v == CtVerdict.KILL) ctDelete(e); // an RST before any reply: the entry goes once the RST is translated
      return d | NAT_CT_HIT;
    }
  }
  countEv(Ev.CT_MISS);
  if (tracing()) trace(Step.CT_MISS, 0, 0, 0, 0, 0, 0, 0);
  const svc = svcLookup(dip, dport, proto);
  if (svc < 0) return Drop.NONE;
  // tcp_new: only a SYN, or an ACK (nf_conntrack_tcp_loose), may begin a flow; the rest is INVALID
  if (isTcp && (hlen == 0 || !ctTcpMayCreate(tcpFlags))) return Drop.CT_INVALID;
  const flags = svcFlags(<u32>svc);
  if (tracing()) trace(Step.SVC_MATCH, 0, <u32>svc, dip, dport, proto, svcBackendCount(<u32>svc), flags);
  const b = chooseBackend(<u32>svc, flags, proto, sip, dip, sport, dport, now);
  if (b < 0) {
    if (tracing()) trace(Step.SVC_NO_BACKEND, (flags & SVC_DROP_EMPTY) != 0 ? 1 : 0, <u32>svc, 0, 0, 0, 0, 0);
    if ((flags & SVC_DROP_EMPTY) != 0) return Drop.SERVICE_NO_LOCAL_ENDPOINTS;
    serviceReject(frame, len, l2len, isTcp);
    return Drop.SERVICE_NO_ENDPOINTS;
  }
  const bIp = svcBackendIp(<u32>svc, <u32>b);
  const bPort = svcBackendPort(<u32>svc, <u32>b);
  // masquerade: asked for, or a pod reaching itself through its Service (hairpin:
  // its reply would otherwise go straight to itself, never un-DNATed)
  const masq = (flags & SVC_MASQUERADE) != 0 || bIp == sip;
  let rDst = sip;
  let rDport = sport;
  let e: i32;
  if (!masq) {
    e = ctCreate(proto, sip, dip, sport, dport, bIp, sip, bPort, sport, now);
  } else {
    if (gwIp == 0) return Drop.SERVICE_NAT_FAILED;
    rDst = gwIp;
    // the client's port if free, else others (a clash: another client's flow to the same backend holds it)
    e = -2;
    for (let i: u32 = 0; i <= SNAT_TRIES && e == -2; i++) {
      rDport = i == 0 ? sport : snatPort(sip, sport, bIp, i);
      e = ctCreate(proto, sip, dip, sport, dport, bIp, gwIp, bPort, rDport, now);
    }
  }
  if (tracing()) trace(Step.CT_CREATE, 0, <u32>e, rDst, rDport, 0, 0, 0);
  if (e < 0) return Drop.SERVICE_NAT_FAILED;
  if (isTcp) ctTcpFirst(<u32>e, tcpFlags, seq, tcpAck(l4), <u32>tcpWindow(l4), end, wscale, now);
  let d = rewrite(frame, len, ip, l4, isTcp, false, dip, bIp, dport, bPort);
  if (d != Drop.NONE) return d;
  countEv(Ev.SERVICE_DNAT);
  if (tracing()) trace(Step.NAT, Nat.DNAT, dip, bIp, dport, bPort, 0, 0);
  if (masq) {
    d = rewrite(frame, len, ip, l4, isTcp, true, sip, rDst, sport, rDport);
    if (d != Drop.NONE) return d;
    countEv(Ev.SERVICE_SNAT);
    if (tracing()) trace(Step.NAT, Nat.SNAT, sip, rDst, sport, rDport, 0, 0);
  }
  return NAT_TRANSLATED | NAT_CREATED;
}

/**
 * Translate a packet of tracked flow `e`: the other direction's tuple,
 * inverted, is what it must become. A drop reason, NAT_TRANSLATED, or
 * Drop.NONE for a flow whose tuples need no rewrite.
 */
function translateHit(frame: usize, len: u32, ip: usize, l4: usize, isTcp: bool, e: u32, reply: bool,
  sip: u32, dip: u32, sport: u32, dport: u32): i32 {
  const o = ctBase() + <usize>e * ENTRY + (reply ? O_ORIG : O_REPLY);
  const nSrc = load<u32>(o, 4);
  const nSport = <u32>load<u16>(o, 10);
  const nDst = load<u32>(o);
  const nDport = <u32>load<u16>(o, 8);
  let done: i32 = Drop.NONE;
  let d = Drop.NONE;
  if (nDst != dip || nDport != dport) {
    d = rewrite(frame, len, ip, l4, isTcp, false, dip, nDst, dport, nDport);
    if (d != Drop.NONE) return d;
    countEv(reply ? Ev.SERVICE_UNSNAT : Ev.SERVICE_DNAT);
    if (tracing()) trace(Step.NAT, reply ? Nat.UNSNAT : Nat.DNAT, dip, nDst, dport, nDport, 0, 0);
    done = NAT_TRANSLATED;
  }
  if (nSrc != sip || nSport != sport) {
    d = rewrite(frame, len, ip, l4, isTcp, true, sip, nSrc, sport, nSport);
    if (d != Drop.NONE) return d;
    countEv(reply ? Ev.SERVICE_UNDNAT : Ev.SERVICE_SNAT);
    if (tracing()) trace(Step.NAT, reply ? Nat.UNDNAT : Nat.SNAT, sip, nSrc, sport, nSport, 0, 0);
    done = NAT_TRANSLATED;
  }
  return done;
}

/**
 * The window scale option of a SYN's TCP header at `l4` (`hlen` bytes), -1
 * when it has none. As Linux's tcp_options: EOL or a malformed option
 * (size < 2, or past the header) ends the parse.
 */
export function synWscale(l4: usize, hlen: u32): i32 {
  let i: u32 = 20;
  while (i < hlen) {
    const kind = <u32>load<u8>(l4 + i);
    if (kind == 0) break;
    if (kind == 1) { i++; continue; }
    if (i + 1 >= hlen) break;
    const size = <u32>load<u8>(l4 + i + 1);
    if (size < 2 || i + size > hlen) break;
    if (kind == 3 && size == 3) return <i32>load<u8>(l4 + i + 2);
    i += size;
  }
  return -1;
}

/**
 * The backend index for a new flow to service `svc`, -1 when it has none.
 * ClientIP affinity: the backend the client's last new flow went to, if
 * within the timeout and still one of the service's (matched by address:
 * the list may have changed), else a fresh choice, remembered. A fresh
 * choice is the Maglev table's slot for the flow's hash (SVC_MAGLEV), or the
 * seeded random one.
 */
function chooseBackend(svc: u32, flags: u32, proto: u32, client: u32, dip: u32, sport: u32, dport: u32, now: u32): i32 {
  const n = svcBackendCount(svc);
  if (n == 0) return -1;
  const affMs = svcAffinityMs(svc);
  let b: i32 = -1;
  let why = Choice.RANDOM;
  let detail: u32 = 0;
  if (affMs != 0) {
    const entry = affFind(svc, client, now, affMs);
    if (entry != 0) {
      const want = affBackend(entry);
      for (let i: u32 = 0; i < n; i++) {
        if (svcBackendIp(svc, i) == want) { b = <i32>i; countEv(Ev.AFFINITY_HITS); why = Choice.AFFINITY; detail = affMs; break; }
      }
    }
  }
  if (b < 0) {
    if ((flags & SVC_MAGLEV) != 0 && maglevEnabled()) {
      const h = hashTuple(proto, client, dip, sport, dport);
      const m = maglevPick(svc, h);
      b = m < n ? <i32>m : svcPick(svc); // a table behind its list (never left so by the control plane): still a choice
      if (m < n) { why = Choice.MAGLEV; detail = h % MAGLEV_M; }
    } else {
      b = svcPick(svc);
    }
  }
  if (tracing()) trace(Step.SVC_BACKEND, why, svc, <u32>b, svcBackendIp(svc, <u32>b), svcBackendPort(svc, <u32>b), detail, n);
  if (affMs != 0 && !dryRun()) affRemember(svc, client, svcBackendIp(svc, <u32>b), now, affMs);
  return b;
}

/** The `i`th masquerade port to try for a flow: spread over 1024-65535 by a hash of the flow. */
function snatPort(sip: u32, sport: u32, bIp: u32, i: u32): u32 {
  let h = (<u64>sip << 32 | <u64>(sport << 16) | <u64>i) ^ (<u64>bIp << 7);
  h *= 0x9E3779B97F4A7C15;
  return 1024 + <u32>((h >> 32) % 64512);
}

/**
 * Replace the source (isSrc) or destination address and port, updating the
 * IPv4 header checksum and the TCP/UDP checksum.
 */
function rewrite(frame: usize, len: u32, ip: usize, l4: usize, isTcp: bool, isSrc: bool,
  oldIp: u32, newIp: u32, oldPort: u32, newPort: u32): Drop {
  const cOff = isTcp ? TCP_CSUM : UDP_CSUM;
  const field = l4 + cOff;
  const vnet = frame - VNET_HLEN;
  let partial = false;
  if ((vnetFlags(vnet) & VNET_F_NEEDS_CSUM) != 0) {
    if (<usize>vnetCsumStart(vnet) == l4 - frame && <u32>vnetCsumOffset(vnet) == cOff) {
      partial = true;
    } else {
      // a partial checksum somewhere else: complete it before we change what it covers
      if (<u32>vnetCsumStart(vnet) + <u32>vnetCsumOffset(vnet) + 2 > len) return Drop.BAD_VNET_HDR;
      vnetFinishChecksum(vnet, frame, len);
    }
  }
  setIpv4Checksum(ip, csumUpdate32(ipv4Checksum(ip), oldIp, newIp));
  setBe32(ip + (isSrc ? SRC : DST), newIp);
  setBe16(l4 + (isSrc ? 0 : 2), <u16>newPort);
  const c = be16(field);
  if (partial) {
    // the field holds the folded pseudo-header sum, not complemented: P' = P - old + new
    // (the kernel's inet_proto_csum_replace4 for CHECKSUM_PARTIAL); the ports
    // are covered when the checksum is completed
    setBe16(field, ~csumUpdate32(~c, oldIp, newIp));
    return Drop.NONE;
  }
  if (!isTcp && c == 0) return Drop.NONE; // UDP without a checksum stays without one
  let n = csumUpdate32(c, oldIp, newIp);
  n = csumUpdate16(n, <u16>oldPort, <u16>newPort);
  if (!isTcp && n == 0) n = 0xffff; // RFC 768: a computed 0 is sent as all ones
  setBe16(field, n);
  return Drop.NONE;
}
