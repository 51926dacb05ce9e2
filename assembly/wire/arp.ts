// ARP for Ethernet/IPv4 (RFC 826). Addresses: MAC as u64 (see ethernet.ts),
// IPv4 as u32 holding the big-endian value (10.0.0.1 == 0x0a000001).
import { loadMac, storeMac } from "./ethernet";
import { be16, be32, setBe16, setBe32 } from "./checksum";

export const ARP_LEN: u32 = 28;
export const ARP_HTYPE_ETHERNET: u16 = 1;
export const ARP_PTYPE_IPV4: u16 = 0x0800;
export const ARP_OP_REQUEST: u16 = 1;
export const ARP_OP_REPLY: u16 = 2;

// field offsets
export const HTYPE: u32 = 0;
export const PTYPE: u32 = 2;
export const HLEN: u32 = 4;
export const PLEN: u32 = 5;
export const OPER: u32 = 6;
export const SHA: u32 = 8;
export const SPA: u32 = 14;
export const THA: u32 = 18;
export const TPA: u32 = 24;

/** True when `len` bytes hold an Ethernet/IPv4 ARP packet we can read whole. */
export function arpCheck(p: usize, len: u32): bool {
  if (len < ARP_LEN) return false;
  return be16(p + HTYPE) == ARP_HTYPE_ETHERNET && be16(p + PTYPE) == ARP_PTYPE_IPV4
    && load<u8>(p + HLEN) == 6 && load<u8>(p + PLEN) == 4;
}

@inline export function arpOp(p: usize): u16 { return be16(p + OPER); }
@inline export function arpSha(p: usize): u64 { return loadMac(p + SHA); }
@inline export function arpSpa(p: usize): u32 { return be32(p + SPA); }
@inline export function arpTha(p: usize): u64 { return loadMac(p + THA); }
@inline export function arpTpa(p: usize): u32 { return be32(p + TPA); }

export function arpEmit(p: usize, op: u16, sha: u64, spa: u32, tha: u64, tpa: u32): void {
  setBe16(p + HTYPE, ARP_HTYPE_ETHERNET);
  setBe16(p + PTYPE, ARP_PTYPE_IPV4);
  store<u8>(p + HLEN, 6);
  store<u8>(p + PLEN, 4);
  setBe16(p + OPER, op);
  storeMac(p + SHA, sha);
  setBe32(p + SPA, spa);
  storeMac(p + THA, tha);
  setBe32(p + TPA, tpa);
}
