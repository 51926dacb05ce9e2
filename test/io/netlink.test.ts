// The rtnetlink client: message bytes as linux/rtnetlink.h lays them out,
// acknowledgements parsed without trusting their lengths, and (root) a pod
// interface set up over netlink read back by iproute2 beside one set up by
// `ip -batch` with the same commands (podLinkSetup): the kernel holds the
// same addresses, routes, flags, MAC, MTU, alias and address-generation mode.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { encodeRequests, decodeAcks, addAddress, addDefaultRoute, setLink } from '../../src/io/netlink.ts';
import { ip, ipBatch, netnsList } from '../../src/io/netns.ts';
import { Tap } from '../../src/io/tap.ts';
import { setUpPodLink } from '../../src/lab/pod-links.ts';
import { podLinkSetup } from '../../src/lab/lab.ts';

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

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('netlink.test: the namespace part is skipped — needs root');

const NL = `pw-nlt${process.pid}`;
const IP = `pw-nli${process.pid}`;
const pod = { namespace: NL, mac: '02:42:0a:f4:00:07', mtu: 1450, ip: '10.244.0.7', prefixLen: 24, gateway: '10.244.0.1' };

describe.skipIf(!isRoot)('a pod interface over netlink, read back by iproute2 (root)', () => {
  const taps: Tap[] = [];
  beforeAll(async () => {
    for (const ns of [NL, IP]) {
      await ipBatch([`netns add ${ns}`]);
      taps.push(Tap.openInNetns(ns, 'eth0', { offloads: true })); // as a lab pod's eth0
    }
  });
  afterAll(async () => {
    for (const t of taps) t.close();
    const have = new Set(await netnsList());
    await ipBatch([NL, IP].filter((n) => have.has(n)).map((n) => `netns del ${n}`), undefined, { force: true });
  });

  it('the same state as `ip -batch` with podLinkSetup', async () => {
    setUpPodLink(pod, 'pw-mark-x');
    await ipBatch([...podLinkSetup({ ...pod }), 'link set lo alias pw-mark-x'], IP);
    const read = async (ns: string) => {
      const links = JSON.parse((await ip(['-n', ns, '-d', '-j', 'link', 'show'])).stdout) as Record<string, unknown>[];
      const addrs = JSON.parse((await ip(['-n', ns, '-j', 'addr', 'show'])).stdout) as { ifname: string; addr_info: Record<string, unknown>[] }[];
      const routes = JSON.parse((await ip(['-n', ns, '-j', 'route', 'show'])).stdout) as Record<string, unknown>[];
      return {
        links: links.map((l) => ({ name: l.ifname, flags: l.flags, mtu: l.mtu, mac: l.address, alias: l.ifalias, gen: l.inet6_addr_gen_mode })),
        addrs: addrs.map((a) => ({ name: a.ifname, addrs: a.addr_info.map((x) => `${x.family} ${x.local}/${x.prefixlen} ${x.scope}`) })),
        routes,
      };
    };
    const viaNetlink = await read(NL);
    const viaIp = await read(IP);
    expect(viaNetlink).toEqual(viaIp);
    const eth0 = viaNetlink.links.find((l) => l.name === 'eth0')!;
    expect(eth0).toMatchObject({ mtu: 1450, mac: pod.mac, gen: 'none' });
    expect(eth0.flags).toContain('UP');
    expect(viaNetlink.links.find((l) => l.name === 'lo')!.alias).toBe('pw-mark-x');
    expect(viaNetlink.addrs.find((a) => a.name === 'eth0')!.addrs).toEqual(['inet 10.244.0.7/24 global']); // no IPv6 link-local
    expect(viaNetlink.routes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.244.0.1', dev: 'eth0' }));
  });

  it('a step the kernel refuses is named with the namespace and its errno', () => {
    // everything exists already: the address is the first step to fail (MAC and MTU may be set again on a TAP that is up)
    expect(() => setUpPodLink(pod, 'pw-mark-x')).toThrow(new RegExp(`${NL}: addr add 10.244.0.7/24 dev eth0: File exists \\(errno 17\\)`));
  });

  it('a namespace without eth0', async () => {
    taps[1].close(); // the TAP's device goes with its fd
    expect(() => setUpPodLink({ ...pod, namespace: IP }, 'm')).toThrow(`${IP}: no interface eth0`);
  });
});
