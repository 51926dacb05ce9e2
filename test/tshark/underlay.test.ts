// Frames node 1 sends on its UNDERLAY (VXLAN and IP-in-IP around a pod's
// packet, made by the release build between two nodes, test/dataplane/
// overlay-kit.ts) written to a pcap and decoded by tshark with checksum
// validation on: an independent dissector finds the outer and inner IPv4
// checksums good, the VXLAN VNI and UDP port as configured, and the inner
// packet as the pod sent it (TTL one lower).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/io/pcap.ts';
import { twoNodes, runNode, podFrame, udp, icmpMsg, pattern, N1, N2, POD, UL, type Kind } from '../dataplane/overlay-kit.ts';

const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
if (!hasTshark) console.warn('test/tshark/underlay.test.ts: tshark is not installed; skipping (apt-get install tshark)');

/** Wireshark's checksum status values (proto_checksum_enum_e): 0 bad, 1 good, 2 unverified, 3 not present. */
const GOOD = '1', NOT_PRESENT = '3';

const FIELDS = [
  'eth.src', 'eth.dst', 'ip.src', 'ip.dst', 'ip.ttl', 'ip.proto', 'ip.flags.df', 'ip.len', 'ip.checksum.status',
  'udp.srcport', 'udp.dstport', 'udp.length', 'udp.checksum', 'udp.checksum.status',
  'vxlan.flags', 'vxlan.vni',
  'icmp.type', 'icmp.code', 'icmp.ident', 'icmp.seq', 'icmp.checksum.status',
  'data.data', '_ws.malformed', '_ws.expert.severity',
] as const;
type Field = (typeof FIELDS)[number];
/** Every occurrence of each field, outermost first (e.g. ip.src: [outer, inner]). */
type Row = Record<Field, string[]>;

function tshark(file: string, vxlanPorts: number[]): Row[] {
  const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
    // 8472 (Linux's and flannel's default) is not VXLAN's registered port: say so
    ...vxlanPorts.flatMap((p) => ['-d', `udp.port==${p},vxlan`]),
    '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', ...FIELDS.flatMap((f) => ['-e', f])];
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trimEnd().split('\n').map((line) => {
    const cols = line.split('\t');
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ? cols[i].split('|') : []])) as Row;
  });
}

interface Sample { name: string; kind: Kind; port?: number; vni?: number; frame: Uint8Array; inner: 'icmp' | 'udp' }

