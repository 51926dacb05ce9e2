// Frames podwire EMITS (the gateway's ARP and ICMP echo replies, made by
// running requests through the release build) written to a pcap and decoded
// by tshark with checksum validation on: a second, independent dissector
// agrees on every field and finds the checksums good.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newDataplane, run, eth, ipv4, icmp, GW_IP, GW_MAC, podMac, podIp, type In } from '../dataplane/frames.ts';
import { hex } from '../util.ts';
import { ARP_REQUEST_FOR_GW, ARP_REQUEST_PADDED } from '../vectors/arp.ts';
import { ICMP_ECHO_REQUEST, ICMP_ECHO_REQUEST_ODD } from '../vectors/icmp.ts';
import { VNET_ICMP_PARTIAL } from '../vectors/virtio.ts';

const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
if (!hasTshark) console.warn('test/tshark/emitted.test.ts: tshark is not installed; skipping (apt-get install tshark)');

/** Wireshark's checksum status values (proto_checksum_enum_e): 0 bad, 1 good, 2 unverified. */
const GOOD = '1', BAD = '0', UNVERIFIED = '2';

/** Write classic pcap: src/io/pcap.ts's PcapWriter when it exists, else a minimal writer here. */
async function writePcap(file: string, frames: Uint8Array[], useLib = true): Promise<void> {
  const lib = fileURLToPath(new URL('../../src/io/pcap.ts', import.meta.url));
  if (useLib && existsSync(lib)) {
    const { PcapWriter } = await import(pathToFileURL(lib).href);
    const w = new PcapWriter(file);
    frames.forEach((f, i) => w.writeFrame(f, 1_700_000_000_000 + i));
    await w.close();
    return;
  }
  const parts: Buffer[] = [];
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0); g.writeUInt16LE(2, 4); g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16); g.writeUInt32LE(1, 20); // snaplen, LINKTYPE_ETHERNET
  parts.push(g);
  frames.forEach((f, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1_700_000_000 + i, 0); h.writeUInt32LE(0, 4);
    h.writeUInt32LE(f.length, 8); h.writeUInt32LE(f.length, 12);
    parts.push(h, Buffer.from(f));
  });
  writeFileSync(file, Buffer.concat(parts));
}

