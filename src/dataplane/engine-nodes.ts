// The forwarding worker's nodes and ports: every node's data plane created in
// one shared WebAssembly memory and programmed from its config, the fd behind
// each port, and the list of fds the loop polls (pods' TAPs, underlay TAPs
// where the underlay is a real bridge, underlay sockets).
import { createNodes, genSlotsForSegmentation, type Dataplane } from './dataplane.ts';
import { programPolicies } from './policy-sync.ts';
import { programNode } from './node-setup.ts';
import { SocketUnderlay } from './socket-underlay.ts';
import { TapCoalescer } from './tap-gro.ts';
import { memoryBytes } from './memory-views.ts';
import { addressTable, bufferAddress } from '../io/libc.ts';
import type { EngineConfig } from './engine-protocol.ts';
import { Virtio } from './layout.ts';

export interface EnginePort {
  node: number; port: number; fd: number; name: string; rxErrors: number; txErrors: number; broken: boolean;
  /** an underlay socket (read by recvfrom, never "broken": POLLERR there is a pending socket error) */
  sock?: SocketUnderlay;
}

export interface EngineNode {
  name: string;
  dp: Dataplane;
  /** the shared memory's host address: frames are read and written there directly */
  memBase: number;
  /** absolute read address of each slot, boxed once so reads allocate nothing */
  readAddr: number[];
  /** the fd behind each port (-1: none, or an in-process underlay) */
  fds: Int32Array;
  /** rx entries filled this round */
  used: number;
  /** underlay port (-1: none); in-process when ulFd < 0 and there is no socket */
  ulPort: number;
  ulFd: number;
  /**
   * bytes the underlay TAP's vnet header has beyond the data plane's (0, or
   * Virtio.VNET_TNL_HLEN - VNET_HLEN with UDP-tunnel GSO): its reads land
   * that much earlier, its writes gather the header the data plane wrote there
   */
  ulHdrExtra: number;
  /** the underlay as a host socket to nodes on other hosts */
  sock?: SocketUnderlay;
  /** frames for pods go through it (segments that came in one per datagram leave as super-frames) */
  toPods?: TapCoalescer;
  /** tx entries queued this round, and how many of them are done */
  txTotal: number;
  drained: number;
}

export interface EngineNodes {
  nodes: EngineNode[];
  ports: EnginePort[];
  /** the shared memory as bytes */
  mem8: Uint8Array;
}

export function setUpNodes(cfg: EngineConfig): EngineNodes {
  // generated frames (fragments, ICMP errors) must hold the largest MTU any port has
  const maxMtu = Math.max(1500, ...cfg.nodes.flatMap((n) => [...n.ports.map((p) => p.mtu), n.underlay?.mtu ?? 0]));
  // a node that segments super-frames needs a generated slot per segment of a whole batch
  const minPodMtu = Math.min(...cfg.nodes.flatMap((n) => n.ports.map((p) => p.mtu)), maxMtu);
  const segmenting = cfg.nodes.some((n) => n.underlay?.segment);
  const dps = createNodes(cfg.nodes.length, {
    slots: cfg.batch, slotSize: cfg.slotSize, maxPorts: Math.max(...cfg.nodes.map((n) => n.maxPorts)),
    genSlotSize: maxMtu + 512,
    genSlots: segmenting ? genSlotsForSegmentation(cfg.batch, minPodMtu) : 256,
    ...(cfg.svcCapacity ? { svcCapacity: cfg.svcCapacity } : {}),
    ...(cfg.svcMaxBackends ? { svcMaxBackends: cfg.svcMaxBackends } : {}),
    ...(cfg.maglev ? { maglev: true } : {}),
    ...(cfg.policyCapacity ? { policyCapacity: cfg.policyCapacity } : {}),
  });
  const memBase = bufferAddress(dps[0].memory.buffer);
  const mem8 = memoryBytes(dps[0].memory);
  const nodes: EngineNode[] = cfg.nodes.map((n, i) => {
    const dp = dps[i];
    programNode(dp, n, cfg.macAgingMs);
    if (n.policies) programPolicies(dp, n.policies);
    const fds = new Int32Array(dp.maxPorts).fill(-1);
    for (const p of n.ports) fds[p.port] = p.fd;
    if (n.underlay && n.underlay.fd >= 0) fds[n.underlay.port] = n.underlay.fd;
    const readAddr = addressTable(memBase + dp.readOffset(0), dp.slotSize, dp.slots);
    for (let s = 0; s < dp.slots; s++) dp.rxAddr[s] = dp.readOffset(s);
    const sc = n.underlay?.socket;
    const ulHdrExtra = n.underlay && n.underlay.fd >= 0 && n.underlay.tunnelGso ? Virtio.VNET_TNL_HLEN - Virtio.VNET_HLEN : 0;
    // with an underlay TAP too (a --node host's, lab/host-tap-underlay.ts) the socket only receives: frames leave by the TAP
    const sock = sc && new SocketUnderlay(sc, mem8, memBase, n.underlay!.mac, dp.vnetLen,
      Array.from({ length: dp.slots }, (_, s) => dp.readOffset(s)), dp.readCapacity, ulHdrExtra);
    // only with GSO-sized slots (coalesced reads need them too) and TAPs that take super-frames
    const toPods = sock && sc.gro && sc.coalesce ? new TapCoalescer(mem8, memBase, dp.vnetLen, sock.stats) : undefined;
    return {
      name: n.name, dp, memBase, readAddr, fds, used: 0,
      ulPort: n.underlay?.port ?? -1, ulFd: n.underlay?.fd ?? -1, sock, toPods, txTotal: 0, drained: 0,
      ulHdrExtra,
    };
  });
  const ports: EnginePort[] = cfg.nodes.flatMap((n, ni): EnginePort[] => [
    ...n.ports.map((p) => ({ node: ni, port: p.port, fd: p.fd, name: p.name, rxErrors: 0, txErrors: 0, broken: false })),
    ...(n.underlay && n.underlay.fd >= 0
      ? [{ node: ni, port: n.underlay.port, fd: n.underlay.fd, name: `${n.name}/underlay`, rxErrors: 0, txErrors: 0, broken: false }]
      : []),
    ...(n.underlay?.socket
      ? [{ node: ni, port: n.underlay.port, fd: n.underlay.socket.fd, name: `${n.name}/underlay`, rxErrors: 0, txErrors: 0, broken: false, sock: nodes[ni].sock }]
      : []),
  ]);
  return { nodes, ports, mem8 };
}

/** Frames a node sends on its underlay port go to a peer node in this process (not a device or socket). */
export function inProcessUnderlay(n: EngineNode): boolean {
  return n.ulPort >= 0 && n.ulFd < 0 && !n.sock;
}
