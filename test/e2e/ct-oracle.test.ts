// The Linux kernel as the oracle for podwire's conntrack (issue 11 items 1,
// 4, 5). The same packet sequences go (a) through podwire's node 1 in memory
// (client pod -> Service VIP, backend -> client, test/dataplane/ct-kit.ts)
// and (b) through a kernel router namespace that does what kube-proxy does:
// an nftables DNAT of the VIP to one backend and `ct state invalid drop`.
// The packets are crafted IPv4 (raw socket, IP_HDRINCL) from a second
// namespace; the router forwards everything to a sink device (so no
// endpoint answers and no kernel socket reacts). After each packet both
// sides are compared: dropped as INVALID or not, the flow's TCP state,
// [ASSURED], the backend (reply source) and the timeout class.
//
// Needs root, nft and conntrack (Debian packages nftables, conntrack);
// skips with a message otherwise. Run under the shared lock:
//   flock /tmp/pw-netns.lock npx vitest run test/e2e/ct-oracle.test.ts
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { eth } from '../dataplane/frames.ts';
import { runNode, podFrame, ip4, udp, N1, POD } from '../dataplane/overlay-kit.ts';
import { VIP, B1, TCP, UDP } from '../dataplane/service-kit.ts';
import { FIN, SYN, RST, PSH, ACK, B2, seg, node, BACKEND, type SegOpts } from '../dataplane/ct-kit.ts';
import { isRoot } from '../helpers/lab.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const why = !isRoot ? 'needs root (network namespaces, raw sockets)'
  : !has('nft') ? 'needs nft (Debian package nftables)'
  : !has('conntrack') ? 'needs conntrack (Debian package conntrack)' : '';
if (why) console.warn(`test/e2e/ct-oracle.test.ts: skipped — ${why}`);

const TAG = `${process.pid % 100000}`;
const GW = `pw-cto-g${TAG}`, INJ = `pw-cto-i${TAG}`;
const VETH_G = `pw-cto${TAG}g`, VETH_I = `pw-cto${TAG}i`;
// kernel side addresses: client, VIP, backends 1 and 2 (all behind the dummy device)
const K = { client: '10.99.1.2', vip: '10.99.3.3', b: { [B1]: '10.99.2.2', [B2]: '10.99.2.3' } as Record<string, string> };

