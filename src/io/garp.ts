// Gratuitous ARP (RFC 5227 2.4 "ARP Announcement"; what `arping -U` sends):
// a broadcast ARP request whose sender and target address are both the
// address being announced, so every host on the segment updates the MAC it
// holds for it. Sent through an AF_PACKET socket on a named interface inside
// a pw- network namespace (the underlay bridge, for a LoadBalancer address
// taking a new node).
import { bufferAddress, close, ifNameToIndex, sendtoAt, socket, sysError } from './libc.ts';
import { SOCK_CLOEXEC, SOCK_RAW } from './socket.ts';
import { inNetns } from './setns.ts';
import { ipv4ToInt, parseMac } from '../model/addr.ts';

const AF_PACKET = 17;
const ETH_P_ARP = 0x0806;
const SOCKADDR_LL_LEN = 20;

/** The 60-byte frame (minimum Ethernet size, zero padded): broadcast, ARP request, sender = target = `ip`, target MAC zero. */
export function gratuitousArpFrame(ip: string, mac: string): Uint8Array {
  const f = new Uint8Array(60);
  const v = new DataView(f.buffer);
  f.fill(0xff, 0, 6);
  const m = parseMac(mac);
  f.set(m, 6);
  v.setUint16(12, ETH_P_ARP);
  v.setUint16(14, 1); // htype Ethernet
  v.setUint16(16, 0x0800); // ptype IPv4
  f[18] = 6; f[19] = 4;
  v.setUint16(20, 1); // request
  f.set(m, 22);
  v.setUint32(28, ipv4ToInt(ip));
  v.setUint32(38, ipv4ToInt(ip));
  return f;
}

/** Send `frame` out of interface `ifname` of pw- namespace `ns` (as written: the kernel adds nothing). */
export function sendFrameIn(ns: string, ifname: string, frame: Uint8Array): void {
  inNetns(ns, () => {
    const ifindex = ifNameToIndex(ifname);
    if (!ifindex) throw new Error(`no interface ${ifname} in ${ns}`);
    // protocol 0: a socket that sends only, never receives
    const fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sysError('socket', `AF_PACKET in ${ns}`, fd);
    try {
      const sll = new Uint8Array(SOCKADDR_LL_LEN);
      const v = new DataView(sll.buffer);
      v.setUint16(0, AF_PACKET, true);
      v.setUint16(2, ETH_P_ARP); // network order
      v.setInt32(4, ifindex, true);
      sll[11] = 6;
      sll.set(frame.subarray(0, 6), 12);
      const n = sendtoAt(fd, bufferAddress(frame), frame.byteLength, 0, bufferAddress(sll), SOCKADDR_LL_LEN);
      if (n < 0) throw sysError('sendto', `${ifname} in ${ns}`, n);
    } finally {
      close(fd);
    }
  });
}
