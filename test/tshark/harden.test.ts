// Bytes on the wire from issue 11 item 6, decoded by tshark with checksum
// validation on (an independent dissector): (a) a UDP checksum that computes
// to 0 goes out as 0xffff and verifies; (d) the outer IPv4 header of IP-in-IP
// inherits the inner TTL, both tunnels copy the inner ECN field out (CE as
// ECT(0)), and a decapsulated packet marked CE by the outer header has a
// good header checksum.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/io/pcap.ts';
import { eth, vnet } from '../dataplane/frames.ts';
import { twoNodes, runNode, podFrame, ip4, udp, pseudo, pattern, N1, N2, POD, UL } from '../dataplane/overlay-kit.ts';
import { cat } from '../dataplane/service-kit.ts';
import { refChecksum } from '../util.ts';

const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
if (!hasTshark) console.warn('test/tshark/harden.test.ts: tshark is not installed; skipping (apt-get install tshark)');

const FIELDS = ['ip.ttl', 'ip.dsfield.ecn', 'ip.dsfield.dscp', 'ip.checksum.status', 'udp.checksum', 'udp.checksum.status', '_ws.malformed', '_ws.expert.severity'];

/** Sets the TOS byte of the IPv4 header at `at`, header checksum re-made. */
function setTos(f: Uint8Array, at: number, tos: number): Uint8Array {
  f[at + 1] = tos;
  f[at + 10] = f[at + 11] = 0;
  const c = refChecksum(f.subarray(at, at + 20));
  f[at + 10] = c >> 8; f[at + 11] = c & 0xff;
  return f;
}

function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  // (a) a datagram whose complete UDP checksum is 0, left partial by the pod, finished by podwire before a no-offload underlay
  const d = udp(N1.pod, N2.pod, 40000, 9000, pattern(40), true);
  d[d.length - 2] = d[d.length - 1] = 0;
  const fix = refChecksum(cat(pseudo(N1.pod, N2.pod, 17, d.length), d));
  d[d.length - 2] = fix >> 8; d[d.length - 1] = fix & 0xff;
  const ps = ~refChecksum(pseudo(N1.pod, N2.pod, 17, d.length)) & 0xffff;
  d[6] = ps >> 8; d[7] = ps & 0xff;
  const [v1] = twoNodes('vxlan');
  v1.setUnderlayNoGso(true);
  out.push(runNode(v1, [{ port: POD, frame: podFrame(N1, { dst: N2.pod, proto: 17, payload: d }), vnet: vnet({ flags: 1, csumStart: 34, csumOffset: 6 }) }]).tx[0].frame);
  // (d) IP-in-IP, inner TTL 10 ECT(0); VXLAN, inner CE
  const [i1] = twoNodes('ipip');
  const dgram = (ttl: number) => podFrame(N1, { dst: N2.pod, proto: 17, ttl, payload: udp(N1.pod, N2.pod, 40001, 40002, pattern(30)) });
  out.push(runNode(i1, [{ port: POD, frame: setTos(dgram(10), 14, 0x02) }]).tx[0].frame);
  const [x1] = twoNodes('vxlan');
  out.push(runNode(x1, [{ port: POD, frame: setTos(dgram(64), 14, 0xb8 | 0x03) }]).tx[0].frame);
  // (d) decapsulated: outer CE over an ECT(1) inner: delivered CE
  const inner = setTos(ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 40002, 40001, pattern(30)) }), 0, 0x01);
  const [i2] = twoNodes('ipip');
  out.push(runNode(i2, [{ port: UL, frame: setTos(eth(N1.ulMac, N2.ulMac, 0x0800, ip4({ src: N2.ul, dst: N1.ul, proto: 4, payload: inner })), 14, 0x03) }]).tx[0].frame);
  return out;
}

describe.skipIf(!hasTshark)('tshark: UDP checksum 0xffff, tunnel TTL and ECN', () => {
  it('checksums good; TTL and ECN as Linux\'s tunnels set them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-tshark-harden-'));
    try {
      const file = join(dir, 'h.pcap');
      const w = new PcapWriter(file);
      frames().forEach((f, i) => w.writeFrame(f, 1_700_000_000_000 + i));
      await w.close();
      const out = execFileSync('tshark', ['-r', file, '-d', 'udp.port==8472,vxlan',
        '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
        '-T', 'fields', '-E', 'occurrence=a', ...FIELDS.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
      const rows = out.replace(/\n$/, '').split('\n').map((l) => Object.fromEntries(l.split('\t').map((v, i) => [FIELDS[i], v])));
      expect(rows).toHaveLength(4);
      for (const r of rows) {
        expect(r['_ws.malformed'], JSON.stringify(r)).toBe('');
        expect(r['ip.checksum.status'].split(',').every((s) => s === '1'), JSON.stringify(r)).toBe(true);
      }
      const [zero, ipip, vx, decap] = rows;
      // outer VXLAN UDP checksum 0 (not present), inner 0xffff and good
      expect(zero['udp.checksum']).toBe('0x0000,0xffff');
      expect(zero['udp.checksum.status'].split(',')[1]).toBe('1');
      expect(ipip).toMatchObject({ 'ip.ttl': '9,9', 'ip.dsfield.ecn': '2,2', 'ip.dsfield.dscp': '0,0' });
      expect(vx).toMatchObject({ 'ip.ttl': '64,63', 'ip.dsfield.ecn': '2,3', 'ip.dsfield.dscp': '0,46' });
      expect(decap).toMatchObject({ 'ip.dsfield.ecn': '3', 'udp.checksum.status': '1' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
