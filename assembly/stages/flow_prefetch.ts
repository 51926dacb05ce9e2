// Batched conntrack lookups for big connection tables. With a million flows
// every packet's conntrack lookup is two dependent cache+TLB misses (index
// slot, then entry; ~370 ns each on the 2-core VM this was measured on),
// paid one packet after another. Before a batch is processed, this walks it
// twice: hash every plain IPv4 TCP/UDP frame's 5-tuple and read its home
// index slot, then read the entry that slot names. The reads of one pass
// are independent, so the CPU overlaps their misses; the real lookups that
// follow find the lines in cache. Frames it cannot parse are skipped (the
// stages judge them as always); it changes nothing but the caches.
import { rxAddr, rxLen } from "../frame";
import { VNET_HLEN } from "../wire/virtio";
import { ctCount, ctTouchSlot, ctTouchEntry, hashTuple } from "../tables/conntrack";

/** Below this many tracked flows the table stays in cache: not worth a pass. */
const MIN_FLOWS: u32 = 16384;
const CHUNK: u32 = 512;
const NO_HASH: u32 = 0; // a real hash of 0 only loses its prefetch
// The hashes of one chunk, between the two passes: scratch memory carved from
// this node's region (configure), not static data, which every node of a lab
// shares (one wasm memory); a node's own buffer stays its own whoever calls.
let hashes: usize = 0;

/** Bytes of scratch memory a node needs for the pass. */
export function prefetchBytes(): usize { return <usize>CHUNK * 4; }
/** Where this node's scratch memory starts (configure). */
export function prefetchInit(at: usize): void { hashes = at; }
/** What the touches read, kept so the optimizer cannot drop them. */
export let prefetchSink: u32 = 0;

export function prefetchFlows(first: u32, end: u32): void {
  if (!enabled || ctCount() < MIN_FLOWS) return;
  let acc: u32 = 0;
  for (let base = first; base < end; base += CHUNK) {
    const stop = min(base + CHUNK, end);
    for (let i = base; i < stop; i++) {
      const h = flowHash(i);
      store<u32>(hashes + (<usize>(i - base) << 2), h);
      if (h != NO_HASH) acc += ctTouchSlot(h);
    }
    for (let i = base; i < stop; i++) {
      const h = load<u32>(hashes + (<usize>(i - base) << 2));
      if (h != NO_HASH) acc += ctTouchEntry(h);
    }
  }
  prefetchSink += acc;
}

/** The conntrack hash of rx entry i's 5-tuple, if it is an untagged, unfragmented IPv4 TCP/UDP frame. */
function flowHash(i: u32): u32 {
  const total = rxLen(i);
  if (total < VNET_HLEN + 14 + 20 + 4) return NO_HASH;
  const f = rxAddr(i) + VNET_HLEN;
  if (load<u16>(f, 12) != 0x0008) return NO_HASH; // ethertype 0x0800, big-endian
  const ip = f + 14;
  const vihl = <u32>load<u8>(ip);
  const ihl = (vihl & 0xf) << 2;
  if ((vihl >> 4) != 4 || ihl < 20 || total < VNET_HLEN + 14 + ihl + 4) return NO_HASH;
  const proto = <u32>load<u8>(ip, 9);
  if (proto != 6 && proto != 17) return NO_HASH;
  if ((load<u16>(ip, 6) & 0xff3f) != 0) return NO_HASH; // MF or a fragment offset (big-endian bytes)
  const l4 = ip + ihl;
  // a SYN without ACK starts a flow: its lookup will miss, nothing to bring in (measured: a loss)
  if (proto == 6 && total >= VNET_HLEN + 14 + ihl + 14 && (<u32>load<u8>(l4, 13) & 0x12) == 0x02) return NO_HASH;
  return hashTuple(proto, bswap<u32>(load<u32>(ip, 12)), bswap<u32>(load<u32>(ip, 16)),
    <u32>bswap<u16>(load<u16>(l4)), <u32>bswap<u16>(load<u16>(l4, 2)));
}

let enabled = true;
/** Turn the pass off or on (benchmarks compare the two; on by default). */
export function setFlowPrefetch(on: bool): void { enabled = on; }
