// The forwarding worker: a worker thread that owns every node's data plane
// instance and every TAP fd, started by engine-host.ts. This file wires the
// parts together and runs the loop; each part is its own file:
//
//   engine-nodes.ts     the nodes (one shared WebAssembly memory) and ports, programmed from the config
//   engine-io-loop.ts   one round: epoll -> read the ready fds' batches into WASM memory -> processBatch per node -> write
//   engine-fabric.ts    the in-process underlay: a node's underlay frame handed to its peer in place
//   engine-requests.ts  the answers to the main thread's requests, one handler per type
//   engine-trace.ts     `podwire trace` and live tracing
//   capture-tap.ts      `podwire capture`
//
// The main thread talks to the worker by message; an eventfd in the epoll set
// wakes it. A node whose peers run on other hosts (`podwire up --node`) has
// its underlay carried by a host socket instead of the fabric (socket-underlay.ts).
import { parentPort, workerData, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { NodeServices } from './service-sync.ts';
import { CaptureTap } from './capture-tap.ts';
import { EventFd } from '../io/eventfd.ts';
import { setUpNodes, inProcessUnderlay } from './engine-nodes.ts';
import { Fabric } from './engine-fabric.ts';
import { IoLoop } from './engine-io-loop.ts';
import { Impairments, tapSink } from './impairment.ts';
import { EngineTrace } from './engine-trace.ts';
import { handleRequest, type EngineContext } from './engine-requests.ts';
import type { EngineConfig, EngineReply, EngineRequest } from './engine-protocol.ts';

function main(): void {
  const cfg = workerData.config as EngineConfig;
  const port = parentPort as MessagePort;
  const wake = new EventFd(cfg.wakeFd);
  const { nodes, ports, mem8 } = setUpNodes(cfg);
  const fabric = new Fabric(nodes, cfg.nodes, mem8);
  const reply = (m: EngineReply) => port.postMessage(m);
  // `podwire capture`: copies what passes tapped ports; costs one check per round and per flush when off
  // each node's pod ports by name, shared with the tap: a pod attached live (attachPort) is capturable too
  const podPorts = cfg.nodes.map((n) => n.ports.map((p) => ({ port: p.port, name: p.name })));
  const tap = new CaptureTap(mem8, nodes.map((n, i) => ({
    name: n.name, dp: n.dp, ports: podPorts[i],
    ulPort: n.ulPort, inProcessUnderlay: inProcessUnderlay(n),
  })), cfg.captureBacklog, (start) => fabric.ownerOf(start), (m, transfer) => port.postMessage(m, transfer));
  // `netem:` on pods: frames to impaired ports are held, dropped, duplicated or corrupted (impairment.ts)
  const impair = new Impairments(nodes.length);
  cfg.nodes.forEach((n, i) => { for (const p of n.ports) if (p.netem) impair.set(i, p.port, tapSink(p.fd), p.netem); });
  // `links:` between nodes: both directions of the in-process underlay
  const nodeIndex = (name: string) => nodes.findIndex((n) => n.name === name);
  for (const l of cfg.links ?? []) {
    const [a, b] = l.between.map(nodeIndex);
    if (a < 0 || b < 0) continue;
    impair.setLink(a, b, (f) => fabric.deliverHeld(b, f), l.netem);
    impair.setLink(b, a, (f) => fabric.deliverHeld(a, f), l.netem);
  }
  const io = new IoLoop(nodes, ports, wake.fd, fabric, tap, impair, mem8);
  // each node's Service frontends as programmed, for `podwire apply`'s diffs (service-sync.ts)
  const services = nodes.map((n, i) => new NodeServices(n.dp, cfg.nodes[i].services));
  const trace = new EngineTrace(nodes, cfg.nodes, services, fabric);
  const epoch = performance.now(); // the data plane clock counts ms from here
  const clock = () => Math.floor(performance.now() - epoch) >>> 0;
  let running = true;
  const ctx: EngineContext = { nodes, ports, podPorts, portsChanged: () => io.portsChanged(), fabric, loop: io.stats, tap, services, trace, impair, clock, reply, stop: () => { running = false; } };
  let lastAging = 0;
  let lastClock = -1;

  reply({ type: 'ready' });
  // the epoll fd is this worker's own (a restarted worker makes another): closed however the loop ends
  try {
    while (running) {
      const woken = io.wait();
      const now = clock();
      // the clock counts whole ms: a round within the same ms (most of them, under load) has nothing to set
      if (now !== lastClock) {
        lastClock = now;
        for (const n of nodes) n.dp.setClock(now);
      }
      if (now - lastAging >= 1000) {
        lastAging = now;
        for (const n of nodes) {
          n.dp.ex.fdbExpire(now);
          // a lookup removes an expired flow only when its tuple comes back: sweep the rest, or the
          // table fills with dead flows and new ones fail (the whole table once a second: well under 1 ms)
          n.dp.ex.ctGc(now, n.dp.ex.ctCapacity());
        }
      }
      if (woken) {
        wake.drain();
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) handleRequest(m.message as EngineRequest, ctx);
      }
      const brokenSeen = io.receive();
      io.process();
      if (trace.live) {
        const records = trace.takeRound();
        if (records) reply(records);
      }
      io.clearTx();
      if (tap.on) tap.endRound();
      // a TAP whose device vanished (its namespace was deleted under us): stop polling it
      if (brokenSeen) reply({ type: 'portGone', names: io.dropBrokenPorts() });
    }
  } finally {
    io.close();
  }
  reply({ type: 'stopped' });
}

main();
