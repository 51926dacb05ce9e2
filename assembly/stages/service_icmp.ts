// ICMP errors about translated flows, as the kernel's
// nf_nat_icmp_reply_translation does: an error quotes the packet that
// caused it as that packet looked where it failed (e.g. client -> backend
// after DNAT), but its addressee knows the flow only by the other side's
// addresses (client -> Service VIP). The quote is looked up in conntrack by
// its inverse (the error travels against the quoted packet) and rewritten to
// the view of the error's destination, and so are the outer addresses that
// belong to the flow (a router's own source address stays).
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, ipv4Checksum, setIpv4Checksum,
  FLAG_MF, FRAG_OFFSET_MASK, SRC, DST, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP } from "../wire/ipv4";
import { be16, setBe16, setBe32, csumUpdate16, csumUpdate32, checksum } from "../wire/checksum";
import { ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED } from "../wire/icmp";
import { VNET_HLEN, VNET_F_NEEDS_CSUM, VNET_F_DATA_VALID, vnetFlags, vnetFinishChecksum } from "../wire/virtio";
import { ctLookup, ctRefEntry, ctRefIsReply, ctBase, ctCount, ENTRY, O_ORIG, O_REPLY } from "../tables/conntrack";
import { nowMs } from "../clock";
import { Drop, Ev, countEv } from "../counters";

const ICMP_SOURCE_QUENCH: u8 = 4;
const ICMP_PARAM_PROBLEM: u8 = 12;

/** Is the ICMP message at `icmp` (`icmpLen` bytes) an error that quotes a packet? */
@inline export function isIcmpError(icmp: usize, icmpLen: u32): bool {
  if (icmpLen < 8) return false;
  const t = load<u8>(icmp);
  return t == ICMP_DEST_UNREACH || t == ICMP_TIME_EXCEEDED || t == ICMP_PARAM_PROBLEM || t == ICMP_SOURCE_QUENCH;
}

/**
 * A NAT step's result: a drop reason in the low bits (NAT_DROP; Drop.NONE:
 * the packet passes), and flags above them: NAT_TRANSLATED (it passes
 * translated), NAT_CT_HIT (its flow is one conntrack holds: the policy stage
 * passes it), NAT_CREATED (a new Service flow's entry was made for it: the
 * policy stage removes it on a denial). Flags beside a drop mean nothing.
 */
export const NAT_DROP: i32 = 0xffff;
export const NAT_TRANSLATED: i32 = 1 << 16;
export const NAT_CT_HIT: i32 = 1 << 17;
export const NAT_CREATED: i32 = 1 << 18;

/**
 * Can conntrack use the ICMP error at `icmp` (`icmpLen` bytes, the whole
 * message)? As nf_conntrack_icmpv4_error (checksum, at PREROUTING: a
 * partial or already validated checksum counts as good) and
 * nf_conntrack_inet_error / ipv4_get_l4proto (a quoted IPv4 header that is
 * all there and not a non-first fragment, and the ports or ICMP header it
 * needs for a tuple).
 */
function icmpErrorValid(vnet: usize, icmp: usize, icmpLen: u32): bool {
  if ((vnetFlags(vnet) & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) == 0 && checksum(icmp, icmpLen) != 0) return false;
  const inner = icmp + 8;
  const quoted = icmpLen - 8;
  if (quoted < 20 || (load<u8>(inner) >> 4) != 4) return false;
  const iihl = ipv4HeaderLen(inner);
  if (iihl < 20 || iihl > quoted) return false;
  if ((ipv4FlagsFrag(inner) & FRAG_OFFSET_MASK) != 0) return false;
  const p = ipv4Proto(inner);
  if (p == IPPROTO_TCP || p == IPPROTO_UDP) return quoted >= iihl + 4;
  if (p == IPPROTO_ICMP) return quoted >= iihl + 8;
  return true;
}

/**
 * Translate the ICMP error at `frame + l2len` in place if it quotes a
 * tracked TCP/UDP flow's packet: NAT_TRANSLATED when something changed,
 * else Drop.NONE. The ICMP checksum is recomputed (the message is at most 576
 * bytes from a router; a host's may be longer but is bounded by the frame).
 * An error that fails icmpErrorValid is left alone and reported as
 * Drop.ICMP_ERROR_INVALID: the kernel gives such a packet no conntrack entry
 * (ct state INVALID), and kube-proxy drops INVALID packets.
 */
