// Decision-trace records (assembly/trace.ts) decoded into steps a person
// can read: which table entry, which rewrite, which verdict. The record
// layout, the step names and the numbers in the records are the data
// plane's (memory-views.ts walks the records; layout.ts has the enums);
// this file gives them words.
import { intToIpv4 } from '../model/addr.ts';
import { TRACE_STEP_NAMES, Choice, Nat, MtuVerdict, CtState, Services } from './layout.ts';
import { ROUTE_KIND_NAME } from './kinds.ts';
import { forEachTraceRecord } from './memory-views.ts';

/** Step names in the data plane's order (generated from assembly/trace.ts STEP_NAMES). */
export const TRACE_STEPS = TRACE_STEP_NAMES;
export type TraceStepName = (typeof TRACE_STEPS)[number];

const routeKind = (k: number): string => ROUTE_KIND_NAME[k] ?? (k === 0 ? '?' : String(k));
const CHOICES: Record<number, string> = { [Choice.RANDOM]: 'random', [Choice.MAGLEV]: 'maglev', [Choice.AFFINITY]: 'ClientIP affinity' };
const NATS: Record<number, string> = { [Nat.DNAT]: 'DNAT', [Nat.SNAT]: 'SNAT', [Nat.UNDNAT]: 'un-DNAT', [Nat.UNSNAT]: 'un-SNAT' };
const MTU_VERDICTS: Record<number, string> = {
  [MtuVerdict.FITS]: 'fits', [MtuVerdict.FRAGMENT]: 'fragmented (DF clear)',
  [MtuVerdict.FRAG_NEEDED]: 'too big with DF: fragmentation needed', [MtuVerdict.GSO]: 'GSO super-frame (segments checked at egress)',
};
const PROTOS: Record<number, string> = { 1: 'icmp', 4: 'ipip', 6: 'tcp', 17: 'udp' };
/** Conntrack states as `conntrack -L` prints them. */
const CT_STATE_NAMES: Record<number, string> = {
  [CtState.NONE]: 'none', [CtState.TCP_SYN_SENT]: 'SYN_SENT', [CtState.TCP_SYN_RECV]: 'SYN_RECV',
  [CtState.TCP_ESTABLISHED]: 'ESTABLISHED', [CtState.TCP_FIN_WAIT]: 'FIN_WAIT', [CtState.TCP_CLOSE_WAIT]: 'CLOSE_WAIT',
  [CtState.TCP_LAST_ACK]: 'LAST_ACK', [CtState.TCP_TIME_WAIT]: 'TIME_WAIT', [CtState.TCP_CLOSE]: 'CLOSE',
  [CtState.UDP_UNREPLIED]: 'UNREPLIED', [CtState.UDP_REPLIED]: 'REPLIED', [CtState.ICMP_REQUEST]: 'REQUEST',
  [CtState.ICMP_REPLIED]: 'REPLIED', [CtState.OTHER]: 'OTHER',
};

/** What the decoder needs to name things: ports, Services and drop reasons. */
export interface TraceNames {
  port(p: number): string;
  /** "namespace/name" of the Service a frontend belongs to, when known */
  service(vip: string, port: number, proto: string): string | undefined;
  drop(reason: number): string;
  /**
   * the NetworkPolicy side of a policy decision, when known: the isolating
   * policies and the allowing rule, or the peer no rule admits
   * ("shop/web-from-frontend: no rule admits namespace default {app=client}")
   */
  policy?(direction: 'ingress' | 'egress', local: string, allowed: boolean, ruleOrPeer: number): string | undefined;
}

export interface TraceStep {
  /** which frame (numbered per node while tracing): records of one frame share it */
  frame: number;
  step: TraceStepName;
  /** the decoded fields (addresses as strings) */
  detail: Record<string, string | number | boolean>;
  /** one line for a person */
  text: string;
}

