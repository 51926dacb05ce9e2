// Messages between the main thread and the forwarding worker (engine.ts).
import type { CounterSnapshot, OverlayKind, RouteKind } from './dataplane.ts';

/** A pod's port; `mac` (the pod's eth0) is pinned in the bridge's table when given. */
export interface EnginePortConfig { port: number; fd: number; mtu: number; name: string; mac?: string }
export interface RouteConfig { cidr: string; kind: RouteKind; nextHop?: string; vtepMac?: string }
export interface EngineNodeConfig {
  name: string;
  gatewayIp: string;
  gatewayMac: string;
  fdbCapacity: number;
  maxPorts: number;
  ports: EnginePortConfig[];
  /** the node's link to the other nodes; in-process (fd -1): the engine's fabric carries it */
  underlay?: {
    port: number; ip: string; mac: string; mtu: number; fd: number;
    /** the underlay device cannot take encapsulated super-frames: segment TCP in software first */
    segment: boolean;
  };
  overlay: { kind: OverlayKind; vni: number; port: number; vtepMac: string };
  routes: RouteConfig[];
  neighbors: { ip: string; mac: string }[];
}
export interface EngineConfig {
  nodes: EngineNodeConfig[];
  /** eventfd the main thread signals after posting a message */
  wakeFd: number;
  /** frame slots per node = the largest batch */
  batch: number;
  slotSize: number;
  macAgingMs: number;
}

export type EngineRequest = { type: 'stats'; id: number } | { type: 'stop' };

export interface PortIoStats { port: number; name: string; rxErrors: number; txErrors: number; broken: boolean }
/** Frames the in-process underlay could not deliver: no node owns the MAC, or a forwarding loop ran too deep. */
export interface FabricStats { noPeer: number; tooDeep: number; delivered: number }
export interface NodeStats {
  name: string;
  counters: CounterSnapshot;
  fdb: { mac: string; port: number; ageMs: number; static?: boolean }[];
  fdbCapacity: number;
  io: PortIoStats[];
  fabric: FabricStats;
  /** the underlay port's number, -1 without one */
  underlayPort: number;
}

export type EngineReply =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'stats'; id: number; nodes: NodeStats[] }
  | { type: 'portGone'; names: string[] };
