// UDP-tunnel GSO on the underlay TAP (the bridge underlay toward kernel nodes
// and external hosts). When the kernel takes TUN_F_UDP_TUNNEL_GSO, that TAP's
// virtio-net header is the 24-byte struct virtio_net_hdr_v1_hash_tunnel
// (wire/virtio.ts), and a VXLAN super-frame crosses it whole in both
// directions: the kernel segments what podwire writes (fixing the inner TCP
// and the outer IPv4 checksums of every segment: skb_udp_tunnel_segment), and
// hands podwire what a kernel node's VXLAN device sent without segmenting it.
//
// Inside the data plane every frame keeps the usual 10-byte header just
// before it (frame.ts); the tunnel header is translated at the edges:
//   - rx: the TAP read lands 14 bytes earlier (engine-io-loop), so the 24-byte
//     header ends where the frame begins; tunnelHdrIn copies its first 10
//     bytes over the last 10. The tunnel bit stays in gso_type until
//     decapsulation (decap.ts) clears it; nothing else may send such a frame.
//   - tx: tunnelHdrOut writes the 24-byte header in the 24 bytes before the
//     10-byte one (headroom: frame.ts HEADROOM leaves room for it behind the
//     VXLAN headers), and the TAP write gathers that header and the frame, so
//     the 10-byte header other tx entries of the same frame read is untouched.
import { VNET_HLEN, VNET_TNL_HLEN, TNL_OUTER_TH, TNL_INNER_NH, VNET_GSO_TCPV4, VNET_GSO_ECN, VNET_GSO_UDP_TUNNEL_IPV4, VNET_GSO_UDP_TUNNEL_IPV6,
  VNET_F_NEEDS_CSUM, VNET_F_DATA_VALID, VNET_F_UDP_TUNNEL_CSUM, vnetGsoType, vnetFlags, vnetCsumOffset, GSO_TYPE, FLAGS } from "../wire/virtio";
import { ETH_HLEN } from "../wire/ethernet";
import { ipv4HeaderLen } from "../wire/ipv4";
import { UDP_HLEN } from "../wire/udp";
import { VXLAN_HLEN, VXLAN_OVERHEAD } from "../wire/vxlan";

/** Bytes the tunnel header has beyond the usual one: a TAP read starts this much before the 10-byte header. */
export const TNL_EXTRA: u32 = VNET_TNL_HLEN - VNET_HLEN;
const TUNNEL_BITS: u8 = VNET_GSO_UDP_TUNNEL_IPV4 | VNET_GSO_UDP_TUNNEL_IPV6;
// offsetof(struct tcphdr, check): the only checksum a TCPv4 GSO header may name (__virtio_net_hdr_to_skb)
const TCP_CSUM_OFFSET: u16 = 16;

/** The 24-byte header read in front of `vnet` (vnet - TNL_EXTRA): its common part, moved where every stage reads it. */
export function tunnelHdrIn(vnet: usize): void {
  const h = vnet - TNL_EXTRA;
  // read both parts before writing: [h, h + 10) and [vnet, vnet + 10) do not overlap, but be plain about it
  const a = load<u64>(h);
  const b = load<u16>(h, 8);
  store<u64>(vnet, a);
  store<u16>(vnet, b, 8);
}

/**
 * Whether the TCPv4 super-frame at `frame` (`len` bytes with its inner
 * Ethernet header, 10-byte vnet header before it) can go to the underlay
 * whole once VXLAN-wrapped: a TCPv4 GSO header with its partial checksum
 * (virtio_net_hdr_tnl_to_skb requires NEEDS_CSUM), and an outer IPv4 packet
 * whose length field can say its size (ip_rcv would trim a saturated one).
 */
export function tunnelGsoFits(frame: usize, len: u32): bool {
  const vnet = frame - VNET_HLEN;
  if ((vnetGsoType(vnet) & ~VNET_GSO_ECN) != VNET_GSO_TCPV4) return false;
  if ((vnetFlags(vnet) & VNET_F_NEEDS_CSUM) == 0 || vnetCsumOffset(vnet) != TCP_CSUM_OFFSET) return false;
  return len + VXLAN_OVERHEAD - ETH_HLEN <= 0xffff;
}

