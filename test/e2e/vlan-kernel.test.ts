// The Linux kernel as the oracle for 802.1Q-tagged frames to the pod gateway
// (issue 11 item 6(f)): a namespace with a bridge holding the gateway
// address, as cni0 does (no VLAN filtering, no VLAN device), and a pod
// namespace on a veth port. Tagged ARP requests and echo requests for the
// gateway (VID 100, and VID 0: a priority tag), and a tagged packet to be
// routed, are injected from the pod; what the kernel answers or forwards is
// compared with what podwire's gateway does with the same frames.
// Root only; run under the shared lock: flock /tmp/pw-netns.lock npx vitest run test/e2e/vlan-kernel.test.ts
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ip, netnsAdd, netnsDel, netnsList, netnsExec, netnsRun, sysctl } from '../../src/io/netns.ts';
import { eth } from '../dataplane/frames.ts';
import { twoNodes, runNode, ip4, udp, icmpMsg, arpRequest, pattern, N1, N2, POD } from '../dataplane/overlay-kit.ts';

const isRoot = process.getuid?.() === 0;
const BR = 'pw-vlan-br', POD_NS = 'pw-vlan-pod';
const GW = '10.98.0.1', POD_IP = '10.98.0.2', FAR = '10.97.0.5';

/** Inject each hex frame (stdin) on `dev`, then print every frame received (argv[3] "out": sent) on it for `secs`, as hex. */
const INJECT_AND_LISTEN = `
import socket, sys, select, time
dev, secs = sys.argv[1], float(sys.argv[2])
out = len(sys.argv) > 3 and sys.argv[3] == "out"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((dev, 0))
frames = sys.stdin.read().split()
for line in frames:
    s.send(bytes.fromhex(line))
    time.sleep(0.05)
end = time.time() + secs
while time.time() < end:
    r, _, _ = select.select([s], [], [], 0.2)
    if not r: continue
    f, addr = s.recvfrom(65535)
    if (addr[2] == socket.PACKET_OUTGOING) == out: print(f.hex(), flush=True)
`;
const tag = (f: Uint8Array, vid: number) => Uint8Array.from([...f.subarray(0, 12), 0x81, 0x00, 0xa0 | (vid >> 8), vid & 0xff, ...f.subarray(12)]);
const hexBytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
/** What a reply is: ARP reply, echo reply, the routed datagram (by its payload byte), else '?'. Tags skipped. */
function what(f: Uint8Array): string {
  let l2 = 14;
  while (f[l2 - 2] === 0x81 && f[l2 - 1] === 0x00) l2 += 4;
  const type = (f[l2 - 2] << 8) | f[l2 - 1];
  if (type === 0x0806) return f[l2 + 7] === 2 ? 'arp-reply' : 'arp-request';
  if (type !== 0x0800) return '?';
  const ihl = (f[l2] & 0xf) * 4;
  if (f[l2 + 9] === 1) return f[l2 + ihl] === 0 ? `echo-reply ${f[l2 + ihl + 8]}` : `icmp ${f[l2 + ihl]}`;
  if (f[l2 + 9] === 17) return `udp ${f[l2 + ihl + 8]}`;
  return '?';
}

async function cleanup(): Promise<void> {
  const have = await netnsList();
  for (const ns of [BR, POD_NS]) if (have.includes(ns)) await netnsDel(ns);
}

