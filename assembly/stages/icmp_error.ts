// ICMP errors the node sends about packets it could not forward (RFC 792,
// RFC 1812 4.3.2): time exceeded, destination unreachable, fragmentation
// needed (RFC 1191, with the next-hop MTU). Built in a generated slot, then
// routed back to the source like any packet the node originates.
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, FRAG_OFFSET_MASK, IPPROTO_ICMP } from "../wire/ipv4";
import { icmpEmitError, icmpFillChecksum, ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY } from "../wire/icmp";
import { gwIp } from "./gateway";
import { fibLookup, ROUTE_NONE } from "../tables/fib";
import { genIpv4, sendGenerated } from "./generated";
import { natIcmpError } from "./service_icmp";
import { Ev, countEv } from "../counters";
import { Step, tracing, trace } from "../trace";

/** RFC 1812: an error message carries as much of the offending packet as fits in 576 bytes. */
const MAX_ERROR_IP_LEN: u32 = 576;

/**
 * Send an ICMP error about the IPv4 packet at `frame + l2len` (`len` bytes of
 * frame available). `rest` is the second header word (next-hop MTU for
 * fragmentation needed). Best effort: suppressed where RFC 1812 says never.
 */
export function icmpError(frame: usize, len: u32, l2len: u32, type: u8, code: u8, rest: u32): void {
  const ip = frame + l2len;
  const avail = len - l2len;
  const src = ipv4Src(ip);
  const ihl = ipv4HeaderLen(ip);
  // never about: a bad source (0, broadcast, multicast), a non-first fragment, an ICMP error
  let suppress = src == 0 || src == 0xffffffff || (src >> 28) == 0xe
    || (ipv4FlagsFrag(ip) & FRAG_OFFSET_MASK) != 0;
  if (!suppress && ipv4Proto(ip) == IPPROTO_ICMP) {
    if (avail < ihl + 1) suppress = true;
    else {
      const t = load<u8>(ip + ihl);
      suppress = t != ICMP_ECHO_REQUEST && t != ICMP_ECHO_REPLY;
    }
  }
  if (suppress || gwIp == 0) { countEv(Ev.ICMP_ERRORS_SUPPRESSED); return; }
  let r = fibLookup(src);
  if (r == ROUTE_NONE) { countEv(Ev.ICMP_ERRORS_SUPPRESSED); return; }
  let quote = ipv4TotalLen(ip);
  if (quote > avail) quote = avail;
  if (quote > MAX_ERROR_IP_LEN - 28) quote = MAX_ERROR_IP_LEN - 28;
  const total = 28 + quote;
  const g = genIpv4(total, IPPROTO_ICMP, gwIp, src);
  if (g == 0) return;
  icmpEmitError(g + 34, type, code, rest);
  memory.copy(g + 42, ip, quote);
  icmpFillChecksum(g + 34, 8 + quote);
  // about a translated flow (the packet was DNATed before it failed): the
  // client must see its own addresses quoted, and a masqueraded flow's
  // error must go to the client, not to the masquerade address
  if (natIcmpError(g, 14 + total, 14) && ipv4Dst(g + 14) != src) {
    r = fibLookup(ipv4Dst(g + 14));
    if (r == ROUTE_NONE) { countEv(Ev.ICMP_ERRORS_SUPPRESSED); return; }
  }
  countEv(Ev.ICMP_ERRORS_SENT);
  if (tracing()) trace(Step.GENERATED, 1, type, code, ipv4Dst(g + 14), rest, 0, 0);
  sendGenerated(r, g, 14 + total);
}
