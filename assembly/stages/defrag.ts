// Reassembly before conntrack, as Linux's nf_defrag_ipv4 does for a node
// that tracks connections (every kube-proxy node): Service NAT needs the
// ports, which only the first fragment carries, and must rewrite the L4
// checksum, which covers the whole datagram. A fragment is queued
// (tables/frag_queue.ts) and held; the fragment that completes its datagram
// continues as that datagram (NAT, routing or bridging), which leaves again
// as fragments no larger than the largest one that came in (ip_fragment's
// frag_max_size): the peer sees the train it would have seen without us.
// A node with no Services and no tracked flow leaves fragments alone (there
// is nothing to translate; the kernel would reassemble and refragment them
// to the same sizes).
import { ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen, ipv4TotalLen, ipv4FlagsFrag, ipv4FillChecksum,
  FLAG_DF, FLAG_MF, FRAG_OFFSET_MASK, TOTAL_LEN, FLAGS_FRAG } from "../wire/ipv4";
import { setBe16 } from "../wire/checksum";
import { svcFrontendCount } from "../tables/services";
import { ctCount } from "../tables/conntrack";
import { fragFind, fragQueue, fqFrame, fqLen, fqL2len, fqDf,
  FQ_HELD, FQ_COMPLETE, FQ_OVERLAP, FQ_TOO_BIG } from "../tables/frag_queue";
import { nowMs } from "../clock";
import { Drop, Ev, countEv } from "../counters";

/** Is the IPv4 packet at `ip` a fragment this node must reassemble (it tracks connections)? */
@inline export function needsDefrag(ip: usize): bool {
  return (ipv4FlagsFrag(ip) & (FLAG_MF | FRAG_OFFSET_MASK)) != 0 && (svcFrontendCount() != 0 || ctCount() != 0);
}

/**
 * Queue the fragment at `frame` (IPv4 header validated at frame + l2len).
 * Drop.NONE: it completed its datagram, described by frag_queue's fqFrame,
 * fqLen, fqL2len, fqMaxSize (its largest fragment, the size it leaves in
 * again) and fqDf; its header's length and flags are rewritten, the checksum
 * filled, a zeroed vnet header before it. Drop.HELD: queued, nothing to send yet. Otherwise a frag_* drop.
 */
export function defragment(frame: usize, len: u32, l2len: u32): Drop {
  const ip = frame + l2len;
  const ihl = ipv4HeaderLen(ip);
  const total = ipv4TotalLen(ip);
  const ff = <u32>ipv4FlagsFrag(ip);
  const plen = total > ihl ? total - ihl : 0;
  const off = (ff & <u32>FRAG_OFFSET_MASK) << 3;
  const mf = (ff & <u32>FLAG_MF) != 0;
  const df = (ff & <u32>FLAG_DF) != 0;
  const q = fragFind(ipv4Src(ip), ipv4Dst(ip), <u32>ipv4Proto(ip), <u32>load<u16>(ip, 4), nowMs);
  if (q < 0) return Drop.FRAG_NO_BUFFER;
  const r = fragQueue(q, frame, l2len, ihl, off, plen, mf, df);
  if (r == FQ_HELD) { countEv(Ev.FRAGS_QUEUED); return Drop.HELD; }
  if (r == FQ_OVERLAP) { countEv(Ev.FRAG_QUEUES_DISCARDED); return Drop.FRAG_OVERLAP; }
  if (r == FQ_TOO_BIG) { countEv(Ev.FRAG_QUEUES_DISCARDED); return Drop.FRAG_TOO_BIG; }
  if (r != FQ_COMPLETE) return Drop.FRAG_INCONSISTENT;
  countEv(Ev.FRAGS_REASSEMBLED);
  // the datagram keeps DF when its largest fragment had it (ip_frag_reasm's max_df_size)
  const dip = fqFrame + fqL2len;
  setBe16(dip + TOTAL_LEN, <u16>(fqLen - fqL2len));
  setBe16(dip + FLAGS_FRAG, fqDf ? FLAG_DF : 0);
  ipv4FillChecksum(dip);
  return Drop.NONE;
}
