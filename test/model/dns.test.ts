// Cluster DNS in the plan (src/model/dns.ts): the DNS pod is placed after
// every user pod, the kube-dns Service points at it, `cluster.dns: false`
// turns both off, and names the DNS takes are refused with exact messages.
import { describe, it, expect } from 'vitest';
import { planTopology, selectHostNode } from '../../src/model/topology.ts';
import { withClusterDnsService } from '../../src/model/dns.ts';
import { planProblems as problems } from '../helpers/problems.ts';
import { withDnsPod, dnsNetns, clusterDnsPod, resolvConfNamespaces, clusterDnsOff } from '../../src/lab/cluster-dns.ts';

const NODES = [
  { name: 'n1', pods: ['a1', { name: 'web-1', labels: { app: 'web' } }] },
  { name: 'n2', pods: ['b1'] },
];
const SERVICES = [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80 }] }];

describe('cluster DNS in the plan', () => {
  it('a DNS pod on the first podwire node, after its pods; user pods and Services keep their addresses', () => {
    const plan = planTopology({ nodes: NODES, services: SERVICES });
    const off = planTopology({ cluster: { dns: false }, nodes: NODES, services: SERVICES });
    expect(plan.nodes).toEqual(off.nodes); // no user pod's IP, MAC or port moves
    expect(plan.services[0]).toEqual(off.services[0]);
    expect(plan.dns).toEqual({
      ip: '10.96.0.10',
      node: 'n1',
      pod: { name: 'coredns', k8sNamespace: 'kube-system', ip: '10.244.0.4', prefixLen: 24, mac: '0a:58:0a:f4:00:04', gateway: '10.244.0.1', mtu: 1450, port: 2 },
    });
    expect(off.dns).toBeUndefined();
  });

  it('the kube-dns Service: kube-system, ClusterIP dnsIP, 53/UDP and 53/TCP, the DNS pod as its endpoint, after the user\'s', () => {
    const plan = planTopology({ nodes: NODES, services: SERVICES });
    expect(plan.services.map((s) => `${s.namespace}/${s.name}`)).toEqual(['default/web', 'kube-system/kube-dns']);
    expect(plan.services[1]).toEqual({
      name: 'kube-dns', namespace: 'kube-system', type: 'ClusterIP', clusterIP: '10.96.0.10',
      ports: [{ name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' }],
      sessionAffinity: 'None', sessionAffinityTimeoutSeconds: 10800,
      externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', externalIPs: [],
      endpoints: [{ pod: 'coredns', node: 'n1', ip: '10.244.0.4', ready: true }],
    });
    expect(planTopology({ cluster: { serviceCIDR: '10.100.0.0/16' }, nodes: NODES }).services.map((s) => s.clusterIP)).toEqual(['10.100.0.10']);
  });

  it('cluster.dns: false: no DNS pod, no kube-dns Service, no resolv.conf; a non-boolean is refused', () => {
    const plan = planTopology({ cluster: { dns: false }, nodes: NODES, services: SERVICES });
    expect(plan.services.map((s) => s.name)).toEqual(['web']);
    expect(resolvConfNamespaces(plan)).toEqual([]);
    expect(withDnsPod(plan)).toBe(plan);
    expect(clusterDnsOff(plan)).toBe('cluster.dns: false');
    expect(problems({ cluster: { dns: 'yes' }, nodes: NODES })).toEqual(['cluster.dns: expected true, false or { upstream: IP[:port] }']);
  });

  it('the first podwire node: kernel nodes are skipped, and so is a full node; kernel nodes only: no DNS', () => {
    const mixed = planTopology({ nodes: [{ name: 'k1', dataplane: 'kernel', pods: ['c1'] }, { name: 'n1', podCIDR: '10.244.9.0/30', pods: ['a1'] }, { name: 'n2', pods: ['b1'] }] });
    expect(mixed.dns?.node).toBe('n2'); // n1's /30 holds one pod and has it
    expect(mixed.dns?.pod.ip).toBe('10.244.1.3');
    const kernelOnly = planTopology({ nodes: [{ name: 'k1', dataplane: 'kernel', pods: ['c1'] }] });
    expect(kernelOnly.dns).toBeUndefined();
    expect(kernelOnly.services).toEqual([]);
    expect(clusterDnsOff(kernelOnly)).toBe('kernel nodes only (the DNS pod runs on a podwire node)');
    const full = planTopology({ nodes: [{ name: 'n1', podCIDR: '10.244.9.0/30', pods: ['a1'] }] });
    expect(full.dns).toBeUndefined();
    expect(clusterDnsOff(full)).toBe('no podwire node has a pod address left for the DNS pod (n1 10.244.9.0/30 full)');
  });

  it('names the DNS takes are refused while it is on, with their messages', () => {
    expect(problems({ nodes: NODES, services: [{ name: 'kube-dns', namespace: 'kube-system', ports: [{ port: 53, protocol: 'UDP' }] }] }))
      .toEqual(['service kube-system/kube-dns: the name is the cluster DNS Service\'s (set cluster.dns: false to define your own)']);
    expect(problems({ nodes: [{ name: 'n1', pods: ['coredns'] }] }))
      .toEqual(['node n1: pod name "coredns" is the cluster DNS pod\'s (namespace kube-system): rename the pod or set cluster.dns: false']);
    // kube-dns elsewhere is just a name; with the DNS off both are the user's (the DNS address stays reserved)
    expect(planTopology({ nodes: NODES, services: [{ name: 'kube-dns', ports: [{ port: 53 }] }] }).services.map((s) => `${s.namespace}/${s.name}`))
      .toEqual(['default/kube-dns', 'kube-system/kube-dns']);
    const own = planTopology({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: ['coredns'] }], services: [{ name: 'kube-dns', namespace: 'kube-system', ports: [{ port: 53 }] }] });
    expect(own.services.map((s) => `${s.namespace}/${s.name} ${s.clusterIP}`)).toEqual(['kube-system/kube-dns 10.96.0.1']);
  });

  it('at bring-up: the pod joins its node as the last port, in pw-dns.<lab>; resolv.conf for every local pod', () => {
    const plan = planTopology({ cluster: { name: 'a-very-long-lab-name-that-is-still-a-valid-dns-label-of-63-chars' }, nodes: NODES });
    expect(dnsNetns(plan)).toBe('pw-dns.a-very-long-lab-name-that-is-still-a-valid-dns-label-of-63-chars');
    const net = withDnsPod(plan);
    expect(net.nodes[0].pods.map((p) => [p.name, p.namespace, p.port])).toEqual([
      ['a1', 'pw-a1', 0], ['web-1', 'pw-web-1', 1], ['coredns', dnsNetns(plan), 2],
    ]);
    expect(net.nodes[1]).toBe(plan.nodes[1]);
    expect(plan.nodes[0].pods).toHaveLength(2); // the plan itself is untouched
    expect(resolvConfNamespaces(plan)).toEqual(['pw-a1', 'pw-web-1', 'pw-b1']);
    // --node: the DNS pod runs in the process of its node only; every host writes its pods' resolv.conf
    const hosts = planTopology({ nodes: [{ name: 'n1', address: '192.0.2.10', pods: ['a1'] }, { name: 'n2', address: '192.0.2.11', pods: ['b1'] }] });
    const n1 = selectHostNode(hosts, 'n1');
    const n2 = selectHostNode(hosts, 'n2');
    expect(dnsNetns(n1)).toBe('pw-dns.default-n1');
    expect(clusterDnsPod(n1)?.ip).toBe('10.244.0.3');
    expect(clusterDnsPod(n2)).toBeUndefined();
    expect(resolvConfNamespaces(n2)).toEqual(['pw-b1']);
  });

  it('withClusterDnsService keeps the kube-dns Service last when Services are re-planned', () => {
    const plan = planTopology({ nodes: NODES, services: SERVICES });
    const user = plan.services.filter((s) => s.namespace !== 'kube-system');
    expect(withClusterDnsService(user, plan.dns).map((s) => s.name)).toEqual(['web', 'kube-dns']);
    expect(withClusterDnsService(plan.services, plan.dns).map((s) => s.name)).toEqual(['web', 'kube-dns']);
    expect(withClusterDnsService(user, undefined)).toBe(user);
  });
});
