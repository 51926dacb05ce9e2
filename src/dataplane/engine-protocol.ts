// Messages between the main thread and the forwarding worker (engine.ts).
import type { CounterSnapshot } from './dataplane.ts';

export interface EnginePortConfig { port: number; fd: number; mtu: number; name: string }
export interface EngineNodeConfig {
  name: string;
  gatewayIp: string;
  gatewayMac: string;
  fdbCapacity: number;
  maxPorts: number;
  ports: EnginePortConfig[];
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
export interface NodeStats {
  name: string;
  counters: CounterSnapshot;
  fdb: { mac: string; port: number; ageMs: number }[];
  fdbCapacity: number;
  io: PortIoStats[];
}

export type EngineReply =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'stats'; id: number; nodes: NodeStats[] }
  | { type: 'portGone'; names: string[] };
