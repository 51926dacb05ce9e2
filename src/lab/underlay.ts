// The underlay: one real L2 segment (a Linux bridge inside its own pw-
// namespace) that nodes plug into with a veth, the way machines plug into a
// switch. Kernel nodes (kernel-node.ts) and podwire nodes meet here, so a
// capture on br0 shows exactly what crosses the "wire" between nodes.
// Nothing is ever created in the root namespace: each veth pair is created
// from inside the underlay namespace straight into the node's namespace.
import { createHash } from 'node:crypto';
import { assertPwName, ipBatch, netnsAdd, netnsDel, netnsList } from '../io/netns.ts';
import { parseCidr, nthAddress } from '../model/cidr.ts';

/**
 * Default underlay range. Chosen so it cannot overlap the cluster (pods
 * 10.244.0.0/16, services 10.96.0.0/12) and is unlikely to be any real LAN;
 * it never leaves the namespaces anyway.
 */
export const DEFAULT_UNDERLAY_CIDR = '172.31.255.0/24';
export const DEFAULT_UNDERLAY_NS = 'pw-underlay';
/** The bridge inside the underlay namespace (a name local to that namespace). */
export const UNDERLAY_BRIDGE = 'br0';

export interface Underlay {
  /** the pw- namespace holding the bridge */
  ns: string;
  bridge: string;
  /** e.g. "172.31.255.0/24" */
  cidr: string;
  prefixLen: number;
  /** Remove the namespace (and with it the bridge and every port still attached). Idempotent. */
  teardown(): Promise<void>;
}

export interface AttachOptions {
  /** interface name inside the node namespace */
  ifname?: string;
  /** the node's underlay address (without prefix; the underlay's prefix is used) */
  ip: string;
  mac: string;
  mtu?: number;
}

/**
 * Create the underlay namespace with bridge br0: up, no address (it is a
 * switch, not a host), STP off and forward delay 0 so ports forward at once.
 * On failure nothing is left behind.
 */
export async function createUnderlay(ns = DEFAULT_UNDERLAY_NS, cidr = DEFAULT_UNDERLAY_CIDR): Promise<Underlay> {
  assertPwName(ns);
  const parsed = parseCidr(cidr, 'underlay cidr');
  if ((await netnsList()).includes(ns)) throw new Error(`namespace ${ns} already exists: another underlay is running (or one was left behind)`);
  await netnsAdd(ns);
  const underlay: Underlay = { ns, bridge: UNDERLAY_BRIDGE, cidr, prefixLen: parsed.prefixLen, teardown: () => removeNamespaces([ns]) };
  try {
    await ipBatch([
      'link set lo up',
      `link add ${UNDERLAY_BRIDGE} type bridge stp_state 0 forward_delay 0`,
      // no IPv6 link-local address: keeps ND/MLD chatter out of underlay captures
      `link set ${UNDERLAY_BRIDGE} addrgenmode none`,
      `link set ${UNDERLAY_BRIDGE} up`,
    ], ns);
  } catch (e) {
    await underlay.teardown();
    throw e;
  }
  return underlay;
}

/** The n-th address of the underlay range (1 = first host), a convenient way to number nodes. */
export function underlayAddress(underlay: Underlay, n: number): string {
  return nthAddress(parseCidr(underlay.cidr, 'underlay cidr'), n);
}

/**
 * The bridge port's name inside the underlay namespace: "veth" + 8 hex of the
 * node namespace, like CNI's veth names — stable (so a capture or `bridge
 * link` names the same port every run) and within IFNAMSIZ.
 */
export function underlayPortName(nodeNs: string): string {
  return 'veth' + createHash('sha256').update(nodeNs).digest('hex').slice(0, 8);
}

/**
 * Plug pw- namespace `nodeNs` into the underlay: a veth pair whose node end
 * is `ifname` (address ip/prefix, given MAC and MTU) and whose other end is a
 * port of br0. Deleting `nodeNs` later removes the pair, and so the port.
 */
export async function attachVethNode(underlay: Underlay, nodeNs: string, opts: AttachOptions): Promise<void> {
  assertPwName(nodeNs);
  const { ifname = 'eth0', ip, mac, mtu = 1500 } = opts;
  const port = underlayPortName(nodeNs);
  // Created from inside the underlay namespace: the node end goes straight
  // into nodeNs, so no link ever exists in the root namespace, even briefly.
  await ipBatch([
    `link add ${port} mtu ${mtu} type veth peer name ${ifname} mtu ${mtu} address ${mac} netns ${nodeNs}`,
    `link set ${port} addrgenmode none`,
    `link set ${port} master ${underlay.bridge}`,
    `link set ${port} up`,
  ], underlay.ns);
  await ipBatch([
    'link set lo up',
    `link set ${ifname} addrgenmode none`,
    `addr add ${ip}/${underlay.prefixLen} dev ${ifname}`,
    `link set ${ifname} up`,
  ], nodeNs);
}

/** Delete those of `namespaces` that still exist; keeps going past failures and reports them together. */
export async function removeNamespaces(namespaces: string[]): Promise<void> {
  namespaces.forEach(assertPwName);
  const now = new Set(await netnsList());
  const errors: string[] = [];
  for (const ns of namespaces) {
    if (!now.has(ns)) continue;
    await netnsDel(ns).catch((e: Error) => errors.push(e.message));
  }
  if (errors.length) throw new Error(`teardown left namespaces behind:\n  ${errors.join('\n  ')}`);
}