/** Mark the super-frame at `frame` as one the kernel segments under its VXLAN header (before encapVxlan moves the header). */
export function tunnelGsoMark(frame: usize): void {
  const vnet = frame - VNET_HLEN;
  store<u8>(vnet + GSO_TYPE, vnetGsoType(vnet) | VNET_GSO_UDP_TUNNEL_IPV4);
}

/**
 * A frame received with the tunnel bits, now decapsulated: a plain TCPv4
 * super-frame, no outer checksum left to finish. Without NEEDS_CSUM it was
 * GRO'd by the kernel from segments it verified (CHECKSUM_UNNECESSARY, which
 * virtio_net_hdr_tnl_from_skb cannot say: it passes has_data_valid false):
 * DATA_VALID says so to the pod's TAP, whose TCP would otherwise check the
 * merged segment against the first segment's checksum.
 */
export function tunnelGsoStrip(vnet: usize): bool {
  const t = vnetGsoType(vnet);
  if ((t & TUNNEL_BITS) == 0) return false;
  store<u8>(vnet + GSO_TYPE, t & ~TUNNEL_BITS);
  let f = vnetFlags(vnet) & ~VNET_F_UDP_TUNNEL_CSUM;
  if ((f & VNET_F_NEEDS_CSUM) == 0) f |= VNET_F_DATA_VALID;
  store<u8>(vnet + FLAGS, f);
  return true;
}

/** Whether the frame's header names a UDP tunnel (only the underlay TAP can carry that). */
@inline export function isTunnelGso(vnet: usize): bool {
  return (vnetGsoType(vnet) & TUNNEL_BITS) != 0;
}

/**
 * Write the 24-byte header for the frame at `frame` (10-byte header at
 * vnet = frame - VNET_HLEN) into [vnet - VNET_TNL_HLEN, vnet). For a
 * tunnel super-frame (an Ethernet + IPv4 + UDP + VXLAN + inner Ethernet
 * frame, as encapVxlan built it) the offsets say where the outer UDP and the
 * inner IPv4 headers start; zero for any other frame (ignored by the kernel).
 */
export function tunnelHdrOut(frame: usize): void {
  const vnet = frame - VNET_HLEN;
  const h = vnet - VNET_TNL_HLEN;
  store<u64>(h, load<u64>(vnet));
  store<u16>(h, load<u16>(vnet, 8), 8);
  // num_buffers and the hash report: zero
  store<u64>(h + VNET_HLEN, 0);
  store<u16>(h + VNET_HLEN + 8, 0);
  let outer: u32 = 0, inner: u32 = 0;
  if (isTunnelGso(vnet)) {
    outer = ETH_HLEN + ipv4HeaderLen(frame + ETH_HLEN);
    inner = outer + UDP_HLEN + VXLAN_HLEN + ETH_HLEN;
  }
  store<u16>(h + TNL_OUTER_TH, <u16>outer);
  store<u16>(h + TNL_INNER_NH, <u16>inner);
}

/**
 * A frame this node's output gave the tunnel header (at vnet - VNET_TNL_HLEN),
 * handed in memory to another node's underlay port instead of written (a
 * trace following a frame across the bridge): move that header to where a
 * TAP read puts it (ending at the frame), so the receiver's tunnelHdrIn reads
 * what a TAP would have given it. memory.copy handles the overlap.
 */
export function tunnelHdrRelay(vnet: usize): void {
  memory.copy(vnet - TNL_EXTRA, vnet - VNET_TNL_HLEN, VNET_TNL_HLEN);
}

/**
 * A frame put in a read slot by hand with the usual 10-byte header at `vnet`
 * (a trace injected at a tunnel-GSO underlay port): lay out the 24-byte
 * header a TAP read would have put there, ending at the frame, so the rx
 * path's tunnelHdrIn reads this header and not what an earlier read left.
 */
export function tunnelHdrPlace(vnet: usize): void {
  const a = load<u64>(vnet);
  const b = load<u16>(vnet, 8);
  const h = vnet - TNL_EXTRA;
  store<u64>(h, a);
  store<u16>(h, b, 8);
  memory.fill(h + VNET_HLEN, 0, VNET_TNL_HLEN - VNET_HLEN);
}
