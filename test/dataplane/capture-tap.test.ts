// The forwarding worker's capture tap against a stand-in data plane (the
// fields it reads: rx arrays, the tx list, vnet header length): which ports
// a target names, what is copied (vnet header stripped, direction), that a
// nested flush never copies an entry twice, the fabric's copy for the
// receiving node's underlay, one message per round, and the bounds.
import { describe, it, expect } from 'vitest';
import { CaptureTap, forEachCaptured, BACKLOG_BYTES, CAPTURE_INBOUND, CAPTURE_OUTBOUND, type TapNode } from '../../src/dataplane/capture-tap.ts';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import type { EngineReply } from '../../src/dataplane/engine-protocol.ts';

const VNET = 10;
const mem = new Uint8Array(1 << 16);

/** A frame of `len` bytes (vnet header of 0xee, then bytes `tag`) at `at`; returns [at, length with header]. */
function frame(at: number, len: number, tag: number): [number, number] {
  mem.fill(0xee, at, at + VNET);
  mem.fill(tag, at + VNET, at + VNET + len);
  return [at, VNET + len];
}

function fakeNode(name: string, pods: string[]): TapNode & { setRx(e: [number, number, number][]): void; setTx(e: [number, number, number][]): void } {
  const dp = {
    vnetLen: VNET, maxPorts: 8,
    rxPort: new Uint32Array(16), rxAddr: new Uint32Array(16), rxLen: new Uint32Array(16), tx: new Uint32Array(64),
  };
  return {
    name, dp: dp as unknown as Dataplane, ports: pods.map((p, i) => ({ port: i, name: p })), ulPort: 7, inProcessUnderlay: true,
    setRx: (e) => e.forEach(([port, at, len], s) => { dp.rxPort[s] = port; dp.rxAddr[s] = at; dp.rxLen[s] = len; }),
    setTx: (e) => e.forEach(([port, at, len], i) => { dp.tx[i * 4 + 1] = port; dp.tx[i * 4 + 2] = at; dp.tx[i * 4 + 3] = len; }),
  };
}

function setup(backlog = new SharedArrayBuffer(4)) {
  const n1 = fakeNode('n1', ['a1', 'a2']);
  const n2 = fakeNode('n2', ['b1']);
  const posted: Extract<EngineReply, { type: 'captured' }>[] = [];
  const tap = new CaptureTap(mem, [n1, n2], backlog, () => 1, (m) => { if (m.type === 'captured') posted.push(m); });
  const records = () => posted.flatMap((m) => {
    const r: [number, number, number, string][] = [];
    forEachCaptured(m.data, (node, port, dir, _ts, f) => r.push([node, port, dir, `${f[0]}x${f.length}`]));
    return r;
  });
  return { n1, n2, tap, posted, records };
}

describe('capture tap', () => {
  it('resolves pods, nodes and the underlay to named ports, and refuses what it does not know', () => {
    const { tap } = setup();
    expect(tap.resolve('a2')).toEqual([{ node: 0, port: 1, name: 'n1/a2' }]);
    expect(tap.resolve('n2')).toEqual([{ node: 1, port: 0, name: 'n2/b1' }, { node: 1, port: 7, name: 'n2/underlay' }]);
    expect(tap.resolve('underlay').map((p) => p.name)).toEqual(['n1/underlay', 'n2/underlay']);
    expect(tap.resolve('pod/b1').map((p) => p.name)).toEqual(['n2/b1']);
    expect(() => tap.resolve('node/b1')).toThrow(/no node "b1"/);
    expect(() => tap.resolve('zz')).toThrow(/no pod or node "zz".*nodes: n1, n2; pods: a1, a2, b1/);
    expect(tap.request({ id: 1, on: true, target: 'zz' })).toMatchObject({ type: 'capture', id: 1, error: expect.stringMatching(/zz/) });
    expect(tap.on).toBe(false);
  });

  it('copies tapped rx and tx frames without the vnet header, each tx entry once, in one message per round', () => {
    const { n1, tap, posted, records } = setup();
    expect(tap.request({ id: 1, on: true, target: 'a1' })).toMatchObject({ ports: [{ node: 0, port: 0, name: 'n1/a1' }] });
    expect(tap.on).toBe(true);
    n1.setRx([[0, ...frame(0, 60, 1)], [1, ...frame(100, 70, 2)], [0, ...frame(200, 80, 3)]]);
    tap.rx(0, 3);
    n1.setTx([[1, ...frame(300, 61, 4)], [0, ...frame(400, 62, 5)], [0, ...frame(500, 63, 6)], [0, ...frame(600, 64, 7)], [0, ...frame(700, 65, 8)]]);
    tap.tx(0, 0, 3); // a flush: entries 0..2
    tap.tx(0, 2, 5); // a nested flush (a hand-over came back): only the new entries 3..4
    expect(posted).toEqual([]);
    tap.endRound();
    expect(posted.length).toBe(1);
    expect(records()).toEqual([
      [0, 0, CAPTURE_INBOUND, '1x60'], [0, 0, CAPTURE_INBOUND, '3x80'],
      [0, 0, CAPTURE_OUTBOUND, '5x62'], [0, 0, CAPTURE_OUTBOUND, '6x63'], [0, 0, CAPTURE_OUTBOUND, '7x64'], [0, 0, CAPTURE_OUTBOUND, '8x65'],
    ]);
    // next round: the list starts afresh at 0
    tap.tx(0, 0, 2);
    tap.endRound();
    expect(records().slice(6)).toEqual([[0, 0, CAPTURE_OUTBOUND, '5x62']]);
    tap.endRound();
    expect(posted.length).toBe(2); // nothing staged: nothing posted
    tap.request({ id: 1, on: false });
    expect(tap.on).toBe(false);
  });

  it("an in-process underlay frame is also the peer's underlay rx", () => {
    const { n1, tap, records } = setup();
    tap.request({ id: 1, on: true, target: 'n2' });
    n1.setTx([[7, ...frame(0, 90, 9)]]);
    tap.tx(0, 0, 1);
    tap.endRound();
    expect(records()).toEqual([[1, 7, CAPTURE_INBOUND, '9x90']]);
  });

  it('counts frames beyond the backlog as dropped, per port, and posts the drops', () => {
    const backlog = new SharedArrayBuffer(4);
    new Int32Array(backlog)[0] = BACKLOG_BYTES - 100; // the main thread is behind
    const { n1, tap, posted, records } = setup(backlog);
    tap.request({ id: 1, on: true, target: 'a1' });
    n1.setRx([[0, ...frame(0, 60, 1)], [0, ...frame(100, 60, 2)]]);
    tap.rx(0, 2);
    tap.endRound();
    expect(records()).toEqual([[0, 0, CAPTURE_INBOUND, '1x60']]);
    expect(posted[0].drops).toEqual([0, 0, 1]);
    expect(new Int32Array(backlog)[0]).toBe(BACKLOG_BYTES - 100 + 80); // what this round posted
  });
});