const sh = (args: string[], input?: string) => execFileSync(args[0], args.slice(1), { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const inGw = (...args: string[]) => sh(['ip', 'netns', 'exec', GW, ...args]);

function cleanup() {
  for (const ns of [GW, INJ]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** DNAT the VIP to backend `b` (podwire's name B1 / B2): kube-proxy's rules after an endpoint change. */
function setBackend(b: string) {
  sh(['ip', 'netns', 'exec', GW, 'nft', '-f', '-'], `flush chain ip pwct prert
add rule ip pwct prert ip daddr ${K.vip} tcp dport 80 dnat to ${K.b[b]}:8080
add rule ip pwct prert ip daddr ${K.vip} udp dport 53 dnat to ${K.b[b]}:5353
`);
}

const INJECT = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for h in sys.argv[1:]:
    b = bytes.fromhex(h)
    s.sendto(b, (socket.inet_ntoa(b[16:20]), 0))
time.sleep(0.03)  # let the router namespace handle it before we look
`;
function inject(pkt: Uint8Array) {
  sh(['ip', 'netns', 'exec', INJ, '/usr/bin/python3', '-c', INJECT, Buffer.from(pkt).toString('hex')]);
}
function invalidCount(): number {
  const m = /ct state invalid counter packets (\d+)/.exec(inGw('nft', 'list', 'chain', 'ip', 'pwct', 'forw'));
  return m ? Number(m[1]) : NaN;
}
interface Flow { state?: string; assured: boolean; seenReply: boolean; replySrc: string; timeoutS: number }
/** The kernel's entry for client port `sport` (conntrack -L), if any. */
function kernelFlow(proto: 'tcp' | 'udp', sport: number): Flow | undefined {
  const out = inGw('conntrack', '-L', '-p', proto, '--orig-port-src', String(sport)) ;
  const line = out.split('\n').find((l) => l.startsWith(proto));
  if (!line) return undefined;
  const t = line.split(/\s+/);
  const srcs = t.filter((x) => x.startsWith('src=')).map((x) => x.slice(4));
  return {
    timeoutS: Number(t[2]), state: proto === 'tcp' ? t[3] : undefined,
    assured: line.includes('[ASSURED]'), seenReply: !line.includes('[UNREPLIED]'), replySrc: srcs[1],
  };
}

/** One step of a flow: from the client (c) or the backend `b` (s). */
interface Step { from: 'c' | 's'; flags: number; seq: number; ack: number; o?: SegOpts; b?: string; note: string }
interface Outcome { invalid: boolean; flow?: { state?: string; assured: boolean; seenReply: boolean; backend: string; timeoutClass: string } }

/** Timeouts by class, so the kernel's remaining seconds and podwire's timeout compare. */
const cls = (s: number) => (s > 86400 ? 'days' : s > 120 ? '300s' : s > 60 ? '120s' : s > 30 ? '60s' : s > 10 ? '30s' : '10s');
const backendOf = (src: string) => Object.entries(K.b).find(([, ip]) => ip === src)?.[0] ?? src;

function podwireStep(n1: Dataplane, proto: 'tcp' | 'udp', sport: number, st: Step): Outcome {
  const b = st.b ?? B1;
  let frame: Uint8Array;
  if (proto === 'tcp') {
    const payload = st.from === 'c' ? seg(N1.pod, VIP, sport, 80, st.flags, st.seq, st.ack, st.o) : seg(b, N1.pod, 8080, sport, st.flags, st.seq, st.ack, st.o);
    frame = st.from === 'c' ? podFrame(N1, { dst: VIP, proto: TCP, payload }) : eth(N1.gwMac, BACKEND[b].mac, 0x0800, ip4({ src: b, dst: N1.pod, proto: TCP, payload }));
  } else {
    frame = st.from === 'c' ? podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, sport, 53, new Uint8Array(20)) })
      : eth(N1.gwMac, BACKEND[b].mac, 0x0800, ip4({ src: b, dst: N1.pod, proto: UDP, payload: udp(b, N1.pod, 5353, sport, new Uint8Array(40)) }));
  }
  const port = st.from === 'c' ? POD : BACKEND[b].port;
  const r = runNode(n1, [{ port, frame }]);
  const e = n1.conntrack(n1Clock).find((x) => x.orig.sport === sport && x.proto === (proto === 'tcp' ? TCP : UDP));
  return {
    invalid: (r.drops.ct_invalid ?? 0) > 0,
    flow: e && { state: proto === 'tcp' ? e.state.toUpperCase() : undefined, assured: e.assured, seenReply: e.seenReply, backend: e.reply.src, timeoutClass: cls(e.timeoutMs / 1000) },
  };
}
let n1Clock = 0;

function kernelStep(proto: 'tcp' | 'udp', sport: number, st: Step): Outcome {
  const b = K.b[st.b ?? B1];
  let pkt: Uint8Array;
  if (proto === 'tcp') {
    pkt = st.from === 'c' ? ip4({ src: K.client, dst: K.vip, proto: TCP, payload: seg(K.client, K.vip, sport, 80, st.flags, st.seq, st.ack, st.o) })
      : ip4({ src: b, dst: K.client, proto: TCP, payload: seg(b, K.client, 8080, sport, st.flags, st.seq, st.ack, st.o) });
  } else {
    pkt = st.from === 'c' ? ip4({ src: K.client, dst: K.vip, proto: UDP, payload: udp(K.client, K.vip, sport, 53, new Uint8Array(20)) })
      : ip4({ src: b, dst: K.client, proto: UDP, payload: udp(b, K.client, 5353, sport, new Uint8Array(40)) });
  }
  const before = invalidCount();
  inject(pkt);
  const f = kernelFlow(proto, sport);
  return {
    invalid: invalidCount() > before,
    flow: f && { state: f.state, assured: f.assured, seenReply: f.seenReply, backend: backendOf(f.replySrc), timeoutClass: cls(f.timeoutS) },
  };
}

/** Run `steps` on both; `between[i]` runs before step i on both (a backend change). Returns the per-step pairs. */
function compare(proto: 'tcp' | 'udp', sport: number, steps: Step[], n1: Dataplane, between: Record<number, () => void> = {}) {
  const rows: { note: string; kernel: Outcome; podwire: Outcome }[] = [];
  steps.forEach((st, i) => {
    between[i]?.();
    rows.push({ note: st.note, kernel: kernelStep(proto, sport, st), podwire: podwireStep(n1, proto, sport, st) });
  });
  if (process.env.PW_CT_ORACLE_LOG) for (const r of rows) console.log(sport, r.note, JSON.stringify(r.kernel), JSON.stringify(r.podwire));
  for (const r of rows) expect(r.podwire, r.note).toEqual(r.kernel);
  return rows;
}

const c = (flags: number, seq: number, ack: number, note: string, o?: SegOpts): Step => ({ from: 'c', flags, seq, ack, o, note });
const s = (flags: number, seq: number, ack: number, note: string, o?: SegOpts, b?: string): Step => ({ from: 's', flags, seq, ack, o, b, note });
const handshake = [c(SYN, 1000, 0, 'SYN'), s(SYN | ACK, 5000, 1001, 'SYN+ACK'), c(ACK, 1001, 5001, 'ACK')];

describe.skipIf(!!why)('conntrack against the Linux kernel (nftables DNAT + ct state invalid drop)', () => {
  let n1: Dataplane;
  beforeAll(() => {
    cleanup();
    sh(['ip', 'netns', 'add', GW]);
    sh(['ip', 'netns', 'add', INJ]);
    sh(['ip', 'link', 'add', VETH_G, 'netns', GW, 'type', 'veth', 'peer', 'name', VETH_I, 'netns', INJ]);
    const g = (...a: string[]) => inGw(...a);
    const i = (...a: string[]) => sh(['ip', 'netns', 'exec', INJ, ...a]);
    g('ip', 'link', 'set', 'lo', 'up');
    g('ip', 'addr', 'add', '10.99.0.1/24', 'dev', VETH_G);
    g('ip', 'link', 'set', VETH_G, 'up');
    // the sink: a veth whose peer stays down, no ARP: forwarded packets pass POSTROUTING (the
    // conntrack entry is confirmed) and are dropped by the device (no dummy module needed)
    g('ip', 'link', 'add', 'pw-ctosink', 'type', 'veth', 'peer', 'name', 'pw-ctopeer');
    g('ip', 'link', 'set', 'pw-ctosink', 'arp', 'off', 'up');
    for (const ip of [K.client, K.vip, ...Object.values(K.b)]) g('ip', 'route', 'add', `${ip}/32`, 'dev', 'pw-ctosink');
    g('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', `net.ipv4.conf.${VETH_G}.rp_filter=0`, 'net.ipv4.conf.default.rp_filter=0');
    i('ip', 'addr', 'add', '10.99.0.2/24', 'dev', VETH_I);
    i('ip', 'link', 'set', VETH_I, 'up');
    i('ip', 'route', 'add', 'default', 'via', '10.99.0.1');
    sh(['ip', 'netns', 'exec', GW, 'nft', '-f', '-'], `table ip pwct {
  chain prert { type nat hook prerouting priority -100; }
  chain forw { type filter hook forward priority 0; policy accept; ct state invalid counter drop; }
}
`);
    setBackend(B1);
    n1 = node();
    n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]);
    n1.addService(VIP, 53, 'udp', [{ ip: B1, port: 5353 }]);
    n1Clock = 0;
    n1.setClock(0);
  });
  afterAll(cleanup);

  it('blind and inexact RSTs on an established flow; the exact one closes it (item 5)', () => {
    compare('tcp', 42000, [
      ...handshake,
      c(ACK | PSH, 1001, 5001, 'data', { len: 100 }),
      s(ACK, 5001, 1101, 'ack of the data'),
      c(RST, 1101 + 50_000_000, 0, 'blind RST, far out of window'),
      c(RST, 1050, 0, 'RST before the max ack'),
      c(RST, 1101 + 1000, 0, 'RST in window, not at the ack'),
      c(ACK, 1101, 5001, 'the flow goes on'),
      c(RST | ACK, 1101, 5001, 'RST exactly at the ack'),
    ], n1);
  });

  it('closing: an RST is not sequence-checked once a FIN was seen (tcp_can_early_drop), even a far one closes (item 5)', () => {
    compare('tcp', 42100, [...handshake, c(FIN | ACK, 1001, 5001, 'client FIN'), s(RST, 5001 + 50_000_000, 0, 'far RST from the server')], n1);
  });

  it('FIN, RST, SYN+ACK, flagless first segments are INVALID; ACK-first is picked up (item 5)', () => {
    let p = 41000;
    for (const [flags, name] of [[FIN | ACK, 'FIN+ACK'], [FIN, 'FIN'], [RST, 'RST'], [RST | ACK, 'RST+ACK'], [SYN | ACK, 'SYN+ACK'], [0, 'none'], [SYN | FIN, 'SYN+FIN']] as const) {
      compare('tcp', p++, [c(flags, 1000, flags & ACK ? 5000 : 0, `${name} first`)], n1);
    }
    compare('tcp', p++, [c(ACK | PSH, 1000, 5000, 'ACK first', { len: 10 }), s(ACK, 5000, 1010, 'answer'), c(ACK, 1010, 5000, 'next')], n1);
  });

  it('window: data beyond the scaled window and an ACK of unsent data are INVALID (item 5)', () => {
    compare('tcp', 43000, [
      c(SYN, 1000, 0, 'SYN wscale 7', { win: 1000, wscale: 7 }),
      s(SYN | ACK, 5000, 1001, 'SYN+ACK wscale 7', { win: 1000, wscale: 7 }),
      c(ACK, 1001, 5001, 'ACK', { win: 1000 }),
      s(ACK, 5001, 1001, 'window 100 << 7', { win: 100 }),
      c(ACK | PSH, 1001, 5001, 'data', { len: 1400 }),
      c(ACK | PSH, 1001 + 12_000, 5001, 'data inside the scaled window', { len: 100 }),
      c(ACK | PSH, 1001 + 200_000, 5001, 'data over td_maxend', { len: 100 }),
      c(ACK, 1001, 5001 + 100_000, 'ack of data never sent'),
    ], n1);
  });

  it('a SYN reusing a TIME_WAIT / CLOSE tuple after the backend changed reaches the new backend (item 1)', () => {
    const close = [c(FIN | ACK, 1001, 5001, 'client FIN'), s(ACK, 5001, 1002, 'server ACK'), s(FIN | ACK, 5001, 1002, 'server FIN'), c(ACK, 1002, 5002, 'last ACK')];
    const toB2 = () => { setBackend(B2); n1.addService(VIP, 80, 'tcp', [{ ip: B2, port: 8080 }]); };
    const toB1 = () => { setBackend(B1); n1.addService(VIP, 80, 'tcp', [{ ip: B1, port: 8080 }]); };
    try {
      compare('tcp', 44000, [...handshake, ...close, c(SYN, 900_000, 0, 'SYN reusing the port in TIME_WAIT')], n1, { 7: toB2 });
      toB1();
      compare('tcp', 44001, [...handshake, c(RST, 1001, 0, 'client RST'), c(SYN, 700_000, 0, 'SYN in CLOSE after own RST')], n1, { 4: toB2 });
      toB1();
      compare('tcp', 44002, [...handshake, s(RST, 5001, 0, 'server RST'), c(SYN, 800_000, 0, 'SYN in CLOSE after the server RST')], n1, { 4: toB2 });
    } finally { toB1(); }
  });

  it('UDP: a reply within 2 s stays 30 s, not assured; a packet after 2 s makes an assured 120 s stream (item 4)', async () => {
    const q: Step = { from: 'c', flags: 0, seq: 0, ack: 0, note: 'query' };
    const a: Step = { from: 's', flags: 0, seq: 0, ack: 0, note: 'answer' };
    compare('udp', 45000, [q, a, { ...q, note: 'second query, within 2 s' }], n1);
    await new Promise((r) => setTimeout(r, 2100));
    n1Clock = 2100;
    n1.setClock(n1Clock);
    compare('udp', 45000, [{ ...a, note: 'answer after 2 s' }], n1);
  });
});
