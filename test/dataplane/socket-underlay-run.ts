// Run by socket-underlay.test.ts inside a pw- namespace of its own (root):
// two data planes whose underlays are real sockets (src/dataplane/
// socket-underlay.ts) on that namespace's loopback, 127.0.0.1 and
// 127.0.0.2. A pod frame node 1 encapsulates goes out of its socket,
// arrives at node 2's, is dressed as an underlay frame and decapsulated;
// then the other way. Also what the adapter refuses; a TCP super-frame
// segmented by node 1 going out as one UDP GSO send (or one sendmmsg) and
// coming in coalesced by UDP_GRO (or one datagram a read); and flows spread
// over source ports. Prints one JSON object of observations; the test
// judges them.
//
//   node --import tsx test/dataplane/socket-underlay-run.ts PORT
import dgram from 'node:dgram';
import { createNodes, MTU_SLOT_SIZE, GSO_SLOT_SIZE, type Dataplane } from '../../src/dataplane/dataplane.ts';
import { SocketUnderlay } from '../../src/dataplane/socket-underlay.ts';
import { UnderlaySocket, type UdpOffloads } from '../../src/io/socket.ts';
import { EAGAIN, bufferAddress } from '../../src/io/libc.ts';
import { programNode, runNode, podFrame, icmpMsg, pattern, arpRequest, ipAt4, macAt, rd16, tcpSuper, TCP_TS_HLEN, POD, UL, N1, N2, type NodeSpec, type Sent } from './overlay-kit.ts';
import { vnet } from './frames.ts';

