// The running lab's side of `podwire trace`: turn "from pod a1 to
// web.default.svc.cluster.local, tcp port 80" into the first packet a1's
// kernel would send (addresses, MACs as its ARP would resolve them), run it
// through the data plane dry (src/dataplane/trace-walk.ts) and name what it
// met. Live tracing (`--live`) subscribes to every node's decisions on real
// traffic while at least one client listens.
import type { Socket } from 'node:net';
import { IPv4CidrRange } from 'ip-num';
import type { LabPlan, PodPlan } from '../model/topology.ts';
import { ipv4ToInt, intToIpv4, isIpv4 } from '../model/addr.ts';
import { probeFrame, type ProbeProto } from '../dataplane/probe.ts';
import type { TraceResult, TraceHop } from '../dataplane/trace-walk.ts';
import type { Lab } from './lab.ts';
import { ControlStream } from './control.ts';
import { findPod, podLabel } from '../model/pod-refs.ts';
import { hasClusterIP } from '../model/services.ts';
import { findExternalHost, externalProbe } from './trace-external.ts';
import { kernelHop, type KernelHop } from './trace-kernel.ts';

/** `podwire trace --live`: whose frames to show, only drops, how many frames a second at most. */
export interface LiveTraceRequest { pod: string; drops?: boolean; rate?: number }

export interface TraceRequest { from: string; to: string; proto?: ProbeProto; port?: number }

export interface TraceReply extends TraceResult {
  /** the sender: a pod, or a host outside the cluster (`external`, entering at `node`'s underlay port, which answered ARP `because`) */
  from: { pod?: string; external?: string; node: string; ip: string; because?: string };
  to: { asked: string; ip: string; port?: number; service?: string; pod?: string };
  proto: ProbeProto;
  /** the packet goes on into a kernel node, which the walk cannot follow (trace-kernel.ts) */
  kernel?: KernelHop;
}

/**
 * Where `to` points: a pod (NAME in default, NAMESPACE/NAME or NAME.NAMESPACE),
 * a Service (name, name.namespace, or its DNS name), or an address. A plain
 * NAME is a pod before a Service; NAME.NAMESPACE a Service before a pod (the
 * form was the Services' before pods had namespaces).
 */
