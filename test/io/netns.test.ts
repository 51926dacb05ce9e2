// iproute2 wrappers: the pw- name guard (no root needed) and, as root, a
// ten-pod lab brought up and torn down (its time is printed, not asserted:
// timings belong in bench/, not in pass/fail).
import { describe, it, expect, afterAll } from 'vitest';
import {
  assertPwName, checkBatchLine, ip, ipBatch, linkDel, linkList, netnsAdd, netnsDel, netnsList, netnsRun, sysctl,
} from '../../src/io/netns.ts';
import { Tap } from '../../src/io/tap.ts';

describe('pw- name guard', () => {
  it('accepts only pw- names', () => {
    expect(() => assertPwName('pw-a')).not.toThrow();
    for (const bad of ['eth0', 'pw-', 'PW-a', '', 'xpw-a']) expect(() => assertPwName(bad)).toThrow(/refusing/);
  });

  it('refuses root-namespace batch lines that touch non-pw- objects', () => {
    const ok = [
      'netns add pw-a',
      'link add pw-a type veth peer name pw-b',
      'link add eth0 netns pw-a type veth peer name veth-a netns pw-br', // both ends created inside pw- namespaces
      'link set pw-t0 netns pw-iotest name eth0', // renamed on arrival in a pw- namespace
      'link set dev pw-t0 up',
      'addr add 10.0.0.1/24 dev pw-x',
      'link show',
    ];
    const bad = [
      'netns add foo',
      'link add pw-a type veth peer name host0', // peer stays in the root namespace
      'link set eth0 down',
      'link del eth0',
      'link set pw-t0 netns 1', // by pid: could be any namespace
      'link set pw-x master br0',
      'addr add 10.0.0.1/24 dev eth0',
      'route add default via 10.0.0.1', // a root route with no pw- device
      'tuntap add pw-x mode tap',
    ];
    for (const l of ok) expect(() => checkBatchLine(l, true), l).not.toThrow();
    for (const l of bad) expect(() => checkBatchLine(l, true), l).toThrow();
  });

  it('inside a pw- namespace anything goes, except leaving for a non-pw- namespace', () => {
    expect(() => checkBatchLine('route add default via 10.0.0.1', false)).not.toThrow();
    expect(() => checkBatchLine('link set eth0 down', false)).not.toThrow();
    expect(() => checkBatchLine('link set eth0 netns foo', false)).toThrow();
    expect(() => checkBatchLine('netns del foo', false)).toThrow();
  });

  it('mutating helpers refuse before running anything', async () => {
    await expect(netnsAdd('default')).rejects.toThrow(/refusing/);
    await expect(netnsDel('default')).rejects.toThrow(/refusing/);
    await expect(linkDel('eth0')).rejects.toThrow(/refusing/);
    await expect(ipBatch(['link del eth0'])).rejects.toThrow(/refusing/);
    await expect(ipBatch(['link set lo up'], 'notpw')).rejects.toThrow(/refusing/);
    await expect(sysctl('init', { 'net.ipv4.ip_forward': 1 })).rejects.toThrow(/refusing/);
  });
});

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('netns.test: root tests skipped — creating namespaces needs root');

describe.skipIf(!isRoot)('netns lab (root)', () => {
  const PODS = Array.from({ length: 10 }, (_, i) => `pw-iot-p${i}`);
  const taps: Tap[] = [];

  afterAll(async () => {
    for (const t of taps) t.close();
    await ipBatch(PODS.map((p) => `netns del ${p}`), undefined, { force: true }).catch(() => {});
    const left = (await netnsList()).filter((n) => n.startsWith('pw-iot-'));
    expect(left).toEqual([]);
  });

  it('brings 10 TAP pods up: namespace, eth0, address, route, sysctl', async () => {
    const t0 = performance.now();
    for (const p of PODS) taps.push(Tap.open(`pw-iot-t${p.slice(-1)}`, { offloads: true }));
    // One process for all root-namespace work, then one per pod, in parallel.
    await ipBatch([
      ...PODS.map((p) => `netns add ${p}`),
      ...PODS.map((p, i) => `link set pw-iot-t${i} netns ${p} name eth0`),
    ]);
    await Promise.all(PODS.map(async (p, i) => {
      await ipBatch([
        'link set lo up',
        `addr add 10.250.1.${i + 2}/24 dev eth0`,
        'link set eth0 up',
        'route add default via 10.250.1.1 dev eth0',
      ], p);
      await sysctl(p, { 'net.ipv6.conf.all.disable_ipv6': 1 });
    }));
    const ms = performance.now() - t0;
    console.log(`10 pods up in ${ms.toFixed(0)} ms`);
    expect(await netnsList()).toEqual(expect.arrayContaining(PODS));
    expect(await linkList(PODS[3])).toEqual(['lo', 'eth0']);
    const { stdout } = await netnsRun(PODS[3], ['cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6']);
    expect(stdout.trim()).toBe('1');
  });

  it('errors name the command and carry its stderr', async () => {
    await expect(ipBatch(['link set nosuchdev up'], PODS[0])).rejects.toThrow(/`ip -n pw-iot-p0 -batch -` failed.*nosuchdev|Cannot find device/s);
    await expect(ip(['-n', PODS[0], 'link', 'show', 'nosuch'])).rejects.toThrow(/ip -n pw-iot-p0 link show nosuch.*does not exist/);
  });

  it('netnsAdd / netnsDel / linkDel round-trip', async () => {
    await netnsAdd('pw-iot-x');
    try {
      expect(await netnsList()).toContain('pw-iot-x');
      await ipBatch(['link add pw-iot-va type veth peer name pw-iot-vb']);
      expect(await linkList()).toEqual(expect.arrayContaining(['pw-iot-va', 'pw-iot-vb']));
      await linkDel('pw-iot-va'); // deletes the pair
      expect((await linkList()).filter((l) => l.startsWith('pw-iot-v'))).toEqual([]);
    } finally {
      await ipBatch(['link del pw-iot-va'], undefined, { force: true }).catch(() => {});
      await netnsDel('pw-iot-x');
    }
    expect(await netnsList()).not.toContain('pw-iot-x');
  });
});
