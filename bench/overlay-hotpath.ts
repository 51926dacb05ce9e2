// Hot-path suites for routing and overlays (benchmark.js), in memory, one
// core: route + encapsulation on the sending node, decapsulation + routing
// + bridge on the receiving node. These stages rewrite frames in place, so
// each timed batch first restores its input from templates (benchRestore, a
// memcpy in WASM); "restore" times that copy alone, and "net" removes it.
import { createNodes, GEN_SLOT, type Dataplane, type OverlayKind } from '../src/dataplane/dataplane.ts';
import { udpFrame } from './frames.ts';
import { timeIt } from './bjs.ts';
import type { Build } from '../src/dataplane/wasm.ts';

export interface OverlayHotpathResult {
  suite: string;
  overlay: OverlayKind;
  frameBytes: number;
  batch: number;
  mpps: number;
  netMpps: number;
  restoreMpps: number;
  rme: number;
}

const UL = 7;
const POD = 0;
const A = { gw: '10.244.0.1', gwMac: '0a:58:0a:f4:00:01', ul: '172.31.255.1', ulMac: '0a:58:ac:1f:ff:01', vtep: '0e:58:ac:1f:ff:01', cidr: '10.244.0.0/24' };
const B = { gw: '10.244.1.1', gwMac: '0a:58:0a:f4:01:01', ul: '172.31.255.2', ulMac: '0a:58:ac:1f:ff:02', vtep: '0e:58:ac:1f:ff:02', cidr: '10.244.1.0/24' };
const podMacA = [0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x02];
const podMacB = '0a:58:0a:f4:01:02';

function setup(dp: Dataplane, me: typeof A, peer: typeof A, kind: Exclude<OverlayKind, 'none'>): void {
  dp.attachPort(POD, 9000);
  dp.attachPort(UL, 9100, 'underlay');
  dp.setGateway(me.gw, me.gwMac);
  dp.setUnderlay(UL, me.ul, me.ulMac);
  dp.setOverlay(kind, { vni: 1, port: 8472, vtepMac: me.vtep });
  dp.addRoute(me.cidr, 'local');
  dp.addRoute(peer.cidr, kind, peer.ul, peer.vtep);
  dp.setNeighbor(peer.ul, peer.ulMac);
}

/** Node 1 holds `batch` pod frames (+ templates in the slots after them); node 2 holds what node 1 sends, as templates too. */
export function prepare(kind: Exclude<OverlayKind, 'none'>, frameBytes: number, batch: number, build: Build = 'release') {
  const [n1, n2] = createNodes(2, { slots: 2 * batch, slotSize: 2048 + 256, maxPorts: 8, build });
  setup(n1, A, B, kind);
  setup(n2, B, A, kind);
  n2.setNeighbor('10.244.1.2', podMacB);
  // each frame a different flow (source port), as real traffic would be
  const frame = (i: number) => {
    const f = udpFrame(frameBytes, podMacA, [0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x01], 0x0af40002, 0x0af40102);
    new DataView(f.buffer).setUint16(34, 10000 + i);
    return f;
  };
  for (let i = 0; i < batch; i++) {
    n1.putFrame(i, POD, frame(i));
    n1.putFrame(batch + i, POD, frame(i)); // template
  }
  // learn the receiving pod's MAC on node 2's bridge, so delivery is unicast
  n2.putFrame(0, POD, udpFrame(64, [0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x02], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0x0af40102, 0x0af401ff));
  n2.process(1);
  // what node 1 sends becomes node 2's input
  const count = n1.process(batch);
  if (count !== batch) throw new Error(`${kind}: node 1 queued ${count} frames for ${batch}`);
  const mem = new Uint8Array(n1.memory.buffer);
  let outLen = 0;
  for (let i = 0; i < batch; i++) {
    const e = n1.txEntry(i);
    if (e.port !== UL || e.slot === GEN_SLOT) throw new Error(`${kind}: frame ${i} did not go to the underlay`);
    outLen = e.length;
    for (const slot of [i, batch + i]) {
      const at = n2.readOffset(slot);
      mem.copyWithin(at, e.start, e.start + e.length);
      n2.rxAddr[slot] = at;
      n2.rxLen[slot] = e.length;
      n2.rxPort[slot] = UL;
    }
  }
  return { n1, n2, inLen: frameBytes + 10, outLen };
}

export async function runOverlayHotpath(opts: { quick?: boolean; log?: (s: string) => void } = {}): Promise<OverlayHotpathResult[]> {
  const log = opts.log ?? console.log;
  const maxTime = opts.quick ? 0.25 : 1.0;
  const results: OverlayHotpathResult[] = [];
  const total = 3 * 2 * 3;
  let step = 0;
  for (const kind of ['vxlan', 'ipip', 'host-gw'] as const) {
    for (const frameBytes of [64, 1500]) {
      for (const batch of [1, 32, 256]) {
        step++;
        const { n1, n2, inLen, outLen } = prepare(kind, frameBytes, batch);
        const e1 = n1.ex, e2 = n2.ex;
        const tpl1 = n1.readOffset(batch), tpl2 = n2.readOffset(batch);
        const stride = n1.slotSize;
        // sanity: one timed-style pass on node 2 delivers every frame to the pod
        e2.benchRestore(0, batch, tpl2, stride, outLen);
        n2.txClear();
        const delivered = n2.processRange(0, batch);
        if (delivered !== batch || n2.txEntry(0).port !== POD) throw new Error(`${kind}: node 2 delivered ${delivered}/${batch}`);
        const restore = await timeIt('restore', () => { e1.benchRestore(0, batch, tpl1, stride, inLen); }, maxTime);
        const encap = await timeIt('route+encap', () => { e1.benchRestore(0, batch, tpl1, stride, inLen); e1.txClear(); e1.processBatch(0, batch); }, maxTime);
        const restore2 = await timeIt('restore', () => { e2.benchRestore(0, batch, tpl2, stride, outLen); }, maxTime);
        const decap = await timeIt('decap+bridge', () => { e2.benchRestore(0, batch, tpl2, stride, outLen); e2.txClear(); e2.processBatch(0, batch); }, maxTime);
        for (const [suite, t, r] of [[kind === 'host-gw' ? 'route+host-gw out' : `route+${kind} encap`, encap, restore], [kind === 'host-gw' ? 'host-gw in+bridge' : `${kind} decap+bridge`, decap, restore2]] as const) {
          const mpps = (t.hz * batch) / 1e6;
          const restoreMpps = (r.hz * batch) / 1e6;
          const netMpps = 1 / (1 / mpps - 1 / restoreMpps);
          results.push({ suite, overlay: kind, frameBytes, batch, mpps, netMpps, restoreMpps, rme: t.rme });
          log(`[${step}/${total}] ${suite.padEnd(22)} ${String(frameBytes).padStart(5)} B  batch ${String(batch).padStart(3)}  ${mpps.toFixed(2).padStart(6)} Mpps with restore  (restore alone ${restoreMpps.toFixed(1)} Mpps; net ${netMpps.toFixed(1)} Mpps)  ±${t.rme.toFixed(1)}%`);
        }
      }
    }
  }
  return results;
}
