// Counters: one list of drop reasons (enum Drop: their names, which the
// control plane reads through dropReasonName, are its members in lower case,
// generated into drop_names.ts at build by scripts/drop-names.mjs), node
// events, and per-port rx/tx counters. All u64, bumped in place, read by the
// control plane.
import { DROP_NAMES } from "./drop_names";

export const enum Drop {
  NONE = 0,
  ETH_TRUNCATED,        // shorter than an Ethernet header (runt)
  VLAN_TRUNCATED,       // tagged, but too short for the tag
  BAD_VNET_HDR,         // virtio-net header: unknown GSO type or checksum offset outside the frame
  INVALID_SRC_MAC,      // multicast/broadcast or all-zero source MAC (kernel bridge drops these too)
  IPV4_TRUNCATED,       // fewer bytes than the IPv4 header or its total length say
  IPV4_BAD_VERSION,
  IPV4_BAD_IHL,         // header length field < 5 words
  IPV4_BAD_TOTAL_LEN,   // total length < header length
  IPV4_BAD_CHECKSUM,
  ARP_MALFORMED,        // too short, or not Ethernet/IPv4 ARP
  OVERSIZE,             // larger than the egress port MTU and not a GSO super-frame
  SAME_PORT,            // the destination MAC lives on the port it came from
  NO_DESTINATION,       // flood with no other port to send to
  UNKNOWN_ETHERTYPE,    // addressed to the gateway with an ethertype it does not handle
  NO_ROUTE,             // addressed to the gateway for a destination with no route
  ICMP_MALFORMED,       // ICMP to the gateway: truncated or bad checksum
  GATEWAY_UNHANDLED,    // IPv4 to the gateway address that is not an echo request
  BAD_PORT,             // frame tagged with a port that is not attached (control-plane bug guard)
  TTL_EXCEEDED,         // routed with TTL <= 1 (ICMP time exceeded sent)
  NO_NEIGHBOR,          // routed to an address with no known MAC (ICMP host unreachable sent for a local pod address)
  FRAG_NEEDED,          // DF set and larger than the route's MTU (ICMP fragmentation needed sent)
  NOT_FOR_US,           // on the underlay, addressed to another node's MAC or IP
  UNDERLAY_UNHANDLED,   // to this node's underlay address, but not a tunnel or echo it serves
  VXLAN_MALFORMED,      // UDP to the VXLAN port without a valid VXLAN header (I flag) or inner frame
  VXLAN_BAD_VNI,        // VXLAN with a VNI this node does not serve
  VXLAN_NOT_FOR_VTEP,   // inner frame not addressed to this node's VTEP MAC
  GEN_POOL_EMPTY,       // no room to build a generated frame (ICMP error, fragment) this batch
  TX_FULL,              // the tx list is full (floods of many hand-overs in one round; the engine clears lists it can)
  GSO_UNSUPPORTED,      // a super-frame for an underlay that takes none (setUnderlayNoGso), of a GSO type podwire cannot segment (UDP/UFO, TCPv6, UDP_L4); or a VXLAN super-frame read whole from the underlay TAP that is not decapsulated
  GSO_MALFORMED,        // a TCPv4 super-frame to segment that is not one: not TCP, an IP fragment, or a TCP header past the packet's end
  GSO_SEGMENT_OVERSIZE, // a super-frame to segment whose segments (headers + gso_size) would not fit a generated slot
  SERVICE_NO_ENDPOINTS, // a new flow to a Service frontend with no backends: rejected, as kube-proxy does (TCP RST / ICMP port unreachable sent)
  SERVICE_NAT_FAILED,   // a new Service flow that could not be tracked: conntrack full, no free masquerade port, or no gateway address to masquerade to
  SERVICE_NO_LOCAL_ENDPOINTS, // a new flow to a Local-traffic-policy frontend with no endpoint on this node (kube-proxy drops these)
  CT_INVALID,           // TCP conntrack INVALID (kube-proxy's `ct state invalid drop`): bad flags or header, FIN/RST/SYN+ACK with no entry, out of window, an RST before the receiver's ack
  ICMP_ERROR_INVALID,   // an ICMP error with a bad checksum or a quote conntrack cannot read (ct state INVALID, which kube-proxy drops)
  VXLAN_BAD_CHECKSUM,   // VXLAN whose outer UDP checksum is not 0 and wrong (the kernel's UDP layer checks it before the tunnel)
  TUNNEL_ECN_NOT_ECT,   // decapsulated (VXLAN, IP-in-IP): outer ECN CE over a Not-ECT inner packet (RFC 6040 4.2, INET_ECN_decapsulate)
  VLAN_NO_DEVICE,       // 802.1Q/802.1ad-tagged (VID != 0) for the node itself (gateway, underlay, VTEP): no VLAN device there (PACKET_OTHERHOST)
  FRAG_OVERLAP,         // an IP fragment overlapping one already queued: it and its whole queue discarded (RFC 5722 style, as Linux since 4.19)
  FRAG_TOO_BIG,         // an IP fragment reaching past 65535 bytes, or a reassembled datagram that would
  FRAG_NO_BUFFER,       // a fragment of a new datagram while every reassembly buffer holds an unexpired one
  FRAG_INCONSISTENT,    // a fragment its queue contradicts: empty, past the last fragment's end, a second different end (Linux drops the fragment, keeps the queue)
  POLICY_DENIED_INGRESS, // a new connection to a pod of this node that its NetworkPolicies isolate for ingress, and no rule admits
  POLICY_DENIED_EGRESS, // a new connection from a pod of this node that its NetworkPolicies isolate for egress, and no rule admits
  COUNT,
  // not a drop and never counted as one: the frame was taken into a reassembly
  // queue (Ev.FRAGS_QUEUED); it leaves with the datagram it completes, or not at all
  HELD,
}


