// The forwarding loop's receive side (engine-io-loop.ts) without TAPs: each
// "port" is a non-blocking semaphore eventfd, so every read(2) of it is one
// 8-byte "frame" and its count says how many are waiting. Checks that a
// round reads the ready fds only, that one flooding port cannot starve a
// quiet one (PORT_BUDGET), and that ports attached, detached or found broken
// live are watched or forgotten.
import { describe, it, expect, afterAll } from 'vitest';
import { IoLoop, PORT_BUDGET } from '../../src/dataplane/engine-io-loop.ts';
import { Impairments } from '../../src/dataplane/impairment.ts';
import type { EngineNode, EnginePort } from '../../src/dataplane/engine-nodes.ts';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import type { Fabric } from '../../src/dataplane/engine-fabric.ts';
import type { CaptureTap } from '../../src/dataplane/capture-tap.ts';
import { EventFd } from '../../src/io/eventfd.ts';
import { EFD_CLOEXEC, EFD_NONBLOCK, addressTable, bufferAddress, close, eventfd, socket } from '../../src/io/libc.ts';
import { AF_INET, SOCK_CLOEXEC } from '../../src/io/socket.ts';

const EFD_SEMAPHORE = 1;
const SOCK_STREAM = 1;
const SLOTS = 256;
const SLOT = 16;

const openFds: number[] = [];
/** A port fd with `frames` 8-byte frames waiting. */
function framesFd(frames: number): number {
  const fd = eventfd(frames, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw new Error(`eventfd: ${fd}`);
  openFds.push(fd);
  return fd;
}
/** Add `frames` more to a port made by framesFd. */
function send(fd: number, frames: number): void {
  const e = new EventFd(fd);
  for (let i = 0; i < frames; i++) e.signal();
}

const keep: ArrayBuffer[] = []; // the slots' memory must outlive the test
function fakeNode(): EngineNode {
  const mem = new ArrayBuffer(SLOTS * SLOT);
  keep.push(mem);
  const dp = { slots: SLOTS, readCapacity: SLOT, rxLen: new Uint32Array(SLOTS + 1), rxPort: new Uint32Array(SLOTS + 1) };
  return {
    name: 'n1', dp: dp as unknown as Dataplane, memBase: 0, readAddr: addressTable(bufferAddress(mem), SLOT, SLOTS),
    fds: new Int32Array(1).fill(-1), used: 0, ulPort: -1, ulFd: -1, ulHdrExtra: 0, txTotal: 0, drained: 0,
  };
}
function port(n: number, fd: number): EnginePort {
  return { node: 0, port: n, fd, name: `n1/p${n}`, rxErrors: 0, txErrors: 0, broken: false };
}

interface Rig { loop: IoLoop; node: EngineNode; ports: EnginePort[]; wake: EventFd }
const loops: IoLoop[] = [];
function rig(ports: EnginePort[]): Rig {
  const node = fakeNode();
  const wake = new EventFd();
  openFds.push(wake.fd);
  const loop = new IoLoop([node], ports, wake.fd, { flush: () => {} } as unknown as Fabric, { on: false } as CaptureTap, new Impairments(1), new Uint8Array(0));
  loops.push(loop);
  return { loop, node, ports, wake };
}

/** One round's receive side: wait, read; returns the frames read per port number, and empties the node's slots. */
function round(r: Rig): { perPort: Map<number, number>; woken: boolean; broken: boolean } {
  const woken = r.loop.wait();
  const broken = r.loop.receive();
  const perPort = new Map<number, number>();
  for (let s = 0; s < r.node.used; s++) {
    const p = r.node.dp.rxPort[s];
    perPort.set(p, (perPort.get(p) ?? 0) + 1);
  }
  r.node.used = 0;
  return { perPort, woken, broken };
}

describe('IoLoop receive (epoll)', () => {
  afterAll(() => { loops.forEach((l) => l.close()); openFds.forEach((fd) => close(fd)); });

  it('reads only the ready ports of 200, and a flooding port gets its budget, not the round', () => {
    const idle = Array.from({ length: 198 }, (_, i) => port(i + 3, framesFd(0)));
    const flood = port(1, framesFd(1000));
    const quiet = port(2, framesFd(1));
    const r = rig([...idle, flood, quiet]);
    expect(r.loop.stats.watchedFds).toBe(200);

    const first = round(r);
    expect(first.woken).toBe(false);
    expect(first.perPort).toEqual(new Map([[1, PORT_BUDGET], [2, 1]]));
    expect(r.loop.stats.readyFds).toBe(2);

    // the flood is still readable: the next rounds go on without sleeping, one budget each
    const sleeps = r.loop.stats.sleeps;
    send(quiet.fd, 3);
    const second = round(r);
    expect(second.perPort).toEqual(new Map([[1, PORT_BUDGET], [2, 3]]));
    let flooded = 2 * PORT_BUDGET;
    for (let i = 0; i < 100 && flooded < 1000; i++) {
      const n = round(r).perPort.get(1) ?? 0;
      expect(n).toBeLessThanOrEqual(PORT_BUDGET);
      flooded += n;
    }
    expect(flooded).toBe(1000);
    expect(r.loop.stats.sleeps).toBe(sleeps);
    // every round looked at the ready fds only: one or two of 200
    expect(r.loop.stats.readyFds / r.loop.stats.rounds).toBeLessThanOrEqual(2);
  });

  it('reports the main thread waking it', () => {
    const r = rig([port(1, framesFd(0))]);
    r.wake.signal();
    const woken = round(r);
    expect(woken.woken).toBe(true);
    expect(woken.perPort.size).toBe(0);
    r.wake.drain();
  });

  it('watches ports attached live and forgets detached ones, even detached between wait and receive', () => {
    const a = port(1, framesFd(0));
    const r = rig([a]);
    const b = port(2, framesFd(2));
    r.ports.push(b);
    r.loop.portsChanged();
    expect(r.loop.stats.watchedFds).toBe(2);
    expect(round(r).perPort).toEqual(new Map([[2, 2]]));

    send(a.fd, 1);
    send(b.fd, 1);
    r.loop.wait();
    // a request handled after the wait detaches b (engine-requests.ts detachPort)
    r.ports.splice(r.ports.indexOf(b), 1);
    r.loop.portsChanged();
    r.loop.receive();
    expect(Array.from(r.node.dp.rxPort.subarray(0, r.node.used))).toEqual([1]);
    r.node.used = 0;
    expect(r.loop.stats.watchedFds).toBe(1);
    send(b.fd, 5);
    expect(round(r).perPort.size).toBe(0);
  });

  it('finds a dead fd broken, and one that is not open at all; stops watching them and names them', () => {
    const dead = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); // unconnected: hangs up
    openFds.push(dead);
    const ok = port(1, framesFd(1));
    const r = rig([ok, port(2, dead), port(3, 1 << 20)]);
    expect(r.loop.stats.watchedFds).toBe(2);
    const first = round(r);
    expect(first.broken).toBe(true);
    expect(first.perPort).toEqual(new Map([[1, 1]]));
    expect(r.loop.dropBrokenPorts()).toEqual(['n1/p2', 'n1/p3']);
    expect(r.loop.stats.watchedFds).toBe(1);
    send(ok.fd, 1);
    const next = round(r);
    expect(next.broken).toBe(false);
    expect(next.perPort).toEqual(new Map([[1, 1]]));
  });
});