/** The data plane holds a MAC as a u64 whose lowest byte is the first octet (loaded little-endian). */
const mac = (hi: number, lo: number) => {
  const b = [lo & 255, lo >>> 8 & 255, lo >>> 16 & 255, lo >>> 24, hi & 255, hi >>> 8 & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
};
const proto = (p: number) => PROTOS[p] ?? String(p);

/** Decode `words` (the ring's records, as Dataplane.traceRecords copies them). */
export function decodeTrace(words: Uint32Array, names: TraceNames): TraceStep[] {
  const out: TraceStep[] = [];
  forEachTraceRecord(words, (r) => {
    const step = TRACE_STEPS[r.step];
    if (step) out.push({ frame: r.frame, step, ...describe(step, r.code, r.a, r.b, r.c, r.d, r.e, r.f, names) });
  });
  return out;
}

function describe(step: TraceStepName, code: number, a: number, b: number, c: number, d: number, e: number, f: number,
  names: TraceNames): { detail: TraceStep['detail']; text: string } {
  const ip = intToIpv4;
  switch (step) {
    case 'rx': {
      const type = c === 0x0800 ? 'IPv4' : c === 0x0806 ? 'ARP' : c ? `ethertype 0x${c.toString(16)}` : 'unparsed';
      return { detail: { port: names.port(a), bytes: b, ethertype: c, dstMac: mac(d, e) },
        text: `received on ${names.port(a)}: ${b} bytes, ${type}, to MAC ${mac(d, e)}` };
    }
    case 'pkt': {
      const p = proto(c);
      const ttl = f >>> 16;
      const len = f & 0xffff;
      const ends = c === 6 || c === 17 ? `${ip(a)}:${d} -> ${ip(b)}:${e}` : c === 1 ? `${ip(a)} -> ${ip(b)} (type ${e >>> 8} code ${e & 255} id ${d})` : `${ip(a)} -> ${ip(b)}`;
      return { detail: { src: ip(a), dst: ip(b), proto: p, sport: d, dport: e, ttl, length: len }, text: `packet ${p} ${ends}, ttl ${ttl}, ${len} bytes` };
    }
    case 'l2_learn':
      return { detail: { mac: mac(b, c), port: names.port(a), learned: code === 0 },
        text: code === 0 ? `bridge: learned ${mac(b, c)} on ${names.port(a)}` : `bridge: source ${mac(b, c)} on ${names.port(a)} (not learned: dry run)` };
    case 'flood': {
      const m = mac(b, c);
      const why = m === 'ff:ff:ff:ff:ff:ff' ? 'broadcast' : (b | c) && (c & 1) ? 'multicast' : 'not in the MAC table (unknown unicast)';
      return { detail: { ports: a, mac: m, why }, text: `bridge: ${m} ${why}: flooded to ${a} port(s)` };
    }
    case 'gw_arp_reply':
      return { detail: { ip: ip(a), to: ip(b) }, text: `gateway: ARP reply, ${ip(a)} is here (to ${ip(b)})` };
    case 'gw_echo_reply':
      return { detail: { from: ip(a), to: ip(b) }, text: `gateway: echo reply from ${ip(a)} to ${ip(b)}` };
    case 'ct_hit':
      return { detail: { entry: a, direction: b ? 'reply' : 'original', state: CT_STATE_NAMES[c] ?? String(c) },
        text: `conntrack: existing entry #${a} (${CT_STATE_NAMES[c] ?? c}), ${b ? 'reply' : 'original'} direction` };
    case 'ct_miss':
      return { detail: {}, text: 'conntrack: no entry (a new flow)' };
    case 'policy': {
      const dir = code === 2 ? 'egress' : 'ingress';
      const allowed = c === 1;
      const why = names.policy?.(dir, ip(a), allowed, d);
      return { detail: { direction: dir, pod: ip(a), peer: ip(b), allowed, ...(why ? { why } : {}) },
        text: `${dir} policy of ${ip(a)} (peer ${ip(b)}): ${allowed ? 'allowed' : 'denied'}${why ? ` (${why})` : ''}` };
    }
    case 'svc_match': {
      const name = names.service(ip(b), c, proto(d));
      const flags = [f & Services.SVC_MASQUERADE ? 'masquerade' : '', f & Services.SVC_DROP_EMPTY ? 'drop when empty (Local policy)' : '',
        f & Services.SVC_MAGLEV ? 'maglev' : ''].filter(Boolean);
      return { detail: { serviceSlot: a, service: name ?? '', frontend: `${ip(b)}:${c}/${proto(d)}`, backends: e, flags: flags.join(',') },
        text: `service: ${ip(b)}:${c}/${proto(d)} is ${name ? `Service ${name}` : `frontend #${a}`}, ${e} backend(s)${flags.length ? ` [${flags.join(', ')}]` : ''}` };
    }
    case 'svc_backend': {
      const why = CHOICES[code] ?? String(code);
      const extra = code === Choice.MAGLEV ? `, Maglev slot ${e}` : code === Choice.AFFINITY ? `, remembered for ${Math.round(e / 1000)} s` : '';
      return { detail: { backend: `${ip(c)}:${d}`, index: b, of: f, why, ...(code === Choice.MAGLEV ? { maglevSlot: e } : {}) },
        text: `service: backend ${b + 1} of ${f}: ${ip(c)}:${d} (${why}${extra})` };
    }
    case 'svc_no_backend':
      return { detail: { dropped: code === 1 }, text: code === 1 ? 'service: no local endpoint: dropped (externalTrafficPolicy/internalTrafficPolicy Local)' : 'service: no endpoints: rejected (TCP reset / ICMP port unreachable)' };
    case 'nat': {
      const kind = NATS[code] ?? String(code);
      const what = code === Nat.DNAT || code === Nat.UNSNAT ? 'destination' : 'source';
      return { detail: { kind, field: what, before: `${ip(a)}:${c}`, after: `${ip(b)}:${d}` }, text: `${kind}: ${what} ${ip(a)}:${c} -> ${ip(b)}:${d}` };
    }
    case 'ct_create':
      return { detail: { entry: a | 0, replyTo: `${ip(b)}:${c}` },
        text: (a | 0) < 0 ? 'conntrack: could not create an entry (table full or port clash)' : `conntrack: new entry #${a}, replies expected to ${ip(b)}:${c}` };
    case 'route': {
      const kind = routeKind(d);
      const via = kind === 'local' ? 'on the local bridge' : kind === 'host-gw' ? `via ${ip(e) === '0.0.0.0' ? 'the destination (connected)' : ip(e)} on the underlay (host-gw)` : `via ${kind} tunnel to ${ip(e)}`;
      return { detail: { prefix: `${ip(b)}/${c}`, kind, nextHop: ip(e), routeMtu: f },
        text: `route: ${ip(b)}/${c} ${via}${kind === 'local' ? '' : `, route MTU ${f}`}` };
    }
    case 'no_route':
      return { detail: { dst: ip(a) }, text: `route: no route to ${ip(a)} (ICMP network unreachable sent to the source)` };
    case 'ttl':
      return { detail: { ttl: a }, text: a <= 1 ? `ttl ${a}: expires here (ICMP time exceeded)` : `ttl ${a} -> ${a - 1}` };
    case 'mtu':
      if (b === 0xffff) return { detail: { length: a, verdict: 'checked at the bridge port' }, text: `MTU: ${a} bytes, checked by the bridge port it leaves by` };
      return { detail: { length: a, mtu: b, verdict: MTU_VERDICTS[code] ?? String(code) }, text: `MTU: ${a} bytes against ${b}: ${MTU_VERDICTS[code] ?? code}` };
    case 'neigh':
      return { detail: { ip: ip(a), mac: b || c ? mac(b, c) : '' }, text: b || c ? `neighbour: ${ip(a)} is at ${mac(b, c)}` : `neighbour: no MAC known for ${ip(a)}` };
    case 'encap': {
      const kind = routeKind(code);
      if (kind === 'vxlan') return { detail: { kind, outerSrc: ip(a), outerDst: ip(b), vni: c, sport: d, dport: e, bytesAdded: f },
        text: `encap VXLAN: outer ${ip(a)}:${d} -> ${ip(b)}:${e} udp, VNI ${c}, +${f} bytes` };
      if (kind === 'ipip') return { detail: { kind, outerSrc: ip(a), outerDst: ip(b), bytesAdded: f }, text: `encap IP-in-IP: outer ${ip(a)} -> ${ip(b)} proto 4, +${f} bytes` };
      return { detail: { kind, from: ip(a), to: ip(b), bytesAdded: 0 }, text: `host-gw: onto the underlay to ${ip(b)}, no encapsulation` };
    }
    case 'decap': {
      const kind = routeKind(code);
      return { detail: { kind, outerSrc: ip(a), outerDst: ip(b), ...(kind === 'vxlan' ? { vni: c } : {}) },
        text: `decap ${kind === 'vxlan' ? `VXLAN VNI ${c}` : 'IP-in-IP'}: outer ${ip(a)} -> ${ip(b)}` };
    }
    case 'generated':
      return code === 2
        ? { detail: { kind: 'tcp_reset', to: ip(c) }, text: `sent a TCP reset to ${ip(c)}` }
        : { detail: { kind: 'icmp_error', type: a, code: b, to: ip(c) }, text: `sent ICMP error type ${a} code ${b} to ${ip(c)}${a === 3 && b === 4 ? ` (next-hop MTU ${d})` : ''}` };
    case 'tx':
      return { detail: { port: names.port(a), bytes: b, gso: c !== 0 }, text: `out of ${names.port(a)}: ${b} bytes${c ? ' (GSO super-frame)' : ''}` };
    case 'tx_refused':
      return { detail: { port: names.port(a), reason: names.drop(code) }, text: `not sent out of ${names.port(a)}: ${names.drop(code)}` };
    case 'verdict':
      if (code !== 0 && names.drop(code) === 'held') return { detail: { dropped: false, held: true, reason: '' }, text: 'verdict: held for reassembly (a fragment)' };
      return { detail: { dropped: code !== 0, reason: code ? names.drop(code) : '' }, text: code ? `verdict: dropped (${names.drop(code)})` : 'verdict: forwarded' };
  }
}
