// Service NAT, as kube-proxy's PREROUTING DNAT and the kernel's conntrack do
// it: run on every routed IPv4 TCP/UDP packet (from pods, or decapsulated
// from the underlay) before the route lookup, so the translated destination
// is what gets routed.
//  - conntrack hit, original direction: rewrite the destination to the
//    entry's reply source (the backend chosen when the flow began);
//  - conntrack hit, reply direction: rewrite the source back to the
//    original destination (the Service VIP:port), "un-DNAT";
//  - miss, and the destination is a Service frontend: choose a backend,
//    track the flow (reply tuple backend -> client), rewrite the destination;
//  - anything else passes untouched (no entry is made for it).
// Checksums are updated incrementally (RFC 1624); a partial checksum (virtio
// NEEDS_CSUM) holds only the pseudo-header sum, so only the address part of
// it changes (ports are summed when it is completed).
// IP fragments pass untouched (no defragmentation; the kernel would reassemble first).
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, ipv4Checksum, setIpv4Checksum,
  FLAG_MF, FRAG_OFFSET_MASK, SRC, DST, IPPROTO_TCP, IPPROTO_UDP } from "../wire/ipv4";
import { be16, setBe16, setBe32, csumUpdate16, csumUpdate32 } from "../wire/checksum";
import { VNET_HLEN, VNET_F_NEEDS_CSUM, vnetFlags, vnetCsumStart, vnetCsumOffset, vnetFinishChecksum } from "../wire/virtio";
import { ctLookup, ctCreate, ctUpdate, ctRefEntry, ctRefIsReply, ctBase, ctCount, ENTRY, O_ORIG, O_REPLY } from "../tables/conntrack";
import { svcLookup, svcPick, svcBackendIp, svcBackendPort, svcFrontendCount } from "../tables/services";
import { nowMs } from "../clock";
import { Drop, Ev, countEv } from "../counters";

const TCP_CSUM: u32 = 16;
const UDP_CSUM: u32 = 6;
const TCP_FLAGS: u32 = 13;

/** Translate the packet at `frame + l2len` (IPv4, header validated) in place if it belongs to a Service flow. */
export function serviceNat(frame: usize, len: u32, l2len: u32): Drop {
  // nothing programmed, nothing tracked: nothing to do (the common case for a node with no Services)
  if (svcFrontendCount() == 0 && ctCount() == 0) return Drop.NONE;
  const ip = frame + l2len;
  const proto = <u32>ipv4Proto(ip);
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

  const ref = ctLookup(proto, sip, dip, sport, dport, now);
  if (ref >= 0) {
    countEv(Ev.CT_HIT);
    const e = ctRefEntry(ref);
    const reply = ctRefIsReply(ref);
    ctUpdate(e, reply, tcpFlags, now);
    const a = ctBase() + <usize>e * ENTRY;
    if (!reply) {
      const nIp = load<u32>(a, O_REPLY);
      const nPort = <u32>load<u16>(a, O_REPLY + 8);
      if (nIp == dip && nPort == dport) return Drop.NONE;
      const d = rewrite(frame, len, ip, l4, isTcp, false, dip, nIp, dport, nPort);
      if (d == Drop.NONE) countEv(Ev.SERVICE_DNAT);
      return d;
    }
    const oIp = load<u32>(a, O_ORIG + 4);
    const oPort = <u32>load<u16>(a, O_ORIG + 10);
    if (oIp == sip && oPort == sport) return Drop.NONE;
    const d = rewrite(frame, len, ip, l4, isTcp, true, sip, oIp, sport, oPort);
    if (d == Drop.NONE) countEv(Ev.SERVICE_UNDNAT);
    return d;
  }
  countEv(Ev.CT_MISS);
  const svc = svcLookup(dip, dport, proto);
  if (svc < 0) return Drop.NONE;
  const b = svcPick(<u32>svc);
  if (b < 0) return Drop.SERVICE_NO_ENDPOINTS;
  const bIp = svcBackendIp(<u32>svc, <u32>b);
  const bPort = svcBackendPort(<u32>svc, <u32>b);
  const e = ctCreate(proto, sip, dip, sport, dport, bIp, sip, bPort, sport, now);
  if (e < 0) return Drop.SERVICE_NAT_FAILED;
  const d = rewrite(frame, len, ip, l4, isTcp, false, dip, bIp, dport, bPort);
  if (d == Drop.NONE) countEv(Ev.SERVICE_DNAT);
  return d;
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
