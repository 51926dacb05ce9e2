// The cluster DNS answers, as CoreDNS's kubernetes plugin gives them for
// Services: `<service>.<namespace>.svc.cluster.local` A <clusterIP>. Pure: a
// query's bytes in, the response's bytes out (or nothing: dropped), with
// counters. The socket that carries them is src/dns/server.ts.
//
// Clients expand the search path themselves (resolv.conf `search` with
// `ndots:5`, as kubelet writes it), so only exact names are answered, case-
// insensitively. Names outside cluster.local are refused: there is no
// upstream (lab traffic never leaves the lab).
import * as dnsPacket from 'dns-packet';

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

/** What the cluster DNS knows of a Service: its name, namespace and ClusterIP. */
export interface DnsServiceRecord {
  name: string;
  namespace: string;
  clusterIP: string;
}

export interface DnsStats {
  /** datagrams received (every one of them, malformed too) */
  queries: number;
  /** responses carrying at least one answer */
  answers: number;
  /** a known name, but no record of the asked type (NOERROR, no answers) */
  nodata: number;
  nxdomain: number;
  /** a name outside cluster.local, or a class other than IN */
  refused: number;
  /** an opcode other than QUERY */
  notimp: number;
  /** a header could be read, the rest could not (or not exactly one question) */
  formerr: number;
  /** shorter than a header, or a response (QR=1): no answer at all */
  dropped: number;
}

export function emptyDnsStats(): DnsStats {
  return { queries: 0, answers: 0, nodata: 0, nxdomain: 0, refused: 0, notimp: 0, formerr: 0, dropped: 0 };
}

/** The search path a pod in Kubernetes namespace `ns` gets (kubelet's ClusterFirst policy). */
export function searchPath(ns: string, domain = CLUSTER_DOMAIN): string[] {
  return [`${ns}.svc.${domain}`, `svc.${domain}`, domain];
}

/** /etc/resolv.conf of a pod in namespace `ns`, as kubelet writes it. */
export function resolvConf(nameserver: string, ns: string, domain = CLUSTER_DOMAIN): string {
  return `# written by podwire: the cluster DNS (kube-dns Service)\nnameserver ${nameserver}\nsearch ${searchPath(ns, domain).join(' ')}\noptions ndots:5\n`;
}

export class DnsResponder {
  readonly stats: DnsStats = emptyDnsStats();
  /** lower-case FQDN (no trailing dot) -> addresses */
  private records = new Map<string, string[]>();
  /** names that exist without records of their own (cluster.local, svc.cluster.local, <ns>.svc.cluster.local) */
  private interior = new Set<string>();
  private readonly suffix: string;

  constructor(services: DnsServiceRecord[] = [], readonly domain = CLUSTER_DOMAIN, readonly ttl = DNS_TTL) {
    this.suffix = `.${domain}`;
    this.setRecords(services);
  }

  /** Replace every record (e.g. after the lab's Services changed). */
  setRecords(services: DnsServiceRecord[]): void {
    const records = new Map<string, string[]>();
    const interior = new Set<string>([this.domain, `svc.${this.domain}`]);
    for (const s of services) {
      const fqdn = `${s.name}.${s.namespace}.svc.${this.domain}`.toLowerCase();
      const ips = records.get(fqdn) ?? [];
      if (!ips.includes(s.clusterIP)) ips.push(s.clusterIP);
      records.set(fqdn, ips);
      interior.add(`${s.namespace}.svc.${this.domain}`.toLowerCase());
    }
    this.records = records;
    this.interior = interior;
  }

  /** The names answered, with their addresses (for status and tests). */
  names(): [string, string[]][] {
    return [...this.records.entries()].map(([n, ips]) => [n, [...ips]]);
  }

  /**
   * Answer one query datagram. Returns the response, or undefined when the
   * datagram is dropped (shorter than a header, or itself a response).
   * Never throws.
   */
  respond(query: Uint8Array): Uint8Array | undefined {
    this.stats.queries++;
    if (query.length < DNS_HEADER_LEN) { this.stats.dropped++; return undefined; }
    const id = (query[0] << 8) | query[1];
    const flags = (query[2] << 8) | query[3];
    if (flags & QR) { this.stats.dropped++; return undefined; } // never answer an answer (no reflection loops)
    const qdcount = (query[4] << 8) | query[5];
    const opcode = (flags & OPCODE_MASK) >> 11;
    let packet: dnsPacket.DecodedPacket;
    try {
      if (qdcount !== 1) throw new Error('not exactly one question');
      const buf = Buffer.from(query.buffer, query.byteOffset, query.length);
      packet = dnsPacket.decode(buf);
      if (packet.questions?.length !== 1 || !packet.questions[0] || typeof packet.questions[0].name !== 'string') throw new Error('no question');
    } catch {
      this.stats.formerr++;
      return headerOnly(id, flags, RCODE.FORMERR);
    }
    const q = packet.questions[0];
    const base = { id, questions: [q] };
    const rdFlags = (flags & RD) | (flags & OPCODE_MASK);
    if (opcode !== 0) {
      this.stats.notimp++;
      return encode({ ...base, flags: rdFlags | RCODE.NOTIMP });
    }
    const name = q.name.toLowerCase().replace(/\.$/, '');
    if ((q.class ?? 'IN') !== 'IN' || (name !== this.domain && !name.endsWith(this.suffix))) {
      this.stats.refused++;
      return encode({ ...base, flags: rdFlags | RCODE.REFUSED });
    }
    const ips = this.records.get(name);
    const soa = [this.soa()];
    if (!ips && !this.interior.has(name)) {
      this.stats.nxdomain++;
      return encode({ ...base, flags: rdFlags | AA | RCODE.NXDOMAIN, authorities: soa });
    }
    if (ips && (q.type === 'A' || (q.type as string) === 'ANY')) {
      this.stats.answers++;
      return encode({
        ...base, flags: rdFlags | AA | RCODE.NOERROR,
        answers: ips.map((ip) => ({ type: 'A' as const, name: q.name, class: 'IN' as const, ttl: this.ttl, data: ip })),
      });
    }
    this.stats.nodata++;
    return encode({ ...base, flags: rdFlags | AA | RCODE.NOERROR, authorities: soa });
  }

  /** The zone's SOA, given with negative answers (its minimum is the negative-caching TTL). */
  private soa(): dnsPacket.Answer {
    return {
      type: 'SOA', name: this.domain, class: 'IN', ttl: this.ttl,
      data: {
        mname: `ns.dns.${this.domain}`, rname: `hostmaster.${this.domain}`,
        serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: this.ttl,
      },
    };
  }
}

function encode(p: { id: number; flags: number; questions: dnsPacket.Question[]; answers?: dnsPacket.Answer[]; authorities?: dnsPacket.Answer[] }): Uint8Array {
  return dnsPacket.encode({ type: 'response', answers: [], authorities: [], additionals: [], ...p });
}

/** A response that is only a header: the query's id, opcode and RD, QR set, `rcode`, no sections. */
function headerOnly(id: number, queryFlags: number, rcode: number): Uint8Array {
  const out = new Uint8Array(DNS_HEADER_LEN);
  const flags = QR | (queryFlags & (OPCODE_MASK | RD)) | rcode;
  out[0] = id >> 8; out[1] = id & 0xff;
  out[2] = flags >> 8; out[3] = flags & 0xff;
  return out;
}
