// What kube-proxy's REJECT does for a Service with no endpoints: the client
// learns at once ("connection refused") instead of timing out. TCP gets a
// reset from the Service address (RFC 793 3.4: the reset answers the segment
// it refuses), UDP an ICMP port unreachable quoting the datagram.
import { ipv4Src, ipv4Dst, ipv4HeaderLen, ipv4TotalLen, IPPROTO_TCP } from "../wire/ipv4";
import { be16, be32, setBe16, setBe32 } from "../wire/checksum";
import { tcpFillChecksum, TCP_RST, TCP_ACK, TCP_SYN, TCP_FIN } from "../wire/tcp";
import { ICMP_DEST_UNREACH, ICMP_CODE_PORT_UNREACH } from "../wire/icmp";
import { fibLookup, ROUTE_NONE } from "../tables/fib";
import { genIpv4, sendGenerated } from "./generated";
import { icmpError } from "./icmp_error";
import { Ev, countEv } from "../counters";
import { Step, tracing, trace } from "../trace";

/** Refuse the new flow whose first packet is at `frame + l2len` (TCP or UDP, L4 header present). */
export function serviceReject(frame: usize, len: u32, l2len: u32, isTcp: bool): void {
  if (!isTcp) {
    icmpError(frame, len, l2len, ICMP_DEST_UNREACH, ICMP_CODE_PORT_UNREACH, 0);
    countEv(Ev.SERVICE_REJECTS);
    return;
  }
  const ip = frame + l2len;
  const ihl = ipv4HeaderLen(ip);
  const tcp = ip + ihl;
  const flags = <u32>load<u8>(tcp + 13);
  if ((flags & <u32>TCP_RST) != 0) return; // never answer a reset
  const client = ipv4Src(ip);
  const r = fibLookup(client);
  if (r == ROUTE_NONE) return;
  // RFC 793: to a segment with ACK, a reset with seq = its ack; otherwise
  // seq 0 and an ACK of everything the segment occupied (data, SYN, FIN)
  let seq: u32 = 0;
  let ack: u32 = 0;
  let outFlags = <u32>TCP_RST;
  if ((flags & <u32>TCP_ACK) != 0) {
    seq = be32(tcp + 8);
  } else {
    const doff = (<u32>load<u8>(tcp + 12) >> 4) << 2;
    const total = ipv4TotalLen(ip);
    const data = total > ihl + doff ? total - ihl - doff : 0;
    ack = be32(tcp + 4) + data + ((flags & <u32>TCP_SYN) != 0 ? 1 : 0) + ((flags & <u32>TCP_FIN) != 0 ? 1 : 0);
    outFlags |= <u32>TCP_ACK;
  }
  const g = genIpv4(40, IPPROTO_TCP, ipv4Dst(ip), client);
  if (g == 0) return;
  const t = g + 34;
  setBe16(t, be16(tcp + 2));
  setBe16(t + 2, be16(tcp));
  setBe32(t + 4, seq);
  setBe32(t + 8, ack);
  store<u8>(t + 12, 5 << 4);
  store<u8>(t + 13, <u8>outFlags);
  store<u32>(t + 14, 0); // window 0, checksum (filled below)
  store<u16>(t + 18, 0);
  tcpFillChecksum(t, 20, ipv4Dst(ip), client);
  countEv(Ev.SERVICE_REJECTS);
  if (tracing()) trace(Step.GENERATED, 2, 0, 0, client, 0, 0, 0);
  sendGenerated(r, g, 54);
}
