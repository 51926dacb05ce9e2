// ICMP errors the node sends about packets it could not forward (RFC 792,
// RFC 1812 4.3.2): time exceeded, destination unreachable, fragmentation
// needed (RFC 1191, with the next-hop MTU). Built in a generated slot and
// queued (generated.ts): the dispatcher routes it back to the source like
// any packet the node originates.
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, FRAG_OFFSET_MASK, IPPROTO_ICMP } from "../wire/ipv4";
import { icmpEmitError, icmpFillChecksum, ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED } from "../wire/icmp";
import { ethDst, isGroupMac } from "../wire/ethernet";
import { nowMs } from "../clock";
import { gwIp } from "../node";
import { fibLookup, ROUTE_NONE } from "../tables/fib";
import { genIpv4, sendGenerated } from "./generated";
import { natIcmpError, NAT_TRANSLATED } from "./service_icmp";
import { Ev, countEv } from "../counters";
import { Step, tracing, trace, dryRun } from "../trace";

/** RFC 1812: an error message carries as much of the offending packet as fits in 576 bytes. */
const MAX_ERROR_IP_LEN: u32 = 576;

// Linux's global ICMP rate limit (net/ipv4/icmp.c icmp_global_allow): a token
// bucket refilled at net.ipv4.icmp_msgs_per_sec (1000) up to
// net.ipv4.icmp_msgs_burst (50), for the types in net.ipv4.icmp_ratemask
// (0x1818: dest unreachable, source quench, time exceeded, parameter
// problem) except fragmentation needed (icmpv4_mask_allow: "Don't limit PMTU
// discovery"). On the data plane's clock. Module globals: per node (each
// node is its own instance), two words, no per-node memory needed.
const MSGS_PER_SEC: u32 = 1000;
const MSGS_BURST: u32 = 50;
const RATEMASK: u32 = 0x1818;
let credit: u32 = MSGS_BURST;
let stamp: u32 = 0;
let stamped = false;

/** May an error of `type`/`code` go now? Takes a token (not in a dry-run trace, which leaves no state behind). */
function rateAllow(type: u8, code: u8): bool {
  if (type > 31 || ((1 << type) & RATEMASK) == 0) return true;
  if (type == ICMP_DEST_UNREACH && code == ICMP_CODE_FRAG_NEEDED) return true;
  const now = nowMs;
  if (!stamped) { stamped = true; stamp = now; }
  // u32 ages survive clock wrap; a clock set backwards reads as a long pause (a full bucket)
  const delta = min(now - stamp, 1000);
  const incr = delta * MSGS_PER_SEC / 1000;
  let c = credit;
  if (incr > 0) {
    c = min(MSGS_BURST, c + incr);
    if (!dryRun()) { credit = c; stamp = now; }
  }
  if (c == 0) return false;
  if (!dryRun()) credit = c - 1;
  return true;
}

/**
 * Send an ICMP error about the IPv4 packet at `frame + l2len` (`len` bytes of
 * frame available). `rest` is the second header word (next-hop MTU for
 * fragmentation needed). Best effort: suppressed where RFC 1812 says never.
 */
export function icmpError(frame: usize, len: u32, l2len: u32, type: u8, code: u8, rest: u32): void {
  const ip = frame + l2len;
  const avail = len - l2len;
  const src = ipv4Src(ip);
  const dst = ipv4Dst(ip);
  const ihl = ipv4HeaderLen(ip);
  // never about (RFC 1812 4.3.2.7): a packet whose source is not one host (0/8,
  // loopback, multicast, class E and broadcast), one to an IP broadcast or
  // multicast address or sent as a link-layer broadcast/multicast (Linux
  // __icmp_send: RTCF_BROADCAST|RTCF_MULTICAST, pkt_type != PACKET_HOST), a
  // non-first fragment, an ICMP error
  const s8 = src >> 24;
  let suppress = s8 == 0 || s8 == 127 || (src >> 28) >= 0xe
    || dst == 0xffffffff || (dst >> 28) == 0xe || isGroupMac(ethDst(frame))
    || (ipv4FlagsFrag(ip) & FRAG_OFFSET_MASK) != 0;
  if (!suppress && ipv4Proto(ip) == IPPROTO_ICMP) {
    if (avail < ihl + 1) suppress = true;
    else {
      const t = load<u8>(ip + ihl);
      suppress = t != ICMP_ECHO_REQUEST && t != ICMP_ECHO_REPLY;
    }
  }
  if (suppress || gwIp == 0) { countEv(Ev.ICMP_ERRORS_SUPPRESSED); return; }
  if (!rateAllow(type, code)) { countEv(Ev.ICMP_ERRORS_RATELIMITED); return; }
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
  if (natIcmpError(g, 14 + total, 14) == NAT_TRANSLATED && ipv4Dst(g + 14) != src) {
    r = fibLookup(ipv4Dst(g + 14));
    if (r == ROUTE_NONE) { countEv(Ev.ICMP_ERRORS_SUPPRESSED); return; }
  }
  countEv(Ev.ICMP_ERRORS_SENT);
  if (tracing()) trace(Step.GENERATED, 1, type, code, ipv4Dst(g + 14), rest, 0, 0);
  sendGenerated(r, g, 14 + total);
}
