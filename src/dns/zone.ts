// The records of the cluster domain, as the Kubernetes DNS specification
// (kubernetes/dns docs/specification.md, schema 1.0.1) lists them, built
// from the lab's Services and looked up by name. Pure: no wire format here
// (responder.ts encodes), no sockets (server.ts).
//
//  2.2  dns-version.<zone> TXT "1.0.1"
//  2.3  a Service with a ClusterIP: <svc>.<ns>.svc A <cluster-ip>;
//       _<port>._<proto>.<svc>.<ns>.svc SRV for each named port, target the Service;
//       PTR of the ClusterIP
//  2.4  a headless Service: <svc>.<ns>.svc A of each ready endpoint (none ready:
//       the name does not exist); <hostname>.<svc>.<ns>.svc A; one SRV per ready
//       endpoint and named port, target <hostname>.<svc>...; PTR of each endpoint.
//       An endpoint's hostname is the pod's spec.hostname when its subdomain names
//       the Service, else its address with dashes (10-244-0-5), as CoreDNS does
//  2.5  ExternalName: <svc>.<ns>.svc CNAME <externalName>
//  2.6  <a>-<b>-<c>-<d>.<ns>.pod A <a>.<b>.<c>.<d>, for any address, in a namespace
//       of the lab (kubeadm's CoreDNS `pods insecure`)
// All comparisons are case-insensitive: names are kept lower-case.
import { ipv4ToInt } from '../model/addr.ts';
import { parseCidr } from '../model/cidr.ts';

/** The schema version the specification's section 1 gives, served as dns-version TXT. */
export const DNS_SCHEMA_VERSION = '1.0.1';

/** What the zone needs of a Service (a ServicePlan fits). Only name, namespace and clusterIP are required. */
export interface DnsServiceRecord {
  name: string;
  namespace: string;
  /** an address; "None" for a headless Service; "" (or type ExternalName) for none */
  clusterIP: string;
  type?: string;
  externalName?: string;
  ports?: { name?: string; port: number; protocol: string }[];
  endpoints?: { ip: string; ready: boolean; hostname?: string }[];
}

export type ZoneRecord =
  | { type: 'A'; data: string }
  | { type: 'CNAME'; data: string }
  | { type: 'PTR'; data: string }
  | { type: 'TXT'; data: string }
  | { type: 'SRV'; data: { priority: number; weight: number; port: number; target: string } };

/** What a name is in the zone: records, an existing name without records (NODATA), no such name, or not ours. */
export type Lookup =
  | { kind: 'records'; records: ZoneRecord[] }
  | { kind: 'empty' }
  | { kind: 'nxdomain' }
  | { kind: 'outside' };

export interface ZoneOptions {
  domain: string;
  /** the lab's Kubernetes namespaces: <ip>.<ns>.pod names exist for these */
  namespaces?: string[];
  /** serviceCIDR and clusterCIDR: PTR names of their addresses are this zone's (unknown ones NXDOMAIN); others are not */
  reverseCidrs?: string[];
}

const POD_NAME_RE = /^(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})\.([a-z0-9-]+)\.pod\.(.+)$/;
const REVERSE_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/;

export class DnsZone {
  private readonly records = new Map<string, ZoneRecord[]>();
  /** names that exist because a name below them does (empty non-terminals): NODATA, not NXDOMAIN */
  private readonly interior = new Set<string>();
  private readonly namespaces: Set<string>;
  private readonly reverse: { first: number; last: number }[];
  readonly domain: string;

  constructor(services: DnsServiceRecord[], opts: ZoneOptions) {
    this.domain = opts.domain.toLowerCase();
    this.namespaces = new Set((opts.namespaces ?? []).map((n) => n.toLowerCase()));
    this.reverse = (opts.reverseCidrs ?? []).map((c) => {
      const cidr = parseCidr(c, 'reverse zone');
      const first = ipv4ToInt(cidr.text.split('/')[0]) >>> 0;
      return { first, last: (first + 2 ** (32 - cidr.prefixLen) - 1) >>> 0 };
    });
    this.add(`dns-version.${this.domain}`, { type: 'TXT', data: DNS_SCHEMA_VERSION });
    this.interior.add(`svc.${this.domain}`);
    // every namespace of the lab exists as a name (NODATA), with or without Services
    for (const ns of [...this.namespaces, ...services.map((s) => s.namespace.toLowerCase())]) this.interior.add(`${ns}.svc.${this.domain}`);
    for (const s of services) this.addService(s);
  }

