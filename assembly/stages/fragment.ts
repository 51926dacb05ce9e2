// IPv4 fragmentation (RFC 791) of a forwarded packet too big for its next
// hop, as the kernel's ip_do_fragment: the fragments are built in generated
// slots and queued (frame.ts genQueue); the dispatcher routes or bridges each
// like any other frame.
import { ipv4TotalLen, ipv4HeaderLen, ipv4FlagsFrag, ipv4FillChecksum, FLAG_DF, FLAG_MF, FRAG_OFFSET_MASK, FLAGS_FRAG, TOTAL_LEN } from "../wire/ipv4";
import { setBe16 } from "../wire/checksum";
import { VNET_HLEN, VNET_F_NEEDS_CSUM, vnetFlags, vnetCsumStart, vnetCsumOffset, vnetFinishChecksum } from "../wire/virtio";
import { genAlloc, genFree, genFrameCapacity, genQueue, GEN_BRIDGED, NO_INGRESS } from "../frame";
import { Drop, Ev, countEv } from "../counters";

/**
 * Split a non-DF packet too big for `mtu` into fragments (RFC 791), each in a
 * generated slot, each queued to go along `r` (r < 0: bridged from `inPort`;
 * the dispatcher sends them, and counts a lost one as a drop). The
 * original is not sent, and loses its uncopied options (see below). `df`
 * sets DF on every fragment: a reassembled train whose largest fragment had
 * it (Linux IPSKB_FRAG_PMTU).
 */
export function fragment(r: i32, frame: usize, len: u32, l2len: u32, mtu: u32, df: bool = false, inPort: u32 = NO_INGRESS): Drop {
  const ip = frame + l2len;
  // a partial checksum (virtio NEEDS_CSUM) covers the whole datagram, which no
  // fragment holds, and fragments carry no vnet header: finish it first, as
  // the kernel's ip_do_fragment does (skb_checksum_help)
  const vnet = frame - VNET_HLEN;
  if ((vnetFlags(vnet) & VNET_F_NEEDS_CSUM) != 0) {
    // ingress checked the range, but a stripped VLAN tag moved csum_start back
    // 4 bytes: one that pointed into the MAC header has wrapped
    if (<u32>vnetCsumStart(vnet) + <u32>vnetCsumOffset(vnet) + 2 > len) return Drop.BAD_VNET_HDR;
    vnetFinishChecksum(vnet, frame, len);
  }
  const ihl = ipv4HeaderLen(ip);
  const payload = ipv4TotalLen(ip) - ihl;
  const ff = ipv4FlagsFrag(ip);
  const baseOffset = <u32>(ff & FRAG_OFFSET_MASK);
  const moreAfter = (ff & FLAG_MF) != 0;
  const chunkMax = fragmentChunk(mtu, ihl, l2len);
  if (chunkMax == 0) return Drop.FRAG_NEEDED;
  // all fragments or none: a datagram missing a piece is lost anyway, and costs the wire
  if ((payload + chunkMax - 1) / chunkMax > genFree()) return Drop.GEN_POOL_EMPTY;
  let off: u32 = 0;
  while (off < payload) {
    const chunk = min(chunkMax, payload - off);
    const v = genAlloc();
    if (v == 0) return Drop.GEN_POOL_EMPTY;
    const g = v + VNET_HLEN;
    memory.copy(g, frame, l2len + ihl);
    memory.copy(g + l2len + ihl, ip + ihl + off, chunk);
    const gip = g + l2len;
    const last = off + chunk >= payload;
    setBe16(gip + TOTAL_LEN, <u16>(ihl + chunk));
    setBe16(gip + FLAGS_FRAG, <u16>(((!last || moreAfter) ? FLAG_MF : 0) | (df ? FLAG_DF : 0) | ((baseOffset + (off >> 3)) & FRAG_OFFSET_MASK)));
    ipv4FillChecksum(gip);
    // later fragments carry only the options with the copy flag (RFC 791);
    // of a packet that is itself a later fragment, they already do
    if (off == 0 && baseOffset == 0 && ihl > 20) optionsFragment(ip, ihl);
    countEv(Ev.FRAGMENTS_SENT);
    const glen = l2len + ihl + chunk;
    genQueue(g, r < 0 ? GEN_BRIDGED : r, inPort, glen, l2len, true);
    off += chunk;
  }
  return Drop.NONE;
}

/**
 * Overwrite the options without the copy flag (type bit 0x80) with NOOPs,
 * in the header at `ip` of `ihl` bytes: the header length stays, as Linux's
 * ip_options_fragment does it (RFC 791 allows dropping them or this). Stops
 * at End of Options or a malformed length, leaving the rest as it is.
 */
function optionsFragment(ip: usize, ihl: u32): void {
  let o: u32 = 20;
  while (o < ihl) {
    const t = <u32>load<u8>(ip + o);
    if (t == 0) return; // End of Options
    if (t == 1) { o++; continue; } // NOOP
    if (o + 1 >= ihl) return;
    const olen = <u32>load<u8>(ip + o + 1);
    if (olen < 2 || o + olen > ihl) return;
    if ((t & 0x80) == 0) memory.fill(ip + o, 1, olen);
    o += olen;
  }
}

/**
 * The payload each fragment carries (a multiple of 8; 0 when none fits):
 * a fragment must fit the route's MTU and a generated slot (smaller ones are fine).
 */
export function fragmentChunk(mtu: u32, ihl: u32, l2len: u32): u32 {
  const fit = min(mtu, genFrameCapacity() - l2len);
  return fit > ihl ? (fit - ihl) & ~7 : 0;
}
