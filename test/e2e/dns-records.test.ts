// End-to-end, as root: every record kind of the Kubernetes DNS specification
// asked with dig (Debian bind9-dnsutils, a resolver nobody here wrote) from
// pods in two Kubernetes namespaces, over UDP and over TCP (+tcp), short
// names through the pod's resolv.conf search path (+search). A headless
// Service with 40 endpoints is cut short over UDP (TC, dig +ignore shows the
// cut answer) and answered whole over TCP. Names outside cluster.local go
// to cluster.dns.upstream: a tiny resolver (dns_upstream.py) this test runs
// on 127.0.0.1 inside the DNS pod's own namespace — never the host's.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startLab, stopAllLabs, spawnIn, isRoot, type RunningLab, type StatusJson } from '../helpers/lab.ts';

const have = (cmd: string) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; } };
const missing = [...(have('dig') ? [] : ['dig (Debian: bind9-dnsutils)']), ...(have('python3') ? [] : ['python3'])];
const runnable = isRoot && missing.length === 0;
if (!isRoot) console.warn('test/e2e/dns-records.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');
else if (missing.length) console.warn(`test/e2e/dns-records.test.ts: skipped — missing ${missing.join(', ')}`);

const LAB = 'dnsr';
const DNS_NS = `pw-dns.${LAB}`;
const UPSTREAM_PORT = 5353;
const UPSTREAM_PY = fileURLToPath(new URL('./dns_upstream.py', import.meta.url));
const BIG = 40;
// clients: one in namespace shop on n1, one in namespace front on n2 (queries cross the tunnel)
const C_SHOP = 'pw-c1_shop';
const C_FRONT = 'pw-c2_front';

const bigPods = Array.from({ length: BIG }, (_, i) => `{ name: big-${i}, namespace: front, labels: { app: big } }`);
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.226.0.0/16',
  '  serviceCIDR: 10.86.0.0/16',
  '  underlayCIDR: 172.31.226.0/24',
  `  dns: { upstream: "127.0.0.1:${UPSTREAM_PORT}" }`,
  'namespaces: [{ name: shop }, { name: front }]',
  'nodes:',
  '  - name: n1',
  '    pods:',
  '      - { name: c1, namespace: shop }',
  '      - { name: web-1, namespace: shop, labels: { app: web }, ports: [{ name: http, containerPort: 8080 }] }',
  '      - { name: db-0, namespace: shop, labels: { app: db }, hostname: db-0, subdomain: db }',
  '      - { name: db-1, namespace: shop, labels: { app: db }, hostname: db-1, subdomain: db }',
  '  - name: n2',
  `    pods: [{ name: c2, namespace: front }, ${bigPods.join(', ')}]`,
  'services:',
  '  - { name: web, namespace: shop, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: http }] }',
  '  - { name: db, namespace: shop, clusterIP: None, selector: { app: db }, ports: [{ name: pg, port: 5432 }] }',
  '  - { name: ext, namespace: shop, type: ExternalName, externalName: www.example.org }',
  '  - { name: big, namespace: front, clusterIP: None, selector: { app: big } }',
  '',
].join('\n');

interface Dig { status: string; flags: string[]; answers: string[][]; raw: string }

/** dig's answer: the header's status and flags, the answer section's records (name, ttl, class, type, data...). */
function parseDig(out: string): Dig {
  const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? `no status: ${out}`;
  const flags = /;; flags: ([a-z ]*);/.exec(out)?.[1].trim().split(/\s+/) ?? [];
  const answers: string[][] = [];
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(';; ANSWER SECTION:'));
  if (at >= 0) for (const l of lines.slice(at + 1)) { if (!l.trim()) break; answers.push(l.trim().split(/\s+/)); }
  return { status, flags, answers, raw: out };
}

