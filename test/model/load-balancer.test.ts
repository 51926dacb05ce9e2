// LoadBalancer addresses (src/model/load-balancer.ts) and external hosts
// (src/model/external-hosts.ts) as the topology and `podwire apply` plan them.
import { describe, it, expect } from 'vitest';
import { planTopology, TopologyError, type LabPlan } from '../../src/model/topology.ts';
import { parseApplyFile, planApply, planDelete } from '../../src/model/apply.ts';
import { announcingNode } from '../../src/model/load-balancer.ts';

const nodes = [
  { name: 'n1', pods: [{ name: 'web-1', labels: { app: 'web' } }] },
  { name: 'n2', pods: [{ name: 'web-2', labels: { app: 'web' } }] },
  { name: 'n3', pods: [] },
];
const lb = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }], ...extra });
// 172.31.255.200/30: four addresses, .200 to .203
const lab = (services: unknown[], cluster: Record<string, unknown> = {}, more: Record<string, unknown> = {}): LabPlan =>
  planTopology({ cluster: { dns: false, loadBalancerPool: '172.31.255.200/30', ...cluster }, nodes, services, ...more });
const ips = (p: Pick<LabPlan, 'services'>) => Object.fromEntries(p.services.map((s) => [s.name, s.loadBalancer?.ip ?? s.loadBalancer?.pending]));
const apply = (plan: LabPlan, services: unknown[]) => planApply(plan, parseApplyFile(JSON.stringify({ services }), 'f.yaml'));
function problemsOf(fn: () => unknown): string[] {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(TopologyError); return (e as TopologyError).problems; }
  throw new Error('accepted');
}

