// A `--node` host's VXLAN underlay through a TAP in the host's own namespace,
// steered by nftables, instead of through a UDP socket.
//
// Through a socket every super-frame is cut into wire-sized datagrams in the
// data plane, each datagram crosses the socket layer, and the receiver glues
// the segments back (tap-gro.ts). Through a TAP with UDP-tunnel GSO
// (io/tap.ts) a VXLAN super-frame leaves whole, exactly as on a lab's bridge
// underlay: the kernel (or the NIC) segments it only where a device cannot
// take it, and over a virtual link such as a veth it arrives whole.
//
// What arrives as a batch of segments — UDP GRO's work, or a host on the
// socket path whose UDP GSO send crossed the veth whole — is the socket's,
// where one read hands over up to 64 datagrams and tap-gro.ts glues them for
// the pod (a plain UDP socket takes such a batch; through the TAP it would
// need splitting). So both stay: the node sends through the TAP and
// receives on both.
//
// The TAP path is taken only where super-frames cross whole: an uplink that
// is a veth (hosts that are namespaces or containers on one machine). Over a
// NIC every packet arrives segmented and it gains nothing: emulated by veths
// that segment and checksum before the wire and GRO after it, 3.0-3.2 Gbit/s
// against 3.5-3.6 for the socket path (both arrive as UDP GRO batches on the
// socket), so the socket keeps that case. PODWIRE_HOST_UNDERLAY=tap takes
// the TAP path anyway.
//
// Two nftables netdev ingress chains join the TAP to the host's uplink (the
// device the routes to the other nodes leave by), in table pw-hu-<lab>:
//   from the TAP:    IPv4/UDP from this node's address to a peer node's
//                    VXLAN port is forwarded out of the uplink; anything
//                    else the data plane might write is dropped;
//   from the uplink: VXLAN to this node's address is forwarded into the TAP
//                    when it is one wire packet (no longer than the uplink's
//                    MTU) or a super-frame that crossed whole (its inner
//                    IPv4 packet longer than one wire packet can carry); a
//                    batch of segments (long, its first inner packet
//                    wire-sized) goes on to the socket, and everything else
//                    is the host's. A plain UDP socket would get a whole
//                    super-frame as one giant datagram (the kernel segments
//                    tunnel GSO packets only for a tunnel socket), so those
//                    must not reach it. Wire packets take the TAP too: one
//                    path for everything but batches.
// The host's routing, addresses and sysctls are not touched. The frames
// carry real MACs: the uplink's as source, each peer's next hop's as
// destination (host-neighbors.ts keeps those current).
import { createHash } from 'node:crypto';
import { Tap } from '../io/tap.ts';
import { ipBatch, run } from '../io/netns.ts';
import { HostNeighbors } from './host-neighbors.ts';

export interface HostUplink {
  /** the device the routes to every peer leave by */
  dev: string;
  mac: string;
  mtu: number;
  /** per peer address: the next hop on `dev` (a gateway, or the peer itself) */
  nextHops: Map<string, string>;
  /** the link's kind as `ip -d link` names it (veth, bridge, ...); undefined for a NIC */
  kind?: string;
}

export interface HostTapUnderlay {
  tap: Tap;
  uplink: HostUplink;
  /** the nftables netdev table steering the VXLAN port between `tap` and the uplink */
  table: string;
  close(): Promise<void>;
}

/** The TAP's name: pw-hu- and a hash of the lab's name on this host (interface names have 15 bytes). */
export function hostTapName(labId: string): string {
  return `pw-hu-${createHash('sha256').update(labId).digest('hex').slice(0, 8)}`;
}

/** The nftables table's name (lab names are [a-z0-9-], which nft names take as they are). */
export function hostTapTable(labId: string): string {
  return `pw-hu-${labId}`;
}

/**
 * Why the TAP path cannot be used here (the socket underlay is then), or
 * undefined. Asked before anything is created.
 */