// Three queries (ids 1, 2, 3; A web.shop.svc.cluster.local) written at once on one TCP connection
// to the DNS ClusterIP, the three answers read (length-prefixed, RFC 1035 4.2.2), then how long
// the idle connection stays open until the server closes it.
const TCP_PIPELINE_PY = String.raw`
import socket, struct, sys, time
def q(i):
    name = b''.join(bytes([len(l)]) + l for l in b'web.shop.svc.cluster.local'.split(b'.')) + b'\x00'
    m = struct.pack('!HHHHHH', i, 0x0100, 1, 0, 0, 0) + name + struct.pack('!HH', 1, 1)
    return struct.pack('!H', len(m)) + m
s = socket.create_connection((sys.argv[1], 53), timeout=30)
s.sendall(q(1) + q(2) + q(3))
def exact(n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise SystemExit('closed early')
        b += c
    return b
for _ in range(3):
    m = exact(struct.unpack('!H', exact(2))[0])
    print('id', struct.unpack('!H', m[:2])[0], 'rcode', m[3] & 15, 'answers', struct.unpack('!H', m[6:8])[0])
t = time.time()
print('closed' if s.recv(1) == b'' else 'data', round(time.time() - t))
`;

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!runnable)('cluster DNS records with dig, UDP and TCP, two namespaces (root)', () => {
  let lab: RunningLab;
  let status: StatusJson;
  let upstream: ChildProcess | undefined;
  const ip = (pod: string, ns: string) => status.pods.find((p) => p.name === pod && (p as { namespace?: string }).namespace === ns)!.ip;
  const svcIP = (name: string) => status.services.find((s) => s.name === name)!.clusterIP;
  const dig = async (ns: string, args: string[]): Promise<Dig> => {
    const r = await lab.exec(ns, ['dig', '+tries=1', '+time=3', ...args], { timeoutMs: 20_000 });
    expect(r.code, `dig ${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    return parseDig(r.stdout);
  };
  const both = async (ns: string, args: string[]): Promise<[Dig, Dig]> => [await dig(ns, args), await dig(ns, ['+tcp', ...args])];
  const data = (d: Dig, type: string) => d.answers.filter((a) => a[3] === type).map((a) => a.slice(4).join(' '));

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    status = await lab.status();
    upstream = spawnIn(DNS_NS, ['python3', UPSTREAM_PY, String(UPSTREAM_PORT)]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('dns_upstream.py did not start')), 10_000);
      upstream!.stdout!.on('data', (d) => { if (String(d).includes('ready')) { clearTimeout(t); resolve(); } });
    });
  }, 90_000);

  afterAll(() => {
    upstream?.kill('SIGKILL');
  });

  it('status: the DNS serves UDP and TCP and names its upstream; headless and ExternalName Services have no ClusterIP', () => {
    const dns = (status as StatusJson & { dns: { protocols: string[]; upstream?: string } }).dns;
    expect(dns.protocols).toEqual(['UDP', 'TCP']);
    expect(dns.upstream).toBe(`127.0.0.1:${UPSTREAM_PORT}`);
    expect(svcIP('db')).toBe('None');
    expect(svcIP('ext')).toBe('');
  });

  it('A of a ClusterIP Service: the short name from its own namespace (search path), the longer one from another, UDP and TCP', async () => {
    for (const d of await both(C_SHOP, ['+search', 'web'])) {
      expect(d.status).toBe('NOERROR');
      expect(d.answers.map((a) => [a[0], a[3], a[4]])).toEqual([['web.shop.svc.cluster.local.', 'A', svcIP('web')]]);
    }
    for (const d of await both(C_FRONT, ['+search', 'web.shop'])) expect(data(d, 'A')).toEqual([svcIP('web')]);
    // from front, the short name is front's (none): every search domain is NXDOMAIN, then dig asks
    // for "web." itself, which is outside cluster.local: the upstream's answer, not shop's Service
    expect(data(await dig(C_FRONT, ['+search', 'web']), 'A')).toEqual(['192.0.2.1']);
  });

  it('SRV of a named port: _http._tcp.web.shop -> 0 100 80 web.shop.svc.cluster.local.', async () => {
    for (const d of await both(C_FRONT, ['_http._tcp.web.shop.svc.cluster.local', 'SRV'])) {
      expect(data(d, 'SRV')).toEqual(['0 100 80 web.shop.svc.cluster.local.']);
    }
  });

  it('headless: A of each ready endpoint, hostname.subdomain A, SRV per endpoint with its hostname', async () => {
    const dbIps = [ip('db-0', 'shop'), ip('db-1', 'shop')].sort();
    for (const d of await both(C_SHOP, ['+search', 'db'])) expect(data(d, 'A').sort()).toEqual(dbIps);
    for (const d of await both(C_FRONT, ['db-0.db.shop.svc.cluster.local'])) expect(data(d, 'A')).toEqual([ip('db-0', 'shop')]);
    for (const d of await both(C_FRONT, ['_pg._tcp.db.shop.svc.cluster.local', 'SRV'])) {
      expect(data(d, 'SRV').sort()).toEqual(['0 100 5432 db-0.db.shop.svc.cluster.local.', '0 100 5432 db-1.db.shop.svc.cluster.local.']);
    }
  });

  it('ExternalName: a CNAME to its externalName, then the upstream\'s A of the target', async () => {
    for (const d of await both(C_SHOP, ['+search', 'ext'])) {
      expect(d.answers.map((a) => [a[0], a[3], a[4]])).toEqual([['ext.shop.svc.cluster.local.', 'CNAME', 'www.example.org.'], ['www.example.org.', 'A', '192.0.2.1']]);
    }
  });

  it('PTR of a Service ClusterIP and of a headless endpoint pod', async () => {
    for (const d of await both(C_FRONT, ['-x', svcIP('web')])) expect(data(d, 'PTR')).toEqual(['web.shop.svc.cluster.local.']);
    for (const d of await both(C_FRONT, ['-x', ip('db-1', 'shop')])) expect(data(d, 'PTR')).toEqual(['db-1.db.shop.svc.cluster.local.']);
  });

  it('pod records, dns-version TXT, any case, NXDOMAIN vs NODATA', async () => {
    const web1 = ip('web-1', 'shop');
    for (const d of await both(C_FRONT, [`${web1.replace(/\./g, '-')}.shop.pod.cluster.local`])) expect(data(d, 'A')).toEqual([web1]);
    for (const d of await both(C_SHOP, ['dns-version.cluster.local', 'TXT'])) expect(data(d, 'TXT')).toEqual(['"1.0.1"']);
    expect(data(await dig(C_SHOP, ['WEB.Shop.SVC.cluster.LOCAL']), 'A')).toEqual([svcIP('web')]);
    const nodata = await dig(C_SHOP, ['web.shop.svc.cluster.local', 'AAAA']);
    expect([nodata.status, nodata.answers.length, nodata.flags]).toEqual(['NOERROR', 0, expect.arrayContaining(['aa'])]);
    expect((await dig(C_SHOP, ['nope.shop.svc.cluster.local'])).status).toBe('NXDOMAIN');
  });

  it(`a headless Service of ${BIG} endpoints: UDP without EDNS is cut (TC, fewer records), TCP has all ${BIG}`, async () => {
    const udp = await dig(C_SHOP, ['+noedns', '+ignore', 'big.front.svc.cluster.local']);
    expect(udp.flags).toContain('tc');
    expect(data(udp, 'A').length).toBeLessThan(BIG);
    const tcp = await dig(C_SHOP, ['+tcp', 'big.front.svc.cluster.local']);
    expect(tcp.flags).not.toContain('tc');
    const bigIps = status.pods.filter((p) => p.name.startsWith('big-')).map((p) => p.ip).sort();
    expect(data(tcp, 'A').sort()).toEqual(bigIps);
    expect(bigIps).toHaveLength(BIG);
    // dig's default: it sees TC over UDP and asks again over TCP by itself
    expect(data(await dig(C_FRONT, ['+noedns', 'big.front.svc.cluster.local']), 'A')).toHaveLength(BIG);
    // with dig's EDNS0 buffer (1232 bytes) the 40 records (16 bytes each, names compressed) fit in one datagram
    const edns = await dig(C_FRONT, ['+ignore', 'big.front.svc.cluster.local']);
    expect(edns.flags).not.toContain('tc');
    expect(data(edns, 'A')).toHaveLength(BIG);
  });

  it('TCP: three queries on one connection, three answers; the idle connection closed after 10 s', async () => {
    const dnsIp = (status as StatusJson & { dns: { ip: string } }).dns.ip;
    const r = await lab.exec(C_SHOP, ['python3', '-c', TCP_PIPELINE_PY, dnsIp], { timeoutMs: 40_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 3).sort()).toEqual(['id 1 rcode 0 answers 1', 'id 2 rcode 0 answers 1', 'id 3 rcode 0 answers 1']);
    const [word, secs] = lines[3].split(' ');
    expect(word).toBe('closed');
    expect(Number(secs)).toBeGreaterThanOrEqual(9);
    expect(Number(secs)).toBeLessThanOrEqual(12);
  }, 40_000);

  it('names outside cluster.local go to the upstream (UDP; TCP when it truncates), answers relayed', async () => {
    for (const d of await both(C_FRONT, ['example.org'])) {
      expect(d.status).toBe('NOERROR');
      expect(data(d, 'A')).toEqual(['192.0.2.1']);
    }
    // 60 records: the upstream cuts them over UDP; our TCP client gets all 60 (we asked it again over TCP)
    expect(data(await dig(C_FRONT, ['+tcp', 'big.example.org']), 'A')).toHaveLength(60);
    const s = (await lab.status()) as StatusJson & { dns: { stats: { forwarded: number; truncated: number; tcpConnections: number; upstream: { udp: number; tcp: number; failures: number } } } };
    expect(s.dns.stats.forwarded).toBeGreaterThanOrEqual(3);
    expect(s.dns.stats.upstream.tcp).toBeGreaterThanOrEqual(1);
    expect(s.dns.stats.upstream.failures).toBe(0);
    expect(s.dns.stats.truncated).toBeGreaterThanOrEqual(1);
    expect(s.dns.stats.tcpConnections).toBeGreaterThanOrEqual(10);
  });

  it('the upstream gone: SERVFAIL after its 2 s, counted; cluster names still answered', async () => {
    upstream!.kill('SIGKILL');
    await new Promise((r) => upstream!.once('exit', r));
    const d = await dig(C_FRONT, ['+time=5', 'example.net']);
    expect(d.status).toBe('SERVFAIL');
    expect(data(await dig(C_FRONT, ['web.shop.svc.cluster.local']), 'A')).toEqual([svcIP('web')]);
    const s = (await lab.status()) as StatusJson & { dns: { stats: { upstream: { failures: number } } } };
    expect(s.dns.stats.upstream.failures).toBeGreaterThanOrEqual(1);
  });
});
