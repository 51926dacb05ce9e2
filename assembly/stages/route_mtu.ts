// The largest packet a route carries: what the routing stage checks a
// forwarded packet against and GSO segments are cut to fit.
import { RouteKind, routeKind } from "../tables/fib";
import { neighLookup, NO_MAC } from "../tables/neighbors";
import { fdbLookup, NO_PORT } from "../tables/mac_table";
import { portMtu } from "../tables/ports";
import { nowMs } from "../clock";
import { ulPort } from "../node";
import { VXLAN_L3_OVERHEAD, IPIP_L3_OVERHEAD } from "./encap";

/**
 * The largest IPv4 packet route `r` carries to `dst`: the tunnel MTU for
 * overlays, the underlay port's for host-gw, and for a local route the MTU of
 * the pod port the bridge will use (neighbour, then FDB), as the kernel's
 * ip_forward checks cni0's: DF gets fragmentation needed, the rest fragments.
 * A destination whose port is not known yet floods, and each port checks its own.
 */
export function routeMtu(r: i32, dst: u32): u32 {
  const kind = routeKind(r);
  if (kind == RouteKind.LOCAL) {
    const mac = neighLookup(dst);
    if (mac == NO_MAC) return 0xffff;
    const port = fdbLookup(mac, nowMs);
    return port == NO_PORT ? 0xffff : portMtu(<u32>port);
  }
  const ul = portMtu(ulPort);
  if (kind == RouteKind.VXLAN) return ul - VXLAN_L3_OVERHEAD;
  if (kind == RouteKind.IPIP) return ul - IPIP_L3_OVERHEAD;
  return ul;
}
