// What the cluster DNS needs of the model: headless Services (clusterIP:
// None: no address, no frontend), ExternalName Services (externalName, no
// address), pods' hostname and subdomain (an endpoint's hostname when the
// subdomain names the Service, as the endpoint controller sets it), and
// cluster.dns.upstream. Refusals name the field.
import { describe, it, expect } from 'vitest';
import { planTopology } from '../../src/model/topology.ts';
import { planProblems as problems } from '../helpers/problems.ts';
import { serviceFrontends } from '../../src/lab/service-frontends.ts';
import { parseApplyFile, planApply } from '../../src/model/apply.ts';

// kubectl-style manifests: a headless Service without selector whose EndpointSlice names a hostname, and an ExternalName
const APPLIED = `apiVersion: v1
kind: Service
metadata: { name: peers }
spec: { clusterIP: None, clusterIPs: [None], ports: [{ name: gossip, port: 7946 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: peers-1, labels: { kubernetes.io/service-name: peers } }
addressType: IPv4
endpoints:
  - { addresses: [10.244.0.4], hostname: peer-a, targetRef: { kind: Pod, name: client } }
---
apiVersion: v1
kind: Service
metadata: { name: mail }
spec: { type: ExternalName, externalName: smtp.example.net }
`;

const NODES = [
  { name: 'n1', pods: [{ name: 'db-0', labels: { app: 'db' }, hostname: 'db-0', subdomain: 'db' }, { name: 'db-1', labels: { app: 'db' }, hostname: 'db-1', subdomain: 'other' }, 'client'] },
];
const SERVICES = [
  { name: 'db', clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] },
  { name: 'ext', type: 'ExternalName', externalName: 'www.example.com.' },
  { name: 'web', selector: { app: 'db' }, ports: [{ port: 80 }] },
];

describe('headless and ExternalName Services, pod hostnames, the DNS upstream', () => {
  it('headless: clusterIP None, endpoints with the hostname of pods whose subdomain names it; no address taken', () => {
    const plan = planTopology({ nodes: NODES, services: SERVICES });
    const db = plan.services.find((s) => s.name === 'db')!;
    expect(db.clusterIP).toBe('None');
    expect(db.endpoints.map((e) => [e.pod, e.hostname])).toEqual([['db-0', 'db-0'], ['db-1', undefined]]);
    // web is allocated the first address: neither db nor ext took one
    expect(plan.services.find((s) => s.name === 'web')!.clusterIP).toBe('10.96.0.1');
    const ext = plan.services.find((s) => s.name === 'ext')!;
    expect([ext.type, ext.clusterIP, ext.externalName, ext.ports]).toEqual(['ExternalName', '', 'www.example.com', []]);
  });

  it('no frontend in the data plane for a headless or an ExternalName Service', () => {
    const plan = planTopology({ nodes: NODES, services: SERVICES });
    const vips = serviceFrontends(plan, plan.nodes[0]).map((f) => `${f.vip}:${f.port}`);
    expect(vips).toEqual(['10.96.0.1:80', '10.96.0.10:53', '10.96.0.10:53']);
  });

  it('pods keep hostname and subdomain in the plan', () => {
    const plan = planTopology({ nodes: NODES });
    expect(plan.nodes[0].pods.map((p) => [p.name, p.hostname, p.subdomain])).toEqual([['db-0', 'db-0', 'db'], ['db-1', 'db-1', 'other'], ['client', undefined, undefined]]);
  });

  it('refused, naming the field', () => {
    expect(problems({ nodes: [{ name: 'n1', pods: [{ name: 'a', hostname: 'A_1', subdomain: 'x.y' }] }] })).toEqual([
      'node n1 pods[0].hostname: "A_1" is not a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63)',
      'node n1 pods[0].subdomain: "x.y" is not a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63)',
    ]);
    expect(problems({ nodes: NODES, services: [{ name: 'e', type: 'ExternalName' }] })).toEqual([
      'service e: externalName: undefined is not a DNS name (lowercase labels of letters, digits and "-", at most 253 characters); type ExternalName requires one',
    ]);
    expect(problems({ nodes: NODES, services: [{ name: 'e', type: 'ExternalName', externalName: 'a.example', clusterIP: '10.96.0.9' }] })).toEqual([
      'service e: clusterIP: may not be set for ExternalName Services',
    ]);
    expect(problems({ nodes: NODES, services: [{ name: 'w', ports: [] }] })).toEqual(['service w: ports: expected a list with at least one port']);
  });

  it('cluster.dns.upstream: IP[:port] (53 by default); anything else refused', () => {
    expect(planTopology({ cluster: { dns: { upstream: '192.0.2.53' } }, nodes: NODES }).dns?.upstream).toEqual({ ip: '192.0.2.53', port: 53 });
    expect(planTopology({ cluster: { dns: { upstream: '127.0.0.1:5353' } }, nodes: NODES }).dns?.upstream).toEqual({ ip: '127.0.0.1', port: 5353 });
    expect(planTopology({ cluster: { dns: {} }, nodes: NODES }).dns?.upstream).toBeUndefined();
    expect(problems({ cluster: { dns: { upstream: 'dns.google' } }, nodes: NODES })).toEqual(['cluster.dns.upstream: "dns.google" is not IP[:port] (an IPv4 address, then optionally a port in [1, 65535])']);
    expect(problems({ cluster: { dns: { upstream: '1.1.1.1:0' } }, nodes: NODES })).toEqual(['cluster.dns.upstream: "1.1.1.1:0" is not IP[:port] (an IPv4 address, then optionally a port in [1, 65535])']);
    expect(problems({ cluster: { dns: { forward: '1.1.1.1' } }, nodes: NODES })).toEqual(['cluster.dns.forward: unknown key (known: upstream)']);
  });

  it('podwire apply of manifests: a headless Service with an EndpointSlice hostname, an ExternalName; neither takes an address', () => {
    const plan = planTopology({ nodes: NODES, services: SERVICES });
    const change = planApply(plan, parseApplyFile(APPLIED, 'peers.yaml'));
    const peers = change.services.find((s) => s.name === 'peers')!;
    expect([peers.clusterIP, peers.endpoints]).toEqual(['None', [{ pod: 'client', node: 'n1', ip: '10.244.0.4', ready: true, hostname: 'peer-a' }]]);
    expect(change.services.find((s) => s.name === 'mail')).toMatchObject({ type: 'ExternalName', clusterIP: '', externalName: 'smtp.example.net' });
    // applied again unchanged: still headless, still no address (kept allocations do not invent one)
    const again = planApply({ ...plan, services: change.services }, parseApplyFile(APPLIED, 'peers.yaml'));
    expect(again.results.map((r) => r.action)).toEqual(['unchanged', 'unchanged']);
    expect(() => planApply(plan, parseApplyFile(APPLIED.replace('hostname: peer-a', 'hostname: Peer_A'), 'bad.yaml'))).toThrow('endpoints[0].hostname: "Peer_A" is not a DNS-1123 label');
  });
});
