// The forwarding loop. Runs in a worker thread that owns every node's data
// plane instance and every TAP fd: poll -> read batches straight into WASM
// memory -> one processBatch call per node -> write the tx list. The main
// thread talks to it by message; an eventfd in the poll set wakes it.
//
// All nodes share one WebAssembly memory, so the in-process underlay (the
// fabric) hands a frame one node sends on its underlay port to the node that
// owns the destination MAC by address: that node processes it in place
// (decap, route) and its output is written or handed on in turn. A node
// whose peers run on other hosts (`podwire up --node`) has its underlay
// carried by a host socket instead (socket-underlay.ts).
import { parentPort, workerData, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { createNodes, genSlotsForSegmentation, type Dataplane, type CounterSnapshot } from './dataplane.ts';
import { programNode } from './node-setup.ts';
import { NodeServices, frontendKey } from './service-sync.ts';
import { SocketUnderlay } from './socket-underlay.ts';
import { CaptureTap } from './capture-tap.ts';
import { TX_WORDS, TX_PORT, TX_START, TX_LENGTH, frameDstMacKey, macKey, memoryBytes } from './memory-views.ts';
import { parseMac } from '../model/addr.ts';
import { Poller } from '../io/poller.ts';
import { EventFd } from '../io/eventfd.ts';
import { EAGAIN, EBADF, addressTable, bufferAddress, readAt, writeAt } from '../io/libc.ts';
import { traceWalk, type TraceWalkNode, type TraceHop } from './trace-walk.ts';
import { decodeTrace } from './trace.ts';
import type { EngineConfig, EngineRequest, EngineReply, NodeStats, NodeTables } from './engine-protocol.ts';

interface Port {
  node: number; port: number; fd: number; name: string; rxErrors: number; txErrors: number; broken: boolean;
  /** an underlay socket (read by recvfrom, never "broken": POLLERR there is a pending socket error) */
  sock?: SocketUnderlay;
}
interface Node {
  name: string;
  dp: Dataplane;
  memBase: number;
  /** absolute read address of each slot, boxed once so reads allocate nothing */
  readAddr: number[];
  fds: Int32Array;
  used: number;
  /** underlay port (-1: none); in-process when ulFd < 0 and there is no socket */
  ulPort: number;
  ulFd: number;
  /** the underlay as a host socket to nodes on other hosts */
  sock?: SocketUnderlay;
  /** tx entries queued this round, and how many of them are done */
  txTotal: number;
  drained: number;
}

/** How many underlay hand-overs one frame may cause in a round before it is dropped as a loop. */
const MAX_FABRIC_DEPTH = 16;

/** Frames read from one port per round, so one busy pod cannot starve the others. */
const PORT_BUDGET = 64;
const IDLE_POLL_MS = 1000;

function main(): void {
  const cfg = workerData.config as EngineConfig;
  const port = parentPort as MessagePort;
  const wake = new EventFd(cfg.wakeFd);
  // generated frames (fragments, ICMP errors) must hold the largest MTU any port has
  const maxMtu = Math.max(1500, ...cfg.nodes.flatMap((n) => [...n.ports.map((p) => p.mtu), n.underlay?.mtu ?? 0]));
  // a node that segments super-frames needs a generated slot per segment of a whole batch
  const minPodMtu = Math.min(...cfg.nodes.flatMap((n) => n.ports.map((p) => p.mtu)), maxMtu);
  const segmenting = cfg.nodes.some((n) => n.underlay?.segment);
  const dps = createNodes(cfg.nodes.length, {
    slots: cfg.batch, slotSize: cfg.slotSize, maxPorts: Math.max(...cfg.nodes.map((n) => n.maxPorts)),
    genSlotSize: maxMtu + 512,
    genSlots: segmenting ? genSlotsForSegmentation(cfg.batch, minPodMtu) : 256,
    ...(cfg.svcCapacity ? { svcCapacity: cfg.svcCapacity } : {}),
    ...(cfg.svcMaxBackends ? { svcMaxBackends: cfg.svcMaxBackends } : {}),
    ...(cfg.maglev ? { maglev: true } : {}),
  });
  const memBase = bufferAddress(dps[0].memory.buffer);
  const mem8 = memoryBytes(dps[0].memory);
  const nodes: Node[] = cfg.nodes.map((n, i) => {
    const dp = dps[i];
    programNode(dp, n, cfg.macAgingMs);
    const fds = new Int32Array(dp.maxPorts).fill(-1);
    for (const p of n.ports) fds[p.port] = p.fd;
    if (n.underlay && n.underlay.fd >= 0) fds[n.underlay.port] = n.underlay.fd;
    const readAddr = addressTable(memBase + dp.readOffset(0), dp.slotSize, dp.slots);
    for (let s = 0; s < dp.slots; s++) dp.rxAddr[s] = dp.readOffset(s);
    const sc = n.underlay?.socket;
    const sock = sc && new SocketUnderlay(sc, mem8, memBase, n.underlay!.mac, dp.vnetLen,
      Array.from({ length: dp.slots }, (_, s) => dp.readOffset(s)), dp.readCapacity);
    return {
      name: n.name, dp, memBase, readAddr, fds, used: 0,
      ulPort: n.underlay?.port ?? -1, ulFd: n.underlay?.fd ?? -1, sock, txTotal: 0, drained: 0,
    };
  });
  // the fabric: which node owns each underlay MAC (as a number: 48 bits fit a double)
  const byMac = new Map<number, number>();
  cfg.nodes.forEach((n, i) => { if (n.underlay) byMac.set(macKey(parseMac(n.underlay.mac)), i); });
  const fabric = { noPeer: 0, tooDeep: 0, delivered: 0 };
  // every fd to poll: the pods' TAPs, underlay TAPs where the underlay is a real bridge, underlay sockets
  const ports: Port[] = cfg.nodes.flatMap((n, ni): Port[] => [
    ...n.ports.map((p) => ({ node: ni, port: p.port, fd: p.fd, name: p.name, rxErrors: 0, txErrors: 0, broken: false })),
    ...(n.underlay && n.underlay.fd >= 0
      ? [{ node: ni, port: n.underlay.port, fd: n.underlay.fd, name: `${n.name}/underlay`, rxErrors: 0, txErrors: 0, broken: false }]
      : []),
    ...(n.underlay?.socket
      ? [{ node: ni, port: n.underlay.port, fd: n.underlay.socket.fd, name: `${n.name}/underlay`, rxErrors: 0, txErrors: 0, broken: false, sock: nodes[ni].sock }]
      : []),
  ]);
  const poller = new Poller([wake.fd, ...ports.map((p) => p.fd)]);
  const pollIndex: number[] = ports.map((_, i) => i); // poll slot i+1 -> ports[pollIndex[i]]
  const epoch = performance.now(); // the data plane clock counts ms from here
  const clock = () => Math.floor(performance.now() - epoch) >>> 0;
  let lastAging = 0;
  let running = true;
  let busy = false;

  const W = TX_WORDS, PORT = TX_PORT, START = TX_START, LENGTH = TX_LENGTH;
  /** Write node n's queued tx entries; underlay frames for in-process peers are handed over instead. */
  const flush = (n: Node, depth: number): void => {
    if (tap.on) tap.tx(nodes.indexOf(n), n.drained, n.txTotal);
    const tx = n.dp.tx;
    while (n.drained < n.txTotal) {
      const b = n.drained * W;
      n.drained++;
      const outPort = tx[b + PORT];
      const start = tx[b + START];
      const length = tx[b + LENGTH];
      if (outPort === n.ulPort && n.ulFd < 0) {
        if (n.sock) n.sock.send(start, length);
        else handOver(start, length, depth);
        continue;
      }
      const fd = n.fds[outPort];
      if (fd < 0) continue;
      if (writeAt(fd, n.memBase + start, length) < 0) {
        const p = ports.find((q) => q.fd === fd);
        if (p) p.txErrors++;
      }
    }
  };
  /**
   * The fabric: give an underlay frame (vnet header at `start`) to the node
   * owning its destination MAC, which processes it in place. Nodes know each
   * other's MACs (programmed neighbours), so nothing in-process broadcasts on
   * the underlay; a broadcast or unknown MAC has no peer and is counted.
   */
  const handOver = (start: number, length: number, depth: number): void => {
    const i = byMac.get(frameDstMacKey(mem8, start));
    if (i === undefined) { fabric.noPeer++; return; }
    if (depth >= MAX_FABRIC_DEPTH) { fabric.tooDeep++; return; }
    const peer = nodes[i];
    if (peer.drained === peer.txTotal && peer.txTotal > 0) {
      // everything the peer queued is written: start its list afresh, so hand-overs cannot fill it
      peer.dp.txClear();
      peer.txTotal = 0;
      peer.drained = 0;
    }
    const x = peer.dp.slots; // the rx entry past the slots, reserved for hand-overs
    peer.dp.rxAddr[x] = start;
    peer.dp.rxLen[x] = length;
    peer.dp.rxPort[x] = peer.ulPort;
    peer.txTotal = peer.dp.processRange(x, 1);
    fabric.delivered++;
    flush(peer, depth + 1);
  };

  const reply = (m: EngineReply) => port.postMessage(m);
  // `podwire capture`: copies what passes tapped ports; costs one check per round and per flush when off
  const tap = new CaptureTap(mem8, nodes.map((n, i) => ({
    name: n.name, dp: n.dp, ports: cfg.nodes[i].ports.map((p) => ({ port: p.port, name: p.name })),
    ulPort: n.ulPort, inProcessUnderlay: n.ulPort >= 0 && n.ulFd < 0 && !n.sock,
  })), cfg.captureBacklog, (start) => byMac.get(frameDstMacKey(mem8, start)), (m, transfer) => port.postMessage(m, transfer));
  // each node's Service frontends as programmed, for `podwire apply`'s diffs (service-sync.ts)
  const nodeServices = nodes.map((n, i) => new NodeServices(n.dp, cfg.nodes[i].services));
  // decision traces: every node named for the decoder (ports by pod, frontends by Service)
  const traceNodes: TraceWalkNode[] = nodes.map((n, i) => {
    const portNames = new Map<number, string>(cfg.nodes[i].ports.map((p) => [p.port, p.name]));
    if (n.ulPort >= 0) portNames.set(n.ulPort, `${n.name}/underlay`);
    return {
      name: n.name, dp: n.dp, ulPort: n.ulPort, fabric: n.ulFd < 0 && !n.sock,
      names: {
        port: (p) => portNames.get(p) ?? `${n.name}/port${p}`,
        service: (vip, p, proto) => nodeServices[i].serviceOf(vip, p, proto),
        drop: (r) => n.dp.dropName(r),
      },
    };
  });
  let liveTrace = false;
  const handle = (req: EngineRequest) => {
    if (req.type === 'stop') { running = false; return; }
    if (req.type === 'crash') {
      if (process.env.PODWIRE_TEST_HOOKS === '1') throw new Error('test-crash-worker: told to crash (PODWIRE_TEST_HOOKS=1)');
      return;
    }
    if (req.type === 'trace') {
      try {
        const start = nodes.findIndex((n) => n.name === req.node);
        if (start < 0) throw new Error(`no podwire node ${req.node} in this lab`);
        if (liveTrace) for (const n of nodes) n.dp.traceEnd(); // a synthetic run takes the rings; live resumes below
        const result = traceWalk(traceNodes, start, req.port, req.frame, (at) => byMac.get(frameDstMacKey(mem8, at)));
        reply({ type: 'trace', id: req.id, result });
      } catch (e) {
        reply({ type: 'trace', id: req.id, error: (e as Error).message });
      } finally {
        if (liveTrace) for (const n of nodes) n.dp.traceBegin(false);
      }
      return;
    }
    if (req.type === 'traceLive') {
      liveTrace = req.on;
      for (const n of nodes) if (req.on) n.dp.traceBegin(false); else n.dp.traceEnd();
      reply({ type: 'traceLive', id: req.id });
      return;
    }
    if (req.type === 'capture') {
      const answer = tap.request(req);
      if (answer) reply(answer);
      return;
    }
    if (req.type === 'conntrack') {
      const now = clock();
      reply({ type: 'conntrack', id: req.id, nodes: nodes.map((n) => ({ name: n.name, nowMs: now, entries: n.dp.conntrack(now) })) });
      return;
    }
    if (req.type === 'services') {
      const i = nodes.findIndex((n) => n.name === req.node);
      try {
        if (i < 0) throw new Error(`no podwire node ${req.node} in this lab`);
        reply({ type: 'services', id: req.id, node: req.node, result: nodeServices[i].sync(req.services, req.only) });
      } catch (e) {
        reply({ type: 'services', id: req.id, node: req.node, error: (e as Error).message });
      }
      return;
    }
    if (req.type === 'tables') {
      const now = clock();
      reply({ type: 'tables', id: req.id, nodes: nodes.map((n, i): NodeTables => {
        const names = new Map(nodeServices[i].frontends.map((f) => [frontendKey(f), f.service]));
        return {
          name: n.name, nowMs: now, fdb: n.dp.fdb(now), fdbCapacity: n.dp.ex.fdbCapacity(), routes: n.dp.routes(), neighbors: n.dp.neighbors(),
          services: n.dp.serviceTable().map((s) => ({ ...s, ...(names.get(frontendKey(s)) ? { service: names.get(frontendKey(s)) } : {}) })),
          underlayPort: n.ulPort,
        };
      }) });
      return;
    }
    if (req.type === 'stats') {
      const now = clock();
      const stats: NodeStats[] = nodes.map((n, ni) => ({
        name: n.name,
        counters: n.dp.counters() as CounterSnapshot,
        fdb: n.dp.fdb(now),
        fdbCapacity: n.dp.ex.fdbCapacity(),
        io: ports.filter((p) => p.node === ni).map((p) => ({ port: p.port, name: p.name, rxErrors: p.rxErrors, txErrors: p.txErrors, broken: p.broken })),
        fabric,
        underlayPort: n.ulPort,
        ...(n.sock ? { socket: n.sock.stats } : {}),
        conntrackEntries: n.dp.ctCount(),
      }));
      reply({ type: 'stats', id: req.id, nodes: stats });
    }
  };

  /** Live tracing: this round's records, decoded per node, to the main thread (which filters and rate-limits). */
  const postLiveTrace = (): void => {
    const hops: TraceHop[] = [];
    for (const t of traceNodes) {
      if (t.dp.ex.traceCount() === 0) continue;
      const { words, lost } = t.dp.traceRecords();
      t.dp.ex.traceReset();
      hops.push({ node: t.name, steps: decodeTrace(words, t.names), lost });
    }
    if (hops.length) reply({ type: 'traceRecords', hops });
  };

  reply({ type: 'ready' });
  while (running) {
    poller.wait(busy ? 0 : IDLE_POLL_MS);
    const now = clock();
    for (const n of nodes) n.dp.setClock(now);
    if (now - lastAging >= 1000) {
      lastAging = now;
      for (const n of nodes) {
        n.dp.ex.fdbExpire(now);
        // a lookup removes an expired flow only when its tuple comes back: sweep the rest, or the
        // table fills with dead flows and new ones fail (the whole table once a second: well under 1 ms)
        n.dp.ex.ctGc(now, n.dp.ex.ctCapacity());
      }
    }
    if (poller.isReadable(0)) {
      wake.drain();
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) handle(m.message as EngineRequest);
    }
    // rx: drain readable ports into their node's slots
    busy = false;
    let brokenSeen = false;
    for (let i = 0; i < pollIndex.length; i++) {
      const p = ports[pollIndex[i]];
      const n = nodes[p.node];
      const dp = n.dp;
      const limit = Math.min(dp.slots, n.used + PORT_BUDGET);
      if (p.sock) {
        // POLLERR here is a pending socket error, which the next recvfrom reports and clears
        if (!poller.isReadable(i + 1) && !poller.isBroken(i + 1)) continue;
        // bounded: datagrams dropped on arrival (unknown sender, too big) take no slot
        for (let k = 0; k < PORT_BUDGET && n.used < limit; k++) {
          const r = p.sock.recv(n.used);
          if (r < 0) {
            if (r === -EBADF) { p.broken = true; brokenSeen = true; } // closed under us: stop polling it
            break;
          }
          if (r === 0) continue;
          dp.rxLen[n.used] = r;
          dp.rxPort[n.used] = p.port;
          n.used++;
        }
        if (n.used === limit) busy = true;
        continue;
      }
      if (poller.isBroken(i + 1)) { p.broken = true; brokenSeen = true; continue; }
      if (!poller.isReadable(i + 1)) continue;
      const cap = dp.readCapacity;
      while (n.used < limit) {
        // a read that fills the whole slot was cut short; processBatch counts it as oversize
        const r = readAt(p.fd, n.readAddr[n.used], cap);
        if (r <= 0) {
          if (r !== -EAGAIN) p.rxErrors++;
          break;
        }
        dp.rxLen[n.used] = r;
        dp.rxPort[n.used] = p.port;
        n.used++;
      }
      if (n.used === limit) busy = true; // more may be waiting: poll without sleeping
    }
    // one call into WASM per node, then write (or hand over) what it queued
    for (const n of nodes) {
      if (n.used === 0) continue;
      if (tap.on) tap.rx(nodes.indexOf(n), n.used); // before processing rewrites them in place
      n.txTotal = n.dp.processRange(0, n.used);
      n.used = 0;
      flush(n, 0);
    }
    if (liveTrace) postLiveTrace();
    for (const n of nodes) {
      if (n.txTotal === 0) continue;
      n.dp.txClear();
      n.txTotal = 0;
      n.drained = 0;
    }
    if (tap.on) tap.endRound();
    if (brokenSeen) {
      // a TAP whose device vanished (its namespace was deleted under us): stop polling it
      const alive = pollIndex.filter((pi) => !ports[pi].broken);
      pollIndex.length = 0;
      pollIndex.push(...alive);
      poller.setFds([wake.fd, ...alive.map((pi) => ports[pi].fd)]);
      reply({ type: 'portGone', names: ports.filter((p) => p.broken).map((p) => p.name) });
    }
  }
  reply({ type: 'stopped' });
}


main();