const FIELDS = [
  'eth.src', 'eth.dst', 'eth.type', 'vlan.id',
  'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4',
  'ip.src', 'ip.dst', 'ip.ttl', 'ip.len', 'ip.checksum.status',
  'icmp.type', 'icmp.code', 'icmp.ident', 'icmp.seq', 'icmp.checksum.status',
  '_ws.expert.severity', '_ws.malformed',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

function tshark(file: string, checkIp = true): Row[] {
  const args = ['-r', file, '-o', `ip.check_checksum:${checkIp ? 'TRUE' : 'FALSE'}`,
    '-T', 'fields', '-E', 'occurrence=f', ...FIELDS.flatMap((f) => ['-e', f])];
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trimEnd().split('\n').map((line) => {
    const cols = line.split('\t');
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
  });
}

describe.skipIf(!hasTshark)('tshark decodes what the gateway emits', () => {
  let dir = '';
  let rows: Row[] = [];
  const names: string[] = [];
  const emitted: Uint8Array[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-tshark-'));
    const dp = newDataplane(4);
    // a priority tag (VID 0): the gateway has no VLAN device for any other VID (it drops those)
    const tagged = (b: Uint8Array) => Uint8Array.from([...b.subarray(0, 12), 0x81, 0x00, 0xa0, 0x00, ...b.subarray(12)]);
    const partial = hex(VNET_ICMP_PARTIAL.hex);
    const requests: [string, In][] = [
      ['arp', { port: 0, frame: hex(ARP_REQUEST_FOR_GW.hex) }],
      ['arp-padded', { port: 1, frame: hex(ARP_REQUEST_PADDED.hex) }],
      ['echo', { port: 0, frame: hex(ICMP_ECHO_REQUEST.hex) }],
      ['echo-odd', { port: 1, frame: hex(ICMP_ECHO_REQUEST_ODD.hex) }],
      ['echo-partial-csum', { port: 0, frame: partial.subarray(10), vnet: partial.subarray(0, 10) }],
      ['echo-all-zero', { port: 2, frame: eth(GW_MAC, podMac(4), 0x0800, ipv4(podIp(4), GW_IP, 1, icmp(8, 0, 0))) }],
      ['echo-vlan', { port: 3, frame: tagged(hex(ICMP_ECHO_REQUEST.hex)) }],
    ];
    for (const [name, req] of requests) {
      const r = run(dp, [req]);
      if (r.tx.length !== 1) throw new Error(`${name}: expected one reply, got ${r.tx.length} (drops ${JSON.stringify(r.drops)})`);
      names.push(name);
      emitted.push(r.tx[0].frame);
    }
    const file = join(dir, 'emitted.pcap');
    await writePcap(file, emitted);
    rows = tshark(file);
  });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  const row = (name: string) => rows[names.indexOf(name)];

  it('reads one packet per emitted frame, none malformed, no expert warnings', () => {
    expect(rows).toHaveLength(emitted.length);
    for (const [i, r] of rows.entries()) {
      expect(r['_ws.malformed'], names[i]).toBe('');
      expect(r['_ws.expert.severity'], names[i]).toBe('');
    }
  });

  it('ARP replies: opcode 2, sender = gateway, target = the asker', () => {
    for (const [name, pod] of [['arp', 2], ['arp-padded', 3]] as const) {
      const r = row(name);
      expect(r['eth.src'], name).toBe(GW_MAC);
      expect(r['eth.dst'], name).toBe(podMac(pod));
      expect(r['eth.type'], name).toBe('0x0806');
      expect(r['arp.opcode'], name).toBe('2');
      expect(r['arp.src.hw_mac'], name).toBe(GW_MAC);
      expect(r['arp.src.proto_ipv4'], name).toBe(GW_IP);
      expect(r['arp.dst.hw_mac'], name).toBe(podMac(pod));
      expect(r['arp.dst.proto_ipv4'], name).toBe(podIp(pod));
    }
  });

  it('echo replies: gateway -> asker, TTL 64, type 0 code 0, id/seq kept, IP and ICMP checksums Good', () => {
    const cases = [
      ['echo', 2, ICMP_ECHO_REQUEST.icmp.id, ICMP_ECHO_REQUEST.icmp.seq],
      ['echo-odd', 3, ICMP_ECHO_REQUEST_ODD.icmp.id, ICMP_ECHO_REQUEST_ODD.icmp.seq],
      ['echo-partial-csum', 2, 0x4321, 9],
      ['echo-all-zero', 4, 0, 0],
      ['echo-vlan', 2, ICMP_ECHO_REQUEST.icmp.id, ICMP_ECHO_REQUEST.icmp.seq],
    ] as const;
    for (const [name, pod, id, seq] of cases) {
      const r = row(name);
      expect(r['eth.src'], name).toBe(GW_MAC);
      expect(r['eth.dst'], name).toBe(podMac(pod));
      expect(r['ip.src'], name).toBe(GW_IP);
      expect(r['ip.dst'], name).toBe(podIp(pod));
      expect(r['ip.ttl'], name).toBe('64');
      expect(r['ip.checksum.status'], `${name} ip checksum`).toBe(GOOD);
      expect(r['icmp.type'], name).toBe('0');
      expect(r['icmp.code'], name).toBe('0');
      expect(Number(r['icmp.ident']), name).toBe(id);
      expect(Number(r['icmp.seq']), name).toBe(seq);
      expect(r['icmp.checksum.status'], `${name} icmp checksum`).toBe(GOOD);
    }
    expect(row('echo-vlan')['vlan.id']).toBe('0');
  });

  it('(control) the validation is real: a corrupted copy is Bad, a truncated one malformed, and without the ip preference the IP checksum is unverified', async () => {
    const bad = emitted[names.indexOf('echo')].slice();
    bad[14 + 10] ^= 0x01; // IP checksum
    bad[34 + 2] ^= 0x01; // ICMP checksum
    const cut = emitted[names.indexOf('arp')].subarray(0, 30);
    const file = join(dir, 'control.pcap');
    await writePcap(file, [bad, emitted[names.indexOf('echo')], cut], false); // the inline writer, too
    const [b, good, c] = tshark(file);
    expect(c['_ws.malformed']).not.toBe('');
    expect(b['ip.checksum.status']).toBe(BAD);
    expect(b['icmp.checksum.status']).toBe(BAD);
    expect(tshark(file, false)[1]['ip.checksum.status']).toBe(UNVERIFIED);
    expect(good['ip.checksum.status']).toBe(GOOD);
  });
});
