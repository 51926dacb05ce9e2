// TCP header (RFC 9293): the fields a data plane reads and rewrites.
import { be16, be32, setBe16, setBe32, checksum } from "./checksum";
import { ipv4PseudoSum, IPPROTO_TCP } from "./ipv4";

export const TCP_MIN_HLEN: u32 = 20;
export const SRC_PORT: u32 = 0;
export const DST_PORT: u32 = 2;
export const SEQ: u32 = 4;
export const ACK: u32 = 8;
export const DATA_OFF: u32 = 12;
export const FLAGS: u32 = 13;
export const WINDOW: u32 = 14;
export const CSUM: u32 = 16;
export const URG_PTR: u32 = 18;

export const TCP_FIN: u8 = 0x01;
export const TCP_SYN: u8 = 0x02;
export const TCP_RST: u8 = 0x04;
export const TCP_PSH: u8 = 0x08;
export const TCP_ACK: u8 = 0x10;
export const TCP_URG: u8 = 0x20;
export const TCP_ECE: u8 = 0x40;
export const TCP_CWR: u8 = 0x80;

/** Header length in bytes, or 0 when `len` bytes cannot hold the header its data offset claims. */
export function tcpHeaderLen(p: usize, len: u32): u32 {
  if (len < TCP_MIN_HLEN) return 0;
  const h = (<u32>load<u8>(p + DATA_OFF) >> 4) << 2;
  return h < TCP_MIN_HLEN || h > len ? 0 : h;
}

@inline export function tcpSrcPort(p: usize): u16 { return be16(p + SRC_PORT); }
@inline export function tcpDstPort(p: usize): u16 { return be16(p + DST_PORT); }
@inline export function tcpSeq(p: usize): u32 { return be32(p + SEQ); }
@inline export function tcpAck(p: usize): u32 { return be32(p + ACK); }
@inline export function tcpFlags(p: usize): u8 { return load<u8>(p + FLAGS); }
@inline export function tcpWindow(p: usize): u16 { return be16(p + WINDOW); }
@inline export function tcpChecksum(p: usize): u16 { return be16(p + CSUM); }
@inline export function setTcpSrcPort(p: usize, v: u16): void { setBe16(p + SRC_PORT, v); }
@inline export function setTcpDstPort(p: usize, v: u16): void { setBe16(p + DST_PORT, v); }
@inline export function setTcpChecksum(p: usize, v: u16): void { setBe16(p + CSUM, v); }
@inline export function setTcpSeq(p: usize, v: u32): void { setBe32(p + SEQ, v); }
@inline export function setTcpFlags(p: usize, v: u8): void { store<u8>(p + FLAGS, v); }

/** Full checksum over `len` bytes of segment with the IPv4 pseudo-header. */
export function tcpFillChecksum(p: usize, len: u32, src: u32, dst: u32): void {
  store<u16>(p + CSUM, 0);
  setBe16(p + CSUM, checksum(p, len, ipv4PseudoSum(src, dst, IPPROTO_TCP, len)));
}