export const enum Ev {
  FDB_LEARNED = 0,      // new MAC learned
  FDB_MOVED,            // known MAC seen on another port
  FDB_FULL,             // could not learn: table full (the frame still floods)
  FDB_EXPIRED,          // entries removed by aging
  FLOODED,              // frames flooded (broadcast, multicast or unknown unicast)
  UNKNOWN_UNICAST,      // of those, unicast with no (fresh) table entry
  ARP_REPLIES,          // gateway ARP answers
  ICMP_ECHO_REPLIES,    // gateway echo answers
  GSO_FRAMES,           // super-frames received from pods (forwarded whole, unless segmented for the underlay)
  ROUTED,               // IPv4 packets forwarded by the routing stage
  VXLAN_ENCAP,
  VXLAN_DECAP,
  IPIP_ENCAP,
  IPIP_DECAP,
  HOST_GW_OUT,          // routed onto the underlay without encapsulation
  FRAGMENTS_SENT,       // fragments made from oversize non-DF packets
  ICMP_ERRORS_SENT,
  ICMP_ERRORS_SUPPRESSED, // not sent: about an ICMP error, a non-first fragment, a source that is not one host, a broadcast/multicast destination (RFC 1812)
  GSO_SEGMENTED,        // TCP segments made from super-frames for an underlay that takes none (software GSO)
  CT_CREATED,           // conntrack entries created
  CT_EXPIRED,           // conntrack entries removed because they timed out (lookup or GC)
  CT_DELETED,           // conntrack entries removed by ctDelete
  CT_FULL,              // conntrack entry not created: table full (existing entries unaffected)
  CT_HIT,               // routed TCP/UDP packets the Service NAT stage found a conntrack entry for
  CT_MISS,              // ... and found none for (looked up only once a Service or an entry exists)
  SERVICE_DNAT,         // destinations rewritten to a Service backend (new flows and later packets)
  SERVICE_UNDNAT,       // replies whose source was rewritten back to the Service VIP:port
  SERVICE_SNAT,         // sources masqueraded to the node's gateway address (externalTrafficPolicy: Cluster, hairpin)
  SERVICE_UNSNAT,       // replies whose destination was rewritten back to the masqueraded client
  SERVICE_REJECTS,      // TCP resets / ICMP port unreachables sent for a Service with no endpoints
  SERVICE_ICMP_RELATED, // ICMP errors about a translated flow whose quoted packet (and addresses) were translated back
  AFFINITY_HITS,        // new flows sent to the backend a ClientIP affinity remembered
  AFFINITY_EVICTED,     // affinity entries evicted by a full bucket before their timeout
  ICMP_ERRORS_RATELIMITED, // ICMP errors not sent: over the node's limit (1000/s, burst 50, as net.ipv4.icmp_msgs_per_sec/_burst)
  GENERATED_UNSENT,     // ICMP errors / resets the node made but could not send (no neighbour, no generated slot, tx list full): not a drop, the frame they answer has its own verdict
  FRAGS_QUEUED,         // IP fragments held in a reassembly queue (the frame's outcome: neither sent nor dropped yet)
  FRAGS_REASSEMBLED,    // datagrams completed from their fragments (the completing fragment's outcome is the datagram's)
  FRAG_TIMEOUTS,        // reassembly queues discarded unfinished after 30 s (ipfrag_time); their fragments were counted held
  FRAG_QUEUES_DISCARDED, // reassembly queues discarded for an overlap or a size past 65535
  TUNNEL_GSO_SENT,      // VXLAN super-frames written whole to the underlay TAP (UDP-tunnel GSO: the kernel segments them)
  TUNNEL_GSO_RECEIVED,  // VXLAN super-frames read whole from the underlay TAP (UDP-tunnel GSO) and decapsulated whole
  COUNT,
}

