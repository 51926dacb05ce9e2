// The cluster DNS on the wire: a query's bytes in, the response's bytes out
// (or nothing: dropped; or "forward": a name outside the cluster domain and
// an upstream to ask), with counters. The records are the zone's (zone.ts,
// the Kubernetes DNS specification); the sockets are server.ts's.
//
// Clients expand the search path themselves (resolv.conf `search` with
// `ndots:5`, as kubelet writes it), so only exact names are answered, case-
// insensitively. Names outside the zone are refused when there is no
// upstream (lab traffic never leaves the lab). Over UDP a response larger
// than the client takes (512 bytes, or its EDNS0 buffer size) carries the
// records that fit and TC=1, so the client asks again over TCP (RFC 1035
// 4.2.1, RFC 6891 6.2.5).
import * as dnsPacket from 'dns-packet';
import { DnsZone, type DnsServiceRecord, type ZoneRecord } from './zone.ts';
import { encodeResponse, type WireRecord } from './wire.ts';

export type { DnsServiceRecord } from './zone.ts';

export const CLUSTER_DOMAIN = 'cluster.local';
/** TTL of every answer: 30 s, as kubeadm's Corefile sets for the kubernetes plugin (`ttl 30`) */
export const DNS_TTL = 30;
/** DNS header length (RFC 1035 4.1.1) */
export const DNS_HEADER_LEN = 12;

// RFC 1035 4.1.1 / RFC 6895 rcodes and header bits
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const RD = 0x0100;
const AA = 0x0400;
const TC = 0x0200;
const RA = 0x0080;

/** The largest UDP response to a client that sent no OPT record (RFC 1035 2.3.4). */
export const UDP_MAX_PLAIN = 512;
/** The UDP payload size this server advertises in its OPT record (the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;
/** A DNS name is at most 255 bytes on the wire, a label at most 63 (RFC 1035 2.3.4). */
const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;

export interface DnsStats {
  /** datagrams received (every one of them, malformed too) */
  queries: number;
  /** responses carrying at least one answer */
  answers: number;
  /** a known name, but no record of the asked type (NOERROR, no answers) */
  nodata: number;
  nxdomain: number;
  /** a name outside cluster.local (no upstream), or a class other than IN */
  refused: number;
  /** names outside cluster.local handed to the upstream resolver */
  forwarded: number;
  /** UDP responses cut to fit the client's size, TC=1 */
  truncated: number;
  /** an opcode other than QUERY */
  notimp: number;
  /** a header could be read, the rest could not (not exactly one question, a bad label, a name past its end) */
  formerr: number;
  /** shorter than a header, or a response (QR=1): no answer at all */
  dropped: number;
}

export function emptyDnsStats(): DnsStats {
  return { queries: 0, answers: 0, nodata: 0, nxdomain: 0, refused: 0, forwarded: 0, truncated: 0, notimp: 0, formerr: 0, dropped: 0 };
}

/** The search path a pod in Kubernetes namespace `ns` gets (kubelet's ClusterFirst policy). */
export function searchPath(ns: string, domain = CLUSTER_DOMAIN): string[] {
  return [`${ns}.svc.${domain}`, `svc.${domain}`, domain];
}

/** /etc/resolv.conf of a pod in namespace `ns`, as kubelet writes it. */
export function resolvConf(nameserver: string, ns: string, domain = CLUSTER_DOMAIN): string {
  return `# written by podwire: the cluster DNS (kube-dns Service)\nnameserver ${nameserver}\nsearch ${searchPath(ns, domain).join(' ')}\noptions ndots:5\n`;
}

/** How a query came: over UDP (responses cut to the client's size) or TCP (never cut). */
export type Transport = 'udp' | 'tcp';

/** What to do with a query: send `reply`, drop it, or forward it upstream (the name is outside the zone). */
export type Outcome = { reply: Uint8Array; chase?: Chase } | { drop: true } | { forward: true };

