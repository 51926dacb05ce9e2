// The cluster DNS records of the Kubernetes DNS specification (kubernetes/dns
// docs/specification.md, schema 1.0.1), record kind by record kind, through
// the responder (src/dns/responder.ts over src/dns/zone.ts), in memory:
// queries built and answers read with dns-packet; the expected records are
// the specification's formats filled in by hand.
import { describe, it, expect } from 'vitest';
import * as dnsPacket from 'dns-packet';
import { DnsResponder, UDP_MAX_PLAIN, chaseQuery, withChasedAnswers, type DnsServiceRecord } from '../../src/dns/responder.ts';
import { DNS_SCHEMA_VERSION } from '../../src/dns/zone.ts';

const ep = (ip: string, hostname?: string, ready = true) => ({ ip, ready, ...(hostname ? { hostname } : {}) });
const SERVICES: DnsServiceRecord[] = [
  { name: 'web', namespace: 'shop', clusterIP: '10.96.0.5', type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { port: 8443, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }], endpoints: [ep('10.244.0.9')] },
  { name: 'db', namespace: 'shop', clusterIP: 'None', type: 'ClusterIP', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }], endpoints: [ep('10.244.0.5', 'db-0'), ep('10.244.1.7'), ep('10.244.1.8', 'db-2', false)] },
  { name: 'empty', namespace: 'shop', clusterIP: 'None', type: 'ClusterIP', ports: [], endpoints: [ep('10.244.0.6', undefined, false)] },
  { name: 'ext', namespace: 'shop', clusterIP: '', type: 'ExternalName', externalName: 'www.example.com', ports: [] },
  { name: 'alias', namespace: 'front', clusterIP: '', type: 'ExternalName', externalName: 'web.shop.svc.cluster.local', ports: [] },
  { name: 'big', namespace: 'front', clusterIP: 'None', type: 'ClusterIP', ports: [], endpoints: Array.from({ length: 40 }, (_, i) => ep(`10.244.2.${i + 2}`)) },
];
const OPTS = { namespaces: ['shop', 'front', 'default'], reverseCidrs: ['10.96.0.0/12', '10.244.0.0/16'] };
const fresh = (upstream = false) => new DnsResponder(SERVICES, { ...OPTS, upstream });

function query(name: string, type: string = 'A', edns?: number): Uint8Array {
  return dnsPacket.encode({
    type: 'query', id: 0x4242, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
    ...(edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: 0 } as unknown as dnsPacket.Answer] } : {}),
  });
}
type Decoded = dnsPacket.DecodedPacket & { rcode?: string; flag_tc?: boolean; flag_aa?: boolean };
function ask(r: DnsResponder, name: string, type = 'A', transport: 'udp' | 'tcp' = 'udp', edns?: number): { p: Decoded; bytes: number } {
  const b = r.respond(query(name, type, edns), transport);
  expect(b, `${name} ${type}`).toBeDefined();
  return { p: dnsPacket.decode(Buffer.from(b!)) as Decoded, bytes: b!.length };
}
const data = (p: Decoded, type?: string) => (p.answers ?? []).filter((a) => !type || a.type === type).map((a) => (a as { data: unknown }).data);