describe.skipIf(!hasTshark)('tshark decodes what node 1 sends on the underlay', () => {
  let dir = '';
  let rows: Row[] = [];
  const samples: Sample[] = [];
  const echoData = pattern(48, 1);
  const udpData = pattern(200, 2);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-tshark-ul-'));
    const echo = podFrame(N1, { dst: N2.pod, proto: 1, df: true, ttl: 64, payload: icmpMsg(8, 0, (0x4242 << 16) | 7, echoData) });
    const dgram = podFrame(N1, { dst: N2.pod, proto: 17, df: true, ttl: 64, payload: udp(N1.pod, N2.pod, 40001, 40002, udpData) });
    const specs: Omit<Sample, 'frame'>[] = [
      { name: 'vxlan-8472-icmp', kind: 'vxlan', port: 8472, vni: 1, inner: 'icmp' },
      { name: 'vxlan-4789-udp', kind: 'vxlan', port: 4789, vni: 0x123456, inner: 'udp' },
      { name: 'ipip-icmp', kind: 'ipip', inner: 'icmp' },
      { name: 'ipip-udp', kind: 'ipip', inner: 'udp' },
    ];
    for (const s of specs) {
      const [n1] = twoNodes(s.kind, { port: s.port, vni: s.vni });
      const r = runNode(n1, [{ port: POD, frame: s.inner === 'icmp' ? echo : dgram }]);
      if (r.tx.length !== 1 || r.tx[0].port !== UL) throw new Error(`${s.name}: expected one underlay frame, got ${r.tx.length} (drops ${JSON.stringify(r.drops)})`);
      samples.push({ ...s, frame: r.tx[0].frame }); // the 10-byte vnet header is already split off
    }
    const file = join(dir, 'underlay.pcap');
    const w = new PcapWriter(file);
    samples.forEach((s, i) => w.writeFrame(s.frame, 1_700_000_000_000 + i));
    await w.close();
    rows = tshark(file, [8472]);
  });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  const row = (name: string) => rows[samples.findIndex((s) => s.name === name)];

  it('one packet per frame, none malformed, no expert warnings or errors', () => {
    expect(rows).toHaveLength(samples.length);
    for (const [i, r] of rows.entries()) {
      expect(r['_ws.malformed'], samples[i].name).toEqual([]);
      // notes and chats (severity below warning) are fine, e.g. "echo request without a response"
      for (const sev of r['_ws.expert.severity']) expect(Number(sev), samples[i].name).toBeLessThan(6291456 /* PI_WARN */);
    }
  });

  it('outer and inner IPv4: checksums good, addresses and TTLs as sent', () => {
    for (const s of samples) {
      const r = row(s.name);
      expect(r['ip.checksum.status'], s.name).toEqual([GOOD, GOOD]);
      expect(r['ip.src'], s.name).toEqual([N1.ul, N1.pod]);
      expect(r['ip.dst'], s.name).toEqual([N2.ul, N2.pod]);
      // outer: VXLAN's default 64; IP-in-IP inherits the inner TTL (ip_tunnel_xmit with tunl0's ttl 0)
      expect(r['ip.ttl'], s.name).toEqual([s.kind === 'ipip' ? '63' : '64', '63']);
      expect(r['ip.proto'], s.name).toEqual([s.kind === 'vxlan' ? '17' : '4', s.inner === 'icmp' ? '1' : '17']);
      // IP-in-IP inherits DF; VXLAN's outer header leaves it clear (Linux vxlan's default)
      expect(r['ip.flags.df'], s.name).toEqual([s.kind === 'ipip' ? '1' : '0', '1']);
      expect(Number(r['ip.len'][0]), s.name).toBe(s.frame.length - 14);
    }
  });

  it('VXLAN: UDP to the configured port from an ephemeral one, checksum 0, I flag, the configured VNI', () => {
    for (const s of samples.filter((x) => x.kind === 'vxlan')) {
      const r = row(s.name);
      expect(r['udp.dstport'][0], s.name).toBe(String(s.port));
      const sport = Number(r['udp.srcport'][0]);
      expect(sport).toBeGreaterThanOrEqual(32768);
      expect(sport).toBeLessThan(61000);
      expect(Number(r['udp.length'][0])).toBe(s.frame.length - 34);
      expect(r['udp.checksum'][0], s.name).toBe('0x0000');
      expect(r['udp.checksum.status'][0], s.name).toBe(NOT_PRESENT); // zero: none sent, as RFC 768 allows over IPv4
      expect(r['vxlan.flags'], s.name).toEqual(['0x0800']);
      expect(r['vxlan.vni'], s.name).toEqual([String(s.vni)]);
    }
  });

  it('inner ICMP echo as sent: type, ident, seq, good checksum', () => {
    for (const s of samples.filter((x) => x.inner === 'icmp')) {
      const r = row(s.name);
      expect(r['icmp.type'], s.name).toEqual(['8']);
      expect(r['icmp.code'], s.name).toEqual(['0']);
      expect(r['icmp.ident'], s.name).toEqual(['16962']); // 0x4242
      expect(r['icmp.seq'], s.name).toEqual(['7']);
      expect(r['icmp.checksum.status'], s.name).toEqual([GOOD]);
      expect(r['data.data'], s.name).toEqual([Buffer.from(echoData).toString('hex')]);
    }
  });

  it('inner UDP as sent: ports, length, good checksum, payload', () => {
    for (const s of samples.filter((x) => x.inner === 'udp')) {
      const r = row(s.name);
      const inner = s.kind === 'vxlan' ? 1 : 0; // VXLAN's own UDP header comes first
      expect(r['udp.srcport'][inner], s.name).toBe('40001');
      expect(r['udp.dstport'][inner], s.name).toBe('40002');
      expect(r['udp.length'][inner], s.name).toBe(String(8 + udpData.length));
      expect(r['udp.checksum.status'][inner], s.name).toBe(GOOD);
      expect(r['data.data'].at(-1), s.name).toBe(Buffer.from(udpData).toString('hex'));
    }
  });
});
