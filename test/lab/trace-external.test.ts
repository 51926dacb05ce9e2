// `podwire trace --from <external host>` planned in memory
// (src/lab/trace-external.ts): the packet a host outside the cluster sends,
// and the node whose underlay port it enters — the one that answers ARP for
// the address (its own, or an announced LoadBalancer address).
import { describe, it, expect } from 'vitest';
import { planTopology, nodePortCount, type LabPlan } from '../../src/model/topology.ts';
import { announcingNode } from '../../src/model/load-balancer.ts';
import { findExternalHost, externalProbe } from '../../src/lab/trace-external.ts';
import { macForIp } from '../../src/model/addr.ts';

const UL = '172.31.250';
const plan: LabPlan = planTopology({
  cluster: { dns: false, underlayCIDR: `${UL}.0/24`, loadBalancerPool: `${UL}.200/30` },
  external: [{ name: 'laptop' }],
  nodes: [
    { name: 'n1', pods: [{ name: 'web-1', labels: { app: 'web' } }] },
    { name: 'n2', pods: [{ name: 'web-2', labels: { app: 'web' } }, 'b'] },
    { name: 'k1', dataplane: 'kernel', pods: [{ name: 'kw', labels: { app: 'kweb' } }] },
  ],
  services: [
    { name: 'web', type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] },
    { name: 'kweb', type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: 'kweb' }, ports: [{ port: 80 }] },
    { name: 'none', type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: 'nobody' }, ports: [{ port: 80 }] },
  ],
});
const laptop = findExternalHost(plan, 'laptop')!;

/** The probe's Ethernet and IPv4 addresses and destination port. */
function headers(f: Uint8Array) {
  const mac = (o: number) => [...f.subarray(o, o + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const ip = (o: number) => [...f.subarray(o, o + 4)].join('.');
  return { dstMac: mac(0), srcMac: mac(6), src: ip(26), dst: ip(30), proto: f[23], dport: (f[36] << 8) | f[37] };
}

describe('trace from an external host', () => {
  it('finds the host by name or namespace', () => {
    expect(laptop.ip).toBe(`${UL}.4`);
    expect(findExternalHost(plan, 'pw-laptop')).toBe(laptop);
    expect(findExternalHost(plan, 'web-1')).toBeUndefined();
  });

  it('to a LoadBalancer address: enters the announcing node\'s underlay port, from the host\'s MAC to that node\'s', () => {
    const web = plan.services.find((s) => s.name === 'web')!;
    const by = announcingNode(web, plan.nodes.map((n) => n.name))!;
    const node = plan.nodes.find((n) => n.name === by)!;
    expect(node.dataplane).toBe('podwire'); // the hash picks a podwire node for "web" (else this test checks the refusal below)
    const p = externalProbe(plan, laptop, `${UL}.200`, 'tcp');
    expect(p.node.name).toBe(by);
    expect(p.port).toBe(nodePortCount(node) - 1);
    expect(p.answeredBecause).toBe('announces the LoadBalancer address of Service default/web');
    expect(p.to).toEqual({ asked: `${UL}.200`, ip: `${UL}.200`, port: 80, service: 'default/web' }); // the Service's first TCP port
    expect(headers(p.frame)).toEqual({ dstMac: node.underlayMac, srcMac: laptop.mac, src: laptop.ip, dst: `${UL}.200`, proto: 6, dport: 80 });
    expect(laptop.mac).toBe(macForIp(laptop.ip));
    // the Service by name stands for its address; UDP takes the UDP port
    expect(externalProbe(plan, laptop, 'web', 'udp').to).toEqual({ asked: 'web', ip: `${UL}.200`, port: 53, service: 'default/web' });
  });

  it('to a node\'s own address: that node', () => {
    const n2 = plan.nodes.find((n) => n.name === 'n2')!;
    const p = externalProbe(plan, laptop, n2.underlayIp, 'tcp', 30080);
    expect([p.node.name, p.port, p.answeredBecause]).toEqual(['n2', 110, 'its own address']); // its underlay port: the last of 111 (maxPods' default 110 pod ports)
    expect(headers(p.frame).dport).toBe(30080);
  });

  it('refused, saying why: a kernel node answers, nobody answers, no port, not an address', () => {
    expect(() => externalProbe(plan, laptop, 'kweb', 'tcp')).toThrow(`${UL}.201 is answered by k1, a kernel node: only podwire nodes can be traced`);
    expect(() => externalProbe(plan, laptop, 'none', 'tcp')).toThrow(`${UL}.202 (LoadBalancer Service default/none): no node announces it (externalTrafficPolicy Local and no ready endpoint): laptop's ARP gets no answer`);
    expect(() => externalProbe(plan, laptop, `${UL}.99`, 'tcp', 80)).toThrow(`${UL}.99: no node answers ARP for it on the underlay (neither a node's address nor an announced LoadBalancer address): laptop cannot reach it`);
    expect(() => externalProbe(plan, laptop, plan.nodes[0].underlayIp, 'udp')).toThrow('--port is needed for udp');
    expect(() => externalProbe(plan, laptop, 'web-1', 'tcp')).toThrow('"web-1": from external host laptop, --to is an address on the underlay');
  });
});