/**
 * An ExternalName's CNAME whose target is outside the zone, with an
 * upstream to ask: the server may add the upstream's records for `name`
 * (as CoreDNS does), keeping the response within `limit` bytes.
 */
export interface Chase { name: string; type: string; limit: number }

export interface ResponderOptions {
  domain?: string;
  ttl?: number;
  /** the lab's Kubernetes namespaces (pod records <a-b-c-d>.<ns>.pod exist in these) */
  namespaces?: string[];
  /** serviceCIDR, clusterCIDR: the reverse names this server is authoritative for */
  reverseCidrs?: string[];
  /** names outside the zone are forwarded (answer() says so) rather than REFUSED */
  upstream?: boolean;
}

export class DnsResponder {
  readonly stats: DnsStats = emptyDnsStats();
  private zone: DnsZone;
  readonly domain: string;
  readonly ttl: number;
  private readonly opts: ResponderOptions;

  constructor(services: DnsServiceRecord[] = [], opts: ResponderOptions | string = {}, ttl = DNS_TTL) {
    this.opts = typeof opts === 'string' ? { domain: opts, ttl } : opts;
    this.domain = this.opts.domain ?? CLUSTER_DOMAIN;
    this.ttl = this.opts.ttl ?? DNS_TTL;
    this.zone = this.build(services);
  }

  /** Replace every record (e.g. after the lab's Services changed). */
  setRecords(services: DnsServiceRecord[]): void {
    this.zone = this.build(services);
  }

  /** The names with records, and how many each has (for status and tests). */
  names(): [string, number][] {
    return this.zone.names();
  }

  /**
   * Answer one query datagram as a UDP server without an upstream would:
   * the response, or undefined when it is dropped. Never throws.
   */
  respond(query: Uint8Array, transport: Transport = 'udp'): Uint8Array | undefined {
    const o = this.answer(query, transport, false);
    return 'reply' in o ? o.reply : undefined;
  }

  /** Answer one query (a UDP datagram, or one TCP message without its length prefix). Never throws. */
  answer(query: Uint8Array, transport: Transport, upstream = this.opts.upstream ?? false): Outcome {
    this.stats.queries++;
    if (query.length < DNS_HEADER_LEN) { this.stats.dropped++; return { drop: true }; }
    const id = (query[0] << 8) | query[1];
    const flags = (query[2] << 8) | query[3];
    if (flags & QR) { this.stats.dropped++; return { drop: true }; } // never answer an answer (no reflection loops)
    const qdcount = (query[4] << 8) | query[5];
    const opcode = (flags & OPCODE_MASK) >> 11;
    let packet: dnsPacket.DecodedPacket;
    let questionEnd = -1;
    try {
      if (qdcount !== 1) throw new Error('not exactly one question');
      questionEnd = questionNameEnd(query);
      if (questionEnd < 0) throw new Error('bad label');
      const buf = Buffer.from(query.buffer, query.byteOffset, query.length);
      packet = dnsPacket.decode(buf);
      if (packet.questions?.length !== 1 || !packet.questions[0] || typeof packet.questions[0].name !== 'string') throw new Error('no question');
    } catch {
      this.stats.formerr++;
      return { reply: headerOnly(id, flags, RCODE.FORMERR) };
    }
    const q = packet.questions[0];
    const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined;
    // the question goes back as it came: its bytes, case and all
    const base = { id, question: query.subarray(DNS_HEADER_LEN, questionEnd), qname: q.name, ...(opt ? { additionals: [optRecord()] } : {}) };
    const rdFlags = (flags & RD) | (flags & OPCODE_MASK);
    if (opcode !== 0) {
      this.stats.notimp++;
      return { reply: encode({ ...base, flags: rdFlags | RCODE.NOTIMP }) };
    }
    const found = (q.class ?? 'IN') === 'IN' ? this.zone.lookup(q.name) : { kind: 'outside' as const };
    if (found.kind === 'outside') {
      if (upstream && (q.class ?? 'IN') === 'IN') { this.stats.forwarded++; return { forward: true }; }
      this.stats.refused++;
      return { reply: encode({ ...base, flags: rdFlags | RCODE.REFUSED }) };
    }
    const soa = [this.soa()];
    if (found.kind === 'nxdomain') {
      this.stats.nxdomain++;
      return { reply: encode({ ...base, flags: rdFlags | AA | RCODE.NXDOMAIN, authorities: soa }) };
    }
    const { answers, additionals } = found.kind === 'records' ? this.select(q, found.records) : { answers: [], additionals: [] };
    if (answers.length === 0) {
      this.stats.nodata++;
      return { reply: encode({ ...base, flags: rdFlags | AA | RCODE.NOERROR, authorities: soa }) };
    }
    this.stats.answers++;
    const response = { ...base, flags: rdFlags | AA | RCODE.NOERROR, answers, additionals: [...additionals, ...(base.additionals ?? [])] };
    const full = encode(response);
    const limit = transport === 'tcp' ? 0xffff : opt ? Math.max(UDP_MAX_PLAIN, opt.udpPayloadSize ?? UDP_MAX_PLAIN) : UDP_MAX_PLAIN;
    const last = answers[answers.length - 1];
    const chase = upstream && answers.length === 1 && last.type === 'CNAME' && q.type !== 'CNAME' && this.zone.lookup(last.data).kind === 'outside'
      ? { chase: { name: last.data, type: q.type as string, limit } } : {};
    if (full.length <= limit) return { reply: full, ...chase };
    // too large for UDP: first the additional A records go (RFC 2181 9: no TC for those), then answers from the end, TC set
    const extra = base.additionals ?? [];
    const slim = encode({ ...response, additionals: extra });
    if (slim.length <= limit) return { reply: slim };
    this.stats.truncated++;
    let keep = answers.length;
    let cut: Uint8Array;
    do {
      keep--;
      cut = encode({ ...response, flags: response.flags | TC, answers: answers.slice(0, keep), additionals: extra });
    } while (cut.length > limit && keep > 0);
    return { reply: cut };
  }