describe('cluster DNS records (Kubernetes DNS specification)', () => {
  it('2.2 dns-version.cluster.local TXT: the schema version', () => {
    const { p } = ask(fresh(), 'dns-version.cluster.local', 'TXT');
    expect(p.rcode).toBe('NOERROR');
    expect(data(p).map((d) => (d as Buffer[]).map(String))).toEqual([[DNS_SCHEMA_VERSION]]);
    expect(DNS_SCHEMA_VERSION).toBe('1.0.1');
  });

  it('2.3.1 A of a ClusterIP Service, byte for byte (RFC 1035 4.1: the question copied, the owner a pointer to it)', () => {
    expect(data(ask(fresh(), 'web.shop.svc.cluster.local').p)).toEqual(['10.96.0.5']);
    const qname = '03776562' + '0473686f70' + '03737663' + '07636c7573746572' + '056c6f63616c' + '00'; // web.shop.svc.cluster.local
    const reply = fresh().respond(query('web.shop.svc.cluster.local'));
    expect(Buffer.from(reply!).toString('hex')).toBe(
      '4242' + '8500' + '0001' + '0001' + '0000' + '0000' // id; QR AA RD, NOERROR; 1 question, 1 answer
      + qname + '0001' + '0001' //                            the question as asked: A IN
      + 'c00c' + '0001' + '0001' + '0000001e' + '0004' + '0a600005', // pointer to offset 12, A IN, TTL 30, 10.96.0.5
    );
  });

  it('2.3.2 SRV per named port, target the Service, its A in the additional section; unnamed ports have none', () => {
    const r = fresh();
    const { p } = ask(r, '_http._tcp.web.shop.svc.cluster.local', 'SRV');
    expect(p.answers).toMatchObject([{ type: 'SRV', name: '_http._tcp.web.shop.svc.cluster.local', ttl: 30, data: { port: 80, target: 'web.shop.svc.cluster.local' } }]);
    expect(p.additionals).toMatchObject([{ type: 'A', name: 'web.shop.svc.cluster.local', data: '10.96.0.5' }]);
    expect(ask(r, '_dns._udp.web.shop.svc.cluster.local', 'SRV').p.answers).toMatchObject([{ data: { port: 53 } }]);
    // the port is TCP only: _http._udp does not exist; _tcp is an empty non-terminal (NODATA)
    expect(ask(r, '_http._udp.web.shop.svc.cluster.local', 'SRV').p.rcode).toBe('NXDOMAIN');
    const ent = ask(r, '_tcp.web.shop.svc.cluster.local', 'SRV').p;
    expect([ent.rcode, ent.answers]).toEqual(['NOERROR', []]);
  });

  it('2.3.3 PTR of a ClusterIP', () => {
    expect(data(ask(fresh(), '5.0.96.10.in-addr.arpa', 'PTR').p)).toEqual(['web.shop.svc.cluster.local']);
  });

  it('2.4.1 headless: A of each ready endpoint; <hostname>.<service> A (the pod hostname, else the dashed address)', () => {
    const r = fresh();
    expect(data(ask(r, 'db.shop.svc.cluster.local').p).sort()).toEqual(['10.244.0.5', '10.244.1.7']);
    expect(data(ask(r, 'db-0.db.shop.svc.cluster.local').p)).toEqual(['10.244.0.5']);
    expect(data(ask(r, '10-244-1-7.db.shop.svc.cluster.local').p)).toEqual(['10.244.1.7']);
    // a not-ready endpoint has no record
    expect(ask(r, 'db-2.db.shop.svc.cluster.local').p.rcode).toBe('NXDOMAIN');
    // no ready endpoint at all: NXDOMAIN, as the specification says
    expect(ask(r, 'empty.shop.svc.cluster.local').p.rcode).toBe('NXDOMAIN');
  });

  it('2.4.2 headless SRV: one per ready endpoint and named port, target its hostname', () => {
    const { p } = ask(fresh(), '_pg._tcp.db.shop.svc.cluster.local', 'SRV');
    expect(data(p).map((d) => d as { port: number; target: string }).map((d) => `${d.port} ${d.target}`).sort()).toEqual([
      '5432 10-244-1-7.db.shop.svc.cluster.local', '5432 db-0.db.shop.svc.cluster.local',
    ]);
    expect(p.additionals!.map((a) => `${a.name} ${(a as { data: string }).data}`).sort()).toEqual([
      '10-244-1-7.db.shop.svc.cluster.local 10.244.1.7', 'db-0.db.shop.svc.cluster.local 10.244.0.5',
    ]);
  });

  it('2.4.3 PTR of a headless endpoint: <hostname>.<service>.<ns>.svc; an unknown pod-range address: NXDOMAIN', () => {
    const r = fresh();
    expect(data(ask(r, '5.0.244.10.in-addr.arpa', 'PTR').p)).toEqual(['db-0.db.shop.svc.cluster.local']);
    expect(data(ask(r, '7.1.244.10.in-addr.arpa', 'PTR').p)).toEqual(['10-244-1-7.db.shop.svc.cluster.local']);
    const none = ask(r, '99.9.244.10.in-addr.arpa', 'PTR').p;
    expect([none.rcode, none.flag_aa]).toEqual(['NXDOMAIN', true]);
    // outside the lab's ranges: not this server's (REFUSED without an upstream)
    expect(ask(r, '1.2.0.192.in-addr.arpa', 'PTR').p.rcode).toBe('REFUSED');
  });

  it('2.5 ExternalName: CNAME for every type; a target inside the zone is followed', () => {
    const r = fresh();
    for (const t of ['A', 'AAAA', 'CNAME']) {
      const { p } = ask(r, 'ext.shop.svc.cluster.local', t);
      expect(p.rcode).toBe('NOERROR');
      expect(p.answers, t).toMatchObject([{ type: 'CNAME', name: 'ext.shop.svc.cluster.local', data: 'www.example.com' }]);
    }
    expect(ask(r, 'alias.front.svc.cluster.local').p.answers).toMatchObject([
      { type: 'CNAME', data: 'web.shop.svc.cluster.local' }, { type: 'A', name: 'web.shop.svc.cluster.local', data: '10.96.0.5' },
    ]);
  });

  it('2.5 ExternalName with an upstream: the target is chased there, its records follow the CNAME (as CoreDNS answers)', () => {
    const r = fresh(true);
    const o = r.answer(query('ext.shop.svc.cluster.local'), 'udp');
    expect('reply' in o && o.chase).toEqual({ name: 'www.example.com', type: 'A', limit: 512 });
    if (!('reply' in o) || !o.chase) return;
    const q = dnsPacket.decode(Buffer.from(chaseQuery(o.chase)));
    expect(q.questions).toEqual([{ name: 'www.example.com', type: 'A', class: 'IN' }]);
    const upstream = dnsPacket.encode({ type: 'response', id: 0, flags: 0x8180, questions: q.questions, answers: [{ type: 'A', name: 'www.example.com', ttl: 60, data: '192.0.2.7' }] });
    const merged = dnsPacket.decode(Buffer.from(withChasedAnswers(o.reply, upstream, o.chase.limit)));
    expect(merged.answers!.map((a) => `${a.name} ${a.type} ${(a as { data: string }).data}`)).toEqual(['ext.shop.svc.cluster.local CNAME www.example.com', 'www.example.com A 192.0.2.7']);
    // no answer upstream, an NXDOMAIN, or garbage: the CNAME alone
    for (const up of [undefined, dnsPacket.encode({ type: 'response', id: 0, flags: 0x8183, questions: q.questions }), Uint8Array.from([1, 2, 3])]) {
      expect(withChasedAnswers(o.reply, up, 512)).toBe(o.reply);
    }
    // a target inside the zone, or no upstream: nothing to chase
    const inside = r.answer(query('alias.front.svc.cluster.local'), 'udp');
    expect('reply' in inside && inside.chase).toBeUndefined();
    const none = fresh(false).answer(query('ext.shop.svc.cluster.local'), 'udp');
    expect('reply' in none && none.chase).toBeUndefined();
  });

  it('2.6 pod records: <a-b-c-d>.<ns>.pod A, in a namespace of the lab; bad addresses or namespaces: NXDOMAIN', () => {
    const r = fresh();
    expect(data(ask(r, '10-244-0-5.shop.pod.cluster.local').p)).toEqual(['10.244.0.5']);
    expect(data(ask(r, '1-2-3-4.default.pod.cluster.local').p)).toEqual(['1.2.3.4']);
    for (const n of ['10-244-0-256.shop.pod.cluster.local', '10-244-0-05.shop.pod.cluster.local', '10-244-0-5.nope.pod.cluster.local', '10-244-0.shop.pod.cluster.local']) {
      expect(ask(r, n).p.rcode, n).toBe('NXDOMAIN');
    }
    expect(ask(r, 'shop.pod.cluster.local').p.rcode).toBe('NOERROR');
  });

  it('NXDOMAIN vs NODATA: a known name of another type is NODATA (SOA); an unknown name NXDOMAIN (SOA)', () => {
    const r = fresh();
    const nodata = ask(r, 'web.shop.svc.cluster.local', 'AAAA').p;
    expect([nodata.rcode, nodata.answers, nodata.authorities?.[0]?.type]).toEqual(['NOERROR', [], 'SOA']);
    const nx = ask(r, 'nope.shop.svc.cluster.local').p;
    expect([nx.rcode, nx.authorities?.[0]?.type]).toEqual(['NXDOMAIN', 'SOA']);
    // an empty namespace of the lab exists (search-path expansions of it are NXDOMAIN below it)
    expect(ask(r, 'default.svc.cluster.local').p.rcode).toBe('NOERROR');
    expect(r.stats).toMatchObject({ nodata: 2, nxdomain: 1 });
  });

  it('names are case-insensitive, for every kind', () => {
    const r = fresh();
    expect(data(ask(r, 'DB-0.Db.SHOP.svc.Cluster.Local').p)).toEqual(['10.244.0.5']);
    expect(data(ask(r, '_HTTP._TCP.Web.Shop.SVC.cluster.local', 'SRV').p)).toHaveLength(1);
    expect(data(ask(r, '5.0.96.10.IN-ADDR.ARPA', 'PTR').p)).toEqual(['web.shop.svc.cluster.local']);
    expect(data(ask(r, 'DNS-VERSION.cluster.local', 'TXT').p)).toHaveLength(1);
  });

  it('over UDP a 40-endpoint headless answer is cut to 512 bytes with TC=1; over TCP it is whole; EDNS0 raises the limit', () => {
    const r = fresh();
    const udp = ask(r, 'big.front.svc.cluster.local');
    expect(udp.p.flag_tc).toBe(true);
    expect(udp.bytes).toBeLessThanOrEqual(UDP_MAX_PLAIN);
    // compressed (RFC 1035 4.1.4), each A record is 16 bytes: 12 header + 33 question + 29 x 16 = 509
    expect(udp.p.answers!.length).toBe(29);
    expect(udp.p.answers!.length).toBeLessThan(40);
    const tcp = ask(r, 'big.front.svc.cluster.local', 'A', 'tcp');
    expect(tcp.p.flag_tc).toBe(false);
    expect(data(tcp.p).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `10.244.2.${i + 2}`).sort());
    // the client says it takes 1232 bytes (EDNS0 OPT, dig's default): everything fits, and the response carries an OPT too
    const edns = ask(r, 'big.front.svc.cluster.local', 'A', 'udp', 1232);
    expect([edns.p.flag_tc, edns.p.answers!.length]).toEqual([false, 40]);
    expect(edns.p.additionals).toMatchObject([{ type: 'OPT' }]);
    expect(r.stats.truncated).toBe(1);
  });

  it('names outside the zone: REFUSED without an upstream, "forward" with one', () => {
    expect(ask(fresh(), 'example.com').p.rcode).toBe('REFUSED');
    const r = fresh(true);
    expect(r.answer(query('example.com'), 'udp')).toEqual({ forward: true });
    expect(r.answer(query('1.2.0.192.in-addr.arpa', 'PTR'), 'udp')).toEqual({ forward: true });
    expect(r.stats.forwarded).toBe(2);
    // the cluster's own names are still answered here
    expect(r.answer(query('web.shop.svc.cluster.local'), 'udp')).toHaveProperty('reply');
  });

  it('malformed: a label longer than 63 (length byte 0x40-0xBF), a name past the end, QDCOUNT 0 or 2: FORMERR; opcode NOTIFY: NOTIMP', () => {
    const r = fresh();
    const hdr = '42420100000100000000000';
    // length byte 0x40: no label type RFC 1035 allows
    const badLabel = Buffer.from(hdr + '1' + '40' + '61'.repeat(64) + '00' + '00010001', 'hex');
    expect(Buffer.from(r.respond(badLabel)!).toString('hex')).toBe('424281010000000000000000');
    // a name longer than 255 bytes: five labels of 63
    const long = Buffer.from(hdr + '1' + ('3f' + '61'.repeat(63)).repeat(5) + '00' + '00010001', 'hex');
    expect((dnsPacket.decode(Buffer.from(r.respond(long)!)) as Decoded).rcode).toBe('FORMERR');
    // the question's type and class cut off
    const short = Buffer.from(hdr + '1' + '0377656200' + '0001', 'hex');
    expect((dnsPacket.decode(Buffer.from(r.respond(short)!)) as Decoded).rcode).toBe('FORMERR');
    const q = Buffer.from(query('web.shop.svc.cluster.local'));
    q[2] |= 4 << 3; // opcode 4 (NOTIFY)
    expect((dnsPacket.decode(Buffer.from(r.respond(q)!)) as Decoded).rcode).toBe('NOTIMP');
    expect(r.stats).toMatchObject({ formerr: 3, notimp: 1 });
  });

  it('fuzz: 20,000 mutated and random messages never throw; each is answered, dropped or forwarded, and counted', () => {
    const r = fresh(true);
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 16; };
    const seeds = [query('web.shop.svc.cluster.local'), query('_pg._tcp.db.shop.svc.cluster.local', 'SRV', 1232), query('5.0.96.10.in-addr.arpa', 'PTR')];
    for (let i = 0; i < 20_000; i++) {
      const base = seeds[i % seeds.length];
      const m = i % 4 === 0 ? Uint8Array.from({ length: rnd() % 80 }, () => rnd() & 0xff) : Uint8Array.from(base);
      if (i % 4 !== 0) for (let k = 0; k < 1 + (rnd() % 4); k++) m[rnd() % m.length] = rnd() & 0xff;
      m[2] &= 0x7f; // a query (QR=0), so it is read, not dropped as a response
      const o = r.answer(m.subarray(0, i % 7 === 0 ? rnd() % (m.length + 1) : m.length), i % 2 ? 'udp' : 'tcp');
      expect(['reply' in o, 'drop' in o, 'forward' in o].filter(Boolean)).toHaveLength(1);
    }
    const s = r.stats;
    expect(s.queries).toBe(20_000);
    expect(s.answers + s.nodata + s.nxdomain + s.refused + s.forwarded + s.notimp + s.formerr + s.dropped).toBe(20_000);
  });
});
