// Frames the Service NAT stage emits or rewrites, decoded by tshark with
// every checksum check on: the reset and port unreachable that reject a
// Service without endpoints, a NodePort SYN DNATed and masqueraded into
// VXLAN, its reply un-NATed back to the outside client, and a backend's ICMP
// error translated back to the Service address (inner headers too).
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/io/pcap.ts';
import { eth } from '../dataplane/frames.ts';
import { runNode, handOver, podFrame, ip4, udp, pattern, icmpMsg, N1, N2, POD, UL } from '../dataplane/overlay-kit.ts';
import { VIP, SYN, ACK, TCP, UDP, tcpSeg, setup, clientSyn } from '../dataplane/service-kit.ts';

const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
if (!hasTshark) console.warn('test/tshark/service.test.ts: tshark is not installed; skipping (apt-get install tshark)');

const EXT = '172.31.255.50', EXT_MAC = '0a:58:ac:1f:ff:32';
const FIELDS = ['ip.src', 'ip.dst', 'ip.checksum.status', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.reset', 'tcp.checksum.status',
  'udp.srcport', 'udp.dstport', 'udp.checksum.status', 'icmp.type', 'icmp.code', 'icmp.checksum.status', '_ws.malformed', '_ws.expert.severity'];

function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const [n1, n2] = setup();
  // reject: TCP reset, UDP port unreachable
  n1.addService(VIP, 80, 'tcp', []);
  n1.addService(VIP, 53, 'udp', []);
  out.push(runNode(n1, [{ port: POD, frame: clientSyn(40100) }]).tx[0].frame);
  out.push(runNode(n1, [{ port: POD, frame: podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, 33200, 53, pattern(12)) }) }]).tx[0].frame);
  // NodePort from outside, masqueraded, to node 2 through VXLAN; the reply back out to the client
  n1.addRoute(`${EXT}/32`, 'host-gw', EXT);
  n1.setNeighbor(EXT, EXT_MAC);
  n1.addService(N1.ul, 30080, 'tcp', [{ ip: N2.pod, port: 8080 }], { masquerade: true });
  const syn = eth(N1.ulMac, EXT_MAC, 0x0800, ip4({ src: EXT, dst: N1.ul, proto: TCP, payload: tcpSeg(EXT, N1.ul, 50100, 30080, SYN) }));
  const enc = runNode(n1, [{ port: UL, frame: syn }]).tx[0];
  out.push(enc.frame);
  handOver(n2, enc);
  const back = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: N1.gw, proto: TCP, payload: tcpSeg(N2.pod, N1.gw, 8080, 50100, SYN | ACK) }) }]);
  out.push(handOver(n1, back.tx[0]).tx[0].frame);
  // a backend's port unreachable about a DNATed datagram, translated back for the client
  n1.addService(VIP, 5300, 'udp', [{ ip: N2.pod, port: 5353 }]);
  const q = runNode(n1, [{ port: POD, frame: podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, 33201, 5300, pattern(20)) }) }]).tx[0];
  const seen = handOver(n2, q).tx[0].frame.subarray(14);
  const err = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: N1.pod, proto: 1, payload: icmpMsg(3, 3, 0, seen) }) }]);
  out.push(handOver(n1, err.tx[0]).tx[0].frame);
  return out;
}

describe.skipIf(!hasTshark)('Service NAT frames, decoded by tshark (checksums verified)', () => {
  it('every checksum good, every field as podwire meant it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-tshark-svc-'));
    try {
      const file = join(dir, 'svc.pcap');
      const w = new PcapWriter(file);
      frames().forEach((f, i) => w.writeFrame(f, 1_700_000_000_000 + i));
      await w.close();
      const out = execFileSync('tshark', ['-r', file, '-d', 'udp.port==8472,vxlan',
        '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
        '-T', 'fields', '-E', 'occurrence=a', ...FIELDS.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
      const rows = out.replace(/\n$/, '').split('\n').map((l) => Object.fromEntries(l.split('\t').map((v, i) => [FIELDS[i], v])));
      expect(rows).toHaveLength(5);
      for (const r of rows) {
        expect(r['_ws.malformed']).toBe('');
        expect(r['ip.checksum.status'].split(',').every((s) => s === '1'), JSON.stringify(r)).toBe(true);
      }
      const [rst, unreach, encap, reply, icmpErr] = rows;
      expect(rst).toMatchObject({ 'ip.src': VIP, 'ip.dst': N1.pod, 'tcp.srcport': '80', 'tcp.dstport': '40100', 'tcp.checksum.status': '1' });
      expect(['1', 'True']).toContain(rst['tcp.flags.reset']);
      // ICMP port unreachable quoting the datagram as sent (to the VIP)
      expect(unreach).toMatchObject({ 'ip.src': `${N1.gw},${N1.pod}`, 'ip.dst': `${N1.pod},${VIP}`, 'icmp.type': '3', 'icmp.code': '3', 'icmp.checksum.status': '1', 'udp.dstport': '53' });
      // outer VXLAN (node 1 -> node 2), inner masqueraded + DNATed SYN; the outer UDP checksum is 0 (as Linux sends VXLAN)
      expect(encap).toMatchObject({ 'ip.src': `${N1.ul},${N1.gw}`, 'ip.dst': `${N2.ul},${N2.pod}`, 'tcp.srcport': '50100', 'tcp.dstport': '8080', 'tcp.checksum.status': '1' });
      expect(reply).toMatchObject({ 'ip.src': N1.ul, 'ip.dst': EXT, 'tcp.srcport': '30080', 'tcp.dstport': '50100', 'tcp.checksum.status': '1' });
      // the backend's error, from the VIP, quoting client -> VIP:5300 with a good quoted UDP checksum field
      expect(icmpErr).toMatchObject({ 'ip.src': `${VIP},${N1.pod}`, 'ip.dst': `${N1.pod},${VIP}`, 'icmp.type': '3', 'icmp.code': '3', 'icmp.checksum.status': '1', 'udp.srcport': '33201', 'udp.dstport': '5300' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
