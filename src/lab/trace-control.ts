// The running lab's side of `podwire trace`: turn "from pod a1 to
// web.default.svc.cluster.local, tcp port 80" into the first packet a1's
// kernel would send (addresses, MACs as its ARP would resolve them), run it
// through the data plane dry (src/dataplane/trace-walk.ts) and name what it
// met. Live tracing (`--live`) subscribes to every node's decisions on real
// traffic while at least one client listens.
import type { Socket } from 'node:net';
import { IPv4CidrRange } from 'ip-num';
import type { LabPlan, PodPlan } from '../model/topology.ts';
import { ipv4ToInt, intToIpv4 } from '../model/addr.ts';
import { probeFrame, type ProbeProto } from '../dataplane/probe.ts';
import type { TraceResult, TraceHop } from '../dataplane/trace-walk.ts';
import type { Lab } from './lab.ts';

export interface TraceRequest { from: string; to: string; proto?: ProbeProto; port?: number }

export interface TraceReply extends TraceResult {
  from: { pod: string; node: string; ip: string };
  to: { asked: string; ip: string; port?: number; service?: string; pod?: string };
  proto: ProbeProto;
}

/** Where `to` points: a pod, a Service (name, name.namespace, or its DNS name), or an address. */
export function resolveTarget(plan: LabPlan, to: string, proto: ProbeProto, port?: number): TraceReply['to'] {
  const pod = plan.nodes.flatMap((n) => n.pods).find((p) => p.name === to);
  if (pod) return { asked: to, ip: pod.ip, pod: pod.name, ...(port !== undefined ? { port } : {}) };
  const m = /^([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?\.?$/.exec(to);
  const svc = m && plan.services.find((s) => s.name === m[1] && s.namespace === (m[2] ?? 'default'));
  if (svc) {
    const wanted = proto.toUpperCase();
    const sp = port !== undefined ? svc.ports.find((p) => p.port === port && p.protocol === wanted) : svc.ports.find((p) => p.protocol === wanted);
    if (!sp && proto !== 'icmp') {
      throw new Error(`Service ${svc.namespace}/${svc.name} has no ${wanted} port${port !== undefined ? ` ${port}` : ''} (it has ${svc.ports.map((p) => `${p.port}/${p.protocol}`).join(', ')})`);
    }
    return { asked: to, ip: svc.clusterIP, service: `${svc.namespace}/${svc.name}`, ...(sp ? { port: sp.port } : {}) };
  }
  if (isIpv4(to)) {
    const owner = plan.nodes.flatMap((n) => n.pods).find((p) => p.ip === to);
    const svcByIp = plan.services.find((s) => s.clusterIP === to);
    return { asked: to, ip: to, ...(owner ? { pod: owner.name } : {}), ...(svcByIp ? { service: `${svcByIp.namespace}/${svcByIp.name}` } : {}), ...(port !== undefined ? { port } : {}) };
  }
  throw new Error(`"${to}": not a pod, a Service (name, name.namespace or its cluster DNS name) or an IPv4 address of this lab`);
}

function isIpv4(s: string): boolean {
  try { ipv4ToInt(s); return true; } catch { return false; }
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
    return undefined;
  }

  async trace(req: TraceRequest): Promise<TraceReply> {
    const plan = this.lab.plan;
    const proto: ProbeProto = req.proto ?? 'tcp';
    if (!['tcp', 'udp', 'icmp'].includes(proto)) throw new Error(`--proto ${proto}: tcp, udp or icmp`);
    const from = plan.nodes.flatMap((n) => n.pods).find((p) => p.name === req.from);
    if (!from) throw new Error(`no pod "${req.from}" in this lab`);
    const node = plan.nodes.find((n) => n.name === from.node)!;
    if (node.dataplane !== 'podwire') throw new Error(`pod ${from.name} is on ${node.name}, a kernel node: only podwire nodes can be traced`);
    const to = resolveTarget(plan, req.to, proto, req.port);
    if (proto !== 'icmp' && to.port === undefined) throw new Error(`--port is needed for ${proto} to ${req.to}`);
    const frame = probeFrame({ srcMac: from.mac, dstMac: nextHopMac(plan, from, to.ip), srcIp: from.ip, dstIp: to.ip, proto, port: to.port });
    const result = await this.lab.trace(node.name, from.port, frame);
    return { ...result, from: { pod: from.name, node: node.name, ip: from.ip }, to, proto };
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
