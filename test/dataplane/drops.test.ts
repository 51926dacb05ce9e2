// Every drop reason the data plane names is reachable from a crafted frame,
// and counted under that name alone: the frame produces no tx entry and
// exactly one drop counter moves, by one.
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { newDataplane, run, eth, ipv4, icmp, vnet, udpFrame, GW_IP, GW_MAC, BCAST, podMac, podIp, type In } from './frames.ts';
import { hex, refChecksum } from '../util.ts';
import { ARP_TRUNCATED, ARP_REQUEST_FOR_GW, ARP_REPLY_FROM_GW } from '../vectors/arp.ts';
import { ICMP_TRUNCATED, ICMP_ECHO_REQUEST } from '../vectors/icmp.ts';
import { IPV4_SHORT_PAYLOAD } from '../vectors/ipv4.ts';

const A = podMac(2), B = podMac(3);

/** Change IPv4 header byte `off` of an Ethernet frame and make the header checksum right again. */
function ipPatch(frame: Uint8Array, off: number, val: number): Uint8Array {
  const f = frame.slice();
  f[14 + off] = val;
  const hlen = Math.max(20, (f[14] & 0xf) * 4);
  f[24] = f[25] = 0;
  const c = refChecksum(f.subarray(14, 14 + Math.min(hlen, f.length - 14)));
  f[24] = c >> 8;
  f[25] = c & 0xff;
  return f;
}
const plainUdp = () => udpFrame(B, A);
const toGw = (proto: number, payload: Uint8Array, dst = GW_IP) => eth(GW_MAC, A, 0x0800, ipv4(podIp(2), dst, proto, payload));

interface Case { reason: string; what: string; frame: In; ports?: number; setup?: (dp: Dataplane) => void }
const learnB = (dp: Dataplane) => run(dp, [{ port: 1, frame: udpFrame(BCAST, B) }]);

const CASES: Case[] = [
  { reason: 'eth_truncated', what: '13-byte frame', frame: { port: 0, frame: plainUdp().subarray(0, 13) } },
  { reason: 'eth_truncated', what: 'vnet header and no frame at all', frame: { port: 0, frame: new Uint8Array(0) } },
  { reason: 'vlan_truncated', what: '802.1Q type, 16 bytes', frame: { port: 0, frame: eth(B, A, 0x8100, hex('a064')) } },
  { reason: 'vlan_truncated', what: '802.1ad type, 17 bytes', frame: { port: 0, frame: eth(B, A, 0x88a8, hex('0ffe08')) } },
  { reason: 'bad_vnet_hdr', what: 'gso_type 2 (unknown)', frame: { port: 0, frame: plainUdp(), vnet: vnet({ gsoType: 2, gsoSize: 1000 }) } },
  { reason: 'bad_vnet_hdr', what: 'GSO with gso_size 0', frame: { port: 0, frame: plainUdp(), vnet: vnet({ gsoType: 1 }) } },
  { reason: 'bad_vnet_hdr', what: 'NEEDS_CSUM field 72+6 in a 78-byte frame', frame: { port: 0, frame: plainUdp(), vnet: vnet({ flags: 1, csumStart: 72, csumOffset: 6 }) } },
  { reason: 'invalid_src_mac', what: 'broadcast source', frame: { port: 0, frame: udpFrame(B, BCAST) } },
  { reason: 'invalid_src_mac', what: 'multicast source', frame: { port: 0, frame: udpFrame(B, '01:00:5e:00:00:01') } },
  { reason: 'invalid_src_mac', what: 'all-zero source', frame: { port: 0, frame: udpFrame(B, '00:00:00:00:00:00') } },
  { reason: 'ipv4_truncated', what: 'scapy packet missing its last 8 bytes', frame: { port: 0, frame: eth(B, A, 0x0800, hex(IPV4_SHORT_PAYLOAD.hex)) } },
  { reason: 'ipv4_truncated', what: '19 bytes of IPv4', frame: { port: 0, frame: plainUdp().subarray(0, 14 + 19) } },
  { reason: 'ipv4_bad_version', what: 'version 6 under ethertype 0x0800', frame: { port: 0, frame: ipPatch(plainUdp(), 0, 0x65) } },
  { reason: 'ipv4_bad_ihl', what: 'IHL 4', frame: { port: 0, frame: ipPatch(plainUdp(), 0, 0x44) } },
  { reason: 'ipv4_bad_total_len', what: 'total length 19', frame: { port: 0, frame: ipPatch(ipPatch(plainUdp(), 2, 0), 3, 19) } },
  { reason: 'ipv4_bad_checksum', what: 'header checksum off by one bit', frame: { port: 0, frame: (() => { const f = plainUdp(); f[25] ^= 1; return f; })() } },
  { reason: 'arp_malformed', what: 'scapy ARP cut to 27 bytes', frame: { port: 0, frame: hex(ARP_TRUNCATED.hex) } },
  { reason: 'arp_malformed', what: 'htype 6', frame: { port: 0, frame: (() => { const f = hex(ARP_REQUEST_FOR_GW.hex); f[15] = 6; return f; })() } },
  { reason: 'oversize', what: 'unicast to a learned port, 1501 bytes of IPv4', setup: learnB, frame: { port: 0, frame: udpFrame(B, A, 1501) } },
  { reason: 'same_port', what: 'unicast to a MAC on the ingress port', setup: learnB, frame: { port: 1, frame: udpFrame(B, podMac(7)) } },
  { reason: 'no_destination', what: 'broadcast with no other port', ports: 1, frame: { port: 0, frame: udpFrame(BCAST, A) } },
  { reason: 'unknown_ethertype', what: 'IPv6 ethertype to the gateway MAC', frame: { port: 0, frame: eth(GW_MAC, A, 0x86dd) } },
  { reason: 'no_route', what: 'IPv4 to the gateway MAC for 8.8.8.8', frame: { port: 0, frame: toGw(1, icmp(8, 0, 1), '8.8.8.8') } },
  { reason: 'icmp_malformed', what: 'scapy echo with 7 ICMP bytes', frame: { port: 0, frame: hex(ICMP_TRUNCATED.hex) } },
  { reason: 'icmp_malformed', what: 'echo with a bad ICMP checksum', frame: { port: 0, frame: (() => { const f = hex(ICMP_ECHO_REQUEST.hex); f[37] ^= 0x10; return f; })() } },
  { reason: 'gateway_unhandled', what: 'UDP to the gateway address', frame: { port: 0, frame: toGw(17, hex('303900350008')) } },
  { reason: 'gateway_unhandled', what: 'ICMP timestamp request to the gateway', frame: { port: 0, frame: toGw(1, icmp(13, 0, 0x10001, new Uint8Array(12))) } },
  { reason: 'gateway_unhandled', what: 'ARP reply to the gateway MAC', frame: { port: 0, frame: (() => { const f = hex(ARP_REPLY_FROM_GW.hex); f.set(hex('0a580af40001'), 0); f.set(hex('0a580af40009'), 6); f[14 + 8 + 5] = 9; return f; })() } },
  { reason: 'bad_port', what: 'port 5: in range, not attached', frame: { port: 5, frame: plainUdp() } },
  { reason: 'bad_port', what: 'port 200: beyond maxPorts', frame: { port: 200, frame: plainUdp() } },
];

