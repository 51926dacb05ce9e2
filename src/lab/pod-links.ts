// A lab pod's interfaces, set up over netlink from this process (io/netlink.ts):
// the same steps as podLinkSetup (lab.ts, which a CNI ADD still runs through
// `ip -batch`), without an `ip` process per pod.
import { RouteNetlink, setLink, addAddress, addDefaultRoute, LOOPBACK_IFINDEX } from '../io/netlink.ts';
import type { PodPlan } from '../model/topology.ts';

type PodLink = Pick<PodPlan, 'namespace' | 'mac' | 'mtu' | 'ip' | 'prefixLen' | 'gateway'>;

/**
 * In pod namespace p.namespace: loopback up and marked `mark` (the lab's
 * owner mark, state.ts), eth0 with the pod's MAC and MTU and no IPv6
 * autoconf (before it goes up, so no link-local address appears), up, its
 * address, and the default route via the gateway. Throws naming the pod
 * namespace and the step that failed.
 */
export function setUpPodLink(p: PodLink, mark: string): void {
  const { nl, ifIndex } = RouteNetlink.open(p.namespace, 'eth0');
  try {
    nl.request([
      setLink(LOOPBACK_IFINDEX, { what: `link set lo up alias ${mark}`, up: true, alias: mark }),
      setLink(ifIndex, { what: `link set eth0 address ${p.mac} mtu ${p.mtu} addrgenmode none`, mac: p.mac, mtu: p.mtu, noIpv6AddrGen: true }),
      setLink(ifIndex, { what: 'link set eth0 up', up: true }),
      addAddress(ifIndex, p.ip, p.prefixLen, `addr add ${p.ip}/${p.prefixLen} dev eth0`),
      addDefaultRoute(ifIndex, p.gateway, `route add default via ${p.gateway} dev eth0`),
    ]);
  } finally {
    nl.close();
  }
}
