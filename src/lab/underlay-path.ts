// How a podwire node's underlay carries super-frames, as `podwire status`
// says it: decided once at `up` from the overlay, the topology's offloads and
// what the kernel accepted on the node's underlay TAP (io/tap.ts probes
// TUN_F_UDP_TUNNEL_GSO by trying it).
import type { TapOffloads } from '../io/tap.ts';
import type { LabPlan } from '../model/topology.ts';

export type UnderlayPathMode = 'udp-tunnel-gso' | 'tso' | 'software-segmentation' | 'no-offloads' | 'in-process' | 'host-socket';

export interface UnderlayPath {
  mode: UnderlayPathMode;
  /** one line for people: the path and, when it is the slow one, why */
  text: string;
  /** the underlay TAP's offload bits (TUNSETOFFLOAD) and vnet header length, on a bridge underlay */
  tap?: { flags: number; vnetHdrLen: number; udpTunnelGsoCsum: boolean };
  /** the source MAC the node's underlay frames carry when it is not the topology's (a `--node` host TAP: the uplink's) */
  wireMac?: string;
}

/** The path of a node whose underlay is a TAP on the lab's bridge (`tap`), or carried in-process (no TAP). */
export function underlayPath(plan: Pick<LabPlan, 'overlay' | 'offloads'>, tap?: TapOffloads): UnderlayPath {
  if (!tap) return { mode: 'in-process', text: 'in-process: super-frames handed to the peer node whole' };
  const bits = { flags: tap.flags, vnetHdrLen: tap.vnetHdrLen, udpTunnelGsoCsum: tap.udpTunnelGsoCsum };
  const bridge = (mode: UnderlayPathMode, text: string): UnderlayPath => ({ mode, text: `bridge underlay: ${text}`, tap: bits });
  if (!plan.offloads) return bridge('no-offloads', 'no offloads (offloads: false in the topology): every frame is one packet');
  if (plan.overlay === 'host-gw') return bridge('tso', 'TSO (plain TCP super-frames to the TAP; the kernel segments them)');
  if (plan.overlay === 'ipip') return bridge('software-segmentation', 'software segmentation (IP-in-IP super-frames have no virtio GSO type)');
  if (tap.udpTunnelGso) {
    return bridge('udp-tunnel-gso', `udp-tunnel GSO tx+rx (VXLAN super-frames cross the TAP whole${tap.udpTunnelGsoCsum ? '; outer UDP checksum offload accepted too' : ''})`);
  }
  return bridge('software-segmentation', `software segmentation (${tap.refused ?? 'UDP-tunnel GSO not asked for'})`);
}

/** The path of a `--node` node's underlay (host-tap-underlay.ts): a TAP steered to the uplink, or the socket and why. */
export function hostUnderlayPath(h: { tap: TapOffloads; name: string; uplink: string; uplinkMac: string; table: string } | { socketWhy: string }): UnderlayPath {
  if ('socketWhy' in h) return { mode: 'host-socket', text: `host socket underlay: UDP socket, segmented datagrams (not the host TAP: ${h.socketWhy})` };
  const t = h.tap;
  return {
    mode: 'udp-tunnel-gso',
    text: `host TAP underlay: ${h.name} <-> ${h.uplink} (nftables table netdev ${h.table}), udp-tunnel GSO tx+rx (VXLAN super-frames cross whole)`,
    tap: { flags: t.flags, vnetHdrLen: t.vnetHdrLen, udpTunnelGsoCsum: t.udpTunnelGsoCsum },
    wireMac: h.uplinkMac,
  };
}
