// The control plane's names for the data plane's numbers: port, overlay and
// route kinds, Service flags, conntrack states, timeouts and protocols. The
// numbers come from layout.ts (generated from assembly/); only the names,
// which are the control plane's vocabulary, are written here.
import { Ports, Overlay, RouteKind as Route, CtState, Conntrack } from './layout.ts';

export type PortKind = 'bridge' | 'underlay';
export const PORT_KIND: Record<PortKind, number> = { bridge: Ports.PORT_BRIDGE, underlay: Ports.PORT_UNDERLAY };

export type OverlayKind = 'none' | 'vxlan' | 'ipip' | 'host-gw';
export const OVERLAY_KIND: Record<OverlayKind, number> = {
  none: Overlay.NONE, vxlan: Overlay.VXLAN, ipip: Overlay.IPIP, 'host-gw': Overlay.HOST_GW,
};

export type RouteKind = 'local' | 'vxlan' | 'ipip' | 'host-gw' | 'announced';
export const ROUTE_KIND: Record<RouteKind, number> = {
  local: Route.LOCAL, vxlan: Route.VXLAN, ipip: Route.IPIP, 'host-gw': Route.HOST_GW, announced: Route.ANNOUNCED,
};
/** A route kind's name by its number (undefined for a number the data plane does not use). */
export const ROUTE_KIND_NAME: Record<number, RouteKind | undefined> = invert(ROUTE_KIND);

export type ServiceProto = 'tcp' | 'udp';
export const CT_PROTO = { icmp: Conntrack.PROTO_ICMP, tcp: Conntrack.PROTO_TCP, udp: Conntrack.PROTO_UDP } as const;
export const PROTO_NAME: Record<number, keyof typeof CT_PROTO | undefined> = invert(CT_PROTO);

const CT_STATE = {
  none: CtState.NONE, syn_sent: CtState.TCP_SYN_SENT, syn_recv: CtState.TCP_SYN_RECV, established: CtState.TCP_ESTABLISHED,
  fin_wait: CtState.TCP_FIN_WAIT, close_wait: CtState.TCP_CLOSE_WAIT, last_ack: CtState.TCP_LAST_ACK,
  time_wait: CtState.TCP_TIME_WAIT, close: CtState.TCP_CLOSE, unreplied: CtState.UDP_UNREPLIED, replied: CtState.UDP_REPLIED,
  icmp_request: CtState.ICMP_REQUEST, icmp_replied: CtState.ICMP_REPLIED, other: CtState.OTHER,
} as const;
export type CtStateName = keyof typeof CT_STATE;
/** Conntrack state names, indexed by the data plane's state number. */
export const CT_STATES: readonly CtStateName[] = (() => {
  const out: CtStateName[] = [];
  for (const [name, n] of Object.entries(CT_STATE) as [CtStateName, number][]) out[n] = name;
  return out;
})();

/** The timeout each setting governs, per protocol: the names `setCtTimeout` takes, numbered as the data plane's timeout table. */
export const CT_TIMEOUTS = {
  tcp_syn_sent: CtState.TCP_SYN_SENT, tcp_syn_recv: CtState.TCP_SYN_RECV, tcp_established: CtState.TCP_ESTABLISHED,
  tcp_fin_wait: CtState.TCP_FIN_WAIT, tcp_close_wait: CtState.TCP_CLOSE_WAIT, tcp_last_ack: CtState.TCP_LAST_ACK,
  tcp_time_wait: CtState.TCP_TIME_WAIT, tcp_close: CtState.TCP_CLOSE, udp_unreplied: CtState.UDP_UNREPLIED,
  udp_stream: CtState.UDP_REPLIED, icmp: CtState.ICMP_REQUEST, icmp_replied: CtState.ICMP_REPLIED, generic: CtState.OTHER,
  // timeout classes, not states: Linux's _max_retrans and _unacknowledged
  tcp_retrans: CtState.TCP_RETRANS, tcp_unacknowledged: CtState.TCP_UNACK,
} as const;
export type CtTimeoutName = keyof typeof CT_TIMEOUTS;

function invert<K extends string>(m: Record<K, number>): Record<number, K | undefined> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k])) as Record<number, K | undefined>;
}
