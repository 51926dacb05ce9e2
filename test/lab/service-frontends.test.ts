// What each podwire node's Service NAT is programmed with (src/lab/service-frontends.ts):
// the kube-proxy rules, per node, for every Service type and traffic policy.
import { describe, it, expect } from 'vitest';
import { planTopology } from '../../src/model/topology.ts';
import { serviceFrontends } from '../../src/lab/service-frontends.ts';

const nodes = [
  { name: 'n1', pods: [{ name: 'web-1', labels: { app: 'web' } }, 'client'] },
  { name: 'n2', pods: [{ name: 'web-2', labels: { app: 'web' } }] },
  { name: 'n3', pods: ['idle'] },
];
const plan = (service: Record<string, unknown>) =>
  planTopology({ cluster: { dns: false }, nodes, services: [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }], ...service }] });
const at = (p: ReturnType<typeof plan>, node: string) => serviceFrontends(p, p.nodes.find((n) => n.name === node)!);
const ip = (p: ReturnType<typeof plan>, pod: string) => p.nodes.flatMap((n) => n.pods).find((x) => x.name === pod)!.ip;

describe('service frontends per node', () => {
  it('ClusterIP: the VIP on every node, to every ready endpoint; nothing on node addresses', () => {
    const p = plan({});
    for (const n of ['n1', 'n2', 'n3']) {
      expect(at(p, n)).toEqual([{
        vip: p.services[0].clusterIP, port: 80, proto: 'tcp', service: 'default/web',
        backends: [{ ip: ip(p, 'web-1'), port: 8080 }, { ip: ip(p, 'web-2'), port: 8080 }],
      }]);
    }
  });

  it('NodePort, externalTrafficPolicy Cluster: each node\'s own address at the nodePort, masqueraded, to every endpoint', () => {
    const p = plan({ type: 'NodePort', sessionAffinity: 'ClientIP', externalIPs: ['192.0.2.10'] });
    const nodePort = p.services[0].ports[0].nodePort!;
    const n3 = at(p, 'n3');
    const all = [{ ip: ip(p, 'web-1'), port: 8080 }, { ip: ip(p, 'web-2'), port: 8080 }];
    expect(n3).toEqual([
      expect.objectContaining({ vip: p.services[0].clusterIP, port: 80, backends: all, affinitySeconds: 10800 }),
      { vip: p.nodes[2].underlayIp, port: nodePort, proto: 'tcp', service: 'default/web', backends: all, masquerade: true, affinitySeconds: 10800 },
      { vip: '192.0.2.10', port: 80, proto: 'tcp', service: 'default/web', backends: all, masquerade: true, affinitySeconds: 10800 },
    ]);
    expect(at(p, 'n1')[1].vip).toBe(p.nodes[0].underlayIp);
  });

  it('externalTrafficPolicy Local: only the node\'s own endpoints, no masquerade; a node without one drops (not rejects)', () => {
    const p = plan({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', loadBalancerIP: '192.0.2.20' });
    const [, np1, lb1] = at(p, 'n1');
    expect(np1).toMatchObject({ backends: [{ ip: ip(p, 'web-1'), port: 8080 }] });
    expect(np1.masquerade).toBeUndefined();
    expect(lb1).toMatchObject({ vip: '192.0.2.20', backends: [{ ip: ip(p, 'web-1'), port: 8080 }] });
    const [cip3, np3] = at(p, 'n3');
    expect(np3).toMatchObject({ backends: [], dropWhenEmpty: true });
    expect(cip3.backends).toHaveLength(2); // the ClusterIP is internal traffic: Cluster policy
  });

  it('internalTrafficPolicy Local: the ClusterIP reaches only the node\'s own endpoints; none here: dropped', () => {
    const p = plan({ internalTrafficPolicy: 'Local' });
    expect(at(p, 'n2')[0].backends).toEqual([{ ip: ip(p, 'web-2'), port: 8080 }]);
    expect(at(p, 'n3')[0]).toMatchObject({ backends: [], dropWhenEmpty: true });
  });

  it('no endpoints at all: every frontend rejects (no dropWhenEmpty), whatever the policy', () => {
    const p = plan({ selector: { app: 'none' }, type: 'NodePort', externalTrafficPolicy: 'Local' });
    for (const f of at(p, 'n1')) {
      expect(f.backends).toEqual([]);
      expect(f.dropWhenEmpty).toBeUndefined();
    }
  });

  it('cluster.serviceScheduler: maglev puts every frontend on Maglev; an unknown scheduler is refused', () => {
    const p = planTopology({ cluster: { dns: false, serviceScheduler: 'maglev' }, nodes, services: [{ name: 'web', type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] }] });
    expect(p.serviceScheduler).toBe('maglev');
    expect(at(p, 'n1').map((f) => f.scheduler)).toEqual(['maglev', 'maglev']);
    expect(at(plan({}), 'n1')[0].scheduler).toBeUndefined();
    expect(() => planTopology({ cluster: { serviceScheduler: 'rr' }, nodes })).toThrow('cluster.serviceScheduler: unknown scheduler "rr" (expected one of random, maglev)');
  });
});
