// The forwarding loop. Runs in a worker thread that owns every node's data
// plane instance and every TAP fd: poll -> read batches straight into WASM
// memory -> one processBatch call per node -> write the tx list. The main
// thread talks to it by message; an eventfd in the poll set wakes it.
import { parentPort, workerData, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Dataplane, type CounterSnapshot } from './dataplane.ts';
import { Poller } from '../io/poller.ts';
import { EventFd } from '../io/eventfd.ts';
import { EAGAIN, addressTable, bufferAddress, readAt, writeAt } from '../io/libc.ts';
import type { EngineConfig, EngineRequest, EngineReply, NodeStats } from './engine-protocol.ts';

interface Port { node: number; port: number; fd: number; name: string; rxErrors: number; txErrors: number; broken: boolean }
interface Node {
  name: string;
  dp: Dataplane;
  memBase: number;
  /** absolute read address of each slot, boxed once so reads allocate nothing */
  readAddr: number[];
  fds: Int32Array;
  used: number;
}

/** Frames read from one port per round, so one busy pod cannot starve the others. */
const PORT_BUDGET = 64;
const IDLE_POLL_MS = 1000;

function main(): void {
  const cfg = workerData.config as EngineConfig;
  const port = parentPort as MessagePort;
  const wake = new EventFd(cfg.wakeFd);
  const nodes: Node[] = cfg.nodes.map((n) => {
    const dp = new Dataplane({ slots: cfg.batch, slotSize: cfg.slotSize, fdbCapacity: n.fdbCapacity, maxPorts: n.maxPorts });
    dp.setGateway(n.gatewayIp, n.gatewayMac);
    dp.ex.fdbSetAging(cfg.macAgingMs);
    const fds = new Int32Array(n.maxPorts).fill(-1);
    for (const p of n.ports) {
      dp.attachPort(p.port, p.mtu);
      fds[p.port] = p.fd;
    }
    const memBase = bufferAddress(dp.memory.buffer);
    const readAddr = addressTable(memBase + dp.readOffset(0), dp.slotSize, dp.slots);
    return { name: n.name, dp, memBase, readAddr, fds, used: 0 };
  });
  const ports: Port[] = cfg.nodes.flatMap((n, ni) =>
    n.ports.map((p) => ({ node: ni, port: p.port, fd: p.fd, name: p.name, rxErrors: 0, txErrors: 0, broken: false })));
  const poller = new Poller([wake.fd, ...ports.map((p) => p.fd)]);
  const pollIndex: number[] = ports.map((_, i) => i); // poll slot i+1 -> ports[pollIndex[i]]
  const start = performance.now();
  const clock = () => Math.floor(performance.now() - start) >>> 0;
  let lastAging = 0;
  let running = true;
  let busy = false;

  const reply = (m: EngineReply) => port.postMessage(m);
  const handle = (req: EngineRequest) => {
    if (req.type === 'stop') { running = false; return; }
    if (req.type === 'stats') {
      const now = clock();
      const stats: NodeStats[] = nodes.map((n, ni) => ({
        name: n.name,
        counters: n.dp.counters() as CounterSnapshot,
        fdb: n.dp.fdb(now),
        fdbCapacity: n.dp.ex.fdbCapacity(),
        io: ports.filter((p) => p.node === ni).map((p) => ({ port: p.port, name: p.name, rxErrors: p.rxErrors, txErrors: p.txErrors, broken: p.broken })),
      }));
      reply({ type: 'stats', id: req.id, nodes: stats });
    }
  };

  reply({ type: 'ready' });
  while (running) {
    poller.wait(busy ? 0 : IDLE_POLL_MS);
    const now = clock();
    for (const n of nodes) n.dp.setClock(now);
    if (now - lastAging >= 1000) {
      lastAging = now;
      for (const n of nodes) n.dp.ex.fdbExpire(now);
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
      if (poller.isBroken(i + 1)) { p.broken = true; brokenSeen = true; continue; }
      if (!poller.isReadable(i + 1)) continue;
      const n = nodes[p.node];
      const dp = n.dp;
      const cap = dp.readCapacity;
      const limit = Math.min(dp.slots, n.used + PORT_BUDGET);
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
    // one call into WASM per node, then write what it queued
    for (const n of nodes) {
      if (n.used === 0) continue;
      const count = n.dp.process(n.used);
      n.used = 0;
      const tx = n.dp.tx;
      for (let k = 0; k < count; k++) {
        const b = k << 2;
        const fd = n.fds[tx[b + 1]];
        if (fd < 0) continue;
        const w = writeAt(fd, n.memBase + tx[b + 2], tx[b + 3]);
        if (w < 0) {
          const p = ports.find((q) => q.fd === fd);
          if (p) p.txErrors++;
        }
      }
    }
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
