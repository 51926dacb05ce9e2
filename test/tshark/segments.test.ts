// TCP segments node 1 makes in software from a pod's 64 KiB super-frame when
// its underlay takes no super-frames (setUnderlayNoGso, assembly/stages/gso.ts),
// encapsulated (VXLAN, IP-in-IP) or not (host-gw), written to a pcap and
// decoded by tshark with IPv4 and TCP checksum validation on: an independent
// dissector finds every checksum good, the sequence numbers contiguous, and
// FIN/PSH on the last segment only.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/io/pcap.ts';
import { podGsoSize } from '../../src/dataplane/dataplane.ts';
import { vnet } from '../dataplane/frames.ts';
import { twoNodes, runNode, podFrame, tcpSuper, pattern, N1, N2, POD, UL, TUNNEL_MTU, TCP_TS_HLEN, type Kind } from '../dataplane/overlay-kit.ts';

const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
if (!hasTshark) console.warn('test/tshark/segments.test.ts: tshark is not installed; skipping (apt-get install tshark)');

/** Wireshark's checksum status values (proto_checksum_enum_e): 1 good. */
const GOOD = '1';

const FIELDS = [
  'ip.src', 'ip.dst', 'ip.len', 'ip.id', 'ip.checksum.status', 'vxlan.vni',
  'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.len', 'tcp.flags.fin', 'tcp.flags.push', 'tcp.flags.cwr',
  'tcp.checksum.status', '_ws.malformed', '_ws.expert.severity',
] as const;
type Field = (typeof FIELDS)[number];
type Row = Record<Field, string[]>;

function tshark(file: string): Row[] {
  const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
    // sequence analysis would flag the ACK of data this capture never saw: not what is tested here
    '-o', 'tcp.analyze_sequence_numbers:FALSE', '-o', 'tcp.relative_sequence_numbers:FALSE',
    '-d', 'udp.port==8472,vxlan',
    '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', ...FIELDS.flatMap((f) => ['-e', f])];
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trimEnd().split('\n').map((line) => {
    const cols = line.split('\t');
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ? cols[i].split('|') : []])) as Row;
  });
}

/** A boolean field: "1"/"0" up to Wireshark 4.0, "True"/"False" from 4.2. */
const flag = (s: string | undefined) => s === '1' || s === 'True';
const KINDS: Kind[] = ['vxlan', 'ipip', 'host-gw'];
const SEQ0 = 0xffff0000; // tcpSuper's: the numbers wrap within the super-frame
const PAYLOAD = 65535 - 20 - TCP_TS_HLEN;

describe.skipIf(!hasTshark)('tshark decodes the segments of a super-frame node 1 cut for its underlay', () => {
  let dir = '';
  const rows: Record<string, Row[]> = {};
  const frames: Record<string, Uint8Array[]> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-tshark-gso-'));
    for (const kind of KINDS) {
      const [n1] = twoNodes(kind);
      n1.setUnderlayNoGso(true);
      const mss = podGsoSize(TUNNEL_MTU[kind]);
      const tcp = tcpSuper({ payload: pattern(PAYLOAD, 7), flags: 0x19 }); // FIN PSH ACK
      const frame = podFrame(N1, { dst: N2.pod, proto: 6, df: true, id: 0x4000, payload: tcp });
      const v = vnet({ flags: 1, gsoType: 1, hdrLen: 14 + 20 + TCP_TS_HLEN, gsoSize: mss, csumStart: 34, csumOffset: 16 });
      const r = runNode(n1, [{ port: POD, frame, vnet: v }]);
      if (r.tx.length !== Math.ceil(PAYLOAD / mss) || r.tx.some((t) => t.port !== UL)) throw new Error(`${kind}: ${r.tx.length} frames, drops ${JSON.stringify(r.drops)}`);
      frames[kind] = r.tx.map((t) => t.frame);
      const file = join(dir, `${kind}.pcap`);
      const w = new PcapWriter(file);
      frames[kind].forEach((f, i) => w.writeFrame(f, 1_700_000_000_000 + i));
      await w.close();
      rows[kind] = tshark(file);
    }
  });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  for (const kind of KINDS) {
    const mss = podGsoSize(TUNNEL_MTU[kind]);
    it(`${kind}: ${Math.ceil(PAYLOAD / mss)} packets, none malformed, no expert warnings; every IPv4 and TCP checksum good`, () => {
      const rs = rows[kind];
      expect(rs).toHaveLength(frames[kind].length);
      for (const [i, r] of rs.entries()) {
        expect(r['_ws.malformed'], `packet ${i}`).toEqual([]);
        for (const sev of r['_ws.expert.severity']) expect(Number(sev), `packet ${i}`).toBeLessThan(6291456 /* PI_WARN */);
        expect(r['ip.checksum.status'], `packet ${i}`).toEqual(kind === 'host-gw' ? [GOOD] : [GOOD, GOOD]);
        expect(r['tcp.checksum.status'], `packet ${i}`).toEqual([GOOD]);
        expect(r['ip.src'].at(-1)).toBe(N1.pod);
        expect(r['ip.dst'].at(-1)).toBe(N2.pod);
        expect(Number(r['ip.len'].at(-1))).toBeLessThanOrEqual(TUNNEL_MTU[kind]);
        expect(Number(r['ip.id'].at(-1))).toBe(0x4000 + i);
        expect([r['tcp.srcport'][0], r['tcp.dstport'][0]]).toEqual(['40000', '5201']);
        if (kind === 'vxlan') expect(r['vxlan.vni']).toEqual(['1']);
      }
    });

    it(`${kind}: sequence numbers contiguous (wrapping past 2^32), lengths adding up, FIN and PSH on the last only`, () => {
      const rs = rows[kind];
      let seq = SEQ0, total = 0;
      for (const [i, r] of rs.entries()) {
        const last = i === rs.length - 1;
        expect(Number(r['tcp.seq_raw'][0]), `packet ${i}`).toBe(seq);
        const len = Number(r['tcp.len'][0]);
        if (!last) expect(len).toBe(mss);
        expect(flag(r['tcp.flags.fin'][0]), `packet ${i} FIN`).toBe(last);
        expect(flag(r['tcp.flags.push'][0]), `packet ${i} PSH`).toBe(last);
        seq = (seq + len) >>> 0;
        total += len;
      }
      expect(total).toBe(PAYLOAD);
    });
  }
});