export function resolveTarget(plan: LabPlan, to: string, proto: ProbeProto, port?: number): TraceReply['to'] {
  const pods = plan.nodes.flatMap((n) => n.pods);
  const m = /^([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?\.?$/.exec(to);
  const svc = m && plan.services.find((s) => s.name === m[1] && s.namespace === (m[2] ?? 'default'));
  const pod = !to.includes('.') || !svc ? findPod(pods, to) : undefined;
  if (pod) return { asked: to, ip: pod.ip, pod: podLabel(pod), ...(port !== undefined ? { port } : {}) };
  if (svc && !hasClusterIP(svc)) {
    throw new Error(`Service ${svc.namespace}/${svc.name} has no ClusterIP (${svc.type === 'ExternalName' ? `ExternalName ${svc.externalName}` : 'headless'}): trace to one of its pods`);
  }
  if (svc) {
    const wanted = proto.toUpperCase();
    const sp = port !== undefined ? svc.ports.find((p) => p.port === port && p.protocol === wanted) : svc.ports.find((p) => p.protocol === wanted);
    if (!sp && proto !== 'icmp') {
      throw new Error(`Service ${svc.namespace}/${svc.name} has no ${wanted} port${port !== undefined ? ` ${port}` : ''} (it has ${svc.ports.map((p) => `${p.port}/${p.protocol}`).join(', ')})`);
    }
    return { asked: to, ip: svc.clusterIP, service: `${svc.namespace}/${svc.name}`, ...(sp ? { port: sp.port } : {}) };
  }
  if (isIpv4(to)) {
    const owner = pods.find((p) => p.ip === to);
    const svcByIp = plan.services.find((s) => s.clusterIP === to);
    return { asked: to, ip: to, ...(owner ? { pod: podLabel(owner) } : {}), ...(svcByIp ? { service: `${svcByIp.namespace}/${svcByIp.name}` } : {}), ...(port !== undefined ? { port } : {}) };
  }
  throw new Error(`"${to}": not a pod (NAME, NAMESPACE/NAME), a Service (name, name.namespace or its cluster DNS name) or an IPv4 address of this lab`);
}

/** The destination MAC `from`'s kernel would use: the pod itself when on-link (same subnet, same node's bridge), else the gateway. */
function nextHopMac(plan: LabPlan, from: PodPlan, dst: string): string {
  const mask = from.prefixLen === 0 ? 0 : (~0 << (32 - from.prefixLen)) >>> 0;
  const subnet = IPv4CidrRange.fromCidr(`${intToIpv4((ipv4ToInt(from.ip) & mask) >>> 0)}/${from.prefixLen}`);
  if (subnet.contains(IPv4CidrRange.fromCidr(`${dst}/32`))) {
    const peer = plan.nodes.flatMap((n) => n.pods).find((p) => p.ip === dst);
    if (peer) return peer.mac;
  }
  return plan.nodes.find((n) => n.name === from.node)!.gatewayMac;
}

export class TraceControl {
  private readonly listeners = new Set<(hops: TraceHop[]) => void>();

  constructor(private readonly lab: Lab) {
    lab.onTraceRecords = (hops) => { for (const l of this.listeners) l(hops); };
  }

  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'trace') return this.trace(req as unknown as TraceRequest);
    if (req.cmd === 'traceLive') return this.liveStream(req as unknown as LiveTraceRequest);
    return undefined;
  }

  async trace(req: TraceRequest): Promise<TraceReply> {
    const plan = this.lab.plan;
    const proto: ProbeProto = req.proto ?? 'tcp';
    if (!['tcp', 'udp', 'icmp'].includes(proto)) throw new Error(`--proto ${proto}: tcp, udp or icmp`);
    const host = findExternalHost(plan, req.from);
    if (host) {
      const p = externalProbe(plan, host, req.to, proto, req.port);
      const result = await this.lab.trace(p.node.name, p.port, p.frame);
      return { ...result, from: { external: host.name, node: p.node.name, ip: host.ip, because: p.answeredBecause }, to: p.to, proto };
    }
    const from = findPod(plan.nodes.flatMap((n) => n.pods), req.from);
    if (!from) throw new Error(`no pod "${req.from}" in this lab (NAME for namespace default, NAMESPACE/NAME or NAME.NAMESPACE elsewhere) and no external host of that name`);
    const node = plan.nodes.find((n) => n.name === from.node)!;
    if (node.dataplane !== 'podwire') throw new Error(`pod ${podLabel(from)} is on ${node.name}, a kernel node: only podwire nodes can be traced`);
    const to = resolveTarget(plan, req.to, proto, req.port);
    if (proto !== 'icmp' && to.port === undefined) throw new Error(`--port is needed for ${proto} to ${req.to}`);
    const frame = probeFrame({ srcMac: from.mac, dstMac: nextHopMac(plan, from, to.ip), srcIp: from.ip, dstIp: to.ip, proto, port: to.port });
    const result = await this.lab.trace(node.name, from.port, frame);
    const kernel = await kernelHop(plan, this.lab.kernelPolicies, result, from.ip, to.ip, proto, to.port);
    return { ...result, from: { pod: podLabel(from), node: node.name, ip: from.ip }, to, proto, ...(kernel ? { kernel } : {}) };
  }

  /** Check a live request, then hand the socket to live() (a ControlStream: JSON lines until the client leaves). */
  async liveStream(req: LiveTraceRequest): Promise<ControlStream> {
    const pod = findPod(this.lab.plan.nodes.flatMap((n) => n.pods), req.pod);
    if (!pod) throw new Error(`no pod "${req.pod}" in this lab (NAME for namespace default, NAMESPACE/NAME or NAME.NAMESPACE elsewhere)`);
    const rate = req.rate ?? 20;
    if (!(rate > 0)) throw new Error('--rate: frames a second, more than 0');
    const keep = (hop: TraceHop, steps: TraceHop['steps']) => touchesPod(pod, hop, steps) && (!req.drops || dropped(steps));
    return new ControlStream((sock) => {
      if (sock.destroyed) return;
      sock.write(JSON.stringify({ tracing: podLabel(pod), node: pod.node, ip: pod.ip, drops: req.drops ?? false, rate }) + '\n');
      void this.live(sock, keep, rate).catch((e) => sock.destroy(e as Error));
    });
  }

  /**
   * Stream live decisions to `sock` as JSON lines ({node, frame, steps}),
   * filtered by `keep` and at most `perSecond` frames a second; tracing stays
   * on while any client listens.
   */
  async live(sock: Socket, keep: (hop: TraceHop, frame: TraceHop['steps']) => boolean, perSecond: number): Promise<void> {
    let windowStart = Date.now();
    let sent = 0;
    let suppressed = 0;
    const listener = (hops: TraceHop[]) => {
      for (const hop of hops) {
        const frames = new Map<number, TraceHop['steps']>();
        for (const s of hop.steps) {
          const f = frames.get(s.frame);
          if (f) f.push(s); else frames.set(s.frame, [s]);
        }
        for (const steps of frames.values()) {
          if (!keep(hop, steps)) continue;
          const now = Date.now();
          if (now - windowStart >= 1000) {
            if (suppressed) sock.write(JSON.stringify({ suppressed }) + '\n');
            windowStart = now;
            sent = 0;
            suppressed = 0;
          }
          if (sent >= perSecond) { suppressed++; continue; }
          sent++;
          sock.write(JSON.stringify({ node: hop.node, steps: steps.map((s) => ({ step: s.step, text: s.text, detail: s.detail })) }) + '\n');
        }
        if (hop.lost) sock.write(JSON.stringify({ node: hop.node, lost: hop.lost }) + '\n');
      }
    };
    const first = this.listeners.size === 0;
    this.listeners.add(listener);
    if (first) await this.lab.traceLive(true);
    sock.once('close', () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.lab.traceLive(false).catch(() => {});
    });
  }
}

/** A frame's decisions concern `pod` when they name its port (on its node) or its address (anywhere: remote nodes, NAT). */
function touchesPod(pod: PodPlan, hop: TraceHop, steps: TraceHop['steps']): boolean {
  return steps.some((s) => {
    if ((s.step === 'rx' || s.step === 'tx' || s.step === 'tx_refused') && hop.node === pod.node && s.detail.port === podLabel(pod)) return true;
    if (s.step === 'pkt') return s.detail.src === pod.ip || s.detail.dst === pod.ip;
    if (s.step === 'nat') return String(s.detail.before).startsWith(`${pod.ip}:`) || String(s.detail.after).startsWith(`${pod.ip}:`);
    return false;
  });
}

/** Did the frame end in a drop (or lose a copy at a port)? */
function dropped(steps: TraceHop['steps']): boolean {
  return steps.some((s) => (s.step === 'verdict' && s.detail.dropped) || s.step === 'tx_refused');
}
