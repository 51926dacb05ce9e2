// `podwire graph`: the lab as a picture. This file gathers what is drawn —
// from a topology file (the plan, no lab needed) or from a running lab's
// status — into one shape; graph-svg.ts lays it out and draws it.
import { localNodes, type LabPlan } from '../model/topology.ts';
import { withDnsPod } from './cluster-dns.ts';
import { podLabel } from '../model/pod-refs.ts';
import { formatNetem } from '../model/netem.ts';
import type { LabStatus } from './status.ts';

export interface GraphPod { label: string; ip: string; netem?: string }
export interface GraphNode {
  name: string;
  dataplane: 'podwire' | 'kernel';
  podCIDR: string;
  gateway: string;
  /** the node's underlay address; absent on a single-node lab without external hosts */
  underlayIp?: string;
  pods: GraphPod[];
}
export interface GraphService { label: string; type: string; clusterIP: string; endpoints: { ip: string; node: string }[] }
export interface LabGraph {
  name: string;
  overlay: string;
  /** "vni 1, UDP 8472" for vxlan */
  overlayDetail: string;
  underlayCIDR: string;
  /** in-process (nodes hand frames over in memory) or bridge (a Linux bridge in pw-ul-<lab>) */
  underlay: string;
  nodes: GraphNode[];
  services: GraphService[];
  external: { name: string; ip: string }[];
  /** impaired node-to-node links: "n1:n2" and the netem spec as tc writes it */
  impairedLinks: { between: string; netem: string }[];
}

const overlayDetail = (overlay: string, vxlan: { vni: number; port: number }) => (overlay === 'vxlan' ? `VNI ${vxlan.vni}, UDP ${vxlan.port}` : overlay === 'ipip' ? 'IP protocol 4' : 'routes via the nodes');
const hasUnderlayLink = (nodes: number, external: number) => nodes > 1 || external > 0;

/** The picture of a topology (its plan): the cluster DNS pod included, as `up` would run it. */
export function graphFromPlan(plan: LabPlan): LabGraph {
  const net = withDnsPod(plan);
  const external = plan.external ?? [];
  const withUnderlay = hasUnderlayLink(plan.nodes.length, external.length);
  return {
    name: plan.name, overlay: plan.overlay, overlayDetail: overlayDetail(plan.overlay, plan.vxlan),
    underlayCIDR: plan.underlayCIDR, underlay: external.length || plan.underlay === 'bridge' ? 'bridge' : 'in-process',
    nodes: localNodes(net).map((n) => ({
      name: n.name, dataplane: n.dataplane, podCIDR: n.podCIDR, gateway: n.gateway,
      ...(withUnderlay ? { underlayIp: n.underlayIp } : {}),
      pods: n.pods.map((p) => ({ label: podLabel(p), ip: p.ip, ...(p.netem ? { netem: formatNetem(p.netem) } : {}) })),
    })),
    services: plan.services.map((s) => ({
      label: s.namespace === 'default' ? s.name : `${s.namespace}/${s.name}`, type: s.type, clusterIP: s.clusterIP,
      endpoints: s.endpoints.map((e) => ({ ip: e.ip, node: e.node })),
    })),
    external: external.map((h) => ({ name: h.name, ip: h.ip })),
    impairedLinks: (plan.links ?? []).flatMap((l) => (l.netem ? [{ between: l.between.join(':'), netem: formatNetem(l.netem) }] : [])),
  };
}

/** The picture of a running lab, from `podwire status --json`. */
export function graphFromStatus(s: LabStatus): LabGraph {
  const external = s.external ?? [];
  return {
    name: s.lab, overlay: s.cluster.overlay, overlayDetail: overlayDetail(s.cluster.overlay, s.cluster.vxlan),
    underlayCIDR: s.cluster.underlayCIDR, underlay: s.cluster.underlay ?? 'in-process',
    nodes: s.nodes.map((n) => ({
      name: n.name, dataplane: n.dataplane ?? 'podwire', podCIDR: n.podCIDR, gateway: n.gateway,
      ...(n.underlayIp ?? n.underlay?.ip ? { underlayIp: n.underlayIp ?? n.underlay?.ip } : {}),
      pods: s.pods.filter((p) => p.node === n.name).map((p) => ({
        label: p.namespace === 'default' ? p.name : `${p.namespace}/${p.name}`, ip: p.ip, ...(p.netem ? { netem: p.netem.text } : {}),
      })),
    })),
    services: s.services.map((v) => ({
      label: v.namespace === 'default' ? v.name : `${v.namespace}/${v.name}`, type: v.type, clusterIP: v.clusterIP,
      endpoints: v.endpoints.map((e) => ({ ip: e.ip, node: e.node })),
    })),
    external: external.map((h) => ({ name: h.name, ip: h.ip })),
    impairedLinks: (s.links ?? []).flatMap((l) => (l.netem ? [{ between: l.between.join(':'), netem: l.netem.text }] : [])),
  };
}
