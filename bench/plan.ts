// What a comparison run measures, decided before anything touches the host,
// so tests can check that every comparison is like for like:
// - one pod MTU for every contender of a comparison (printed, and checked
//   against the pod's eth0 when the case runs);
// - the same offloads for every contender: "off" turns off the same ethtool
//   features on every device of every contender's namespaces, and the TAP
//   contenders (podwire --no-offloads, the C forwarder --no-offload) also
//   offer no TUNSETOFFLOAD offloads;
// - alternating order: podwire first in odd rounds, the kernel first in even
//   rounds, so neither side always runs on a machine the other just warmed.
import { planTopology, type LabPlan, type Overlay } from '../src/model/topology.ts';

export type Contender = 'podwire' | 'kernel' | 'c-forwarder';

/** ethtool -K features "offloads off" turns off: tx checksumming, TSO, GSO, GRO. */
export const ETHTOOL_OFFLOADS = ['tx', 'tso', 'gso', 'gro'] as const;

export interface OffloadSpec {
  /** 'on': every device as created; 'off': the features below off everywhere */
  mode: 'on' | 'off';
  /** ethtool -K DEV <feature> off, on every device (but lo) of the contender's namespaces */
  ethtoolOff: string[];
}
export const OFFLOADS_ON: OffloadSpec = { mode: 'on', ethtoolOff: [] };
export const OFFLOADS_OFF: OffloadSpec = { mode: 'off', ethtoolOff: [...ETHTOOL_OFFLOADS] };

/** How a contender's offload setting reads in a report. */
export function describeOffloads(c: Contender, o: OffloadSpec): string {
  if (o.mode === 'on') return 'offloads on (defaults: TSO/GSO/GRO, checksum offload; TAPs with vnet header + TSO)';
  const tap = c === 'podwire' ? 'TAPs without offloads (--no-offloads), ' : c === 'c-forwarder' ? 'TAPs without offloads (--no-offload), ' : '';
  return `${tap}ethtool -K ${o.ethtoolOff.map((f) => `${f} off`).join(' ')} on every device`;
}

export interface E2eCase {
  /** the name the report and the JSON use */
  name: string;
  /** contenders of one comparison share it: same MTU, same offloads */
  comparison: string;
  contender: Contender;
  /** pod MTU every contender of the comparison runs at */
  mtu: number;
  offloads: OffloadSpec;
  /** cross-node cases: the overlay both nodes use */
  overlay?: Overlay;
  underlay?: 'bridge';
}

/** The single-node podwire lab bench e2e runs: host-gw, so its pods get the full cluster MTU, as on a kernel bridge. */
export function e2eSingleNodePlan(name: string, pods: string[], offloads: boolean, mtu = 1500): LabPlan {
  return planTopology({
    cluster: { name, clusterCIDR: '10.249.0.0/16', overlay: 'host-gw', mtu, offloads },
    nodes: [{ name: 'n1', pods }],
  }, 'benchmark lab');
}

export function e2eCrossNodePlan(c: { overlay: Overlay; contender: Contender; underlay?: 'bridge' }): LabPlan {
  return planTopology({
    cluster: { name: 'benchx', clusterCIDR: '10.249.0.0/16', overlay: c.overlay, ...(c.underlay ? { underlay: c.underlay } : {}) },
    nodes: [
      { name: 'x1', dataplane: c.contender === 'kernel' ? 'kernel' : 'podwire', pods: ['benchx-a'] },
      { name: 'x2', dataplane: c.contender === 'kernel' ? 'kernel' : 'podwire', pods: ['benchx-b'] },
    ],
  }, 'benchmark lab');
}

/**
 * bench e2e's cases. Same node: kernel veth+bridge, the C TAP forwarder and
 * podwire, all at MTU 1500 (a Kubernetes node's bridge), offloads on, and
 * with --offload-off all three again with offloads off. Cross node
 * (--overlays): per overlay, the kernel's own (flannel-style nodes) beside
 * podwire at the pod MTU the overlay leaves (the same for both), and the C
 * forwarder at that MTU as the TAP floor.
 */
export function e2eCases(opts: { offloadOff?: boolean; overlays?: boolean } = {}): E2eCase[] {
  const cases: E2eCase[] = [];
  const sameNode = (offloads: OffloadSpec) => {
    const comparison = `same node, MTU 1500, offloads ${offloads.mode}`;
    const tag = offloads.mode === 'on' ? 'vnet hdr, TSO' : 'no offloads';
    cases.push(
      { name: `podwire (${tag})`, comparison, contender: 'podwire', mtu: 1500, offloads },
      { name: `C TAP forwarder (${tag})`, comparison, contender: 'c-forwarder', mtu: 1500, offloads },
      { name: offloads.mode === 'on' ? 'kernel veth+bridge' : 'kernel veth+bridge (no offloads)', comparison, contender: 'kernel', mtu: 1500, offloads },
    );
  };
  sameNode(OFFLOADS_ON);
  if (opts.offloadOff) sameNode(OFFLOADS_OFF);
  if (opts.overlays) {
    for (const overlay of ['vxlan', 'ipip', 'host-gw'] as const) {
      const mtu = e2eCrossNodePlan({ overlay, contender: 'podwire' }).podMtu;
      const comparison = `cross-node ${overlay}, MTU ${mtu}, offloads on`;
      const label = overlay === 'vxlan' ? 'VXLAN' : overlay === 'ipip' ? 'IP-in-IP' : 'host-gw';
      cases.push({ name: `cross-node podwire ${label}`, comparison, contender: 'podwire', mtu, offloads: OFFLOADS_ON, overlay });
      if (overlay === 'vxlan') {
        cases.push({ name: 'cross-node podwire VXLAN, bridge underlay (sw segmentation)', comparison, contender: 'podwire', mtu, offloads: OFFLOADS_ON, overlay, underlay: 'bridge' });
        cases.push({ name: `C TAP forwarder (vnet hdr, TSO), MTU ${mtu}`, comparison, contender: 'c-forwarder', mtu, offloads: OFFLOADS_ON });
      }
      // the host kernel has no ipip module: kernel IP-in-IP nodes cannot be built here
      if (overlay !== 'ipip') cases.push({ name: `cross-node kernel ${label}${overlay === 'vxlan' ? ' (flannel-style nodes)' : ''}`, comparison, contender: 'kernel', mtu, offloads: OFFLOADS_ON, overlay });
    }
  }
  return cases;
}

const RANK: Record<Contender, number> = { podwire: 0, 'c-forwarder': 1, kernel: 2 };

/**
 * The order of one round (1-based): comparisons in the order given; within
 * each, podwire first and the kernel last in odd rounds, reversed in even
 * rounds, so the contenders of a comparison always run back to back.
 */
export function roundOrder<T extends { comparison: string; contender: Contender }>(cases: T[], round: number): T[] {
  const groups = new Map<string, T[]>();
  for (const c of cases) groups.set(c.comparison, [...(groups.get(c.comparison) ?? []), c]);
  const out: T[] = [];
  for (const g of groups.values()) {
    const sorted = g.map((c, i) => ({ c, i })).sort((a, b) => RANK[a.c.contender] - RANK[b.c.contender] || a.i - b.i).map((x) => x.c);
    out.push(...(round % 2 === 1 ? sorted : sorted.reverse()));
  }
  return out;
}
