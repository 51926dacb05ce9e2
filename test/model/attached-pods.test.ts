// Addresses, ports and endpoints for pods a container runtime attaches (src/model/attached-pods.ts).
import { describe, it, expect } from 'vitest';
import { choosePodAddress, choosePodPort, reselectEndpoints, AttachError } from '../../src/model/attached-pods.ts';
import type { ServicePlan } from '../../src/model/services.ts';
import type { PodPlan } from '../../src/model/topology-types.ts';

const node = { name: 'n1', podCIDR: '10.244.0.0/29', gateway: '10.244.0.1' };

describe('choosePodAddress', () => {
  it('the lowest free host address after the gateway; the wanted one when free and inside', () => {
    expect(choosePodAddress(node, new Set())).toBe('10.244.0.2');
    expect(choosePodAddress(node, new Set(['10.244.0.2', '10.244.0.3']))).toBe('10.244.0.4');
    expect(choosePodAddress(node, new Set(), '10.244.0.6')).toBe('10.244.0.6');
  });
  it('refuses: pool exhausted (broadcast never given), taken, outside, network/gateway/broadcast', () => {
    const all = new Set(['10.244.0.2', '10.244.0.3', '10.244.0.4', '10.244.0.5', '10.244.0.6']);
    expect(() => choosePodAddress(node, all)).toThrow(/n1's pod CIDR 10.244.0.0\/29 has no free address \(5 pods\)/);
    expect(() => choosePodAddress(node, all)).toThrow(AttachError);
    expect(() => choosePodAddress(node, all, '10.244.0.3')).toThrow(/10.244.0.3 is already a pod's on node n1/);
    expect(() => choosePodAddress(node, new Set(), '10.244.1.3')).toThrow(/outside node n1's pod CIDR/);
    for (const ip of ['10.244.0.0', '10.244.0.1', '10.244.0.7']) expect(() => choosePodAddress(node, new Set(), ip)).toThrow(/network, gateway or broadcast/);
  });
});

describe('choosePodPort', () => {
  it('the lowest unused port below the last one (the underlay\'s)', () => {
    expect(choosePodPort(node, new Set([0, 1]), 8)).toBe(2);
    expect(choosePodPort(node, new Set([0, 2]), 8)).toBe(1);
    expect(() => choosePodPort(node, new Set([0, 1, 2, 3, 4, 5, 6]), 8)).toThrow(/node n1 has no free bridge port \(7 pod ports/);
  });
});

describe('reselectEndpoints', () => {
  const pod = (name: string, ip: string, labels: Record<string, string>, k8sNamespace = 'default'): PodPlan => ({
    name, ip, labels, k8sNamespace, namespace: `pw-${name}`, node: 'n1', prefixLen: 24, mac: '0a:58:00:00:00:00', gateway: '10.244.0.1', mtu: 1450, port: 0,
  });
  const svc = (name: string, extra: Partial<ServicePlan>): ServicePlan => ({
    name, namespace: 'default', type: 'ClusterIP', clusterIP: '10.96.0.5', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], endpoints: [], ...extra,
  } as ServicePlan);
  it('a selector picks up an attached pod of its namespace (touched); explicit endpoints and other namespaces stay', () => {
    const web = svc('web', { selector: { app: 'web' } });
    const fixed = svc('fixed', { endpoints: [{ pod: 'a', node: 'n1', ip: '10.244.0.2', ready: true }] });
    const nodes = [{ name: 'n1', pods: [pod('a', '10.244.0.2', { app: 'web' }), pod('b', '10.244.0.3', { app: 'web' }, 'shop')] }];
    const r = reselectEndpoints([web, fixed], nodes);
    expect(r.touched).toEqual(['default/web']);
    expect(r.services[0].endpoints).toEqual([{ pod: 'a', node: 'n1', ip: '10.244.0.2', ready: true }]);
    expect(r.services[1]).toBe(fixed);
    // unchanged pods: nothing touched
    expect(reselectEndpoints(r.services, nodes).touched).toEqual([]);
    // the pod gone again
    expect(reselectEndpoints(r.services, [{ name: 'n1', pods: [] }]).services[0].endpoints).toEqual([]);
  });
});
