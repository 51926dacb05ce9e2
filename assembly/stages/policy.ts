// NetworkPolicy, enforced once per connection, after Service NAT (so a
// Service's traffic is judged on the backend it was sent to):
//  - egress where the source pod is (its address is a pod of this node
//    isolated for egress), ingress where the destination pod is;
//  - a packet of a flow conntrack already holds (serviceNat found it: an
//    established flow or its replies) passes without a lookup; so do ICMP
//    errors (the related traffic of a flow). ICMP echo (by its identifier)
//    and SCTP, which serviceNat does not look up, are looked up here, only
//    when an isolated pod of this node is involved;
//  - traffic from the node itself (its gateway address) to its pods is
//    always allowed, as the Kubernetes documentation requires;
//  - a new Service flow serviceNat masqueraded (its source is now the
//    gateway address) is judged on the client's own address, read back from
//    the entry just made: kube-proxy's SNAT must not open a hole, neither in
//    the client's egress nor in a same-node backend's ingress. A pod reaching
//    itself through its own Service is loopback, always allowed (as the
//    upstream netpol suite's AllowLoopback);
//  - a new flow touching an isolated pod of this node is decided by the
//    compiled tables (tables/policy.ts); allowed, it is tracked (a plain
//    entry, no translation) so its replies pass here and its TCP state is
//    kept by conntrack; denied, it is dropped (policy_denied_ingress /
//    _egress), and a Service entry just made for it is removed.
// Other protocols (and ICMP, which has no ports) are judged with port 0:
// only a rule without ports admits them; protocols other than TCP, UDP,
// SCTP and ICMP echo are judged per packet (not tracked).
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, FRAG_OFFSET_MASK,
  IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP } from "../wire/ipv4";
import { be16 } from "../wire/checksum";
import { tcpHeaderLen, tcpSeq, tcpAck, tcpWindow } from "../wire/tcp";
import { ctCreate, ctDelete, ctLookup, ctRefEntry, ctRefIsReply, ctUpdate, ctState, ctTcpFirst, ctTcpMayCreate, ctBase, ENTRY, O_ORIG, T_SRC, TCP_SYN, TCP_FIN } from "../tables/conntrack";
import { polActive, polLocalFlags, polDecide, polLastRule, polLastPeer, POL_LOCAL_INGRESS, POL_LOCAL_EGRESS, DIR_INGRESS, DIR_EGRESS } from "../tables/policy";
import { synWscale, NAT_CT_HIT, NAT_CREATED } from "./service_nat";
import { nowMs } from "../clock";
import { gwIp } from "../node";
import { Drop } from "../counters";
import { Step, tracing, trace, dryRun } from "../trace";

const IPPROTO_SCTP: u32 = 132;
const ICMP_ECHO_REPLY: u32 = 0;
const ICMP_ECHO_REQUEST: u32 = 8;
const ICMP_DEST_UNREACH: u32 = 3;
const ICMP_TIME_EXCEEDED: u32 = 11;
const ICMP_PARAM_PROBLEM: u32 = 12;

/**
 * Judge the IPv4 packet at `frame + l2len` (header validated), after
 * serviceNat passed it with flags `nat` (NAT_CT_HIT, NAT_CREATED).
 */
@inline export function policyCheck(frame: usize, len: u32, l2len: u32, nat: i32): Drop {
  // inlined at each call site so a node without isolated pods, or a flow
  // conntrack holds (judged when it began), pays a test, not a call
  if (!polActive() || (nat & NAT_CT_HIT) != 0) return Drop.NONE;
  return policyJudge(frame, len, l2len, nat);
}

function policyJudge(frame: usize, len: u32, l2len: u32, nat: i32): Drop {
  const ip = frame + l2len;
  const pktSrc = ipv4Src(ip);
  const dip = ipv4Dst(ip);
  const proto = <u32>ipv4Proto(ip);
  // the address judged as the source: the client's own for a flow just masqueraded
  let sip = pktSrc;
  if ((nat & NAT_CREATED) != 0 && pktSrc == gwIp && gwIp != 0) {
    sip = masqueradedClient(proto, ip + ipv4HeaderLen(ip), pktSrc, dip);
    if (sip == dip) return Drop.NONE; // hairpin: the pod reaching itself
  }
  const sFlags = polLocalFlags(sip) & POL_LOCAL_EGRESS;
  const dFlags = polLocalFlags(dip) & POL_LOCAL_INGRESS;
  // neither end is a pod of this node isolated for this packet's direction;
  // a reply to a pod isolated the other way finds its flow tracked below or passes
  if (sFlags == 0 && dFlags == 0 && !touchesIsolated(sip, dip)) return Drop.NONE;
  const ihl = ipv4HeaderLen(ip);
  const total = ipv4TotalLen(ip);
  const l4 = ip + ihl;
  const l4len = total > ihl ? total - ihl : 0;
  const firstFrag = (ipv4FlagsFrag(ip) & FRAG_OFFSET_MASK) == 0;
  // ICMP echo and SCTP: Service NAT never looks them up, so their flows are found here
  let echoRequest = false;
  if (proto == <u32>IPPROTO_ICMP) {
    if (l4len < 1) return Drop.NONE; // too short to judge: the ICMP stages drop it
    const t = <u32>load<u8>(l4);
    if (t == ICMP_DEST_UNREACH || t == ICMP_TIME_EXCEEDED || t == ICMP_PARAM_PROBLEM) return Drop.NONE;
    if ((t == ICMP_ECHO_REQUEST || t == ICMP_ECHO_REPLY) && l4len >= 8 && firstFrag) {
      // an echo's tuple is its identifier, both ways (nf_conntrack_proto_icmp)
      const id = <u32>be16(l4 + 4);
      if (knownFlow(proto, pktSrc, dip, id, id)) return Drop.NONE;
      // a reply no tracked request asked for is judged like a new packet, and not tracked
      echoRequest = t == ICMP_ECHO_REQUEST;
    }
  }
  const ported = firstFrag && (proto == <u32>IPPROTO_TCP || proto == <u32>IPPROTO_UDP || proto == IPPROTO_SCTP) && l4len >= 4;
  const sport: u32 = ported ? <u32>be16(l4) : 0;
  const dport: u32 = ported ? <u32>be16(l4 + 2) : 0;
  if (proto == IPPROTO_SCTP && ported && knownFlow(proto, pktSrc, dip, sport, dport)) return Drop.NONE;

  if (sFlags != 0) {
    const ok = polDecide(sip, dip, DIR_EGRESS, proto, dport);
    if (tracing()) trace(Step.POLICY, DIR_EGRESS, sip, dip, ok ? 1 : 0, ok ? polLastRule : polLastPeer, 0, 0);
    if (!ok) return deny(Drop.POLICY_DENIED_EGRESS, nat, proto, pktSrc, dip, sport, dport);
  }
  // the node itself (its gateway address: kubelet probes, its own connections) always reaches its pods, as Kubernetes requires;
  // a masqueraded flow got here with its client as `sip`
  if (dFlags != 0 && sip != gwIp) {
    const ok = polDecide(dip, sip, DIR_INGRESS, proto, dport);
    if (tracing()) trace(Step.POLICY, DIR_INGRESS, dip, sip, ok ? 1 : 0, ok ? polLastRule : polLastPeer, 0, 0);
    if (!ok) return deny(Drop.POLICY_DENIED_INGRESS, nat, proto, pktSrc, dip, sport, dport);
  }
  // allowed: track it (serviceNat already did for a new Service flow), so replies and later packets pass
  if ((nat & NAT_CREATED) == 0 && ported) track(proto, sip, dip, sport, dport, l4, l4len);
  else if (echoRequest) {
    const id = <u32>be16(l4 + 4);
    ctCreate(proto, sip, dip, id, id, dip, sip, id, id, nowMs);
  }
  return Drop.NONE;
}

