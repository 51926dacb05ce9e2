// Software GSO: a TCP/IPv4 super-frame (virtio gso_type TCPV4, up to 64 KiB)
// cut into segments of at most gso_size payload bytes, for an egress that
// cannot take super-frames (setUnderlayNoGso: a real device under a tunnel,
// where the kernel would segment the OUTER packet). Each segment is what the
// kernel's software GSO makes of it (skb_segment via inet_gso_segment and
// tcp_gso_segment):
//   - the Ethernet, IPv4 (options included) and TCP (options included)
//     headers copied;
//   - IPv4 total length per segment, identification id, id+1, id+2... (the
//     kernel increments it per segment unless SKB_GSO_TCP_FIXEDID, which a
//     virtio header cannot ask for), header checksum recomputed;
//   - TCP sequence number advanced by the segment's payload offset; FIN and
//     PSH kept on the last segment only, CWR on the first only;
//   - TCP checksum complete (RFC 1071 over the pseudo-header with the
//     segment's TCP length, header and payload): the super-frame's field
//     holds a partial pseudo-header sum (NEEDS_CSUM), recomputed from scratch;
//   - a zero vnet header: a complete frame, no offload asked of the device.
// Each lands in a generated slot and is queued like a fragment (fragment.ts):
// the dispatcher routes it.
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4Ident, ipv4FlagsFrag, ipv4FillChecksum, FLAG_DF, FLAG_MF, FRAG_OFFSET_MASK, IPPROTO_TCP, IPV4_MIN_HLEN, TOTAL_LEN, IDENT } from "../wire/ipv4";
import { tcpHeaderLen, tcpSeq, tcpFlags, setTcpSeq, setTcpFlags, tcpFillChecksum, TCP_FIN, TCP_PSH, TCP_CWR } from "../wire/tcp";
import { setBe16 } from "../wire/checksum";
import { VNET_HLEN, VNET_GSO_TCPV4, VNET_GSO_ECN, vnetGsoType, vnetGsoSize, vnetHdrLen } from "../wire/virtio";
import { routeKind, routeNextHop, RouteKind } from "../tables/fib";
import { neighLookup, NO_MAC } from "../tables/neighbors";
import { genAlloc, genFree, genFrameCapacity, genQueue, NO_INGRESS } from "../frame";
import { routeMtu } from "./route_mtu";
import { fragment, fragmentChunk } from "./fragment";
import { Drop, Ev, countEv, countDrop } from "../counters";

// what gsoParse found out about the super-frame
let pIhl: u32 = 0;      // IPv4 header length
let pThl: u32 = 0;      // TCP header length
let pPayload: u32 = 0;  // TCP payload bytes
let pMss: u32 = 0;      // gso_size

/**
 * Check a super-frame (`len` bytes at `frame`, vnet header before it) is a
 * TCP/IPv4 one that can be segmented, reading nothing before its length is
 * known to be there. Drop.NONE, with the p* fields set, when it is.
 */
function gsoParse(frame: usize, len: u32, l2len: u32): Drop {
  const vnet = frame - VNET_HLEN;
  if ((vnetGsoType(vnet) & ~VNET_GSO_ECN) != VNET_GSO_TCPV4) return Drop.GSO_UNSUPPORTED;
  const mss = <u32>vnetGsoSize(vnet);
  // hdr_len is a hint (a TAP read sets it to the linear part, skb_headlen, which
  // may hold payload too): never used here, but one past the frame's end is not a
  // header a TAP would take (tun_get_user refuses it); gso_size 0 cuts nothing
  if (mss == 0 || <u32>vnetHdrLen(vnet) > len) return Drop.BAD_VNET_HDR;
  if (len < l2len + IPV4_MIN_HLEN) return Drop.GSO_MALFORMED;
  const ip = frame + l2len;
  const ihl = ipv4HeaderLen(ip);
  const total = ipv4TotalLen(ip);
  if (ihl < IPV4_MIN_HLEN || total < ihl || total > len - l2len) return Drop.GSO_MALFORMED;
  // TCPV4 names a TCP segment: not another protocol, not a fragment of one
  if (ipv4Proto(ip) != IPPROTO_TCP || (ipv4FlagsFrag(ip) & (FLAG_MF | FRAG_OFFSET_MASK)) != 0) return Drop.GSO_MALFORMED;
  const thl = tcpHeaderLen(ip + ihl, total - ihl);
  if (thl == 0) return Drop.GSO_MALFORMED;
  pIhl = ihl;
  pThl = thl;
  pPayload = total - ihl - thl;
  pMss = mss;
  return Drop.NONE;
}

/**
 * The IPv4 length of the largest segment a super-frame would be cut into, 0
 * when it cannot be segmented (gsoSegment says why). For the routing stage's
 * MTU check: it is the segments that must fit the route, as the kernel's
 * ip_forward checks with skb_gso_validate_network_len.
 */
