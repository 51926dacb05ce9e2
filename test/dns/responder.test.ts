// The cluster DNS responder (src/dns/responder.ts): what it answers for each
// kind of query, byte for byte where it builds the response itself (FORMERR),
// decoded with dns-packet elsewhere, and what it counts.
import { describe, it, expect } from 'vitest';
import * as dnsPacket from 'dns-packet';
import { DnsResponder, resolvConf, searchPath, DNS_TTL, type DnsServiceRecord } from '../../src/dns/responder.ts';

const SERVICES: DnsServiceRecord[] = [
  { name: 'web', namespace: 'default', clusterIP: '10.96.0.1' },
  { name: 'api', namespace: 'shop', clusterIP: '10.96.0.2' },
  { name: 'kube-dns', namespace: 'kube-system', clusterIP: '10.96.0.10' },
];

function query(name: string, type: dnsPacket.RecordType | 'ANY' = 'A', extra: Partial<dnsPacket.Packet> = {}): Uint8Array {
  return dnsPacket.encode({
    type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }], ...extra,
  });
}
function decode(b: Uint8Array | undefined): dnsPacket.DecodedPacket & { rcode?: string } {
  expect(b).toBeDefined();
  return dnsPacket.decode(Buffer.from(b!)) as dnsPacket.DecodedPacket & { rcode?: string };
}
const fresh = () => new DnsResponder(SERVICES);

