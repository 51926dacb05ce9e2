// The Linux kernel as the oracle for VXLAN's outer TTL and ECN (issue 11
// item 6(d)): two pw- namespaces joined by a veth, a vxlan device in each as
// flannel makes flannel.1 (id 1, dstport 8472, ttl and tos left at 0), UDP
// datagrams with every ECN codepoint (and a DSCP) sent across, the VXLAN
// frames read off the veth with an AF_PACKET socket; then ECN on receive:
// frames with an outer CE injected, and what the kernel delivers (or
// drops); and the outer UDP checksum (0, right, wrong). podwire's VXLAN
// encapsulation and decapsulation of the same packets must agree. (IP-in-IP has no kernel module on this host: its
// facts are checked against the kernel source in test/dataplane/tunnel-ecn.test.ts.)
// Root only; run under the shared lock: flock /tmp/pw-netns.lock npx vitest run test/e2e/tunnel-ecn-kernel.test.ts
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ip, netnsAdd, netnsDel, netnsList, netnsExec, netnsRun } from '../../src/io/netns.ts';
import { eth } from '../dataplane/frames.ts';
import { twoNodes, runNode, podFrame, vxlanFrame, ip4, udp, pattern, N1, N2, POD, UL } from '../dataplane/overlay-kit.ts';
import { refChecksum } from '../util.ts';

const isRoot = process.getuid?.() === 0;
const A = 'pw-ecn-a', B = 'pw-ecn-b';
const UL_A = '172.31.254.1', UL_B = '172.31.254.2', IN_A = '10.99.0.1', IN_B = '10.99.0.2';
const TOSES = [0x00, 0x01, 0x02, 0x03, 0xb9];

/** Read VXLAN frames carrying UDP to :9999 off `dev` (AF_PACKET), print each as hex; "ready" once bound. Exits after `n` or `secs`. */
const CAPTURE = `
import socket, sys, time, select
dev, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((dev, 0))
print("ready", flush=True)
end = time.time() + secs
got = 0
while got < n and time.time() < end:
    r, _, _ = select.select([s], [], [], 0.2)
    if not r: continue
    f, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING: continue
    # VXLAN (UDP 8472) around IPv4 UDP to port 9999: not the link's own chatter (IPv6 ND, MLD)
    if (len(f) > 88 and f[12:14] == b"\\x08\\x00" and f[23] == 17 and f[36:38] == (8472).to_bytes(2, "big")
            and f[62:64] == b"\\x08\\x00" and f[73] == 17 and f[86:88] == (9999).to_bytes(2, "big")):
        print(f.hex(), flush=True); got += 1
`;
/** Send one UDP datagram per TOS value to `dst`:9999, TTL 10. */
const SEND = `
import socket, sys
dst = sys.argv[1]
for t in [int(x) for x in sys.argv[2].split(",")]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, t)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 10)
    s.sendto(bytes([t]) * 16, (dst, 9999))
`;
/** Receive datagrams on :9999 for `secs`, printing the TOS each arrived with. "ready" once bound. */
const RECV = `
import socket, sys, select, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
s.bind(("0.0.0.0", 9999))
print("ready", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    r, _, _ = select.select([s], [], [], 0.2)
    if not r: continue
    data, anc, _, _ = s.recvmsg(2048, 64)
    tos = [c[2][0] for c in anc if c[0] == socket.IPPROTO_IP and c[1] == socket.IP_TOS]
    print("%d %d" % (data[0], tos[0] if tos else -1), flush=True)
`;
/** Write each hex frame given on stdin to `dev` (AF_PACKET). */
const INJECT = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for line in sys.stdin.read().split():
    s.send(bytes.fromhex(line))