export function gsoSegmentIpLen(frame: usize, len: u32, l2len: u32): u32 {
  if (gsoParse(frame, len, l2len) != Drop.NONE) return 0;
  return pIhl + pThl + min(pMss, pPayload);
}

/** Generated slots `fragment` takes for a segment of `l4` bytes of TCP (behind `ihl` of IPv4) that does not fit `mtu`, else 0. */
@inline function fragsFor(ihl: u32, l4: u32, mtu: u32, chunk: u32): u32 {
  return ihl + l4 > mtu ? (l4 + chunk - 1) / chunk : 0;
}

/**
 * Segment the TCP/IPv4 super-frame at `frame` (`len` bytes, L2 header
 * `l2len` bytes, TTL already lowered) and send each segment along route `r`
 * (a non-local one). All segments or none: the generated pool must hold them
 * all (Drop.GEN_POOL_EMPTY otherwise), as a TCP sender retransmits the lot.
 * A payload no larger than gso_size makes one segment: the kernel does not
 * even treat such a frame as GSO ("too small packets are not really GSO ones",
 * virtio_net_hdr_to_skb), but its checksum is still to be finished.
 * Segments larger than the route's MTU: with DF, refused (Drop.FRAG_NEEDED;
 * ipForward has sent the ICMP error before the TTL changed); without DF each
 * is fragmented, as ip_finish_output_gso does.
 */
export function gsoSegment(r: i32, frame: usize, len: u32, l2len: u32): Drop {
  const bad = gsoParse(frame, len, l2len);
  if (bad != Drop.NONE) return bad;
  // no next hop: one drop for the super-frame, not one per segment. A route
  // without a gateway (next hop 0: the underlay's own subnet, an external
  // host on it) resolves the destination itself, as hostGwOut does
  const nh = routeNextHop(r);
  if (routeKind(r) != RouteKind.LOCAL && neighLookup(nh != 0 ? nh : ipv4Dst(frame + l2len)) == NO_MAC) return Drop.NO_NEIGHBOR;
  const ihl = pIhl, thl = pThl, payload = pPayload, mss = pMss;
  const hlen = l2len + ihl + thl; // the headers every segment carries
  const nseg: u32 = payload <= mss ? 1 : (payload + mss - 1) / mss;
  const biggest = min(mss, payload);
  if (hlen + biggest > genFrameCapacity()) return Drop.GSO_SEGMENT_OVERSIZE;
  const ip = frame + l2len;
  const mtu = routeMtu(r, ipv4Dst(ip));
  let chunk: u32 = 0; // fragment payload size when segments must be fragmented
  let need: u32 = nseg;
  if (ihl + thl + biggest > mtu) {
    if ((ipv4FlagsFrag(ip) & FLAG_DF) != 0) return Drop.FRAG_NEEDED;
    chunk = fragmentChunk(mtu, ihl, l2len);
    if (chunk == 0) return Drop.FRAG_NEEDED;
    const last = payload - (nseg - 1) * mss;
    need += (nseg - 1) * fragsFor(ihl, thl + mss, mtu, chunk) + fragsFor(ihl, thl + last, mtu, chunk);
  }
  if (need > genFree()) return Drop.GEN_POOL_EMPTY;
  const tcp = ip + ihl;
  const seq = tcpSeq(tcp);
  const flags = tcpFlags(tcp);
  const id = ipv4Ident(ip);
  const src = ipv4Src(ip);
  const dst = ipv4Dst(ip);
  let off: u32 = 0;
  for (let i: u32 = 0; i < nseg; i++) {
    const n = min(mss, payload - off);
    const v = genAlloc(); // counted above: never 0
    const g = v + VNET_HLEN;
    memory.copy(g, frame, hlen);
    memory.copy(g + hlen, frame + hlen + off, n);
    const gip = g + l2len;
    setBe16(gip + TOTAL_LEN, <u16>(ihl + thl + n));
    setBe16(gip + IDENT, <u16>(<u32>id + i));
    ipv4FillChecksum(gip);
    const gt = gip + ihl;
    setTcpSeq(gt, seq + off);
    let f = flags;
    if (i + 1 < nseg) f &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) f &= ~TCP_CWR;
    setTcpFlags(gt, f);
    tcpFillChecksum(gt, thl + n, src, dst);
    const segLen = hlen + n;
    if (chunk != 0 && ihl + thl + n > mtu) {
      const d = fragment(r, g, segLen, l2len, mtu);
      if (d != Drop.NONE) countDrop(d);
    } else {
      genQueue(g, r, NO_INGRESS, segLen, l2len, true);
    }
    off += n;
  }
  countEv(Ev.GSO_SEGMENTED, nseg);
  return Drop.NONE;
}
