// A pod interface set up over netlink (src/lab/pod-links.ts), read back by
// iproute2 beside one set up by `ip -batch` with the same commands
// (podLinkSetup): the kernel holds the same addresses, routes, flags, MAC,
// MTU, alias and address-generation mode; a refused step is named (root).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ip, ipBatch, netnsList } from '../../src/io/netns.ts';
import { Tap } from '../../src/io/tap.ts';
import { setUpPodLink } from '../../src/lab/pod-links.ts';
import { podLinkSetup } from '../../src/lab/lab.ts';

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