export function natIcmpError(frame: usize, len: u32, l2len: u32): i32 {
  const ip = frame + l2len;
  const ihl = ipv4HeaderLen(ip);
  const total = ipv4TotalLen(ip);
  // a fragment holds part of the message: neither checked nor translated (the kernel reassembles first)
  if ((ipv4FlagsFrag(ip) & (FLAG_MF | FRAG_OFFSET_MASK)) != 0 || total > len - l2len) return Drop.NONE;
  const icmp = ip + ihl;
  const icmpLen = total - ihl;
  if (!isIcmpError(icmp, icmpLen)) return Drop.NONE;
  if (!icmpErrorValid(frame - VNET_HLEN, icmp, icmpLen)) return Drop.ICMP_ERROR_INVALID;
  if (ctCount() == 0) return Drop.NONE;
  const inner = icmp + 8;
  const quoted = icmpLen - 8;
  const iihl = ipv4HeaderLen(inner);
  if (quoted < iihl + 8) return Drop.NONE; // RFC 792: the header and 8 bytes of data (what we rewrite)
  const proto = <u32>ipv4Proto(inner);
  if (proto != <u32>IPPROTO_TCP && proto != <u32>IPPROTO_UDP) return Drop.NONE;
  const il4 = inner + iihl;
  const qSrc = ipv4Src(inner);
  const qDst = ipv4Dst(inner);
  const qSport = <u32>be16(il4);
  const qDport = <u32>be16(il4 + 2);
  const ref = ctLookup(proto, qDst, qSrc, qDport, qSport, nowMs);
  if (ref < 0) return Drop.NONE;
  // the error travels in direction `reply`, as (qDst:qDport -> qSrc:qSport);
  // after translation it must look like the other direction's tuple inverted
  const o = ctBase() + <usize>ctRefEntry(ref) * ENTRY + (ctRefIsReply(ref) ? O_ORIG : O_REPLY);
  const nSrc = load<u32>(o, 4);     // what the error's source becomes
  const nSport = <u32>load<u16>(o, 10);
  const nDst = load<u32>(o);          // what the error's destination becomes
  const nDport = <u32>load<u16>(o, 8);
  if (nSrc == qDst && nSport == qDport && nDst == qSrc && nDport == qSport) return Drop.NONE; // an untranslated flow
  vnetFinishChecksum(frame - VNET_HLEN, frame, len); // a partial checksum would cover what we rewrite
  // the quote travels the other way: its source becomes nDst, its destination nSrc
  const isTcp = proto == <u32>IPPROTO_TCP;
  const cField = il4 + (isTcp ? 16 : 6);
  const hasL4Csum = quoted >= iihl + (isTcp ? 18 : 8) && (isTcp || be16(cField) != 0);
  let ic = ipv4Checksum(inner);
  ic = csumUpdate32(ic, qSrc, nDst);
  ic = csumUpdate32(ic, qDst, nSrc);
  setIpv4Checksum(inner, ic);
  setBe32(inner + SRC, nDst);
  setBe32(inner + DST, nSrc);
  setBe16(il4, <u16>nDport);
  setBe16(il4 + 2, <u16>nSport);
  if (hasL4Csum) {
    let c = be16(cField);
    c = csumUpdate32(c, qSrc, nDst);
    c = csumUpdate32(c, qDst, nSrc);
    c = csumUpdate16(c, <u16>qSport, <u16>nDport);
    c = csumUpdate16(c, <u16>qDport, <u16>nSport);
    if (!isTcp && c == 0) c = 0xffff;
    setBe16(cField, c);
  }
  // outer addresses that are the flow's own (a router's source is left alone)
  let oc = ipv4Checksum(ip);
  const oSrc = ipv4Src(ip);
  const oDst = ipv4Dst(ip);
  if (oSrc == qDst && nSrc != oSrc) { oc = csumUpdate32(oc, oSrc, nSrc); setBe32(ip + SRC, nSrc); }
  if (oDst == qSrc && nDst != oDst) { oc = csumUpdate32(oc, oDst, nDst); setBe32(ip + DST, nDst); }
  setIpv4Checksum(ip, oc);
  store<u16>(icmp + 2, 0);
  setBe16(icmp + 2, checksum(icmp, icmpLen));
  countEv(Ev.SERVICE_ICMP_RELATED);
  return NAT_TRANSLATED;
}
