// Ports: which are attached, what they are, and each one's MTU (the largest
// IPv4 packet it takes without GSO). Bridge ports are the pods' (cni0's
// members); the underlay port is the node's link to other nodes and is never
// part of the bridge (no flooding onto it).
export const PORT_BRIDGE: u32 = 1;
export const PORT_UNDERLAY: u32 = 2;

export let maxPorts: u32 = 0;
export let portLimit: u32 = 0; // 1 + highest attached port: the flood loop bound
let upBase: usize = 0;
let mtuBase: usize = 0;

export function portsBytes(n: u32): usize { return <usize>n * 8; }

export function portsInit(at: usize, n: u32): void {
  maxPorts = n;
  portLimit = 0;
  upBase = at;
  mtuBase = at + <usize>n * 4;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
}

@inline export function portUp(p: u32): bool { return p < maxPorts && load<u32>(upBase + (<usize>p << 2)) != 0; }
/** A bridge member (not the underlay). */
@inline export function portBridged(p: u32): bool { return p < maxPorts && load<u32>(upBase + (<usize>p << 2)) == PORT_BRIDGE; }
@inline export function portMtu(p: u32): u32 { return load<u32>(mtuBase + (<usize>p << 2)); }

/** Attach port `p` as `kind` (PORT_BRIDGE or PORT_UNDERLAY). */
export function portAttach(p: u32, mtu: u32, kind: u32): bool {
  if (p >= maxPorts || (kind != PORT_BRIDGE && kind != PORT_UNDERLAY)) return false;
  store<u32>(upBase + (<usize>p << 2), kind);
  store<u32>(mtuBase + (<usize>p << 2), mtu);
  if (p + 1 > portLimit) portLimit = p + 1;
  return true;
}

export function portDetach(p: u32): void {
  if (p >= maxPorts) return;
  store<u32>(upBase + (<usize>p << 2), 0);
  while (portLimit > 0 && !portUp(portLimit - 1)) portLimit--;
}
