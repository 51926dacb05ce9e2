// Round-trip through tshark: proves Wireshark reads what we write.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, createWriteStream, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PcapWriter, PcapngWriter, pcapngSectionHeader, pcapngInterface, pcapngPacket, pcapngStats, PcapngBlockSplitter,
  pcapngInterfaceName, pcapngStatsDrops, EPB_INBOUND, EPB_OUTBOUND, PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_ISB,
} from '../../src/io/pcap.ts';

// A 42-byte ARP request (who-has 10.250.0.3 tell 10.250.0.2), written by hand.
const ARP_HEX =
  'ffffffffffff' + '020000000002' + '0806' + // ethernet: bcast <- 02:..:02, ARP
  '0001' + '0800' + '06' + '04' + '0001' + // htype, ptype, hlen, plen, request
  '020000000002' + '0afa0002' + '000000000000' + '0afa0003';
const arp = Uint8Array.from(Buffer.from(ARP_HEX, 'hex'));
const big = new Uint8Array(1514).fill(0xab); // a 1514-byte frame; odd length to exercise padding
big.set(arp.subarray(0, 14));

function tshark(file: string, fields: string[]): string[][] {
  const args = ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim().split('\n').map((l) => l.split('\t'));
}

const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
if (!hasTshark) console.warn('pcap.test: tshark not installed, skipping read-back tests');

describe.skipIf(!hasTshark)('pcap writers read back by tshark', () => {
  let dir = '';
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'pw-pcap-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it('classic pcap: lengths, timestamps and ARP dissection', async () => {
    const f = join(dir, 'a.pcap');
    const w = new PcapWriter(f);
    w.writeFrame(arp, 1_700_000_000_123.456);
    w.writeFrame(big.subarray(0, 1513), 1_700_000_001_000);
    await w.close();
    const rows = tshark(f, ['frame.len', 'frame.interface_name', 'frame.time_epoch', 'arp.dst.proto_ipv4']);
    expect(rows.map((r) => r[0])).toEqual(['42', '1513']);
    expect(rows[0][1]).toBe(''); // classic pcap has no interface names
    expect(rows[0][2]).toMatch(/^1700000000\.123456/);
    expect(rows[0][3]).toBe('10.250.0.3');
  });

  it('classic pcap into a stream', async () => {
    const f = join(dir, 'b.pcap');
    const w = new PcapWriter(createWriteStream(f));
    for (let i = 0; i < 3; i++) w.writeFrame(arp);
    await w.close();
    expect(statSync(f).size).toBe(24 + 3 * (16 + 42));
    expect(tshark(f, ['frame.len']).map((r) => r[0])).toEqual(['42', '42', '42']);
  });

  it('pcapng: one named interface per port, frames attributed to each', async () => {
    const f = join(dir, 'c.pcapng');
    const w = new PcapngWriter(f);
    const a = w.addInterface('pw-pod-a');
    const b = w.addInterface('pod-b/eth0'); // length 10: no padding; the first needs 0
    w.writeFrame(a, arp, 1_700_000_000_000.5);
    w.writeFrame(b, big.subarray(0, 1513));
    w.writeFrame(a, big);
    await w.close();
    const rows = tshark(f, ['frame.len', 'frame.interface_name', 'frame.time_epoch']);
    expect(rows.map((r) => [r[0], r[1]])).toEqual([
      ['42', 'pw-pod-a'], ['1513', 'pod-b/eth0'], ['1514', 'pw-pod-a'],
    ]);
    expect(rows[0][2]).toMatch(/^1700000000\.0005/);
    expect(() => w.writeFrame(7, arp)).toThrow(RangeError);
  });

  it('pcapng blocks as podwire capture streams them: direction flags, drop statistics, split back whatever the chunking', () => {
    const f = join(dir, 'd.pcapng');
    const blocks = [
      pcapngSectionHeader(), pcapngInterface('n1/a1'), pcapngInterface('n1/underlay'),
      pcapngPacket(0, arp, 1_700_000_000_000, EPB_INBOUND),
      pcapngPacket(1, big.subarray(0, 1511), 1_700_000_000_001, EPB_OUTBOUND),
      pcapngStats(1, 1_700_000_000_002, 5),
    ];
    const stream = Buffer.concat(blocks);
    writeFileSync(f, stream);
    const rows = tshark(f, ['frame.interface_name', 'frame.packet_flags_direction', 'frame.len']);
    expect(rows).toEqual([['n1/a1', '0x00000001', '42'], ['n1/underlay', '0x00000002', '1511']]);
    // (tshark exits non-zero on a block it cannot read: the Interface Statistics Block passed)

    // split in awkward pieces (1, 7, 13 ... bytes): the same blocks come back
    const splitter = new PcapngBlockSplitter();
    const got: { type: number; bytes: Uint8Array }[] = [];
    for (let at = 0, step = 1; at < stream.length; at += step, step = (step * 7 + 6) % 97 + 1) got.push(...splitter.push(stream.subarray(at, at + step)));
    expect(splitter.held).toBe(0);
    expect(got.map((b) => b.type)).toEqual([PCAPNG_SHB, PCAPNG_IDB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_EPB, PCAPNG_ISB]);
    expect(got.map((b) => Buffer.from(b.bytes))).toEqual(blocks.map((b) => Buffer.from(b)));
    expect(pcapngInterfaceName(got[1].bytes)).toBe('n1/a1');
    expect(pcapngInterfaceName(got[2].bytes)).toBe('n1/underlay');
    expect(pcapngStatsDrops(got[5].bytes)).toEqual({ ifIndex: 1, ifDrop: 5 });
    expect(() => new PcapngBlockSplitter().push(Buffer.from('060000000700000000000000', 'hex'))).toThrow(/bad block length 7/);
  });
});
