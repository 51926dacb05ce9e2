// A TAP device with a virtio-net header on every frame.
//
// The device exists only while its fd is open (not persistent), so closing
// the fd — or the process dying — removes the link wherever it was moved.
import { O_CLOEXEC, O_NONBLOCK, O_RDWR, close, ioctlInt, ioctlPtr, open, sysError } from './libc.ts';
import { inNetns } from './setns.ts';

export const TUNSETIFF = 0x400454ca;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUNSETPERSIST = 0x400454cb;
export const TUNSETVNETHDRSZ = 0x400454d8;

export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;

export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
// 6.18's UDP-tunnel GSO (VXLAN super-frames, with the 24-byte header below); older kernels refuse them (EINVAL)
export const TUN_F_UDP_TUNNEL_GSO = 0x80;
export const TUN_F_UDP_TUNNEL_GSO_CSUM = 0x100;

/** struct virtio_net_hdr (no num_buffers: we never set IFF_MRG_RXBUF). */
export const VNET_HDR_LEN = 10;
/** struct virtio_net_hdr_v1_hash_tunnel: the header size a TAP needs to carry UDP-tunnel GSO frames. */
export const VNET_TNL_HDR_LEN = 24;

const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;

export interface TapOptions {
  /** Let the kernel hand us (and accept) GSO super-frames and partial checksums. */
  offloads: boolean;
  /**
   * Also ask for UDP-tunnel GSO (VXLAN super-frames whole, a 24-byte vnet
   * header), falling back step by step to what this kernel accepts: the
   * underlay TAP of a bridge underlay.
   */
  udpTunnel?: boolean;
}

/** What TUNSETOFFLOAD accepted on a TAP, and the vnet header length it was given. */
export interface TapOffloads {
  flags: number;
  vnetHdrLen: number;
  /** TUN_F_UDP_TUNNEL_GSO accepted (and the 24-byte header set) */
  udpTunnelGso: boolean;
  /** TUN_F_UDP_TUNNEL_GSO_CSUM accepted too */
  udpTunnelGsoCsum: boolean;
  /** why UDP-tunnel GSO is off when it was asked for: the kernel's refusal, or that it was turned off */
  refused?: string;
}

export class Tap {
  /** `netns`: the pw- namespace the TAP was created in (openInNetns) */
  private constructor(readonly fd: number, readonly name: string, readonly offloads: TapOffloads, readonly netns?: string) {}

  static open(name: string, opts: TapOptions): Tap {
    const nameBytes = Buffer.from(name, 'utf8');
    if (nameBytes.length === 0 || nameBytes.length >= IFNAMSIZ) {
      throw new Error(`tap ${name}: interface name must be 1..${IFNAMSIZ - 1} bytes`);
    }
    const fd = open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw sysError('open(/dev/net/tun)', name, fd);
    try {
      const ifr = new Uint8Array(IFREQ_SIZE);
      ifr.set(nameBytes, 0);
      new DataView(ifr.buffer).setUint16(IFNAMSIZ, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, true);
      check(ioctlPtr(fd, TUNSETIFF, ifr), 'ioctl(TUNSETIFF)', name);

      const flags = opts.offloads ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : 0;
      const tunnel = opts.offloads && opts.udpTunnel ? probeUdpTunnel(fd, name, flags) : undefined;
      if (typeof tunnel === 'object') return new Tap(fd, name, tunnel);
      // 10 is the kernel default too; set it so the layout never depends on that.
      setVnetHdrLen(fd, name, VNET_HDR_LEN);
      check(ioctlInt(fd, TUNSETOFFLOAD, flags), 'ioctl(TUNSETOFFLOAD)', name);
      const refused = opts.udpTunnel ? (tunnel ?? 'offloads are off in the topology') : undefined;
      return new Tap(fd, name, { flags, vnetHdrLen: VNET_HDR_LEN, udpTunnelGso: false, udpTunnelGsoCsum: false, ...(refused ? { refused } : {}) });
    } catch (e) {
      close(fd);
      throw e;
    }
  }

