// Decision-trace records (assembly/trace.ts) decoded into steps a person
// can read: which table entry, which rewrite, which verdict. The record
// layout and the step numbering are the data plane's; this file is the only
// place on the TypeScript side that knows them.
import { intToIpv4 } from '../model/addr.ts';

/** Step names in the data plane's order (test/dataplane/trace.test.ts checks them against the wasm's). */
export const TRACE_STEPS = [
  'rx', 'pkt', 'l2_learn', 'flood', 'gw_arp_reply', 'gw_echo_reply',
  'ct_hit', 'ct_miss', 'svc_match', 'svc_backend', 'svc_no_backend', 'nat', 'ct_create',
  'route', 'no_route', 'ttl', 'mtu', 'neigh', 'encap', 'decap', 'generated', 'tx', 'tx_refused', 'verdict',
] as const;
export type TraceStepName = (typeof TRACE_STEPS)[number];

export const RECORD_WORDS = 8;
const ROUTE_KINDS = ['?', 'local', 'vxlan', 'ipip', 'host-gw'];
const CHOICES = ['?', 'random', 'maglev', 'ClientIP affinity'];
const NATS = ['DNAT', 'SNAT', 'un-DNAT', 'un-SNAT'];
const MTU_VERDICTS = ['fits', 'fragmented (DF clear)', 'too big with DF: fragmentation needed', 'GSO super-frame (segments checked at egress)'];
const PROTOS: Record<number, string> = { 1: 'icmp', 4: 'ipip', 6: 'tcp', 17: 'udp' };
const CT_STATE_NAMES = ['none', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE',
  'UNREPLIED', 'REPLIED', 'REQUEST', 'REPLIED', 'OTHER'];

/** What the decoder needs to name things: ports, Services and drop reasons. */
export interface TraceNames {
  port(p: number): string;
  /** "namespace/name" of the Service a frontend belongs to, when known */
  service(vip: string, port: number, proto: string): string | undefined;
  drop(reason: number): string;
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

/** Decode `words` (RECORD_WORDS per record, as Dataplane.traceRecords copies them). */
export function decodeTrace(words: Uint32Array, names: TraceNames): TraceStep[] {
  const out: TraceStep[] = [];
  for (let i = 0; i + RECORD_WORDS <= words.length; i += RECORD_WORDS) {
    const frame = words[i];
    const stepNo = words[i + 1] & 0xffff;
    const code = words[i + 1] >>> 16;
    const [a, b, c, d, e, f] = [words[i + 2], words[i + 3], words[i + 4], words[i + 5], words[i + 6], words[i + 7]];
    const step = TRACE_STEPS[stepNo];
    if (!step) continue;
    out.push({ frame, step, ...describe(step, code, a, b, c, d, e, f, names) });
  }
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
    case 'svc_match': {
      const name = names.service(ip(b), c, proto(d));
      const flags = [f & 1 ? 'masquerade' : '', f & 2 ? 'drop when empty (Local policy)' : '', f & 4 ? 'maglev' : ''].filter(Boolean);
      return { detail: { serviceSlot: a, service: name ?? '', frontend: `${ip(b)}:${c}/${proto(d)}`, backends: e, flags: flags.join(',') },
        text: `service: ${ip(b)}:${c}/${proto(d)} is ${name ? `Service ${name}` : `frontend #${a}`}, ${e} backend(s)${flags.length ? ` [${flags.join(', ')}]` : ''}` };
    }
    case 'svc_backend': {
      const why = CHOICES[code] ?? String(code);
      const extra = code === 2 ? `, Maglev slot ${e}` : code === 3 ? `, remembered for ${Math.round(e / 1000)} s` : '';
      return { detail: { backend: `${ip(c)}:${d}`, index: b, of: f, why, ...(code === 2 ? { maglevSlot: e } : {}) },
        text: `service: backend ${b + 1} of ${f}: ${ip(c)}:${d} (${why}${extra})` };
    }
    case 'svc_no_backend':
      return { detail: { dropped: code === 1 }, text: code === 1 ? 'service: no local endpoint: dropped (externalTrafficPolicy/internalTrafficPolicy Local)' : 'service: no endpoints: rejected (TCP reset / ICMP port unreachable)' };
    case 'nat': {
      const kind = NATS[code] ?? String(code);
      const what = code === 0 || code === 3 ? 'destination' : 'source';
      return { detail: { kind, field: what, before: `${ip(a)}:${c}`, after: `${ip(b)}:${d}` }, text: `${kind}: ${what} ${ip(a)}:${c} -> ${ip(b)}:${d}` };
    }
    case 'ct_create':
      return { detail: { entry: a | 0, replyTo: `${ip(b)}:${c}` },
        text: (a | 0) < 0 ? 'conntrack: could not create an entry (table full or port clash)' : `conntrack: new entry #${a}, replies expected to ${ip(b)}:${c}` };
    case 'route': {
      const kind = ROUTE_KINDS[d] ?? String(d);
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
      const kind = ROUTE_KINDS[code] ?? String(code);
      if (kind === 'vxlan') return { detail: { kind, outerSrc: ip(a), outerDst: ip(b), vni: c, sport: d, dport: e, bytesAdded: f },
        text: `encap VXLAN: outer ${ip(a)}:${d} -> ${ip(b)}:${e} udp, VNI ${c}, +${f} bytes` };
      if (kind === 'ipip') return { detail: { kind, outerSrc: ip(a), outerDst: ip(b), bytesAdded: f }, text: `encap IP-in-IP: outer ${ip(a)} -> ${ip(b)} proto 4, +${f} bytes` };
      return { detail: { kind, from: ip(a), to: ip(b), bytesAdded: 0 }, text: `host-gw: onto the underlay to ${ip(b)}, no encapsulation` };
    }
    case 'decap': {
      const kind = ROUTE_KINDS[code] ?? String(code);
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