describe('cluster DNS responder', () => {
  it('A for a Service FQDN: its ClusterIP, TTL 30, authoritative, id/question/RD echoed', () => {
    const r = fresh();
    const a = decode(r.respond(query('web.default.svc.cluster.local')));
    expect(a.id).toBe(0x1234);
    expect(a.type).toBe('response');
    expect(a.rcode).toBe('NOERROR');
    expect(a.flag_aa).toBe(true);
    expect(a.flag_rd).toBe(true);
    expect(a.questions).toEqual([{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }]);
    expect(a.answers).toMatchObject([{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN', ttl: DNS_TTL, data: '10.96.0.1' }]);
    expect(DNS_TTL).toBe(30);
    expect(decode(r.respond(query('api.shop.svc.cluster.local'))).answers).toMatchObject([{ data: '10.96.0.2' }]);
    expect(decode(r.respond(query('web.default.svc.cluster.local.'))).answers).toMatchObject([{ data: '10.96.0.1' }]);
    expect(r.stats).toMatchObject({ queries: 3, answers: 3, nxdomain: 0, formerr: 0, dropped: 0 });
  });

  it('names are matched case-insensitively; the question is echoed as asked', () => {
    const a = decode(fresh().respond(query('WeB.Default.SVC.Cluster.Local')));
    expect(a.rcode).toBe('NOERROR');
    expect(a.questions![0].name).toBe('WeB.Default.SVC.Cluster.Local');
    expect(a.answers).toMatchObject([{ name: 'WeB.Default.SVC.Cluster.Local', data: '10.96.0.1' }]);
  });

  it('unknown names inside cluster.local: NXDOMAIN with the zone SOA (search-path expansions too)', () => {
    const r = fresh();
    for (const name of ['nope.default.svc.cluster.local', 'web.shop.svc.cluster.local', 'web.default.svc.cluster.local.default.svc.cluster.local', 'web.cluster.local', 'x.cluster.local']) {
      const a = decode(r.respond(query(name)));
      expect(a.rcode, name).toBe('NXDOMAIN');
      expect(a.answers).toEqual([]);
      expect(a.authorities).toMatchObject([{ type: 'SOA', name: 'cluster.local' }]);
    }
    expect(r.stats).toMatchObject({ queries: 5, nxdomain: 5, answers: 0 });
  });

  it('AAAA (or MX) for a known name: NODATA (NOERROR, no answers, SOA); so are the zone\'s interior names', () => {
    const r = fresh();
    for (const [name, type] of [['web.default.svc.cluster.local', 'AAAA'], ['web.default.svc.cluster.local', 'MX'], ['default.svc.cluster.local', 'A'], ['svc.cluster.local', 'A'], ['cluster.local', 'A']] as const) {
      const a = decode(r.respond(query(name, type)));
      expect(a.rcode, `${name} ${type}`).toBe('NOERROR');
      expect(a.answers).toEqual([]);
      expect(a.authorities).toMatchObject([{ type: 'SOA' }]);
    }
    expect(r.stats).toMatchObject({ queries: 5, nodata: 5, answers: 0, nxdomain: 0 });
  });

  it('names outside cluster.local: REFUSED (no upstream)', () => {
    const r = fresh();
    for (const name of ['example.com', 'web', 'local', 'cluster.local.evil.com']) {
      const a = decode(r.respond(query(name)));
      expect(a.rcode, name).toBe('REFUSED');
      expect(a.answers).toEqual([]);
      expect(a.questions![0].name).toBe(name);
    }
    expect(r.stats.refused).toBe(4);
  });

  it('garbage after a readable header: FORMERR echoing id, opcode and RD, header only', () => {
    const r = fresh();
    // id beef, flags 0100 (RD), qdcount 1, then a label running past the end
    const garbage = Buffer.from('beef01000001000000000000' + '3f7777', 'hex');
    expect(Buffer.from(r.respond(garbage)!).toString('hex')).toBe('beef81010000000000000000');
    // no question at all (qdcount 0), and two questions: FORMERR too
    expect(Buffer.from(r.respond(Buffer.from('00070000000000000000000000', 'hex'))!).toString('hex')).toBe('000780010000000000000000');
    const two = dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: 'a.cluster.local', type: 'A' }, { name: 'b.cluster.local', type: 'A' }] });
    expect(decode(r.respond(two)).rcode).toBe('FORMERR');
    expect(r.stats).toMatchObject({ queries: 3, formerr: 3, dropped: 0 });
  });

  it('dropped and counted, never answered: shorter than a header, or a response (QR=1)', () => {
    const r = fresh();
    expect(r.respond(new Uint8Array(0))).toBeUndefined();
    expect(r.respond(Buffer.from('abc'))).toBeUndefined();
    expect(r.respond(new Uint8Array(11))).toBeUndefined();
    const answer = r.respond(query('web.default.svc.cluster.local'))!;
    expect(r.respond(answer)).toBeUndefined(); // a response sent back to the server
    expect(r.stats).toMatchObject({ queries: 5, dropped: 4, answers: 1, formerr: 0 });
  });

  it('an opcode other than QUERY: NOTIMP', () => {
    const r = fresh();
    const q = Buffer.from(query('web.default.svc.cluster.local'));
    q[2] |= 2 << 3; // opcode 2 (STATUS)
    const a = decode(r.respond(q));
    expect(a.rcode).toBe('NOTIMP');
    expect(r.stats.notimp).toBe(1);
  });

  it('setRecords replaces every record', () => {
    const r = fresh();
    r.setRecords([{ name: 'db', namespace: 'default', clusterIP: '10.96.0.7' }]);
    expect(decode(r.respond(query('db.default.svc.cluster.local'))).answers).toMatchObject([{ data: '10.96.0.7' }]);
    expect(decode(r.respond(query('web.default.svc.cluster.local'))).rcode).toBe('NXDOMAIN');
    expect(r.names().filter(([n]) => n.endsWith('.svc.cluster.local'))).toEqual([['db.default.svc.cluster.local', 1]]);
  });

  it('resolv.conf as kubelet writes it for a pod in namespace default', () => {
    expect(searchPath('default')).toEqual(['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
    expect(resolvConf('10.96.0.10', 'default').split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'nameserver 10.96.0.10',
      'search default.svc.cluster.local svc.cluster.local cluster.local',
      'options ndots:5',
      '',
    ]);
  });
});
