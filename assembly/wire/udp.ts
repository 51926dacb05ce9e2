// UDP header (RFC 768).
import { be16, setBe16, checksum } from "./checksum";
import { ipv4PseudoSum, IPPROTO_UDP } from "./ipv4";

export const UDP_HLEN: u32 = 8;
export const SRC_PORT: u32 = 0;
export const DST_PORT: u32 = 2;
export const LENGTH: u32 = 4;
export const CSUM: u32 = 6;

/** True when `len` bytes hold the header and the length field fits inside them. */
export function udpCheck(p: usize, len: u32): bool {
  if (len < UDP_HLEN) return false;
  const l = <u32>be16(p + LENGTH);
  return l >= UDP_HLEN && l <= len;
}

@inline export function udpSrcPort(p: usize): u16 { return be16(p + SRC_PORT); }
@inline export function udpDstPort(p: usize): u16 { return be16(p + DST_PORT); }
@inline export function udpLength(p: usize): u16 { return be16(p + LENGTH); }
@inline export function udpChecksum(p: usize): u16 { return be16(p + CSUM); }
@inline export function setUdpSrcPort(p: usize, v: u16): void { setBe16(p + SRC_PORT, v); }
@inline export function setUdpDstPort(p: usize, v: u16): void { setBe16(p + DST_PORT, v); }
@inline export function setUdpChecksum(p: usize, v: u16): void { setBe16(p + CSUM, v); }

export function udpEmit(p: usize, sport: u16, dport: u16, length: u32): void {
  setBe16(p + SRC_PORT, sport);
  setBe16(p + DST_PORT, dport);
  setBe16(p + LENGTH, <u16>length);
  store<u16>(p + CSUM, 0);
}

/** Full checksum over header + payload with the IPv4 pseudo-header; 0 is sent as 0xffff (RFC 768). */
export function udpFillChecksum(p: usize, src: u32, dst: u32): void {
  const l = <u32>be16(p + LENGTH);
  store<u16>(p + CSUM, 0);
  let c = checksum(p, l, ipv4PseudoSum(src, dst, IPPROTO_UDP, l));
  if (c == 0) c = 0xffff;
  setBe16(p + CSUM, c);
}