  /** Every name with records (lower-case), with how many (for status and tests). */
  names(): [string, number][] {
    return [...this.records.entries()].map(([n, r]) => [n, r.length]);
  }

  /** What `name` (any case, with or without the trailing dot) is in this zone. */
  lookup(name: string): Lookup {
    const n = name.toLowerCase().replace(/\.$/, '');
    if (n.endsWith('.in-addr.arpa') || n === 'in-addr.arpa') return this.lookupReverse(n);
    if (n !== this.domain && !n.endsWith(`.${this.domain}`)) return { kind: 'outside' };
    const recs = this.records.get(n);
    if (recs) return { kind: 'records', records: recs };
    const pod = this.podRecord(n);
    if (pod) return { kind: 'records', records: [pod] };
    if (this.interior.has(n) || n === this.domain || n === `pod.${this.domain}` || this.isPodNamespace(n)) return { kind: 'empty' };
    return { kind: 'nxdomain' };
  }

  private addService(s: DnsServiceRecord): void {
    const fqdn = `${s.name}.${s.namespace}.svc.${this.domain}`.toLowerCase();
    const named = (s.ports ?? []).filter((p) => p.name);
    const srvName = (p: { name?: string; protocol: string }) => `_${p.name}._${p.protocol.toLowerCase()}.${fqdn}`.toLowerCase();
    if (s.type === 'ExternalName' || (s.clusterIP === '' && s.externalName)) {
      if (s.externalName) this.add(fqdn, { type: 'CNAME', data: s.externalName.replace(/\.$/, '').toLowerCase() });
      return;
    }
    if (s.clusterIP === 'None') {
      const ready = (s.endpoints ?? []).filter((e) => e.ready);
      for (const e of ready) {
        const host = `${(e.hostname ?? e.ip.replace(/\./g, '-'))}.${fqdn}`.toLowerCase();
        this.add(fqdn, { type: 'A', data: e.ip });
        this.add(host, { type: 'A', data: e.ip });
        this.add(reverseName(e.ip), { type: 'PTR', data: host });
        for (const p of named) this.add(srvName(p), { type: 'SRV', data: { priority: 0, weight: 100, port: p.port, target: host } });
      }
      return;
    }
    if (!s.clusterIP) return;
    this.add(fqdn, { type: 'A', data: s.clusterIP });
    this.add(reverseName(s.clusterIP), { type: 'PTR', data: fqdn });
    for (const p of named) this.add(srvName(p), { type: 'SRV', data: { priority: 0, weight: 100, port: p.port, target: fqdn } });
  }

  private add(name: string, r: ZoneRecord): void {
    const list = this.records.get(name) ?? [];
    if (!list.some((x) => x.type === r.type && JSON.stringify(x.data) === JSON.stringify(r.data))) list.push(r);
    this.records.set(name, list);
    this.addInterior(name);
  }

  /** Mark every ancestor of `name` down to the zone apex (or in-addr.arpa) as existing. */
  private addInterior(name: string): void {
    const labels = name.split('.');
    for (let i = 1; i < labels.length; i++) {
      const parent = labels.slice(i).join('.');
      this.interior.add(parent);
      if (parent === this.domain || parent === 'in-addr.arpa') break;
    }
  }

  private podRecord(n: string): ZoneRecord | undefined {
    const m = POD_NAME_RE.exec(n);
    if (!m || m[6] !== this.domain || !this.namespaces.has(m[5])) return undefined;
    const octets = m.slice(1, 5).map(Number);
    if (octets.some((o, i) => o > 255 || String(o) !== m[i + 1])) return undefined;
    return { type: 'A', data: octets.join('.') };
  }

  private isPodNamespace(n: string): boolean {
    const suffix = `.pod.${this.domain}`;
    return n.endsWith(suffix) && this.namespaces.has(n.slice(0, -suffix.length));
  }

  private lookupReverse(n: string): Lookup {
    const m = REVERSE_RE.exec(n);
    if (!m) return this.interior.has(n) ? { kind: 'empty' } : { kind: 'outside' };
    const octets = m.slice(1, 5).map(Number).reverse();
    if (octets.some((o) => o > 255)) return { kind: 'outside' };
    const ip = ipv4ToInt(octets.join('.')) >>> 0;
    if (!this.reverse.some((r) => ip >= r.first && ip <= r.last)) {
      const recs = this.records.get(n);
      return recs ? { kind: 'records', records: recs } : { kind: 'outside' };
    }
    const recs = this.records.get(n);
    return recs ? { kind: 'records', records: recs } : { kind: 'nxdomain' };
  }
}

/** d.c.b.a.in-addr.arpa for a.b.c.d */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}
