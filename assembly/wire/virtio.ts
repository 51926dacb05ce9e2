// struct virtio_net_hdr (virtio spec 5.1.6), as a TAP with IFF_VNET_HDR
// prepends it to every frame. Little-endian on this platform (no TUNSETVNETBE).
import { checksum } from "./checksum";

export const VNET_HLEN: u32 = 10;

export const VNET_F_NEEDS_CSUM: u8 = 1;
export const VNET_F_DATA_VALID: u8 = 2;

export const VNET_GSO_NONE: u8 = 0;
export const VNET_GSO_TCPV4: u8 = 1;
export const VNET_GSO_UDP: u8 = 3;
export const VNET_GSO_TCPV6: u8 = 4;
export const VNET_GSO_UDP_L4: u8 = 5;
export const VNET_GSO_ECN: u8 = 0x80;
// the outer packet of a GSO frame is a UDP tunnel (VXLAN) over IPv4 / IPv6: the
// low bits then name the inner GSO kind (linux/virtio_net.h, 6.18)
export const VNET_GSO_UDP_TUNNEL_IPV4: u8 = 0x20;
export const VNET_GSO_UDP_TUNNEL_IPV6: u8 = 0x40;
/** flags: the tunnel's outer UDP checksum is left to the device too */
export const VNET_F_UDP_TUNNEL_CSUM: u8 = 8;

// struct virtio_net_hdr_v1_hash_tunnel: what a TAP reads and writes once
// TUNSETVNETHDRSZ made its header 24 bytes (only the underlay TAP, when the
// kernel takes TUN_F_UDP_TUNNEL_GSO): the 10 bytes above, num_buffers, the
// hash report (unused: zero), then where the outer UDP header and the inner
// IPv4 header start, counted from the frame's first byte.
export const VNET_TNL_HLEN: u32 = 24;
export const TNL_OUTER_TH: u32 = 20;
export const TNL_INNER_NH: u32 = 22;

// field offsets
export const FLAGS: u32 = 0;
export const GSO_TYPE: u32 = 1;
export const HDR_LEN: u32 = 2;
export const GSO_SIZE: u32 = 4;
export const CSUM_START: u32 = 6;
export const CSUM_OFFSET: u32 = 8;

@inline export function vnetFlags(h: usize): u8 { return load<u8>(h + FLAGS); }
@inline export function vnetGsoType(h: usize): u8 { return load<u8>(h + GSO_TYPE); }
@inline export function vnetHdrLen(h: usize): u16 { return load<u16>(h + HDR_LEN); }
@inline export function vnetGsoSize(h: usize): u16 { return load<u16>(h + GSO_SIZE); }
@inline export function vnetCsumStart(h: usize): u16 { return load<u16>(h + CSUM_START); }
@inline export function vnetCsumOffset(h: usize): u16 { return load<u16>(h + CSUM_OFFSET); }

/** Zero the header: a complete frame, no offload requested. */
@inline export function vnetClear(h: usize): void {
  store<u64>(h, 0);
  store<u16>(h + 8, 0);
}

export function vnetEmit(h: usize, flags: u8, gsoType: u8, hdrLen: u16, gsoSize: u16, csumStart: u16, csumOffset: u16): void {
  store<u8>(h + FLAGS, flags);
  store<u8>(h + GSO_TYPE, gsoType);
  store<u16>(h + HDR_LEN, hdrLen);
  store<u16>(h + GSO_SIZE, gsoSize);
  store<u16>(h + CSUM_START, csumStart);
  store<u16>(h + CSUM_OFFSET, csumOffset);
}

/**
 * True when the header describes something a frame of `frameLen` bytes can
 * carry: a known GSO type, and a checksum position inside the frame.
 */
export function vnetCheck(h: usize, frameLen: u32, tunnelOk: bool = false): bool {
  // as virtio_net_hdr_to_skb: any type but NONE must name a GSO kind once the
  // ECN bit is masked off (so 0x80, "ECN" alone, is refused, not taken for GSO)
  const raw = vnetGsoType(h);
  if (raw != VNET_GSO_NONE) {
    let gso = raw & ~VNET_GSO_ECN;
    // a UDP tunnel over IPv4 around TCPv4 (virtio_net_hdr_tnl_to_skb takes no UFO
    // inside, and podwire's underlay is IPv4): only where a 24-byte header can say it
    if ((gso & (VNET_GSO_UDP_TUNNEL_IPV4 | VNET_GSO_UDP_TUNNEL_IPV6)) != 0) {
      if (!tunnelOk || gso != (VNET_GSO_UDP_TUNNEL_IPV4 | VNET_GSO_TCPV4)) return false;
      gso = VNET_GSO_TCPV4;
    }
    if (gso != VNET_GSO_TCPV4 && gso != VNET_GSO_UDP
        && gso != VNET_GSO_TCPV6 && gso != VNET_GSO_UDP_L4) return false;
    if (vnetGsoSize(h) == 0) return false;
  }
  if ((vnetFlags(h) & VNET_F_NEEDS_CSUM) != 0) {
    const start = <u32>vnetCsumStart(h);
    if (start + <u32>vnetCsumOffset(h) + 2 > frameLen) return false;
  }
  return true;
}

/**
 * Complete a partial checksum (NEEDS_CSUM) in software, as the kernel's
 * skb_checksum_help does: the field already holds the folded pseudo-header
 * sum, so summing from csum_start to the end and complementing finishes it.
 */
export function vnetFinishChecksum(h: usize, frame: usize, frameLen: u32): void {
  if ((vnetFlags(h) & VNET_F_NEEDS_CSUM) == 0) return;
  const start = <u32>vnetCsumStart(h);
  const field = frame + start + <u32>vnetCsumOffset(h);
  // a sum that folds to 0 is written as 0xffff (skb_checksum_help: CSUM_MANGLED_0):
  // for UDP 0 would mean "no checksum" (RFC 768); for TCP and ICMP both verify
  let c = checksum(frame + start, frameLen - start);
  if (c == 0) c = 0xffff;
  store<u16>(field, bswap<u16>(c));
  store<u8>(h + FLAGS, vnetFlags(h) & ~VNET_F_NEEDS_CSUM);
}

