// Program one node's data plane from its engine config: ports, gateway,
// underlay, overlay, routes and neighbours — what the CNI plugin and flannel
// write into a real node's kernel — and the Services kube-proxy programs.
import type { Dataplane } from './dataplane.ts';
import type { EngineNodeConfig } from './engine-protocol.ts';
import { programServices } from './service-sync.ts';

export function programNode(dp: Dataplane, n: EngineNodeConfig, macAgingMs: number): void {
  dp.setGateway(n.gatewayIp, n.gatewayMac);
  dp.ex.fdbSetAging(macAgingMs);
  for (const p of n.ports) dp.attachPort(p.port, p.mtu);
  if (n.underlay) {
    dp.attachPort(n.underlay.port, n.underlay.mtu, 'underlay');
    dp.setUnderlay(n.underlay.port, n.underlay.ip, n.underlay.mac);
    dp.setUnderlayNoGso(n.underlay.segment);
    dp.setUnderlayTunnelGso(n.underlay.fd >= 0 && !!n.underlay.tunnelGso);
    dp.setUnderlayTunnelGsoCsum(n.underlay.fd >= 0 && !!n.underlay.tunnelGso && !!n.underlay.tunnelGsoCsum);
  }
  dp.setOverlay(n.overlay.kind, { vni: n.overlay.vni, port: n.overlay.port, vtepMac: n.overlay.vtepMac });
  for (const r of n.routes) dp.addRoute(r.cidr, r.kind, r.nextHop, r.vtepMac);
  for (const nb of n.neighbors) dp.setNeighbor(nb.ip, nb.mac);
  for (const p of n.ports) if (p.mac) dp.addStaticMac(p.mac, p.port);
  programServices(dp, [], n.services);
  dp.setAnnounced(n.announced ?? []);
}
