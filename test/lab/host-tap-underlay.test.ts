// A `--node` host's TAP underlay (src/lab/host-tap-underlay.ts) and its
// neighbour reading (src/lab/host-neighbors.ts), without a lab: names, when
// the socket is used instead, the nftables script (loaded for real by the
// kernel in a throwaway namespace, with a veth and a TAP to hook, when root
// and nft are here), and what of `ip -j neigh` counts as a resolved MAC.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { hostTapName, hostTapTable, hostTapRefusal, hostTapRules, uplinkRefusal } from '../../src/lab/host-tap-underlay.ts';
import { parseArp } from '../../src/lab/host-neighbors.ts';

const isRoot = process.getuid?.() === 0;
const nft = (() => { try { execFileSync('nft', ['--version']); return true; } catch { return false; } })();

describe('host TAP names', () => {
  it('a pw- interface name within IFNAMSIZ, stable per lab, different between labs', () => {
    const a = hostTapName('cluster-with-a-very-long-name-n1');
    expect(a).toMatch(/^pw-hu-[0-9a-f]{8}$/);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(15);
    expect(hostTapName('cluster-with-a-very-long-name-n1')).toBe(a);
    expect(hostTapName('cluster-with-a-very-long-name-n2')).not.toBe(a);
    expect(hostTapTable('xh-n1')).toBe('pw-hu-xh-n1');
  });
});

describe('when the socket carries the overlay instead', () => {
  it('VXLAN with offloads takes the TAP unless told otherwise', () => {
    expect(hostTapRefusal({ overlay: 'vxlan', offloads: true })).toBeUndefined();
    expect(hostTapRefusal({ overlay: 'vxlan', offloads: true, env: 'tap' })).toBeUndefined();
    expect(hostTapRefusal({ overlay: 'vxlan', offloads: true, env: '' })).toBeUndefined();
  });
  it('only over a veth uplink, where super-frames cross whole, unless PODWIRE_HOST_UNDERLAY=tap', () => {
    expect(uplinkRefusal({ dev: 'veth0', kind: 'veth' })).toBeUndefined();
    expect(uplinkRefusal({ dev: 'eth0' })).toMatch(/^the uplink eth0 is a NIC, not a veth/);
    expect(uplinkRefusal({ dev: 'br0', kind: 'bridge' })).toMatch(/^the uplink br0 is a bridge, not a veth/);
    expect(uplinkRefusal({ dev: 'eth0' }, 'tap')).toBeUndefined();
  });
  it('names the reason otherwise', () => {
    expect(hostTapRefusal({ overlay: 'vxlan', offloads: true, env: 'socket' })).toBe('PODWIRE_HOST_UNDERLAY=socket');
    expect(hostTapRefusal({ overlay: 'vxlan', offloads: true, env: 'fast' })).toBe('PODWIRE_HOST_UNDERLAY=fast is neither tap nor socket');
    expect(hostTapRefusal({ overlay: 'ipip', offloads: true })).toMatch(/^ipip super-frames have no virtio GSO type/);
    expect(hostTapRefusal({ overlay: 'vxlan', offloads: false })).toBe('offloads are off in the topology');
  });
});

describe('the steering rules', () => {
  const o = { table: 'pw-hu-t-n1', tap: 'pw-hu-00000001', uplink: 'pw-up0', uplinkMtu: 1500, localIp: '10.98.0.1', peers: ['10.98.0.2', '10.98.0.3'], port: 8472 };
  const script = hostTapRules(o);

  it('from the TAP only VXLAN from this address to a peer leaves, the rest is dropped; into it VXLAN wire packets and super-frames to this address', () => {
    expect(script).toContain('type filter hook ingress device "pw-hu-00000001" priority 0; policy drop;');
    expect(script).toContain('ip saddr 10.98.0.1 ip daddr { 10.98.0.2, 10.98.0.3 } udp dport 8472 fwd to "pw-up0"');
    expect(script).toContain('type filter hook ingress device "pw-up0" priority 0; policy accept;');
    expect(script).toContain('ip daddr 10.98.0.1 udp dport 8472 ip length <= 1500 fwd to "pw-hu-00000001"');
    // inner EtherType IPv4 at bytes 48-49 after the outer IPv4 header, inner total length at 52-53 longer than 1500 - 50
    expect(script).toContain('ip daddr 10.98.0.1 udp dport 8472 ip hdrlength 5 ip frag-off & 0x3fff == 0 @nh,384,16 0x0800 @nh,416,16 > 1450 fwd to "pw-hu-00000001"');
    expect(hostTapRules({ ...o, uplinkMtu: 9000 })).toContain('@nh,416,16 > 8950 fwd to');
  });

  it.skipIf(!isRoot || !nft)('loads into the kernel and lists back as written (root, nft, a throwaway namespace)', () => {
    const out = execFileSync('unshare', ['--net', 'sh', '-ec', [
      `ip link add ${o.uplink} type veth peer name pw-up1`,
      `ip tuntap add ${o.tap} mode tap`,
      'nft -f -',
      `nft list table netdev ${o.table}`,
    ].join('\n')], { encoding: 'utf8', input: script });
    expect(out).toContain(`ip saddr 10.98.0.1 ip daddr { 10.98.0.2, 10.98.0.3 } udp dport 8472 fwd to "${o.uplink}"`);
    expect(out).toContain(`ip daddr 10.98.0.1 udp dport 8472 ip hdrlength 5 ip frag-off & 16383 == 0 @nh,384,16 0x800 @nh,416,16 > 0x5aa fwd to "${o.tap}"`);
    expect(out).toMatch(/hook ingress device "pw-hu-00000001" priority filter; policy drop;/);
  });
});

describe('neighbour entries', () => {
  it('the uplink\'s resolved entries of /proc/net/arp (lowercased); incomplete and failed ones and other devices\' are not MACs', () => {
    const text = [
      'IP address       HW type     Flags       HW address            Mask     Device',
      '10.98.0.2        0x1         0x2         8A:F0:2A:C6:D6:47     *        pw-v1',
      '10.98.0.3        0x1         0x0         00:00:00:00:00:00     *        pw-v1',
      '10.98.0.4        0x1         0x6         8a:f0:2a:c6:d6:4a     *        pw-v1',
      '10.98.0.5        0x1         0x2         8a:f0:2a:c6:d6:4b     *        eth0',
      '',
    ].join('\n');
    expect([...parseArp(text, 'pw-v1')]).toEqual([
      ['10.98.0.2', '8a:f0:2a:c6:d6:47'],
      ['10.98.0.4', '8a:f0:2a:c6:d6:4a'],
    ]);
    expect(parseArp('', 'pw-v1').size).toBe(0);
  });
});
