// Egress: the MTU check a bridge port applies (is_skb_forwardable in the
// kernel) and queuing onto the tx list with per-port counters.
import { VNET_HLEN, VNET_GSO_NONE, vnetGsoType } from "../wire/virtio";
import { portMtu } from "../tables/ports";
import { txPush } from "../frame";
import { Drop, Ev, countEv, countPort, PortCtr } from "../counters";
import { ulPort, ulTunnelGso } from "../node";
import { isTunnelGso, tunnelHdrOut } from "./tunnel_gso";

/**
 * The last port that refused a frame: the traced loop (index.ts) names it in
 * TX_REFUSED, after the frame's tx records. It stays a global because
 * returning it would put a port beside the Drop every stage between here and
 * the dispatcher returns and compares (bridge floods, routeTo, encap,
 * fragment, gso, ipForward); a trace point here instead would record
 * TX_REFUSED before the tx records, changing the trace.
 */
export let refusedPort: u32 = 0;

/**
 * Send the frame at `frame` (`len` bytes, L2 header `l2len` bytes, vnet header
 * just before it) out of `port`. Returns Drop.NONE, or why this port did not
 * get it; the caller decides what that means for the frame (a flood that
 * reached another port was still forwarded), so each frame counts one reason.
 */
export function output(slot: u32, port: u32, frame: usize, len: u32, l2len: u32): Drop {
  const vnet = frame - VNET_HLEN;
  if (len - l2len > portMtu(port) && vnetGsoType(vnet) == VNET_GSO_NONE) {
    countPort(port, PortCtr.TX_DROPS, 1);
    refusedPort = port;
    return Drop.OVERSIZE;
  }
  // only a node whose underlay TAP speaks UDP-tunnel GSO ever holds a tunnel
  // super-frame (vnetCheck refuses the type from anywhere else): other nodes
  // pay one test of a module global here, not a header read per frame
  if (ulTunnelGso) {
    if (port == ulPort) {
      // the underlay TAP's 24-byte header, written before the 10-byte one (tunnel_gso.ts)
      tunnelHdrOut(frame);
      if (isTunnelGso(vnet)) countEv(Ev.TUNNEL_GSO_SENT);
    } else if (isTunnelGso(vnet)) {
      // a VXLAN super-frame from the underlay that was not decapsulated: only the
      // underlay TAP's header can describe it, and nothing here segments it
      countPort(port, PortCtr.TX_DROPS, 1);
      refusedPort = port;
      return Drop.GSO_UNSUPPORTED;
    }
  }
  // the list holds every rx entry (and generated frame) flooding to every port
  // once; the fabric's hand-overs reuse one rx entry many times a round, so it
  // can fill: checked, never a trap
  if (!txPush(slot, port, vnet, len + VNET_HLEN)) {
    refusedPort = port;
    return Drop.TX_FULL;
  }
  countPort(port, PortCtr.TX_PACKETS, 1);
  countPort(port, PortCtr.TX_BYTES, len);
  return Drop.NONE;
}
