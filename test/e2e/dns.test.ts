// End-to-end, as root: the cluster DNS in a running two-node lab (vxlan).
// The DNS pod runs on n1 (the first podwire node); the kube-dns ClusterIP is
// DNATed to it in WebAssembly like any Service. From a client on n2 (through
// the tunnel) and one on n1, glibc's resolver (getent, using the resolv.conf
// podwire wrote for the pod) finds Service web by its FQDN and by its short
// name through the search path, and fails (exit 2) for an unknown name. A
// malformed query gets FORMERR; a datagram shorter than a header is dropped
// and counted. After SIGTERM nothing is left: namespaces, links, resolv.conf.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { startLab, stopAllLabs, hostLeftovers, isRoot, podwire, type RunningLab, type StatusJson } from '../helpers/lab.ts';

if (!isRoot) console.warn('test/e2e/dns.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const PYTHON = '/usr/bin/python3';
const LAB = 'dns';
const C1 = 'dns-c1'; // on n1, beside the DNS pod
const C2 = 'dns-c2'; // on n2: queries cross the tunnel
const WEB = 'dns-web';
const PODS = [C1, C2, WEB];
const DNS_IP = '10.93.0.10'; // serviceCIDR 10.93.0.0/16

const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.237.0.0/16',
  '  serviceCIDR: 10.93.0.0/16',
  '  underlayCIDR: 172.31.247.0/24',
  '  overlay: vxlan',
  'nodes:',
  '  - name: n1',
  `    pods: [${C1}, { name: ${WEB}, labels: { app: web } }]`,
  '  - name: n2',
  `    pods: [${C2}]`,
  'services:',
  '  - name: web',
  '    selector: { app: web }',
  '    ports: [{ port: 80 }]',
  '',
].join('\n');

// Raw UDP to the DNS ClusterIP: a header (id 0xbeef, RD, one question) followed by a label
// that runs past the end, then 3 bytes (no header at all). Prints the first reply in hex,
// and "none" when the second one gets no reply within a second.
const MALFORMED_PY = String.raw`
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 53))
s.send(bytes.fromhex('beef01000001000000000000' + '3f7777'))
print(s.recv(512).hex())
s.settimeout(1)
s.send(b'abc')
try:
    print(s.recv(512).hex())
except socket.timeout:
    print('none')
`;

