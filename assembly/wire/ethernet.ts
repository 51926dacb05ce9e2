// Ethernet II header, with one 802.1Q (or 802.1ad) tag tolerated.
// MAC addresses are carried as u64 holding the 6 bytes in memory order
// (byte 0 in the low bits), so the group bit is `mac & 1`.

export const ETH_HLEN: u32 = 14;
export const VLAN_HLEN: u32 = 4;
export const ETH_ALEN: u32 = 6;

export const ETHERTYPE_IPV4: u16 = 0x0800;
export const ETHERTYPE_ARP: u16 = 0x0806;
export const ETHERTYPE_VLAN: u16 = 0x8100;
export const ETHERTYPE_QINQ: u16 = 0x88a8;
export const ETHERTYPE_IPV6: u16 = 0x86dd;

export const MAC_BROADCAST: u64 = 0xffffffffffff;

// field offsets
export const DST: u32 = 0;
export const SRC: u32 = 6;
export const TYPE: u32 = 12;

@inline export function loadMac(p: usize): u64 {
  return <u64>load<u32>(p) | (<u64>load<u16>(p + 4) << 32);
}
@inline export function storeMac(p: usize, mac: u64): void {
  store<u32>(p, <u32>mac);
  store<u16>(p + 4, <u16>(mac >> 32));
}
@inline export function isGroupMac(mac: u64): bool { return (mac & 1) != 0; }

@inline export function ethDst(p: usize): u64 { return loadMac(p + DST); }
@inline export function ethSrc(p: usize): u64 { return loadMac(p + SRC); }
@inline export function ethType(p: usize): u16 { return bswap<u16>(load<u16>(p + TYPE)); }
@inline export function setEthDst(p: usize, mac: u64): void { storeMac(p + DST, mac); }
@inline export function setEthSrc(p: usize, mac: u64): void { storeMac(p + SRC, mac); }
@inline export function setEthType(p: usize, t: u16): void { store<u16>(p + TYPE, bswap<u16>(t)); }

/**
 * Length of the Ethernet header including one VLAN tag, or 0 when the frame
 * is too short for it. Reads nothing before checking `len`.
 */
export function ethHeaderLen(p: usize, len: u32): u32 {
  if (len < ETH_HLEN) return 0;
  const t = ethType(p);
  if (t == ETHERTYPE_VLAN || t == ETHERTYPE_QINQ) {
    return len < ETH_HLEN + VLAN_HLEN ? 0 : ETH_HLEN + VLAN_HLEN;
  }
  return ETH_HLEN;
}

/** The ethertype of the payload: the inner type when tagged. `hlen` from ethHeaderLen. */
@inline export function ethPayloadType(p: usize, hlen: u32): u16 {
  return bswap<u16>(load<u16>(p + hlen - 2));
}

/** VLAN id of a tagged frame (0 if untagged). */
export function ethVlanId(p: usize, hlen: u32): u16 {
  return hlen == ETH_HLEN ? 0 : bswap<u16>(load<u16>(p + ETH_HLEN)) & 0x0fff;
}

/** Write an untagged header. */
export function ethEmit(p: usize, dst: u64, src: u64, type: u16): void {
  storeMac(p + DST, dst);
  storeMac(p + SRC, src);
  setEthType(p, type);
}
