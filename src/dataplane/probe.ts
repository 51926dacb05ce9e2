// The synthetic packet `podwire trace` injects: what a pod's kernel would
// send as the first packet of a connection — a TCP SYN, a UDP datagram or an
// ICMP echo request — with valid checksums, since the data plane checks them.
import { ipv4ToInt, parseMac } from '../model/addr.ts';
import { foldComplement, sum16 } from './internet-checksum.ts';

export type ProbeProto = 'tcp' | 'udp' | 'icmp';

export interface ProbeSpec {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  proto: ProbeProto;
  /** destination port (TCP/UDP) */
  port?: number;
  /** source port (TCP/UDP) or echo identifier; a fixed ephemeral one by default */
  sport?: number;
  ttl?: number;
}

const PROTO_NUM: Record<ProbeProto, number> = { icmp: 1, tcp: 6, udp: 17 };


export function probeFrame(p: ProbeSpec): Uint8Array {
  const l4len = p.proto === 'tcp' ? 20 : p.proto === 'udp' ? 8 + 12 : 8 + 12;
  const f = new Uint8Array(14 + 20 + l4len);
  const v = new DataView(f.buffer);
  f.set(parseMac(p.dstMac), 0);
  f.set(parseMac(p.srcMac), 6);
  v.setUint16(12, 0x0800);
  const ip = 14;
  f[ip] = 0x45;
  v.setUint16(ip + 2, 20 + l4len);
  v.setUint16(ip + 4, 0x7077); // identification: "pw"
  v.setUint16(ip + 6, 0x4000); // DF, as Linux sends TCP and most UDP
  f[ip + 8] = p.ttl ?? 64;
  f[ip + 9] = PROTO_NUM[p.proto];
  v.setUint32(ip + 12, ipv4ToInt(p.srcIp));
  v.setUint32(ip + 16, ipv4ToInt(p.dstIp));
  v.setUint16(ip + 10, foldComplement(sum16(f, ip, ip + 20)));
  const l4 = ip + 20;
  const sport = p.sport ?? 47001;
  if (p.proto === 'icmp') {
    f[l4] = 8; // echo request
    v.setUint16(l4 + 4, sport);
    v.setUint16(l4 + 6, 1);
    f.set(new TextEncoder().encode('podwire trace'.padEnd(12).slice(0, 12)), l4 + 8);
    v.setUint16(l4 + 2, foldComplement(sum16(f, l4, f.length)));
    return f;
  }
  v.setUint16(l4, sport);
  v.setUint16(l4 + 2, p.port ?? 0);
  // pseudo-header: addresses, protocol, L4 length
  const pseudo = sum16(f, ip + 12, ip + 20) + PROTO_NUM[p.proto] + l4len;
  if (p.proto === 'tcp') {
    v.setUint32(l4 + 4, 0x70770000); // initial sequence number
    f[l4 + 12] = 5 << 4;
    f[l4 + 13] = 0x02; // SYN
    v.setUint16(l4 + 14, 64240);
    v.setUint16(l4 + 16, foldComplement(sum16(f, l4, f.length, pseudo)));
  } else {
    v.setUint16(l4 + 4, l4len);
    f.set(new TextEncoder().encode('podwire trace'.slice(0, 12)), l4 + 8);
    const c = foldComplement(sum16(f, l4, f.length, pseudo));
    v.setUint16(l4 + 6, c === 0 ? 0xffff : c);
  }
  return f;
}
