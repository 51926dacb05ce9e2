// VXLAN header (RFC 7348): 8 bytes after the outer UDP header.
import { be32, setBe32 } from "./checksum";

export const VXLAN_HLEN: u32 = 8;
/** The I flag: the VNI field is valid. Every other flag bit is reserved (sent 0, ignored on receipt). */
export const VXLAN_FLAG_I: u8 = 0x08;
export const VXLAN_PORT_IANA: u16 = 4789;
export const VXLAN_PORT_FLANNEL: u16 = 8472;
/** Outer Ethernet + IPv4 + UDP + VXLAN: what VXLAN adds to an inner Ethernet frame. */
export const VXLAN_OVERHEAD: u32 = 14 + 20 + 8 + 8;

// field offsets
export const FLAGS: u32 = 0;
export const VNI: u32 = 4; // 24 bits, then a reserved byte

/** True when `len` bytes hold a VXLAN header with the I flag set. */
export function vxlanCheck(p: usize, len: u32): bool {
  return len >= VXLAN_HLEN && (load<u8>(p + FLAGS) & VXLAN_FLAG_I) != 0;
}

@inline export function vxlanFlags(p: usize): u8 { return load<u8>(p + FLAGS); }
@inline export function vxlanVni(p: usize): u32 { return be32(p + VNI) >> 8; }

export function vxlanEmit(p: usize, vni: u32): void {
  store<u32>(p, 0);
  store<u8>(p + FLAGS, VXLAN_FLAG_I);
  setBe32(p + VNI, (vni & 0xffffff) << 8);
}