  /**
   * A TAP created inside pw- network namespace `ns` (the device is born
   * there: no move into it, which costs an RCU barrier per device under the
   * kernel's rtnl lock, ~22 ms: 22 s for 1000 pods). The fd then holds a
   * reference to `ns`: the namespace lives until the fd is closed, even
   * after `ip netns del`. Close such TAPs with Tap.closeAll.
   */
  static openInNetns(ns: string, name: string, opts: TapOptions): Tap {
    return inNetns(ns, () => { const t = Tap.open(name, opts); return new Tap(t.fd, name, t.offloads, ns); });
  }

  /**
   * Close TAPs whose namespaces were just unnamed (`ip netns del`). Closing
   * the last fd of a TAP unregisters its device, and each unregistration
   * waits for an RCU barrier (~20 ms: 1000 pods took 12–20 s). A TAP made
   * persistent first outlives its fd instead: the close only drops the fd's
   * reference to the namespace, and the kernel unregisters the devices of
   * all the namespaces freed meanwhile in one batch. Only TAPs created in a
   * pod namespace (openInNetns) are left to it; others close as usual.
   */
  static closeAll(taps: Tap[]): void {
    for (const t of taps) {
      if (t.closed) continue;
      // a failure leaves the TAP as it was: the close below then removes its device itself
      if (t.netns !== undefined) ioctlInt(t.fd, TUNSETPERSIST, 1);
      try { t.close(); } catch { /* already gone */ }
    }
  }

  private closed = false;

  /** Closed already: its fd number may belong to another file by now. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Idempotent: the second call is a no-op, so cleanup paths can always call it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const r = close(this.fd);
    if (r < 0) throw sysError('close', this.name, r);
  }
}

/**
 * Try UDP-tunnel GSO on a fresh TAP: the 24-byte header, then TUNSETOFFLOAD
 * with both tunnel bits, then without the outer-checksum one. The kernel
 * refuses bits it does not know with EINVAL, so trying is the probe.
 * Why not (a sentence) when neither is taken; the caller then
 * sets the plain header and offloads. PODWIRE_UNDERLAY_OFFLOADS=off skips it.
 */
function probeUdpTunnel(fd: number, name: string, base: number): TapOffloads | string {
  if (process.env.PODWIRE_UNDERLAY_OFFLOADS === 'off') return 'turned off (PODWIRE_UNDERLAY_OFFLOADS=off)';
  const r = setVnetHdrLenRaw(fd, VNET_TNL_HDR_LEN);
  if (r < 0) return `the kernel refused a ${VNET_TNL_HDR_LEN}-byte vnet header (${sysError('ioctl(TUNSETVNETHDRSZ)', name, r).message})`;
  for (const extra of [TUN_F_UDP_TUNNEL_GSO | TUN_F_UDP_TUNNEL_GSO_CSUM, TUN_F_UDP_TUNNEL_GSO]) {
    if (ioctlInt(fd, TUNSETOFFLOAD, base | extra) >= 0) {
      return { flags: base | extra, vnetHdrLen: VNET_TNL_HDR_LEN, udpTunnelGso: true, udpTunnelGsoCsum: (extra & TUN_F_UDP_TUNNEL_GSO_CSUM) !== 0 };
    }
  }
  return 'the kernel refused TUN_F_UDP_TUNNEL_GSO';
}

function setVnetHdrLenRaw(fd: number, len: number): number {
  const sz = new Uint8Array(4);
  new DataView(sz.buffer).setInt32(0, len, true);
  return ioctlPtr(fd, TUNSETVNETHDRSZ, sz);
}

function setVnetHdrLen(fd: number, name: string, len: number): void {
  check(setVnetHdrLenRaw(fd, len), 'ioctl(TUNSETVNETHDRSZ)', name);
}

function check(r: number, call: string, name: string): void {
  if (r < 0) throw sysError(call, name, r);
}
