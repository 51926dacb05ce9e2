// IPv4 header (RFC 791). Addresses are u32 holding the big-endian value.
import { be16, be32, setBe16, setBe32, checksum, csumUpdate16, sum20, fold16 } from "./checksum";

export const IPV4_MIN_HLEN: u32 = 20;
export const IPPROTO_ICMP: u8 = 1;
export const IPPROTO_IPIP: u8 = 4;
export const IPPROTO_TCP: u8 = 6;
export const IPPROTO_UDP: u8 = 17;

export const FLAG_DF: u16 = 0x4000;
export const FLAG_MF: u16 = 0x2000;
export const FRAG_OFFSET_MASK: u16 = 0x1fff;

// field offsets
export const VER_IHL: u32 = 0;
export const TOS: u32 = 1;
export const TOTAL_LEN: u32 = 2;
export const IDENT: u32 = 4;
export const FLAGS_FRAG: u32 = 6;
export const TTL: u32 = 8;
export const PROTO: u32 = 9;
export const CSUM: u32 = 10;
export const SRC: u32 = 12;
export const DST: u32 = 16;

// Results of ipv4Check: 0 is good; each other value names why the header is unusable.
export const IPV4_OK: u32 = 0;
export const IPV4_TRUNCATED: u32 = 1;      // fewer bytes than the header (or total length) needs
export const IPV4_BAD_VERSION: u32 = 2;
export const IPV4_BAD_IHL: u32 = 3;        // IHL < 5
export const IPV4_BAD_TOTAL_LEN: u32 = 4;  // total length < header length
export const IPV4_BAD_CHECKSUM: u32 = 5;

@inline export function ipv4Version(p: usize): u32 { return <u32>load<u8>(p) >> 4; }
@inline export function ipv4HeaderLen(p: usize): u32 { return (<u32>load<u8>(p) & 0xf) << 2; }
@inline export function ipv4TotalLen(p: usize): u32 { return <u32>be16(p + TOTAL_LEN); }
@inline export function ipv4Ident(p: usize): u16 { return be16(p + IDENT); }
@inline export function ipv4FlagsFrag(p: usize): u16 { return be16(p + FLAGS_FRAG); }
@inline export function ipv4Ttl(p: usize): u8 { return load<u8>(p + TTL); }
@inline export function ipv4Proto(p: usize): u8 { return load<u8>(p + PROTO); }
@inline export function ipv4Checksum(p: usize): u16 { return be16(p + CSUM); }
@inline export function ipv4Src(p: usize): u32 { return be32(p + SRC); }
@inline export function ipv4Dst(p: usize): u32 { return be32(p + DST); }

@inline export function setIpv4Src(p: usize, a: u32): void { setBe32(p + SRC, a); }
@inline export function setIpv4Dst(p: usize, a: u32): void { setBe32(p + DST, a); }
@inline export function setIpv4Checksum(p: usize, c: u16): void { setBe16(p + CSUM, c); }

/**
 * Validate an IPv4 header in `len` available bytes, as the kernel's ip_rcv
 * does: version, IHL, total length against what arrived, header checksum.
 * Reads nothing before the length check.
 */
export function ipv4Check(p: usize, len: u32): u32 {
  if (len < IPV4_MIN_HLEN) return IPV4_TRUNCATED;
  const vihl = <u32>load<u8>(p);
  if ((vihl >> 4) != 4) return IPV4_BAD_VERSION;
  const hlen = (vihl & 0xf) << 2;
  if (hlen < IPV4_MIN_HLEN) return IPV4_BAD_IHL;
  if (len < hlen) return IPV4_TRUNCATED;
  const total = <u32>be16(p + TOTAL_LEN);
  if (total < hlen) return IPV4_BAD_TOTAL_LEN;
  if (total > len) return IPV4_TRUNCATED;
  const sum = hlen == IPV4_MIN_HLEN ? sum20(p) : fold16(~<u32>checksum(p, hlen) & 0xffff);
  // a header is good when its one's-complement sum is all ones
  if (sum != 0xffff) return IPV4_BAD_CHECKSUM;
  return IPV4_OK;
}

/** Recompute the header checksum from scratch. */
export function ipv4FillChecksum(p: usize): void {
  store<u16>(p + CSUM, 0);
  const hlen = ipv4HeaderLen(p);
  setBe16(p + CSUM, hlen == IPV4_MIN_HLEN ? <u16>~sum20(p) : checksum(p, hlen));
}

/** Decrement TTL with an RFC 1624 incremental checksum update. Returns the new TTL. */
export function ipv4DecTtl(p: usize): u8 {
  const ttl = load<u8>(p + TTL);
  const oldWord = be16(p + TTL);
  const newTtl = ttl - 1;
  store<u8>(p + TTL, newTtl);
  setBe16(p + CSUM, csumUpdate16(be16(p + CSUM), oldWord, be16(p + TTL)));
  return newTtl;
}

/** Emit a 20-byte header (no options) with its checksum. `totalLen` must fit 16 bits. */
export function ipv4Emit(p: usize, totalLen: u32, ident: u16, flagsFrag: u16, ttl: u8, proto: u8, src: u32, dst: u32, tos: u8 = 0): void {
  store<u8>(p + VER_IHL, 0x45);
  store<u8>(p + TOS, tos);
  setBe16(p + TOTAL_LEN, <u16>totalLen);
  setBe16(p + IDENT, ident);
  setBe16(p + FLAGS_FRAG, flagsFrag);
  store<u8>(p + TTL, ttl);
  store<u8>(p + PROTO, proto);
  setBe32(p + SRC, src);
  setBe32(p + DST, dst);
  // every word is at hand: sum them (RFC 1071) instead of reading back what was just written
  const sum = (0x4500 | <u32>tos) + totalLen + <u32>ident + <u32>flagsFrag + ((<u32>ttl << 8) | <u32>proto)
    + (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
  setBe16(p + CSUM, <u16>~fold16(sum));
}

// ECN field (RFC 3168): the low two bits of the TOS byte
export const ECN_MASK: u8 = 3;
export const ECN_NOT_ECT: u8 = 0;
export const ECN_ECT_0: u8 = 2;
export const ECN_CE: u8 = 3;
@inline export function ipv4Tos(p: usize): u8 { return load<u8>(p + TOS); }

/** Pseudo-header sum (RFC 793/768) for a transport checksum, unfolded, big-endian valued. */
export function ipv4PseudoSum(src: u32, dst: u32, proto: u8, l4len: u32): u32 {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + <u32>proto + l4len;
}
