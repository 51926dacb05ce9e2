// The rtnetlink client: message bytes as linux/rtnetlink.h lays them out,
// and acknowledgements parsed without trusting their lengths (in memory; the
// kernel's side: netlink-netns.test.ts).
import { describe, it, expect } from 'vitest';
import { encodeRequests, decodeAcks, addAddress, addDefaultRoute, setLink } from '../../src/io/netlink.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('netlink messages', () => {
  it('RTM_NEWADDR 10.0.0.2/24 on index 5: header, ifaddrmsg, IFA_LOCAL, IFA_ADDRESS', () => {
    // nlmsghdr len 40, type 20, flags REQUEST|ACK|EXCL|CREATE (0x605), seq 1, pid 0;
    // ifaddrmsg AF_INET /24 flags 0 scope 0 index 5; rtattr len 8 type 2 (local), len 8 type 1 (address)
    expect(hex(encodeRequests([addAddress(5, '10.0.0.2', 24, 'x')]))).toBe(
      '28000000' + '1400' + '0506' + '01000000' + '00000000' + '02180000' + '05000000' + '080002000a000002' + '080001000a000002');
  });

  it('RTM_NEWROUTE default via 10.0.0.1 oif 5 in the main table', () => {
    // rtmsg AF_INET dst_len 0 src_len 0 tos 0 table 254 protocol boot(3) scope universe type unicast, flags 0
    expect(hex(encodeRequests([addDefaultRoute(5, '10.0.0.1', 'x')], 7))).toBe(
      '2c000000' + '1800' + '0506' + '07000000' + '00000000' + '020000' + '00' + 'fe030001' + '00000000' + '080005000a000001' + '0800040005000000');
  });

  it('RTM_NEWLINK: up changes only IFF_UP; an alias carries no NUL; addrgenmode nests AF_SPEC > AF_INET6 > mode', () => {
    const up = encodeRequests([setLink(1, { what: 'x', up: true, alias: 'ab' })]);
    // ifinfomsg: family 0, type 0, index 1, flags IFF_UP, change IFF_UP; IFLA_IFALIAS len 6 padded to 8
    expect(hex(up.subarray(16))).toBe('00000000' + '01000000' + '01000000' + '01000000' + '060014006162' + '0000');
    const gen = encodeRequests([setLink(3, { what: 'x', mtu: 1450, noIpv6AddrGen: true })]);
    expect(hex(gen.subarray(32))).toBe('08000400aa050000' + '10001a00' + '0c000a00' + '05000800' + '01000000');
  });

  it('refuses bad addresses naming them', () => {
    expect(() => addAddress(1, '10.0.0', 24, 'x')).toThrow(/not an IPv4 address: "10.0.0"/);
    expect(() => setLink(1, { what: 'x', mac: '02:00:00:00:00' })).toThrow(/not a MAC address/);
  });

  it('acknowledgements: errors by sequence number; a truncated or short message ends the parse', () => {
    const ack = (seq: number, err: number) => {
      const b = Buffer.alloc(36);
      b.writeUInt32LE(36, 0); b.writeUInt16LE(2, 4); b.writeUInt32LE(seq, 8); b.writeInt32LE(err, 16);
      return b;
    };
    const two = Buffer.concat([ack(1, 0), ack(2, -17)]);
    expect([...decodeAcks(two, two.length)]).toEqual([[1, 0], [2, -17]]);
    expect([...decodeAcks(two, 50)]).toEqual([[1, 0]]); // the second cut short
    const bogus = Buffer.from(two);
    bogus.writeUInt32LE(4, 0); // a length below the header's
    expect([...decodeAcks(bogus, bogus.length)]).toEqual([]);
  });
});
