// The running lab's side of `podwire capture`, reached through the control
// socket (up.ts): {cmd: "capture", target} turns the worker's tap on for
// the target's ports (src/dataplane/capture-tap.ts) and streams pcapng back
// on the same socket — a Section Header Block, one Interface Description
// Block per port (named "n1/a1", "n1/underlay"), then an Enhanced Packet
// Block per frame with its direction (epb_flags), and an Interface
// Statistics Block whenever frames were dropped by the capture (isb_ifdrop,
// a running total). The client closing the socket turns the tap off.
import type { Socket } from 'node:net';
import { ControlStream } from './control.ts';
import { findPod, podLabel } from '../model/pod-refs.ts';
import type { LabPlan } from '../model/topology.ts';
import type { Lab } from './lab.ts';
import type { CapturePort, EngineReply } from '../dataplane/engine-protocol.ts';
import { forEachCaptured } from '../dataplane/capture-tap.ts';
import { pcapngSectionHeader, pcapngInterface, pcapngPacketLength, writePcapngPacket, pcapngStats } from '../io/pcap.ts';

/** Bytes queued on a capture's socket (a slow reader) beyond which a round is dropped rather than queued. */
const SOCKET_BACKLOG_BYTES = 16 << 20;
/** Drop totals are written (as Interface Statistics Blocks) at most this often. */
const STATS_INTERVAL_MS = 250;

export class CaptureControl {
  constructor(private readonly lab: Lab) {}

  /** The answer to a 'capture' request, or undefined for other commands. */
  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd !== 'capture') return undefined;
    if (typeof req.target !== 'string' || req.target === '') return Promise.reject(new Error('capture: no target (a pod, a node, or "underlay")'));
    return this.start(req.target);
  }

  private async start(target: string): Promise<ControlStream> {
    const engine = this.lab.captureEngine;
    if (!engine) throw new Error('this lab has no podwire node to capture on (kernel nodes: use tshark in their namespaces)');
    let session: CaptureSession | undefined;
    // frames may arrive before the client's stream starts: the session holds them until then
    const { id, ports } = await engine.startCapture(portTarget(this.lab.plan, target), (m) => session?.onRound(m));
    session = new CaptureSession(ports, () => engine.stopCapture(id));
    const s = session;
    return new ControlStream((sock) => s.attach(sock));
  }
}

/**
 * The target as the data plane's ports are named: a pod given as NAME,
 * NAMESPACE/NAME, NAME.NAMESPACE or pod/<any of those> becomes its port's
 * name (NAME in default, NAMESPACE/NAME elsewhere); node/NAME, "underlay" and
 * anything that names no pod pass unchanged (the data plane says what is wrong).
 */
export function portTarget(plan: Pick<LabPlan, 'nodes'>, target: string): string {
  if (target.startsWith('node/')) return target;
  const pods = plan.nodes.flatMap((n) => n.pods);
  const asPod = target.startsWith('pod/') ? target.slice(4) : undefined;
  const pod = findPod(pods, asPod ?? target);
  if (!pod) return target;
  return asPod !== undefined ? `pod/${podLabel(pod)}` : podLabel(pod);
}

class CaptureSession {
  /** interface id by node and port (node * 65536 + port) */
  private readonly ifIndex = new Map<number, number>();
  private readonly drops: number[];
  private statsDirty = false;
  private sock?: Socket;
  private early: Buffer[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly ports: CapturePort[], private readonly stop: () => void) {
    ports.forEach((p, i) => this.ifIndex.set(p.node * 65536 + p.port, i));
    this.drops = ports.map(() => 0);
  }

  attach(sock: Socket): void {
    if (sock.destroyed) { this.close(); return; }
    this.sock = sock;
    sock.on('close', () => this.close());
    sock.on('error', () => {}); // a client gone mid-write: 'close' follows
    sock.write(Buffer.concat([pcapngSectionHeader(), ...this.ports.map((p) => pcapngInterface(p.name)), ...this.early]));
    this.early = [];
    this.timer = setInterval(() => this.writeStats(), STATS_INTERVAL_MS);
  }

  /** One worker round: this capture's frames as Enhanced Packet Blocks, in one write. */
  onRound(m: Extract<EngineReply, { type: 'captured' }>): void {
    if (this.closed) return;
    for (let i = 0; i < m.drops.length; i += 3) {
      const k = this.ifIndex.get(m.drops[i] * 65536 + m.drops[i + 1]);
      if (k !== undefined) { this.drops[k] += m.drops[i + 2]; this.statsDirty = true; }
    }
    let size = 0;
    forEachCaptured(m.data, (node, port, _dir, _ts, frame) => {
      if (this.ifIndex.has(node * 65536 + port)) size += pcapngPacketLength(frame.length, true);
    });
    if (size === 0) return;
    if (this.sock && this.sock.writableLength > SOCKET_BACKLOG_BYTES) {
      // the reader is behind: count this round as dropped instead of queueing it
      forEachCaptured(m.data, (node, port) => {
        const k = this.ifIndex.get(node * 65536 + port);
        if (k !== undefined) { this.drops[k]++; this.statsDirty = true; }
      });
      return;
    }
    const out = Buffer.alloc(size);
    let at = 0;
    forEachCaptured(m.data, (node, port, dir, ts, frame) => {
      const k = this.ifIndex.get(node * 65536 + port);
      if (k !== undefined) at = writePcapngPacket(out, at, k, frame, ts, dir);
    });
    if (this.sock) this.sock.write(out);
    else this.early.push(out);
  }

  /** Interface Statistics Blocks for the interfaces whose drop totals changed. */
  private writeStats(): void {
    if (!this.statsDirty || !this.sock) return;
    this.statsDirty = false;
    const now = Date.now();
    this.sock.write(Buffer.concat(this.drops.flatMap((d, k) => (d ? [pcapngStats(k, now, d)] : []))));
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.early = [];
    this.stop();
  }
}