describe.skipIf(!isRoot)('802.1Q-tagged frames to the gateway: podwire does what a kernel bridge without VLAN devices does (root)', () => {
  let brMac = '', podMacK = '';
  beforeAll(async () => {
    await cleanup();
    await netnsAdd(BR);
    await netnsAdd(POD_NS);
    await ip(['-n', BR, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', BR, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', POD_NS]);
    await ip(['-n', BR, 'link', 'set', 'p0', 'master', 'br0']);
    await ip(['-n', BR, 'link', 'add', 'far0', 'type', 'veth', 'peer', 'name', 'far1']); // where routed packets go
    for (const l of ['br0', 'p0', 'far0', 'far1']) await ip(['-n', BR, 'link', 'set', l, 'up']);
    await ip(['-n', BR, 'addr', 'add', `${GW}/24`, 'dev', 'br0']);
    await ip(['-n', BR, 'route', 'add', `${FAR}/32`, 'dev', 'far0']);
    await ip(['-n', BR, 'neigh', 'replace', FAR, 'lladdr', '02:00:00:00:00:05', 'dev', 'far0']);
    await sysctl(BR, { 'net.ipv4.ip_forward': 1 });
    await ip(['-n', POD_NS, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', POD_NS, 'addr', 'add', `${POD_IP}/24`, 'dev', 'eth0']);
    brMac = JSON.parse((await ip(['-n', BR, '-j', 'link', 'show', 'br0'])).stdout)[0].address;
    podMacK = JSON.parse((await ip(['-n', POD_NS, '-j', 'link', 'show', 'eth0'])).stdout)[0].address;
    await ip(['-n', BR, 'neigh', 'replace', POD_IP, 'lladdr', podMacK, 'dev', 'br0']);
  }, 30_000);
  afterAll(cleanup, 30_000);

  it('VID 100: no ARP reply, no echo reply, not routed; VID 0: all three, as untagged', async () => {
    // [name, frame maker (gateway IP and MAC, pod IP and MAC, far address)]
    type Make = (gw: string, gwMac: string, pod: string, podMac: string, far: string) => Uint8Array;
    const kinds: [string, Make][] = [
      ['arp', (gw, _m, pod, podMac) => arpRequest(podMac, pod, gw)],
      ['echo', (gw, gwMac, pod, podMac) => eth(gwMac, podMac, 0x0800, ip4({ src: pod, dst: gw, proto: 1, payload: icmpMsg(8, 0, 0x00070001, pattern(8, 1)) }))],
      ['routed', (_g, gwMac, pod, podMac, far) => eth(gwMac, podMac, 0x0800, ip4({ src: pod, dst: far, proto: 17, payload: udp(pod, far, 5000, 9, pattern(8, 2)) }))],
    ];
    const cases = [100, 0].flatMap((vid) => kinds.map(([name, make]) => ({ name: `${name} vid ${vid}`, vid, make })));

    // the kernel: one case at a time, what comes back to the pod (or, routed, what leaves far0)
    const kernel: Record<string, string[]> = {};
    for (const c of cases) {
      const f = tag(c.make(GW, brMac, POD_IP, podMacK, FAR), c.vid);
      const far = netnsExec(BR, ['python3', '-c', INJECT_AND_LISTEN, 'far0', '1.5', 'out'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let farOut = '';
      far.stdout!.on('data', (d: Buffer) => { farOut += d.toString(); });
      far.stdin!.end('');
      const farDone = new Promise((res) => far.on('exit', res));
      await new Promise((res) => setTimeout(res, 200));
      const { stdout } = await netnsRun(POD_NS, ['python3', '-c', INJECT_AND_LISTEN, 'eth0', '1'], { input: Buffer.from(f).toString('hex') });
      await farDone;
      const back = stdout.split('\n').filter(Boolean).map((h) => what(hexBytes(h))).filter((w) => w !== '?' && w !== 'arp-request');
      const fwd = farOut.split('\n').filter(Boolean).map((h) => what(hexBytes(h))).filter((w) => w.startsWith('udp'));
      kernel[c.name] = [...back, ...fwd.map((w) => `forwarded ${w}`)].sort();
    }
    // podwire: the same frames from a pod on node 1 (its gateway, its neighbour across the overlay)
    const ours: Record<string, string[]> = {};
    for (const c of cases) {
      const [n1] = twoNodes('vxlan');
      const r = runNode(n1, [{ port: POD, frame: tag(c.make(N1.gw, N1.gwMac, N1.pod, N1.podMac, N2.pod), c.vid) }]);
      ours[c.name] = r.tx.map((t) => (t.port === POD ? what(t.frame) : `forwarded ${what(t.frame.subarray(50))}`)).sort();
    }
    if (process.env.PW_VLAN_SHOW) console.log(JSON.stringify(kernel));
    expect(kernel['echo vid 0'], 'the kernel answers a priority-tagged echo').toEqual(['echo-reply 1']);
    expect(ours).toEqual(kernel);
  }, 60_000);
});