`;

/** Start `script` in `ns`; resolves with its stdout lines once it exits, after it printed "ready". */
async function background(ns: string, script: string, args: string[]): Promise<{ done: Promise<string[]> }> {
  const child = netnsExec(ns, ['python3', '-c', script, ...args]);
  const lines: string[] = [];
  let buf = '';
  let ready!: () => void;
  const isReady = new Promise<void>((res) => { ready = res; });
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1); if (l === 'ready') ready(); else lines.push(l); }
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<string[]>((res, rej) => child.on('exit', (code) => (code === 0 ? res(lines) : rej(new Error(`${ns} python3 exit ${code}: ${err}`)))));
  await Promise.race([isReady, done]);
  return { done };
}
const hexBytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
function setTos(f: Uint8Array, at: number, tos: number): Uint8Array {
  f[at + 1] = tos;
  f[at + 10] = f[at + 11] = 0;
  const c = refChecksum(f.subarray(at, at + 20));
  f[at + 10] = c >> 8; f[at + 11] = c & 0xff;
  return f;
}

async function cleanup(): Promise<void> {
  const have = await netnsList();
  for (const ns of [A, B]) if (have.includes(ns)) await netnsDel(ns);
}

describe.skipIf(!isRoot)('VXLAN TTL, ECN and outer UDP checksum: podwire agrees with the Linux kernel (root)', () => {
  let vtepB = '';
  beforeAll(async () => {
    await cleanup();
    await netnsAdd(A);
    await netnsAdd(B);
    await ip(['-n', A, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', B]);
    for (const [ns, me, peer, inner] of [[A, UL_A, UL_B, IN_A], [B, UL_B, UL_A, IN_B]]) {
      await ip(['-n', ns, 'addr', 'add', `${me}/24`, 'dev', 'ul0']);
      await ip(['-n', ns, 'link', 'set', 'ul0', 'up']);
      // as flannel makes flannel.1: no ttl, no tos (0: the defaults), UDP checksum off
      await ip(['-n', ns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', me, 'remote', peer, 'dev', 'ul0', 'nolearning']);
      await ip(['-n', ns, 'addr', 'add', `${inner}/24`, 'dev', 'vx0']);
      await ip(['-n', ns, 'link', 'set', 'vx0', 'up']);
    }
    vtepB = JSON.parse((await ip(['-n', B, '-j', 'link', 'show', 'vx0'])).stdout)[0].address;
    const vtepA = JSON.parse((await ip(['-n', A, '-j', 'link', 'show', 'vx0'])).stdout)[0].address;
    // static neighbours, as flannel programs them: no ARP on the overlay
    await ip(['-n', A, 'neigh', 'add', IN_B, 'lladdr', vtepB, 'dev', 'vx0']);
    await ip(['-n', B, 'neigh', 'add', IN_A, 'lladdr', vtepA, 'dev', 'vx0']);
  }, 30_000);
  afterAll(cleanup, 30_000);

  it('encapsulation: outer TTL 64, DSCP 0, ECN copied (CE -> ECT(0)), for every inner ECN value', async () => {
    const cap = await background(B, CAPTURE, ['ul0', String(TOSES.length), '5']);
    await netnsRun(A, ['python3', '-c', SEND, IN_B, TOSES.join(',')]);
    const frames = (await cap.done).map(hexBytes);
    expect(frames).toHaveLength(TOSES.length);
    const kernel = frames.map((f) => ({ inner: f[50 + 15], outerTos: f[15], outerTtl: f[22] }));
    // podwire, the same inner TOS values (a pod's datagram through its VXLAN encapsulation)
    const [n1] = twoNodes('vxlan');
    const ours = TOSES.map((t) => {
      const r = runNode(n1, [{ port: POD, frame: setTos(podFrame(N1, { dst: N2.pod, proto: 17, ttl: 10, payload: udp(N1.pod, N2.pod, 5000, 9999, pattern(16)) }), 14, t) }]);
      const f = r.tx[0].frame;
      return { inner: f[50 + 15], outerTos: f[15], outerTtl: f[22] };
    });
    expect(kernel.map((k) => k.inner)).toEqual(TOSES);
    expect(ours).toEqual(kernel);
  }, 30_000);

  it('decapsulation: outer CE marks an ECT inner packet CE, and a Not-ECT one is dropped, as the kernel does', async () => {
    // node 2's frames to node 1 in podwire; the same VXLAN frames (re-addressed) injected toward the kernel's B
    const cases: [number, number][] = [[3, 0x02], [3, 0x01], [3, 0x00], [2, 0x00], [0, 0x03]]; // [outer ECN, inner TOS]
    const [n1] = twoNodes('vxlan');
    const ours = cases.map(([o, t]) => {
      const inner = setTos(ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 5000, 9999, Uint8Array.of(t)) }), 0, t);
      const r = runNode(n1, [{ port: UL, frame: setTos(vxlanFrame({ dstMac: N1.ulMac, srcMac: N2.ulMac, srcIp: N2.ul, dstIp: N1.ul, inner: eth(N1.vtep, N2.vtep, 0x0800, inner) }), 14, o) }]);
      return r.tx.length ? `${t} ${r.tx[0].frame[15]}` : 'dropped';
    });
    const macB = JSON.parse((await ip(['-n', B, '-j', 'link', 'show', 'ul0'])).stdout)[0].address;
    const macA = JSON.parse((await ip(['-n', A, '-j', 'link', 'show', 'ul0'])).stdout)[0].address;
    const frames = cases.map(([o, t]) => {
      const inner = setTos(ip4({ src: IN_A, dst: IN_B, proto: 17, ttl: 64, payload: udp(IN_A, IN_B, 5000, 9999, Uint8Array.of(t), true) }), 0, t);
      return Buffer.from(setTos(vxlanFrame({ dstMac: macB, srcMac: macA, srcIp: UL_A, dstIp: UL_B, inner: eth(vtepB, '0e:00:00:00:00:0a', 0x0800, inner) }), 14, o)).toString('hex');
    });
    const rx = await background(B, RECV, ['3']);
    await netnsRun(A, ['python3', '-c', INJECT, 'ul0'], { input: frames.join('\n') });
    // one line per delivered datagram, in the order injected: "<inner TOS as sent> <TOS received>"
    const got = await rx.done;
    expect(ours.filter((x) => x === 'dropped')).toHaveLength(1);
    expect(got).toEqual(ours.filter((x) => x !== 'dropped'));
  }, 30_000);

  it('outer UDP checksum: 0 and a right one are decapsulated, a wrong non-zero one is dropped, as the kernel does (item 6(c))', async () => {
    const macB = JSON.parse((await ip(['-n', B, '-j', 'link', 'show', 'ul0'])).stdout)[0].address;
    const macA = JSON.parse((await ip(['-n', A, '-j', 'link', 'show', 'ul0'])).stdout)[0].address;
    const withCsum = (f: Uint8Array, how: 'none' | 'good' | 'bad', src: string, dst: string) => {
      const u = f.subarray(34);
      u[6] = u[7] = 0;
      if (how === 'none') return f;
      const ps = new Uint8Array(12);
      ps.set(src.split('.').map(Number), 0); ps.set(dst.split('.').map(Number), 4); ps[9] = 17; ps[10] = u.length >> 8; ps[11] = u.length & 0xff;
      let c = refChecksum(Uint8Array.from([...ps, ...u])) || 0xffff;
      if (how === 'bad') c ^= 0x0400;
      u[6] = c >> 8; u[7] = c & 0xff;
      return f;
    };
    const hows = ['none', 'good', 'bad', 'good'] as const;
    const [n1] = twoNodes('vxlan');
    const ours = hows.map((how, i) => {
      const inner = ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 5000, 9999, Uint8Array.of(i)) });
      const r = runNode(n1, [{ port: UL, frame: withCsum(vxlanFrame({ dstMac: N1.ulMac, srcMac: N2.ulMac, srcIp: N2.ul, dstIp: N1.ul, inner: eth(N1.vtep, N2.vtep, 0x0800, inner) }), how, N2.ul, N1.ul) }]);
      return r.tx.length ? `${i} 0` : 'dropped';
    });
    const frames = hows.map((how, i) => {
      const inner = ip4({ src: IN_A, dst: IN_B, proto: 17, ttl: 64, payload: udp(IN_A, IN_B, 5000, 9999, Uint8Array.of(i), true) });
      return Buffer.from(withCsum(vxlanFrame({ dstMac: macB, srcMac: macA, srcIp: UL_A, dstIp: UL_B, inner: eth(vtepB, '0e:00:00:00:00:0a', 0x0800, inner) }), how, UL_A, UL_B)).toString('hex');
    });
    const rx = await background(B, RECV, ['3']);
    await netnsRun(A, ['python3', '-c', INJECT, 'ul0'], { input: frames.join('\n') });
    const got = await rx.done;
    expect(ours).toEqual(['0 0', '1 0', 'dropped', '3 0']);
    expect(got).toEqual(ours.filter((x) => x !== 'dropped'));
  }, 30_000);
});