const EV_NAMES: StaticArray<string> = [
  "fdb_learned",
  "fdb_moved",
  "fdb_full",
  "fdb_expired",
  "flooded",
  "unknown_unicast",
  "arp_replies",
  "icmp_echo_replies",
  "gso_frames",
  "routed",
  "vxlan_encap",
  "vxlan_decap",
  "ipip_encap",
  "ipip_decap",
  "host_gw_out",
  "fragments_sent",
  "icmp_errors_sent",
  "icmp_errors_suppressed",
  "gso_segmented",
  "conntrack_created",
  "conntrack_expired",
  "conntrack_deleted",
  "conntrack_full",
  "conntrack_hit",
  "conntrack_miss",
  "service_dnat",
  "service_undnat",
  "service_snat",
  "service_unsnat",
  "service_rejects",
  "service_icmp_related",
  "affinity_hits",
  "affinity_evicted",
  "icmp_errors_ratelimited",
  "generated_unsent",
  "frags_queued",
  "frags_reassembled",
  "frag_timeouts",
  "frag_queues_discarded",
  "tunnel_gso_sent",
  "tunnel_gso_received",
];

export const enum PortCtr {
  RX_PACKETS = 0,
  RX_BYTES,
  TX_PACKETS,
  TX_BYTES,
  RX_DROPS,   // frames from this port that were dropped (any reason)
  TX_DROPS,   // frames for this port that were dropped (oversize)
  COUNT,
}

const PORT_NAMES: StaticArray<string> = [
  "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_drops", "tx_drops",
];

export let dropBase: usize = 0;
export let evBase: usize = 0;
export let portCtrBase: usize = 0;

@inline export function countDrop(r: Drop): void {
  const a = dropBase + (<usize>r << 3);
  store<u64>(a, load<u64>(a) + 1);
}
@inline export function countEv(e: Ev, n: u64 = 1): void {
  const a = evBase + (<usize>e << 3);
  store<u64>(a, load<u64>(a) + n);
}
@inline export function countPort(port: u32, c: PortCtr, n: u64): void {
  const a = portCtrBase + ((<usize>port * <usize>PortCtr.COUNT + <usize>c) << 3);
  store<u64>(a, load<u64>(a) + n);
}

export function dropName(i: i32): string { return DROP_NAMES[i]; }
export function evName(i: i32): string { return EV_NAMES[i]; }
export function portCtrName(i: i32): string { return PORT_NAMES[i]; }
