// The gratuitous ARP frame podwire sends when a node takes a LoadBalancer
// address (src/io/garp.ts), against RFC 5227 2.4 ("ARP Announcement": a
// request whose sender and target protocol address are both the announced
// address, target hardware address ignored and zeroed) and RFC 826's layout.
import { describe, it, expect } from 'vitest';
import { gratuitousArpFrame } from '../../src/io/garp.ts';

describe('gratuitousArpFrame', () => {
  it('broadcast ARP request, sender = target = the address, padded to 60 bytes', () => {
    const hex = Buffer.from(gratuitousArpFrame('172.31.255.200', '0a:58:ac:1f:ff:02')).toString('hex');
    expect(hex).toBe([
      'ffffffffffff', '0a58ac1fff02', '0806', // Ethernet: broadcast, from the node's MAC, ARP
      '0001', '0800', '06', '04', '0001',     // htype Ethernet, ptype IPv4, hlen 6, plen 4, op request
      '0a58ac1fff02', 'ac1fffc8',             // sender: the node's MAC, 172.31.255.200
      '000000000000', 'ac1fffc8',             // target: zero MAC, 172.31.255.200
      '00'.repeat(18),                        // padding to the 60-byte minimum
    ].join(''));
  });
});