const port = Number(process.argv[2] ?? 47999);
const L1: NodeSpec = { ...N1, ul: '127.0.0.1' };
const L2: NodeSpec = { ...N2, ul: '127.0.0.2' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Side { dp: Dataplane; me: NodeSpec; peer: NodeSpec; sock: UnderlaySocket; u: SocketUnderlay; mem8: Uint8Array }

function side(dp: Dataplane, me: NodeSpec, peer: NodeSpec, kind: 'vxlan' | 'ipip', offloads: UdpOffloads = { gso: true, gro: true }): Side {
  programNode(dp, me, peer, kind, { port });
  dp.setUnderlayNoGso(true);
  const arp = runNode(dp, [{ port: POD, frame: arpRequest(me.podMac, me.pod, me.gw) }]);
  if (arp.tx.length !== 1) throw new Error('pod ARP for its gateway was not answered');
  const sock = UnderlaySocket.open(kind, me.ul, port, offloads);
  const mem8 = new Uint8Array(dp.memory.buffer);
  const u = new SocketUnderlay(
    { kind, fd: sock.fd, localIp: me.ul, port, peers: [{ mac: peer.ulMac, ip: peer.ul }], txFds: sock.txFds, txPorts: sock.txPorts, ...sock.offloads, coalesce: false },
    mem8, bufferAddress(dp.memory.buffer), me.ulMac, dp.vnetLen,
    Array.from({ length: dp.slots }, (_, s) => dp.readOffset(s)), dp.readCapacity,
  );
  return { dp, me, peer, sock, u, mem8 };
}

/** The pod on `from` pings the pod on the other node: the one underlay frame that makes. */
function encap(from: Side, seq: number): Sent {
  const echo = podFrame(from.me, { dst: from.peer.pod, proto: 1, ttl: 64, payload: icmpMsg(8, 0, (0x4242 << 16) | seq, pattern(56, seq)) });
  const r = runNode(from.dp, [{ port: POD, frame: echo }]);
  if (r.tx.length !== 1 || r.tx[0].port !== UL) throw new Error(`expected one underlay frame, got ${JSON.stringify(r)}`);
  return r.tx[0];
}

/** recv into slot 0 until something (or an error other than EAGAIN) comes, for up to 2 s. */
async function recvWait(s: Side): Promise<number> {
  for (let t = 0; t < 2000; t += 5) {
    const r = s.u.recv(0);
    if (r !== -EAGAIN) return r;
    await sleep(5);
  }
  return -EAGAIN;
}

/** Send `from`'s frame, take it in on `to`, describe the synthetic frame and what `to`'s data plane made of it. */
async function cross(from: Side, to: Side, seq: number) {
  const e = encap(from, seq);
  from.u.send(e.start, e.length);
  from.u.flush();
  const got = await recvWait(to);
  if (got <= 0) return { got };
  const at = to.dp.readOffset(0);
  const f = to.mem8.slice(at, at + got);
  const outer = ipAt4(f, 10 + 14);
  const udp = 10 + 14 + outer.ihl;
  const synthetic = {
    vnetZero: f.subarray(0, 10).every((b) => b === 0),
    ethDst: macAt(f, 10), ethSrc: macAt(f, 16), ethType: rd16(f, 22),
    outer: { src: outer.src, dst: outer.dst, proto: outer.proto, ttl: outer.ttl, total: outer.total, headerOk: outer.headerOk, frameBytes: got - 10 - 14 },
    udp: outer.proto === 17 ? { sport: rd16(f, udp), dport: rd16(f, udp + 2), length: rd16(f, udp + 4), checksum: rd16(f, udp + 6) } : undefined,
    // the sender's underlay frame after its Ethernet header (what crossed is the part after the outer IP/UDP headers)
    sameAsSent: Buffer.compare(Buffer.from(f.subarray(10 + 14 + outer.ihl + (outer.proto === 17 ? 8 : 0))),
      Buffer.from(e.frame.subarray(14 + 20 + (outer.proto === 17 ? 8 : 0)))) === 0,
  };
  to.dp.txClear();
  to.dp.rxAddr[0] = at;
  to.dp.rxLen[0] = got;
  to.dp.rxPort[0] = UL;
  const n = to.dp.processRange(0, 1);
  const out = Array.from({ length: n }, (_, k) => to.dp.txBytes(k));
  const inner = out.length === 1 ? ipAt4(out[0].frame, 14) : undefined;
  return {
    got, synthetic,
    delivered: out.map((o) => ({ port: o.port, ethDst: macAt(o.frame, 0), src: inner?.src, dst: inner?.dst, ttl: inner?.ttl, proto: inner?.proto, headerOk: inner?.headerOk })),
    counters: to.dp.counters().events,
  };
}

async function scenario(kind: 'vxlan' | 'ipip') {
  const [d1, d2] = createNodes(2, { slots: 8, maxPorts: 8, slotSize: MTU_SLOT_SIZE, genSlots: 512 });
  const a = side(d1, L1, L2, kind);
  const b = side(d2, L2, L1, kind);
  try {
    const there = await cross(a, b, 1);
    const back = await cross(b, a, 2);
    // an underlay frame for a MAC no peer has: counted, not sent
    const e1 = encap(a, 3);
    a.mem8[e1.start + 10 + 5] ^= 0xff;
    a.u.send(e1.start, e1.length);
    // an underlay frame that is not this overlay's tunnel packet (the outer protocol changed to TCP)
    const e2 = encap(a, 4);
    a.mem8[e2.start + 10 + 14 + 9] = 6;
    a.u.send(e2.start, e2.length);
    a.u.flush();
    const afterRefusals = await recvWait(b); // nothing of that may arrive
    let stray: { unknown: number; tooBig: number } | undefined;
    if (kind === 'vxlan') {
      // a datagram from an address no node has, and one too big for a slot
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.3', () => r()));
      await new Promise<void>((r) => s.send(Buffer.alloc(100), port, L2.ul, () => r()));
      const unknown = await recvWait(b);
      await new Promise<void>((r) => s.send(Buffer.alloc(4000), port, L2.ul, () => r()));
      const tooBig = await recvWait(b);
      s.close();
      stray = { unknown, tooBig };
    }
    return { there, back, afterRefusals, stray, stats: { a: a.u.stats, b: b.u.stats } };
  } finally {
    a.sock.close();
    b.sock.close();
  }
}

/**
 * Node 1's pod sends one TCP super-frame (`payload` bytes) to node 2's pod;
 * node 1 segments it for the underlay (as `up --node` configures it) and
 * its datagrams go out in one run. Node 2 reads until it has them all and
 * compares each, in order, with what node 1 queued.
 */
async function superFrameScenario(offloads: UdpOffloads, payload: number) {
  const [d1, d2] = createNodes(2, { slots: 16, maxPorts: 8, slotSize: GSO_SLOT_SIZE, genSlots: 512 });
  const a = side(d1, L1, L2, 'vxlan', offloads);
  const b = side(d2, L2, L1, 'vxlan', offloads);
  try {
    const tcp = tcpSuper({ payload: pattern(payload, 5), src: L1.pod, dst: L2.pod });
    const frame = podFrame(L1, { dst: L2.pod, proto: 6, df: true, id: 0x100, payload: tcp });
    const v = vnet({ flags: 1, gsoType: 1, hdrLen: 14 + 20 + TCP_TS_HLEN, gsoSize: 1398, csumStart: 34, csumOffset: 16 });
    const r = runNode(a.dp, [{ port: POD, frame, vnet: v }]);
    if (!r.tx.every((t) => t.port === UL)) throw new Error(`expected only underlay frames, got ${JSON.stringify(r.tx.map((t) => t.port))}`);
    for (const t of r.tx) a.u.send(t.start, t.length);
    a.u.flush();
    // what crossed: each frame after its outer Ethernet + IPv4 + UDP headers
    const sent = r.tx.map((t) => Buffer.from(t.frame.subarray(14 + 20 + 8)));
    const got: Buffer[] = [];
    const sports = new Set<number>();
    for (let t = 0; t < 2000 && got.length < sent.length; t += 5) {
      let k: number;
      // into the slots in turn, as the forwarding loop does
      while (got.length < sent.length && (k = b.u.recv(got.length % b.dp.slots)) > 0) {
        const at = b.dp.readOffset(got.length % b.dp.slots);
        got.push(Buffer.from(b.mem8.subarray(at + 10 + 42, at + k)));
        sports.add(rd16(b.mem8, at + 10 + 34));
      }
      if (got.length < sent.length) await sleep(5);
    }
    return {
      segments: sent.length, sizes: sent.map((x) => x.length),
      received: got.length, identical: got.length === sent.length && got.every((g, i) => g.equals(sent[i])),
      sourcePorts: [...sports], pool: a.sock.txPorts,
      stats: { a: a.u.stats, b: b.u.stats },
    };
  } finally {
    a.sock.close();
    b.sock.close();
  }
}

/** 32 TCP flows (one small segment each, source ports 40000..40031) from node 1's pod: the VXLAN source ports they leave with. */
async function flowsScenario() {
  const [d1, d2] = createNodes(2, { slots: 8, maxPorts: 8, slotSize: MTU_SLOT_SIZE, genSlots: 512 });
  const a = side(d1, L1, L2, 'vxlan');
  const b = side(d2, L2, L1, 'vxlan');
  try {
    const byFlow: number[] = [];
    for (let f = 0; f < 32; f++) {
      for (let again = 0; again < 2; again++) {
        const frame = podFrame(L1, { dst: L2.pod, proto: 6, payload: tcpSuper({ payload: pattern(10, f), sport: 40000 + f, src: L1.pod, dst: L2.pod }) });
        const r = runNode(a.dp, [{ port: POD, frame, vnet: vnet({ flags: 1, csumStart: 34, csumOffset: 16 }) }]);
        for (const t of r.tx) a.u.send(t.start, t.length);
        a.u.flush();
        const k = await recvWait(b);
        const at = b.dp.readOffset(0);
        const sport = k > 0 ? rd16(b.mem8, at + 10 + 34) : -k;
        if (again === 0) byFlow.push(sport);
        else if (byFlow[f] !== sport) byFlow[f] = -1; // one flow, two source ports: wrong
      }
    }
    return { byFlow, pool: a.sock.txPorts };
  } finally {
    a.sock.close();
    b.sock.close();
  }
}

const result = {
  vxlan: await scenario('vxlan'), ipip: await scenario('ipip'),
  gsoGro: await superFrameScenario({ gso: true, gro: true }, 40000),
  fallback: await superFrameScenario({ gso: false, gro: false }, 40000),
  flows: await flowsScenario(),
};
console.log(JSON.stringify(result));