/** A packet of a flow conntrack holds (either direction): refreshed, and it passes. */
function knownFlow(proto: u32, sip: u32, dip: u32, sport: u32, dport: u32): bool {
  const ref = ctLookup(proto, sip, dip, sport, dport, nowMs);
  if (ref < 0) return false;
  const e = ctRefEntry(ref);
  if (tracing()) trace(Step.CT_HIT, 0, e, ctRefIsReply(ref) ? 1 : 0, ctState(e), 0, 0, 0);
  // a dry run leaves the flow's state and age alone
  if (!tracing() || !dryRun()) ctUpdate(e, ctRefIsReply(ref), 0, nowMs);
  return true;
}

/**
 * The client of the masqueraded Service flow whose first packet (TCP or UDP,
 * header at `l4`, ports there: serviceNat made its entry) now travels as
 * `gw` -> `dip`: the entry's original source. The packet's tuple reversed is
 * the entry's reply tuple. Only a new masqueraded flow pays this lookup.
 */
function masqueradedClient(proto: u32, l4: usize, gw: u32, dip: u32): u32 {
  const ref = ctLookup(proto, dip, gw, <u32>be16(l4 + 2), <u32>be16(l4), nowMs);
  if (ref < 0) return gw; // not found (cannot happen): judged as the node's own traffic, as before
  return load<u32>(ctBase() + <usize>ctRefEntry(ref) * ENTRY + O_ORIG + T_SRC);
}

/** Either end a pod of this node isolated in any direction: its flows are tracked, so replies to it pass. */
@inline function touchesIsolated(sip: u32, dip: u32): bool {
  return polLocalFlags(sip) != 0 || polLocalFlags(dip) != 0;
}

/**
 * Drop a denied packet; a Service entry serviceNat just made for it goes too.
 * The entry is found again (denial is the rare path): the translated packet
 * travels as the entry's reply tuple reversed, so its reversed tuple is that
 * reply tuple, which no other entry holds.
 */
function deny(d: Drop, nat: i32, proto: u32, sip: u32, dip: u32, sport: u32, dport: u32): Drop {
  if ((nat & NAT_CREATED) != 0) {
    const ref = ctLookup(proto, dip, sip, dport, sport, nowMs);
    if (ref >= 0) ctDelete(ctRefEntry(ref));
  }
  return d;
}

function track(proto: u32, sip: u32, dip: u32, sport: u32, dport: u32, l4: usize, l4len: u32): void {
  if (proto == <u32>IPPROTO_TCP) {
    const hlen = tcpHeaderLen(l4, l4len);
    if (hlen == 0) return;
    const f = <u32>load<u8>(l4 + 13);
    // only a SYN or an ACK may begin a tracked flow (conntrack's tcp_new); the rest passes, judged again next time
    if (!ctTcpMayCreate(f)) return;
    const e = ctCreate(proto, sip, dip, sport, dport, dip, sip, dport, sport, nowMs);
    if (e < 0) return; // full, or a clash: judged again next packet
    const seq = tcpSeq(l4);
    const end = seq + (l4len - hlen) + ((f & TCP_SYN) != 0 ? 1 : 0) + ((f & TCP_FIN) != 0 ? 1 : 0);
    ctTcpFirst(<u32>e, f, seq, tcpAck(l4), <u32>tcpWindow(l4), end, (f & TCP_SYN) != 0 ? synWscale(l4, hlen) : -1, nowMs);
  } else {
    // UDP, SCTP (its associations kept as a generic flow, by ports)
    ctCreate(proto, sip, dip, sport, dport, dip, sip, dport, sport, nowMs);
  }
}