type DnsJson = {
  ip: string; service: string; protocols: string[]; search: string[];
  pod: { name: string; namespace: string; node: string; ip: string; netns?: string };
  stats?: Record<string, number>;
};

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('cluster DNS in a two-node vxlan lab (root)', () => {
  let lab: RunningLab;
  let before: StatusJson & { dns: DnsJson };
  let web: StatusJson['services'][number];

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    before = (await lab.status()) as StatusJson & { dns: DnsJson };
    web = before.services.find((s) => s.name === 'web')!;
  }, 60_000);

  it('status --json: the DNS ClusterIP, its pod on n1, the kube-dns Service pointing at it', () => {
    expect(before.dns).toMatchObject({
      ip: DNS_IP, service: 'kube-system/kube-dns', protocols: ['UDP', 'TCP'],
      search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      pod: { name: 'coredns', namespace: 'kube-system', node: 'n1', netns: `pw-dns.${LAB}` },
    });
    expect(before.dns.stats).toMatchObject({ queries: 0, formerr: 0, dropped: 0 });
    const kubeDns = before.services.find((s) => s.namespace === 'kube-system' && s.name === 'kube-dns')!;
    expect(kubeDns).toMatchObject({ clusterIP: DNS_IP, ports: [{ port: 53, targetPort: 53, protocol: 'UDP' }, { port: 53, targetPort: 53, protocol: 'TCP' }] });
    expect(kubeDns.endpoints).toEqual([{ pod: 'coredns', node: 'n1', ip: before.dns.pod.ip, ready: true }]);
    // the user's pods are where they would be without DNS: the DNS pod comes after them
    expect(before.pods.map((p) => [p.name, p.ip])).toEqual([[C1, '10.237.0.2'], [WEB, '10.237.0.3'], [C2, '10.237.1.2']]);
    expect(before.dns.pod.ip).toBe('10.237.0.4');
  });

  it('every pod has /etc/netns/<netns>/resolv.conf: the DNS ClusterIP, the search path, ndots:5', () => {
    for (const pod of PODS) {
      const lines = readFileSync(`/etc/netns/pw-${pod}/resolv.conf`, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
      expect(lines).toEqual([`nameserver ${DNS_IP}`, 'search default.svc.cluster.local svc.cluster.local cluster.local', 'options ndots:5']);
    }
  });

  it('getent hosts web.default.svc.cluster.local: the ClusterIP, from n2 (through the tunnel) and from n1', async () => {
    for (const pod of [C2, C1]) {
      const r = await lab.exec(`pw-${pod}`, ['getent', 'hosts', 'web.default.svc.cluster.local'], { timeoutMs: 15_000 });
      expect(r.code, `${pod}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim().split(/\s+/)).toEqual([web.clusterIP, 'web.default.svc.cluster.local']);
    }
  });

  it('the short name through the search path, any case: the same ClusterIP', async () => {
    for (const name of ['web', 'web.default', 'WEB.default.svc']) {
      const r = await lab.exec(`pw-${C2}`, ['getent', 'hosts', name], { timeoutMs: 15_000 });
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim().split(/\s+/)[0]).toBe(web.clusterIP);
    }
  });

  it('an unknown name: getent exits 2 (NXDOMAIN)', async () => {
    const r = await lab.exec(`pw-${C2}`, ['getent', 'hosts', 'nope.default.svc.cluster.local'], { timeoutMs: 15_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('a malformed query gets FORMERR (id echoed); a 3-byte datagram is dropped; both counted', async () => {
    const r = await lab.exec(`pw-${C2}`, [PYTHON, '-c', MALFORMED_PY, DNS_IP], { timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(0);
    // id beef, QR|RD, rcode 1 (FORMERR), no sections
    expect(r.stdout.trim().split('\n')).toEqual(['beef81010000000000000000', 'none']);
    const s = (await lab.status()) as StatusJson & { dns: DnsJson };
    expect(s.dns.stats!.formerr).toBe(1);
    expect(s.dns.stats!.dropped).toBe(1);
    expect(s.dns.stats!.answers).toBeGreaterThanOrEqual(5);
    expect(s.dns.stats!.nxdomain).toBeGreaterThan(0);
    expect(s.dns.stats!.sendErrors).toBe(0);
  });

  it('podwire status (text) prints the DNS line and the kube-dns Service', async () => {
    const r = await podwire(['status', '--name', LAB], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^cluster DNS 10\.93\.0\.10 \(kube-system\/kube-dns, UDP\/TCP\) -> pod coredns 10\.237\.0\.4 on n1 \(netns pw-dns\.dns\): queries \d+/m);
    expect(r.stdout).toMatch(/^kube-system\s+kube-dns\s+ClusterIP\s+10\.93\.0\.10\s+<none>\s+53\/UDP->53,53\/TCP->53\s+10\.237\.0\.4$/m);
  });

  it('SIGTERM: exits 0; no namespace (the DNS pod\'s too), link or resolv.conf left', async () => {
    const pid = lab.proc.pid!;
    expect(await lab.stop()).toBe(0);
    expect(await hostLeftovers([...PODS.map((p) => `pw-${p}`), `pw-dns.${LAB}`, `pw-${pid}-`])).toEqual({ namespaces: [], links: [] });
    for (const pod of PODS) expect(existsSync(`/etc/netns/pw-${pod}`), pod).toBe(false);
  });
});

describe.skipIf(!isRoot)('cluster DNS after a crash (root)', () => {
  it('SIGKILL, then podwire down: the resolv.conf directories go with the namespaces', async () => {
    const lab = await startLab(TOPOLOGY.replace(/dns-/g, 'dnk-'), { name: 'dnk' });
    expect(existsSync('/etc/netns/pw-dnk-c1/resolv.conf')).toBe(true);
    lab.proc.kill('SIGKILL');
    expect(await lab.stop()).toBe(137); // stop() runs `podwire down --name` for a lab that died
    expect(await hostLeftovers(['pw-dnk-', 'pw-dns.dnk'])).toEqual({ namespaces: [], links: [] });
    for (const pod of ['dnk-c1', 'dnk-c2', 'dnk-web']) expect(existsSync(`/etc/netns/pw-${pod}`), pod).toBe(false);
  });
});
