// ICMPv4 (RFC 792): echo and the error messages the data plane emits.
import { be16, setBe16, checksum, csumUpdate16, sum16 } from "./checksum";

export const ICMP_HLEN: u32 = 8;
export const ICMP_ECHO_REPLY: u8 = 0;
export const ICMP_DEST_UNREACH: u8 = 3;
export const ICMP_ECHO_REQUEST: u8 = 8;
export const ICMP_TIME_EXCEEDED: u8 = 11;

export const ICMP_CODE_NET_UNREACH: u8 = 0;
export const ICMP_CODE_HOST_UNREACH: u8 = 1;
export const ICMP_CODE_PORT_UNREACH: u8 = 3;
export const ICMP_CODE_FRAG_NEEDED: u8 = 4;

// field offsets
export const TYPE: u32 = 0;
export const CODE: u32 = 1;
export const CSUM: u32 = 2;
export const IDENT: u32 = 4;   // echo
export const SEQ: u32 = 6;     // echo
export const MTU: u32 = 6;     // frag-needed next-hop MTU (RFC 1191)

@inline export function icmpCheckLen(len: u32): bool { return len >= ICMP_HLEN; }
@inline export function icmpType(p: usize): u8 { return load<u8>(p + TYPE); }
@inline export function icmpCode(p: usize): u8 { return load<u8>(p + CODE); }
@inline export function icmpChecksum(p: usize): u16 { return be16(p + CSUM); }
@inline export function icmpIdent(p: usize): u16 { return be16(p + IDENT); }
@inline export function icmpSeq(p: usize): u16 { return be16(p + SEQ); }

/** True when the checksum over the `len`-byte message is good. */
export function icmpChecksumOk(p: usize, len: u32): bool { return checksum(p, len) == 0; }

/**
 * Turn the `len`-byte echo request at `p` into a reply in place: type 8 -> 0,
 * checksum updated incrementally (RFC 1624 eqn. 3).
 *
 * Eqn. 3 equals a recomputation from scratch except in one case: when every
 * byte of the new message but the checksum is zero (echo id 0, seq 0, an
 * empty or all-zero payload). Its sum is then +0, so the only checksum that
 * verifies is 0xffff, while eqn. 3 yields 0x0000. Eqn. 3 yields 0x0000 only
 * when the request's checksum was 0xf7ff, so that rare case pays for one sum.
 */
export function icmpEchoToReply(p: usize, len: u32): void {
  const oldWord = be16(p + TYPE);
  store<u8>(p + TYPE, ICMP_ECHO_REPLY);
  let c = csumUpdate16(be16(p + CSUM), oldWord, be16(p + TYPE));
  if (c == 0) {
    store<u16>(p + CSUM, 0);
    if (sum16(p, len) == 0) c = 0xffff;
  }
  setBe16(p + CSUM, c);
}

/** Write the 8-byte header of an error message; call icmpFillChecksum once the payload is in place. */
export function icmpEmitError(p: usize, type: u8, code: u8, rest: u32): void {
  store<u8>(p + TYPE, type);
  store<u8>(p + CODE, code);
  store<u16>(p + CSUM, 0);
  store<u32>(p + 4, bswap<u32>(rest));
}

export function icmpFillChecksum(p: usize, len: u32): void {
  store<u16>(p + CSUM, 0);
  setBe16(p + CSUM, checksum(p, len));
}