export function hostTapRefusal(o: { overlay: string; offloads: boolean; env?: string }): string | undefined {
  if (o.env === 'socket') return 'PODWIRE_HOST_UNDERLAY=socket';
  if (o.env !== undefined && o.env !== '' && o.env !== 'tap') return `PODWIRE_HOST_UNDERLAY=${o.env} is neither tap nor socket`;
  if (o.overlay !== 'vxlan') return `${o.overlay} super-frames have no virtio GSO type: the socket sends them segmented either way`;
  if (!o.offloads) return 'offloads are off in the topology';
  return undefined;
}

/** Why the TAP path is not taken over this uplink (it is, over a veth; PODWIRE_HOST_UNDERLAY=tap takes it anyway), or undefined. */
export function uplinkRefusal(uplink: Pick<HostUplink, 'dev' | 'kind'>, env?: string): string | undefined {
  if (uplink.kind === 'veth' || env === 'tap') return undefined;
  return `the uplink ${uplink.dev} is ${uplink.kind ? `a ${uplink.kind}` : 'a NIC'}, not a veth: packets arrive segmented there, and the socket takes them as fast or faster (PODWIRE_HOST_UNDERLAY=tap to use the TAP anyway)`;
}

interface RouteGet { dev?: string; gateway?: string; prefsrc?: string }
interface LinkShow { address?: string; mtu?: number; link_type?: string; linkinfo?: { info_kind?: string } }

/** The one device the routes to every peer leave by, its MAC and MTU, and each peer's next hop. */
export async function findUplink(localIp: string, peers: string[]): Promise<HostUplink> {
  const nextHops = new Map<string, string>();
  let dev: string | undefined;
  for (const peer of peers) {
    const [r] = JSON.parse((await run('ip', ['-j', 'route', 'get', peer, 'from', localIp])).stdout) as RouteGet[];
    if (!r?.dev) throw new Error(`no route from ${localIp} to ${peer}`);
    if (r.dev === 'lo') throw new Error(`${peer} is an address of this host`);
    if (dev !== undefined && r.dev !== dev) throw new Error(`the routes to the other nodes leave by different devices (${dev}, ${r.dev})`);
    dev = r.dev;
    nextHops.set(peer, r.gateway ?? peer);
  }
  if (dev === undefined) throw new Error('no other node');
  const [l] = JSON.parse((await run('ip', ['-d', '-j', 'link', 'show', 'dev', dev])).stdout) as LinkShow[];
  if (l?.link_type !== 'ether' || !l.address) throw new Error(`${dev} is not an Ethernet device (${l?.link_type ?? 'unknown'})`);
  return { dev, mac: l.address, mtu: l.mtu ?? 1500, nextHops, ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}) };
}

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14): where the inner IPv4 header starts. */
const INNER_IP_AT = 50;

/**
 * The `nft -f` script that makes `table` join `tap` to the uplink for VXLAN
 * between `localIp` and `peers` on `port`. `uplinkMtu`: an inner packet
 * longer than uplinkMtu - 50 cannot have come as one wire packet.
 */
export function hostTapRules(o: { table: string; tap: string; uplink: string; uplinkMtu: number; localIp: string; peers: string[]; port: number }): string {
  // the inner frame's EtherType and the inner IPv4 total length, in bits from the outer IPv4 header (a 20-byte one, unfragmented)
  const superFrame = `ip hdrlength 5 ip frag-off & 0x3fff == 0 @nh,${(INNER_IP_AT - 2) * 8},16 0x0800 @nh,${(INNER_IP_AT + 2) * 8},16 > ${o.uplinkMtu - INNER_IP_AT}`;
  return [
    // atomic replace (a dead lab of this name may have left the table): `table` makes `delete` valid on the first run too
    `table netdev ${o.table}`,
    `delete table netdev ${o.table}`,
    `table netdev ${o.table} {`,
    '  chain from_podwire {',
    `    type filter hook ingress device "${o.tap}" priority 0; policy drop;`,
    `    ip saddr ${o.localIp} ip daddr { ${o.peers.join(', ')} } udp dport ${o.port} fwd to "${o.uplink}"`,
    '  }',
    '  chain to_podwire {',
    `    type filter hook ingress device "${o.uplink}" priority 0; policy accept;`,
    `    ip daddr ${o.localIp} udp dport ${o.port} ip length <= ${o.uplinkMtu} fwd to "${o.tap}"`,
    `    ip daddr ${o.localIp} udp dport ${o.port} ${superFrame} fwd to "${o.tap}"`,
    '  }',
    '}',
  ].join('\n') + '\n';
}

