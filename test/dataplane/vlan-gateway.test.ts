// Issue 11 item 6(f): 802.1Q-tagged frames for the gateway are not routed.
// On a node, the pod gateway is the bridge device (cni0) with no VLAN
// device on it. A tagged frame is untagged into skb->vlan_tci on receive;
// with no VLAN device for a non-zero VID the kernel marks it
// PACKET_OTHERHOST (net/core/dev.c __netif_receive_skb_core, check_vlan_id;
// net/8021q/vlan_core.c vlan_do_receive) and ip_rcv / arp_rcv drop it. VID 0
// (a priority tag, 802.1p) is handled as untagged. The bridge itself (no VLAN
// filtering) still forwards tagged frames between its ports as L2.
// The node's underlay interface and flannel.1 have no VLAN devices either.
import { describe, it, expect } from 'vitest';
import { eth, run, newDataplane, udpFrame, BCAST, podMac } from './frames.ts';
import { twoNodes, runNode, podFrame, vxlanFrame, ip4, udp, pattern, arpRequest, N1, N2, POD, UL } from './overlay-kit.ts';

/** The frame with an 802.1Q tag (priority 5, `vid`) after the MACs. */
const tag = (f: Uint8Array, vid: number) => Uint8Array.from([...f.subarray(0, 12), 0x81, 0x00, 0xa0 | (vid >> 8), vid & 0xff, ...f.subarray(12)]);
const toPeer = () => podFrame(N1, { dst: N2.pod, proto: 17, payload: udp(N1.pod, N2.pod, 5000, 53, pattern(30)) });

describe('802.1Q-tagged frames to the gateway (no VLAN device on the bridge)', () => {
  it('VID 100, IPv4 for another node\'s pod: dropped (vlan_no_device), not routed', () => {
    const [n1] = twoNodes('vxlan');
    const r = runNode(n1, [{ port: POD, frame: tag(toPeer(), 100) }]);
    expect(r.drops).toEqual({ vlan_no_device: 1 });
    expect(r.tx).toEqual([]);
  });

  it('VID 0 (priority tag): routed as untagged, the tag gone', () => {
    const [n1] = twoNodes('vxlan');
    const r = runNode(n1, [{ port: POD, frame: tag(toPeer(), 0) }]);
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ routed: 1, vxlan_encap: 1 });
  });

  it('VID 100, echo request to the gateway address: dropped, no reply', () => {
    const [n1] = twoNodes('vxlan');
    const echo = podFrame(N1, { dst: N1.gw, proto: 1, payload: Uint8Array.from([8, 0, 0xf7, 0xfe, 0, 1, 0, 0]) });
    const r = runNode(n1, [{ port: POD, frame: tag(echo, 100) }]);
    expect(r.drops).toEqual({ vlan_no_device: 1 });
    expect(r.tx).toEqual([]);
  });

  it('VID 100, broadcast ARP for the gateway: no reply; the bridge floods it to the other ports', () => {
    const dp = newDataplane(3);
    const r = run(dp, [{ port: 0, frame: tag(arpRequest(podMac(2), '10.244.0.2', '10.244.0.1'), 100) }]);
    expect(r.events.arp_replies ?? 0).toBe(0);
    expect(r.tx.map((t) => t.port).sort()).toEqual([1, 2]);
    expect(r.drops).toEqual({});
  });

  it('tagged frames between pods are bridged as today (tag kept)', () => {
    const dp = newDataplane(2);
    run(dp, [{ port: 1, frame: udpFrame(BCAST, podMac(3)) }]);
    const f = tag(udpFrame(podMac(3), podMac(2)), 100);
    const r = run(dp, [{ port: 0, frame: f }]);
    expect(r.tx).toHaveLength(1);
    expect(r.tx[0].frame).toEqual(f);
  });

  it('underlay: a tagged (VID 7) VXLAN frame to this node is dropped', () => {
    const [n1] = twoNodes('vxlan');
    const inner = eth(N1.vtep, N2.vtep, 0x0800, ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 53, 5000, pattern(30)) }));
    const f = vxlanFrame({ dstMac: N1.ulMac, srcMac: N2.ulMac, srcIp: N2.ul, dstIp: N1.ul, inner });
    expect(runNode(n1, [{ port: UL, frame: f }]).tx).toHaveLength(1);
    const r = runNode(n1, [{ port: UL, frame: tag(f, 7) }]);
    expect(r.drops).toEqual({ vlan_no_device: 1 });
  });

  it('VXLAN: an inner frame tagged VID 100 (flannel.1 has no VLAN device) is dropped', () => {
    const [n1] = twoNodes('vxlan');
    const inner = eth(N1.vtep, N2.vtep, 0x0800, ip4({ src: N2.pod, dst: N1.pod, proto: 17, ttl: 63, payload: udp(N2.pod, N1.pod, 53, 5000, pattern(30)) }));
    const r = runNode(n1, [{ port: UL, frame: vxlanFrame({ dstMac: N1.ulMac, srcMac: N2.ulMac, srcIp: N2.ul, dstIp: N1.ul, inner: tag(inner, 100) }) }]);
    expect(r.drops).toEqual({ vlan_no_device: 1 });
  });
});
