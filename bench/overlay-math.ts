// The arithmetic every overlay comparison needs, computed, not measured:
// what each encapsulation adds to a packet, what that leaves a pod as MTU and
// TCP MSS, and the best goodput one full-sized TCP segment per wire frame can
// give at a given line rate.
import { OVERLAY_OVERHEAD, type Overlay } from '../src/model/topology.ts';

/** Per-frame costs on an Ethernet wire beyond the IP packet: header 14, FCS 4, preamble + SFD 8, inter-frame gap 12. */
export const ETH_HEADER = 14;
export const ETH_WIRE_EXTRA = 4 + 8 + 12;
/** IPv4 (20) + TCP (20) headers without options: MSS = MTU - 40. */
export const IP_TCP_HEADERS = 40;

/**
 * Bytes an overlay adds to each pod packet on the underlay, beyond the
 * underlay's own Ethernet framing: VXLAN 50 = outer IPv4 20 + UDP 8 + VXLAN 8
 * + the pod's inner Ethernet header 14 (carried inside); IP-in-IP 20 = outer
 * IPv4; host-gw and same-node 0 (the pod packet is routed or bridged as is).
 */
export function overlayHeaderBytes(overlay: Overlay | 'none'): number {
  return overlay === 'none' ? 0 : OVERLAY_OVERHEAD[overlay];
}

export interface PathArithmetic {
  headerBytes: number;
  podMtu: number;
  tcpMss: number;
  /** the underlay IP packet carrying one full-sized pod packet: podMtu + headerBytes */
  underlayPacket: number;
  /** bytes on the wire per full-sized segment: underlayPacket + 14 + 4 + 8 + 12 */
  wireBytes: number;
  /** goodput ceiling as a fraction of line rate: MSS / wireBytes */
  ceiling: number;
}

/**
 * ceiling = MSS / (podMtu + overlay header bytes + 14 Ethernet + 4 FCS + 8 preamble + 12 IFG).
 * (Linux adds TCP timestamps, 12 bytes per segment, unless disabled: the real payload is MSS - 12.)
 */
export function pathArithmetic(overlay: Overlay | 'none', podMtu: number): PathArithmetic {
  const headerBytes = overlayHeaderBytes(overlay);
  const tcpMss = podMtu - IP_TCP_HEADERS;
  const underlayPacket = podMtu + headerBytes;
  const wireBytes = underlayPacket + ETH_HEADER + ETH_WIRE_EXTRA;
  return { headerBytes, podMtu, tcpMss, underlayPacket, wireBytes, ceiling: tcpMss / wireBytes };
}

/** The ceiling in Gbit/s at a line rate in Gbit/s. */
export function goodputCeilingGbps(a: PathArithmetic, lineGbps: number): number {
  return a.ceiling * lineGbps;
}