describe('every drop reason is reachable and counted under its name', () => {
  for (const c of CASES) {
    it(`${c.reason}: ${c.what}`, () => {
      const dp = newDataplane(c.ports ?? 4);
      c.setup?.(dp);
      const r = run(dp, [c.frame]);
      expect(r.tx).toEqual([]);
      expect(r.drops).toEqual({ [c.reason]: 1 });
      const inPortUp = c.frame.port < 4 && c.frame.port < (c.ports ?? 4);
      if (c.reason === 'bad_port') {
        expect(inPortUp).toBe(false);
        expect(r.ports.every((p) => Object.keys(p).length === 0)).toBe(true); // no port counter moves
      } else if (c.reason === 'oversize') {
        expect(r.ports[1]).toMatchObject({ tx_drops: 1 }); // charged to the egress port
      } else {
        expect(r.ports[c.frame.port]).toMatchObject({ rx_packets: 1, rx_drops: 1 });
      }
    });
  }

  it('the cases above cover every reason the data plane names', () => {
    const names = Object.keys(newDataplane(1).counters().drops);
    expect(names.length).toBeGreaterThan(10);
    expect([...new Set(CASES.map((c) => c.reason))].sort()).toEqual([...names].sort());
  });

  it('all of them in one batch: n frames, n drops, no tx (the invariant, batched)', () => {
    const dp = newDataplane(4);
    learnB(dp);
    // the cases that need their own set-up (a single port) stay out
    const batch = CASES.filter((c) => !c.ports && !['oversize', 'same_port'].includes(c.reason)).map((c) => c.frame);
    const r = run(dp, batch);
    expect(r.tx).toEqual([]);
    expect(r.dropTotal).toBe(batch.length);
    const want: Record<string, number> = {};
    for (const c of CASES.filter((c) => batch.includes(c.frame))) want[c.reason] = (want[c.reason] ?? 0) + 1;
    expect(r.drops).toEqual(want);
  });
});
