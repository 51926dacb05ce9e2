// The overlay arithmetic bench overlay prints beside its measurements.
import { describe, it, expect } from 'vitest';
import { pathArithmetic, overlayHeaderBytes, goodputCeilingGbps } from '../../bench/overlay-math.ts';
import { planTopology } from '../../src/model/topology.ts';

describe('overlay arithmetic', () => {
  it('header bytes per packet: VXLAN 50 (IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14), IP-in-IP 20, host-gw and same-node 0', () => {
    expect(overlayHeaderBytes('vxlan')).toBe(20 + 8 + 8 + 14);
    expect(overlayHeaderBytes('ipip')).toBe(20);
    expect(overlayHeaderBytes('host-gw')).toBe(0);
    expect(overlayHeaderBytes('none')).toBe(0);
  });

  it('pod MTU, MSS and ceiling at a 1500-byte underlay, with the pod MTU the topology plans', () => {
    for (const [overlay, podMtu, mss] of [['vxlan', 1450, 1410], ['ipip', 1480, 1440], ['host-gw', 1500, 1460]] as const) {
      const plan = planTopology({ cluster: { overlay }, nodes: [{ name: 'n1', pods: ['a'] }, { name: 'n2', pods: ['b'] }] });
      expect(plan.podMtu).toBe(podMtu);
      const a = pathArithmetic(overlay, plan.podMtu);
      expect(a.tcpMss).toBe(mss);
      // every overlay fills the same 1500-byte underlay packet: 1538 bytes on the wire
      expect(a.underlayPacket).toBe(1500);
      expect(a.wireBytes).toBe(1500 + 14 + 4 + 8 + 12);
      expect(a.ceiling).toBeCloseTo(mss / 1538, 12);
    }
  });

  it('ceiling formula: MSS / (MTU + overlay + 14 + 4 + 8 + 12); jumbo frames raise it', () => {
    const a = pathArithmetic('vxlan', 8950);
    expect(a.ceiling).toBeCloseTo(8910 / (8950 + 50 + 38), 12);
    expect(a.ceiling).toBeGreaterThan(pathArithmetic('vxlan', 1450).ceiling);
    expect(goodputCeilingGbps(pathArithmetic('host-gw', 1500), 10)).toBeCloseTo(10 * 1460 / 1538, 9);
  });
});