/** Remove `table` if it exists (a dead lab's, or ours at down). */
export async function removeHostTapTable(table: string): Promise<boolean> {
  const { stdout } = await run('nft', ['list', 'tables', 'netdev']).catch(() => ({ stdout: '' }));
  if (!stdout.split('\n').some((l) => l.trim() === `table netdev ${table}`)) return false;
  await run('nft', ['delete', 'table', 'netdev', table]);
  return true;
}

/**
 * Open the TAP, give it the uplink's MTU, and load the steering table. Throws
 * (having removed what it made) when the kernel refuses UDP-tunnel GSO on the
 * TAP or nft fails: the caller falls back to the socket underlay.
 */
export async function openHostTapUnderlay(o: { labId: string; localIp: string; peers: string[]; port: number; uplink: HostUplink }): Promise<HostTapUnderlay> {
  const name = hostTapName(o.labId);
  const table = hostTapTable(o.labId);
  const tap = Tap.open(name, { offloads: true, udpTunnel: true });
  try {
    if (!tap.offloads.udpTunnelGso) throw new Error(`the kernel refused UDP-tunnel GSO on a TAP (${tap.offloads.refused ?? 'unknown'})`);
    await ipBatch([`link set ${name} mtu ${o.uplink.mtu} addrgenmode none`, `link set ${name} up`]);
    await run('nft', ['-f', '-'], { input: hostTapRules({ table, tap: name, uplink: o.uplink.dev, uplinkMtu: o.uplink.mtu, localIp: o.localIp, peers: o.peers, port: o.port }) });
  } catch (e) {
    tap.close();
    throw e;
  }
  return {
    tap, uplink: o.uplink, table,
    async close() {
      await removeHostTapTable(table).catch(() => false);
      try { tap.close(); } catch { /* already closed */ }
    },
  };
}

/** A `--node` host's underlay as `up` settled it: the TAP path with its neighbours, or why it is the socket. */
export type HostUnderlay =
  | { mode: 'tap'; underlay: HostTapUnderlay; neighbors: HostNeighbors }
  | { mode: 'socket'; why: string };

/**
 * Take the TAP path for a `--node` VXLAN node where it can be taken (record
 * the TAP and the table in the lab's state first: `record`), else say why
 * the socket underlay carries it. PODWIRE_HOST_UNDERLAY=tap makes a failure
 * an error instead of a fallback; =socket skips the TAP path.
 */
export async function setUpHostUnderlay(o: {
  labId: string; overlay: string; offloads: boolean; localIp: string; peers: string[]; port: number;
  record: (link: string, table: string) => void;
}): Promise<HostUnderlay> {
  const env = process.env.PODWIRE_HOST_UNDERLAY;
  const refused = hostTapRefusal({ overlay: o.overlay, offloads: o.offloads, env });
  if (refused) {
    if (env === 'tap') throw new Error(`PODWIRE_HOST_UNDERLAY=tap: ${refused}`);
    return { mode: 'socket', why: refused };
  }
  try {
    const uplink = await findUplink(o.localIp, o.peers);
    const notHere = uplinkRefusal(uplink, env);
    if (notHere) return { mode: 'socket', why: notHere };
    o.record(hostTapName(o.labId), hostTapTable(o.labId));
    const underlay = await openHostTapUnderlay({ ...o, uplink });
    const neighbors = new HostNeighbors(uplink.dev, o.localIp, uplink.nextHops, uplink.mac);
    // peers not resolved within this wait are resolved later by the watch (host-neighbors.ts)
    await neighbors.refresh(1500).catch(async (e) => { await underlay.close(); throw e; });
    return { mode: 'tap', underlay, neighbors };
  } catch (e) {
    if (env === 'tap') throw new Error(`PODWIRE_HOST_UNDERLAY=tap: ${(e as Error).message}`);
    return { mode: 'socket', why: (e as Error).message };
  }
}
