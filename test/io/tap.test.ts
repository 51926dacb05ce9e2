// A TAP as a pod's eth0: the kernel's ARP request is read straight into
// WebAssembly memory (zero-copy path), and a hand-built ARP reply written
// back teaches the pod's kernel the neighbour.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Tap, VNET_HDR_LEN } from '../../src/io/tap.ts';
import { Epoll } from '../../src/io/epoll.ts';
import { EAGAIN, bufferAddress, readAt, writeAt } from '../../src/io/libc.ts';
import { ip, ipBatch, linkList, netnsDel, netnsExec, netnsList, sysctl } from '../../src/io/netns.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('tap.test: skipped — needs root (creates TAP devices and network namespaces)');

const NS = 'pw-iotest';
const TAP = 'pw-t0';
const PEER_MAC = '02:00:00:00:00:03'; // the MAC we answer with for 10.250.0.3

const macBytes = (m: string) => m.split(':').map((h) => parseInt(h, 16));
const macStr = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

describe.skipIf(!isRoot)('Tap in a network namespace', () => {
  let tap: Tap | undefined;
  let ping: ChildProcess | undefined;
  const mem = new WebAssembly.Memory({ initial: 2 }); // 128 KiB: a slot for one GSO-sized frame
  const base = bufferAddress(mem.buffer);
  const RX = 0;
  const TX = 65536;

  beforeAll(async () => {
    if ((await netnsList()).includes(NS)) await netnsDel(NS); // a crashed earlier run
    tap = Tap.open(TAP, { offloads: false });
    await ipBatch(['netns add ' + NS, `link set ${TAP} netns ${NS} name eth0`]);
    // No IPv6 on eth0: keeps router solicitations and MLD off the TAP.
    await sysctl(NS, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
    await ipBatch(['link set lo up', 'addr add 10.250.0.2/24 dev eth0', 'link set eth0 up'], NS);
  });

  afterAll(async () => {
    ping?.kill();
    tap?.close(); // removes eth0 from the namespace: the device lives only while its fd is open
    await netnsDel(NS).catch(() => {});
    expect(await netnsList()).not.toContain(NS);
    expect(await linkList()).not.toContain(TAP);
  });

  it('reads the ARP request behind a zero vnet header, then learns our ARP reply', async () => {
    const fd = tap!.fd;
    const u8 = new Uint8Array(mem.buffer);
    ping = netnsExec(NS, ['ping', '-c1', '-W1', '10.250.0.3']);
    const pingDone = new Promise((r) => ping!.once('exit', r));

    // Read frames until the ARP request shows up (other frames are possible).
    const epoll = new Epoll();
    epoll.add(fd, 1);
    const deadline = Date.now() + 3000;
    let arpLen = 0;
    while (arpLen === 0 && Date.now() < deadline) {
      if (epoll.wait(100) === 0) continue;
      for (let n = readAt(fd, base + RX, 65536); n !== -EAGAIN; n = readAt(fd, base + RX, 65536)) {
        expect(n).toBeGreaterThan(0);
        const eth = RX + VNET_HDR_LEN;
        if (u8[eth + 12] === 0x08 && u8[eth + 13] === 0x06) { arpLen = n; break; }
      }
    }
    epoll.close();
    expect(arpLen).toBeGreaterThan(0);
    expect(Array.from(u8.subarray(RX, RX + VNET_HDR_LEN))).toEqual(new Array(VNET_HDR_LEN).fill(0));
    const arp = u8.subarray(RX + VNET_HDR_LEN, RX + arpLen);
    expect(arpLen - VNET_HDR_LEN).toBe(42); // no padding on a TAP
    expect(macStr(arp.subarray(0, 6))).toBe('ff:ff:ff:ff:ff:ff');
    expect(Array.from(arp.subarray(20, 22))).toEqual([0, 1]); // op: request
    expect(Array.from(arp.subarray(28, 32))).toEqual([10, 250, 0, 2]); // sender IP
    expect(Array.from(arp.subarray(38, 42))).toEqual([10, 250, 0, 3]); // target IP
    const podMac = arp.subarray(6, 12).slice();

    // ARP reply, built by hand into the TX slot behind a zero vnet header.
    const reply = [
      ...podMac, ...macBytes(PEER_MAC), 0x08, 0x06, // ethernet
      0, 1, 8, 0, 6, 4, 0, 2, // Ethernet/IPv4, op: reply
      ...macBytes(PEER_MAC), 10, 250, 0, 3, // sender
      ...podMac, 10, 250, 0, 2, // target
    ];
    u8.fill(0, TX, TX + VNET_HDR_LEN);
    u8.set(reply, TX + VNET_HDR_LEN);
    expect(writeAt(fd, base + TX, VNET_HDR_LEN + reply.length)).toBe(VNET_HDR_LEN + reply.length);

    const { stdout } = await ip(['-n', NS, 'neigh', 'show', '10.250.0.3']);
    expect(stdout).toContain(`lladdr ${PEER_MAC}`);
    expect(stdout).toMatch(/REACHABLE|STALE|DELAY/);
    await pingDone; // nobody answers the echo: ping exits non-zero, which is expected
  });

  it('reports the TAP broken to epoll once its namespace is deleted (the io loop drops such a port)', async () => {
    const ns = 'pw-iotest-gone';
    const name = 'pw-t1';
    if ((await netnsList()).includes(ns)) await netnsDel(ns);
    const gone = Tap.open(name, { offloads: false });
    const epoll = new Epoll();
    try {
      await ipBatch(['netns add ' + ns, `link set ${name} netns ${ns} name eth0`]);
      await ipBatch(['link set eth0 up'], ns);
      expect(epoll.add(gone.fd, 7)).toBe(0);
      await netnsDel(ns);
      // the device goes with the namespace; the fd is left, hung up (after any frames it still holds)
      let broken = false;
      const deadline = Date.now() + 3000;
      while (!broken && Date.now() < deadline) {
        if (epoll.wait(100) === 0) continue;
        expect(epoll.token(0)).toBe(7);
        broken = epoll.isBroken(0);
        while (readAt(gone.fd, base + RX, 65536) > 0);
      }
      expect(broken).toBe(true);
    } finally {
      epoll.close();
      gone.close();
      await netnsDel(ns).catch(() => {});
    }
  });
});