  /** The records of `q`'s type at its name (a CNAME answers every type but itself, followed in the zone), and SRV targets' A records. */
  private select(q: dnsPacket.Question, recs: ZoneRecord[]): { answers: WireRecord[]; additionals: WireRecord[] } {
    const type = q.type as string;
    const rr = (name: string, r: ZoneRecord): WireRecord => (r.type === 'TXT'
      ? { type: 'TXT', name, ttl: this.ttl, data: [r.data] }
      : { ...r, name, ttl: this.ttl } as WireRecord);
    const cname = recs.find((r) => r.type === 'CNAME');
    if (cname && type !== 'CNAME') {
      const answers = [rr(q.name, cname)];
      // a target inside the zone is answered here too, as CoreDNS does; one outside is the client's to resolve
      const target = this.zone.lookup(cname.data);
      if (target.kind === 'records') for (const r of target.records) if (r.type === type || (type === 'ANY' && r.type !== 'CNAME')) answers.push(rr(cname.data, r));
      return { answers, additionals: [] };
    }
    const answers = recs.filter((r) => r.type === type || type === 'ANY').map((r) => rr(q.name, r));
    const additionals: WireRecord[] = [];
    for (const r of recs) {
      if (r.type !== 'SRV' || (type !== 'SRV' && type !== 'ANY')) continue;
      const t = this.zone.lookup(r.data.target);
      if (t.kind === 'records') for (const a of t.records) if (a.type === 'A') additionals.push(rr(r.data.target, a));
    }
    return { answers, additionals };
  }

  private build(services: DnsServiceRecord[]): DnsZone {
    return new DnsZone(services, { domain: this.domain, namespaces: this.opts.namespaces, reverseCidrs: this.opts.reverseCidrs });
  }

  /** The zone's SOA, given with negative answers (its minimum is the negative-caching TTL). */
  private soa(): WireRecord {
    return {
      type: 'SOA', name: this.domain, ttl: this.ttl,
      data: {
        mname: `ns.dns.${this.domain}`, rname: `hostmaster.${this.domain}`,
        serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: this.ttl,
      },
    };
  }
}

