// This node's identity, set by the control plane: its pod gateway (the
// bridge device's address and MAC), its identity on the underlay and its
// overlay settings (flannel's view of a node: its public IP, its VTEP).
// Module globals are per node: each node is its own instance.
export const enum Overlay {
  NONE = 0,     // single node: no underlay
  VXLAN = 1,
  IPIP = 2,
  HOST_GW = 3,
}

/** The pod gateway: the first address of the pod CIDR, and the bridge device's MAC (0: none yet). */
export let gwIp: u32 = 0;
export let gwMac: u64 = 0;

export function setGateway(ip: u32, mac: u64): void {
  gwIp = ip;
  gwMac = mac;
}

export let overlay: Overlay = Overlay.NONE;
export let ulPort: u32 = 0xffffffff;  // the underlay port (none until set)
export let ulIp: u32 = 0;
export let ulMac: u64 = 0;
export let vtepMac: u64 = 0;          // the node's VXLAN device MAC (flannel.1)
export let vni: u32 = 1;
export let vxlanPort: u16 = 8472;
export let ipId: u16 = 0;             // outer IPv4 identification counter
/**
 * The underlay egress cannot take GSO super-frames or partial checksums (a
 * real device: a TAP on a Linux bridge toward kernel nodes). Super-frames
 * routed onto it are segmented in software, partial checksums finished.
 */
export let ulSegment: bool = false;

export function setUnderlay(port: u32, ip: u32, mac: u64): void {
  ulPort = port;
  ulIp = ip;
  ulMac = mac;
}

export function setOverlay(kind: u32, vniValue: u32, udpPort: u32, vtep: u64): void {
  overlay = <Overlay>kind;
  vni = vniValue & 0xffffff;
  vxlanPort = <u16>udpPort;
  vtepMac = vtep;
}

/** Whether the underlay egress cannot take super-frames (see ulSegment). Off by default. */
export function setUnderlayNoGso(on: bool): void {
  ulSegment = on;
}

/**
 * The underlay TAP speaks the 24-byte virtio-net header with UDP-tunnel GSO
 * (TUN_F_UDP_TUNNEL_GSO accepted): VXLAN super-frames go to it whole, the
 * kernel segmenting them, and come from it whole (stages/tunnel_gso.ts).
 */
export let ulTunnelGso: bool = false;

export function setUnderlayTunnelGso(on: bool): void {
  ulTunnelGso = on;
}

/**
 * With UDP-tunnel GSO, ask for an outer UDP checksum on every segment
 * (TUN_F_UDP_TUNNEL_GSO_CSUM accepted): a receiver's GRO coalesces UDP only
 * when it has one (udp_gro_receive_segment), so a `--node` host behind a NIC
 * takes the segments 64 at a time (lab/host-tap-underlay.ts).
 */
export let ulTunnelGsoCsum: bool = false;

export function setUnderlayTunnelGsoCsum(on: bool): void {
  ulTunnelGsoCsum = on;
}

@inline export function nextIpId(): u16 { return ipId++; }
/** The outer IP ID counter (a dry-run trace puts it back). */
export function setIpId(v: u16): void { ipId = v; }