describe('LoadBalancer pool', () => {
  it('hands out pool addresses in order; ClusterIP and NodePort Services get none', () => {
    const p = lab([lb('a'), { name: 'c', selector: { app: 'web' }, ports: [{ port: 80 }] }, lb('b')]);
    expect(ips(p)).toEqual({ a: '172.31.255.200', c: undefined, b: '172.31.255.201' });
    expect(p.loadBalancerPool).toBe('172.31.255.200/30');
  });

  it('an explicit loadBalancerIP inside the pool is reserved; one outside it is used as given', () => {
    const p = lab([lb('a'), lb('b', { loadBalancerIP: '172.31.255.200' }), lb('c', { loadBalancerIP: '192.0.2.9' })]);
    expect(ips(p)).toEqual({ a: '172.31.255.201', b: '172.31.255.200', c: '192.0.2.9' });
  });

  it('two Services asking for one address: the later one is refused, by name and field', () => {
    expect(problemsOf(() => lab([lb('a', { loadBalancerIP: '192.0.2.9' }), lb('b', { loadBalancerIP: '192.0.2.9' })])))
      .toEqual(['service b: loadBalancerIP 192.0.2.9 is already the address of service a']);
  });

  it('a used-up pool leaves the Service pending, saying why; without a pool too', () => {
    const p = lab(['a', 'b', 'c', 'd', 'e'].map((n) => lb(n)));
    expect(ips(p).e).toBe('cluster.loadBalancerPool 172.31.255.200/30 has no free address left (4 addresses, all held)');
    expect(p.services.find((s) => s.name === 'e')!.loadBalancer!.ip).toBeUndefined();
    const none = planTopology({ cluster: { dns: false }, nodes, services: [lb('a')] });
    expect(ips(none).a).toMatch(/^no cluster\.loadBalancerPool in the topology/);
  });

  it('the underlay\'s network and broadcast addresses are never handed out', () => {
    const p = planTopology({ cluster: { dns: false, underlayCIDR: '172.31.255.0/29', loadBalancerPool: '172.31.255.4/30' }, nodes, services: [lb('a'), lb('b'), lb('c')] });
    expect(ips(p)).toEqual({ a: '172.31.255.4', b: '172.31.255.5', c: '172.31.255.6' });
    const q = planTopology({ cluster: { dns: false, underlayCIDR: '172.31.255.0/29', loadBalancerPool: '172.31.255.4/30' }, nodes, services: [lb('a'), lb('b'), lb('c'), lb('d')] });
    expect(ips(q).d).toMatch(/no free address left \(3 addresses/);
  });

  it('stable across apply: kept by Services re-applied, not handed to newcomers; a freed one goes to the pending Service', () => {
    const p = lab([lb('a'), lb('b'), lb('c'), lb('d')]);
    // re-apply b (changed port) and add e, listed first: b keeps its address, e waits
    const c1 = apply(p, [lb('e'), lb('b', { ports: [{ port: 8080 }] })]);
    const p1 = { ...p, services: c1.services };
    expect(ips(p1)).toEqual({ a: '172.31.255.200', b: '172.31.255.201', c: '172.31.255.202', d: '172.31.255.203', e: expect.stringMatching(/no free address left/) });
    // deleting a frees .200: e, pending, takes it, and is touched (its frontends change)
    const c2 = planDelete(p1, [{ namespace: 'default', name: 'a' }]);
    expect(ips({ services: c2.services })).toEqual({ b: '172.31.255.201', c: '172.31.255.202', d: '172.31.255.203', e: '172.31.255.200' });
    expect(c2.touched.sort()).toEqual(['default/a', 'default/e']);
    // a Service turned ClusterIP gives its address back
    const c3 = apply({ ...p1, services: c2.services }, [{ name: 'b', selector: { app: 'web' }, ports: [{ port: 80 }] }]);
    expect(ips({ services: c3.services }).b).toBeUndefined();
    expect(c3.results).toEqual([{ namespace: 'default', name: 'b', action: 'configured' }]);
  });

  it('the Ingress controller\'s Service (cluster.ingress) takes a pool address unless ingressLoadBalancerIP names one', () => {
    const p = lab([lb('a')], { ingress: 'nginx' });
    const ctl = p.services.find((s) => s.namespace === 'ingress-nginx')!;
    expect(ctl.type).toBe('LoadBalancer');
    expect(ips(p)).toMatchObject({ a: '172.31.255.200', [ctl.name]: '172.31.255.201' });
    const q = lab([lb('a')], { ingress: 'nginx', ingressLoadBalancerIP: '172.31.255.200' });
    expect(ips(q)).toMatchObject({ a: '172.31.255.201', [ctl.name]: '172.31.255.200' });
  });

  it('re-applying the same Service is unchanged, its address kept', () => {
    const p = lab([lb('a'), lb('b')]);
    const c = apply(p, [lb('b')]);
    expect(c.results).toEqual([{ namespace: 'default', name: 'b', action: 'unchanged' }]);
    expect(c.touched).toEqual([]);
  });

  it('apply: a loadBalancerIP another Service holds is refused, naming the entry', () => {
    const p = lab([lb('a')]);
    expect(problemsOf(() => apply(p, [lb('b', { loadBalancerIP: '172.31.255.200' })])))
      .toEqual(['services[0]: loadBalancerIP 172.31.255.200 is already the address of service a']);
  });
});

describe('LoadBalancer pool: bad values, each naming the field', () => {
  const bad = (cluster: Record<string, unknown>, more: Record<string, unknown> = {}) => problemsOf(() => lab([], cluster, more));
  it('not a CIDR', () => {
    expect(bad({ loadBalancerPool: '172.31.255.200' })).toEqual(['cluster.loadBalancerPool: "172.31.255.200" is not an IPv4 CIDR like 10.244.0.0/16']);
  });
  it('outside the underlay, or meeting the pods\' or Services\' ranges', () => {
    expect(bad({ loadBalancerPool: '192.0.2.0/29' })).toEqual([
      'cluster.loadBalancerPool 192.0.2.0/29 is not inside cluster.underlayCIDR 172.31.255.0/24: its addresses are answered on the underlay, where hosts ARP only for their own subnet',
    ]);
    expect(bad({ loadBalancerPool: '10.244.0.0/29' })).toContain('cluster.loadBalancerPool 10.244.0.0/29 overlaps cluster.clusterCIDR 10.244.0.0/16');
    expect(bad({ loadBalancerPool: '10.96.0.0/29' })).toContain('cluster.loadBalancerPool 10.96.0.0/29 overlaps cluster.serviceCIDR 10.96.0.0/12');
  });
  it('holding a node\'s or an external host\'s address', () => {
    expect(bad({ loadBalancerPool: '172.31.255.0/30' })).toEqual([
      "cluster.loadBalancerPool 172.31.255.0/30 holds node n1's underlay address 172.31.255.1",
      "cluster.loadBalancerPool 172.31.255.0/30 holds node n2's underlay address 172.31.255.2",
      "cluster.loadBalancerPool 172.31.255.0/30 holds node n3's underlay address 172.31.255.3",
    ]);
    expect(bad({}, { external: [{ name: 'laptop', address: '172.31.255.201' }] })).toEqual(['external[0].address: 172.31.255.201 is inside cluster.loadBalancerPool 172.31.255.200/30']);
  });
});

describe('announcing node', () => {
  const p = lab([lb('a'), lb('b'), lb('c'), lb('d'), lb('l', { externalTrafficPolicy: 'Local' })]);
  const names = p.nodes.map((n) => n.name);
  it('exactly one node, the same every time, and the addresses spread over the nodes', () => {
    const chosen = p.services.map((s) => announcingNode(s, names));
    expect(chosen.every((n) => n && names.includes(n))).toBe(true);
    expect(p.services.map((s) => announcingNode(s, [...names].reverse()))).toEqual(chosen);
    // rendezvous hashing: removing a node moves only the addresses it announced
    const without = p.services.map((s) => announcingNode(s, names.filter((n) => n !== 'n3')));
    chosen.forEach((n, i) => { if (n !== 'n3') expect(without[i]).toBe(n); });
  });
  it('externalTrafficPolicy Local: only a node with a ready local endpoint (n3 has none)', () => {
    const l = p.services.find((s) => s.name === 'l')!;
    for (let i = 0; i < 3; i++) expect(['n1', 'n2']).toContain(announcingNode({ ...l, name: `l${i}` }, names));
    expect(announcingNode({ ...l, endpoints: [] }, names)).toBeUndefined();
  });
});

describe('external hosts', () => {
  it('namespaces pw-<name>, addresses after the nodes\' (skipping given ones and the pool)', () => {
    const p = lab([], { loadBalancerPool: '172.31.255.4/30' }, { external: [{ name: 'laptop' }, { name: 'phone', address: '172.31.255.9' }, 'tv', { name: 'desk' }] });
    expect(p.external).toEqual([
      { name: 'laptop', netns: 'pw-laptop', ip: '172.31.255.8', mac: '0a:58:ac:1f:ff:08' },
      { name: 'phone', netns: 'pw-phone', ip: '172.31.255.9', mac: '0a:58:ac:1f:ff:09' },
      { name: 'tv', netns: 'pw-tv', ip: '172.31.255.10', mac: '0a:58:ac:1f:ff:0a' },
      { name: 'desk', netns: 'pw-desk', ip: '172.31.255.11', mac: '0a:58:ac:1f:ff:0b' },
    ]);
    expect(lab([]).external).toBeUndefined();
  });
  it('bad entries named by position and field', () => {
    expect(problemsOf(() => lab([], {}, { external: [{ name: 'Laptop' }, { name: 'c', bogus: 1 }] }))).toEqual([
      'external[0].name: "Laptop" is not a valid host name (lowercase letters, digits, "-", at most 60)',
      'external[1].bogus: unknown key (known: name, address)',
    ]);
    expect(problemsOf(() => lab([], {}, { external: [{ name: 'x' }, { name: 'a', address: '10.0.0.1' }, { name: 'b', address: '172.31.255.1' }, { name: 'c', address: '172.31.255.255' }, { name: 'web-1' }, { name: 'a' }] }))).toEqual([
      'external[1].address: 10.0.0.1 is not a host address of cluster.underlayCIDR 172.31.255.0/24 (external hosts sit on the underlay)',
      "external[2].address: 172.31.255.1 is already a node's or another external host's address",
      'external[3].address: 172.31.255.255 is not a host address of cluster.underlayCIDR 172.31.255.0/24 (external hosts sit on the underlay)',
      'external[4].name: "web-1" would be namespace pw-web-1, which a pod of that name already has',
      'external[5].name: "a" is listed twice',
    ]);
  });
});