/** The OPT record of a response to a query that had one (RFC 6891 6.1.1): this server's UDP size. */
function optRecord(): WireRecord {
  return { type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE };
}

/**
 * The question, read by hand before dns-packet sees it: labels of at most
 * 63 bytes (length bytes 0x40-0xBF are no label type RFC 1035 allows), the
 * name within 255 bytes and within the message, then QTYPE and QCLASS.
 * Returns the offset past QCLASS, or -1. A compression pointer ends the
 * name (dns-packet follows it).
 */
function questionNameEnd(msg: Uint8Array): number {
  let off = DNS_HEADER_LEN;
  let wire = 0;
  for (;;) {
    if (off >= msg.length) return -1;
    const len = msg[off];
    if ((len & 0xc0) === 0xc0) { off += 2; break; }
    if (len > MAX_LABEL) return -1;
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) return -1;
    off += 1 + len;
    if (len === 0) break;
  }
  return off + 4 <= msg.length ? off + 4 : -1;
}

/** The response: QR set on the flags given; the question as the query had it. */
function encode(p: { id: number; flags: number; question: Uint8Array; qname?: string; answers?: WireRecord[]; authorities?: WireRecord[]; additionals?: WireRecord[] }): Uint8Array {
  return encodeResponse({ ...p, flags: p.flags | QR });
}

/** The query the server sends upstream to follow an ExternalName's CNAME (`chase`). */
export function chaseQuery(chase: Chase): Uint8Array {
  return dnsPacket.encode({ type: 'query', id: 0, flags: RD, questions: [{ name: chase.name, type: chase.type as dnsPacket.RecordType, class: 'IN' }] });
}

/**
 * `reply` (the CNAME) with the upstream's answers for its target appended,
 * as CoreDNS answers an ExternalName; `reply` itself when the upstream had
 * no answer (the client then asks for the target itself) or the two would
 * not fit `limit`. Never throws.
 */
export function withChasedAnswers(reply: Uint8Array, upstreamReply: Uint8Array | undefined, limit: number): Uint8Array {
  if (!upstreamReply) return reply;
  try {
    const ours = dnsPacket.decode(Buffer.from(reply)) as dnsPacket.DecodedPacket & { rcode?: string };
    const theirs = dnsPacket.decode(Buffer.from(upstreamReply)) as dnsPacket.DecodedPacket & { rcode?: string; flag_tc?: boolean };
    if (theirs.rcode !== 'NOERROR' || theirs.flag_tc || !theirs.answers?.length) return reply;
    const merged = dnsPacket.encode({ ...ours, type: 'response', answers: [...(ours.answers ?? []), ...theirs.answers] });
    return merged.length <= limit ? merged : reply;
  } catch {
    return reply;
  }
}

/** SERVFAIL for `query` (the upstream did not answer): its id, opcode, RD and question echoed when readable. */
export function servfail(query: Uint8Array): Uint8Array {
  const id = (query[0] << 8) | query[1];
  const flags = (query[2] << 8) | query[3];
  const end = query.length >= DNS_HEADER_LEN ? questionNameEnd(query) : -1;
  if (end < 0) return headerOnly(id, flags, RCODE.SERVFAIL);
  return encode({ id, flags: (flags & (RD | OPCODE_MASK)) | RA | RCODE.SERVFAIL, question: query.subarray(DNS_HEADER_LEN, end) });
}

/** A response that is only a header: the query's id, opcode and RD, QR set, `rcode`, no sections. */
function headerOnly(id: number, queryFlags: number, rcode: number): Uint8Array {
  const out = new Uint8Array(DNS_HEADER_LEN);
  const flags = QR | (queryFlags & (OPCODE_MASK | RD)) | rcode;
  out[0] = id >> 8; out[1] = id & 0xff;
  out[2] = flags >> 8; out[3] = flags & 0xff;
  return out;
}
