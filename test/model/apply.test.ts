// `podwire apply` / `delete service` in the model (src/model/apply.ts) and the
// stable allocation it relies on (allocateServices with existing Services).
import { describe, it, expect } from 'vitest';
import { planTopology, TopologyError, type LabPlan } from '../../src/model/topology.ts';
import { allocateServices, type ServiceSpec } from '../../src/model/services.ts';
import { parseApplyFile, planApply, planDelete, ingressObjectCount } from '../../src/model/apply.ts';

const nodes = [
  { name: 'n1', pods: [{ name: 'web-1', labels: { app: 'web' } }, 'client'] },
  { name: 'n2', pods: [{ name: 'web-2', labels: { app: 'web' } }, { name: 'db-1', labels: { app: 'db' } }] },
];
// without the cluster DNS (its kube-dns Service would be in every plan); see the last test for a lab with it
const lab = (services: unknown[], cluster: Record<string, unknown> = {}): LabPlan => planTopology({ cluster: { dns: false, ...cluster }, nodes, services });
const spec = (name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name, namespace: 'default', type: 'ClusterIP', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], selector: { app: 'web' },
  sessionAffinity: 'None', sessionAffinityTimeoutSeconds: 10800, externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster',
  externalIPs: [], ...extra,
});
const np = (name: string, ports: { port: number; nodePort?: number }[], extra: Partial<ServiceSpec> = {}) =>
  spec(name, { type: 'NodePort', ports: ports.map((p) => ({ targetPort: 8080, protocol: 'TCP' as const, ...p, name: `p${p.port}` })), ...extra });

/** allocateServices against existing Services; throws the problems. */
function alloc(specs: ServiceSpec[], existing: LabPlan['services']) {
  const problems: string[] = [];
  const out = allocateServices(specs, { serviceCIDR: '10.96.0.0/12', nodes: lab([]).nodes }, problems, existing);
  if (problems.length) throw new TopologyError(problems);
  return out;
}
function problemsOf(fn: () => unknown): string[] {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(TopologyError); return (e as TopologyError).problems; }
  throw new Error('accepted');
}

describe('allocateServices with existing Services: stable allocation', () => {
  const before = lab([
    { name: 'a', selector: { app: 'web' }, ports: [{ port: 80 }] },
    { name: 'b', type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] },
    { name: 'c', ports: [{ port: 80 }] },
  ]).services;

  it('without existing: unchanged behaviour (address order from .1)', () => {
    expect(alloc([spec('x'), spec('y')], []).map((s) => s.clusterIP)).toEqual(['10.96.0.1', '10.96.0.2']);
  });

  it('a replaced Service keeps its ClusterIP and nodePorts (matched by port and protocol); new ones get free ones', () => {
    expect(before.map((s) => s.clusterIP)).toEqual(['10.96.0.1', '10.96.0.2', '10.96.0.3']);
    expect(before[1].ports.map((p) => p.nodePort)).toEqual([30000, 30001]);
    // b re-applied with its ports in the other order and a third one; d is new
    const out = alloc([np('b', [{ port: 53 }, { port: 80 }, { port: 443 }]), spec('d')], before);
    const b = out[0];
    expect(b.clusterIP).toBe('10.96.0.2');
    // 80/TCP keeps 30000; 53 is TCP now, not the UDP port that had 30001 (released with it), so it is allocated anew
    expect(b.ports.map((p) => [p.port, p.protocol, p.nodePort])).toEqual([[53, 'TCP', 30001], [80, 'TCP', 30000], [443, 'TCP', 30002]]);
    expect(out[1].clusterIP).toBe('10.96.0.4');
  });

  it('kept allocations exactly: nodePorts by port/protocol, the new port after every taken one', () => {
    const out = alloc([{ ...np('b', [{ port: 80 }, { port: 53 }]), ports: [
      { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' }, { name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }, { name: 'tls', port: 443, targetPort: 443, protocol: 'TCP' },
    ] }, spec('d')], before);
    expect(out[0].ports.map((p) => [p.port, p.nodePort])).toEqual([[53, 30001], [80, 30000], [443, 30002]]);
    expect(out[1].clusterIP).toBe('10.96.0.4'); // .1-.3 held by a, b, c (a and c untouched but reserved)
  });

  it('a Service given a different ClusterIP or nodePort gets it; the old one is free again', () => {
    const out = alloc([spec('a', { clusterIP: '10.96.0.50' }), spec('d')], before);
    expect(out.map((s) => s.clusterIP)).toEqual(['10.96.0.50', '10.96.0.1']);
    const out2 = alloc([np('b', [{ port: 80, nodePort: 31000 }])], before);
    expect(out2[0].ports).toMatchObject([{ port: 80, nodePort: 31000 }]);
  });

  it('conflicts with untouched Services are blamed on the newcomer, by name', () => {
    expect(problemsOf(() => alloc([spec('d', { clusterIP: '10.96.0.3' })], before)))
      .toEqual(['service d: clusterIP 10.96.0.3 is already the clusterIP of service c']);
    expect(problemsOf(() => alloc([np('d', [{ port: 80, nodePort: 30001 }])], before)))
      .toEqual(['service d: ports[0].nodePort 30001 is already used by service b']);
    // a replaced Service taking another replaced one's kept address: the one changing is blamed
    expect(problemsOf(() => alloc([spec('a'), spec('c', { clusterIP: '10.96.0.1' })], before)))
      .toEqual(['service c: clusterIP 10.96.0.1 is already the clusterIP of service a']);
  });
});

describe('planApply', () => {
  const plan = lab([
    { name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    { name: 'db', selector: { app: 'db' }, ports: [{ port: 5432 }] },
  ]);
  const input = (services: ServiceSpec[]) => ({ services, origins: services.map((_, i) => `document ${i + 1} (Service ${services[i].name})`), source: 'f.yaml' });

  it('created / configured / unchanged; untouched Services kept in place; new ones last', () => {
    const c = planApply(plan, input([spec('web'), spec('db', { selector: { app: 'web' }, ports: [{ port: 5432, targetPort: 5432, protocol: 'TCP' }] }), spec('api')]));
    expect(c.results.map((r) => `${r.name} ${r.action}`)).toEqual(['web unchanged', 'db configured', 'api created']);
    expect(c.touched).toEqual(['default/db', 'default/api']);
    expect(c.services.map((s) => `${s.name} ${s.clusterIP} ${s.endpoints.map((e) => e.pod).join(',')}`))
      .toEqual(['web 10.96.0.1 web-1,web-2', 'db 10.96.0.2 web-1,web-2', 'api 10.96.0.3 web-1,web-2']);
    expect(plan.services.map((s) => s.name)).toEqual(['web', 'db']); // the plan itself is not changed
  });

  it('problems name the document, and nothing is returned', () => {
    expect(problemsOf(() => planApply(plan, input([spec('api'), spec('x', { clusterIP: '10.96.0.1' })]))))
      .toEqual(['document 2 (Service x): clusterIP 10.96.0.1 is already the clusterIP of service web']);
    expect(problemsOf(() => planApply(plan, input([spec('x', { selector: undefined, endpoints: [{ ip: '10.244.9.9', ready: true }] })]))))
      .toEqual(['document 1 (Service x): endpoints[0]: 10.244.9.9 is not the address of any pod in the lab']);
  });

  it('capacity: frontends and backends checked against the lab\'s table sizes', () => {
    const small = lab([{ name: 'web', selector: { app: 'db' }, ports: [{ port: 80 }] }], { serviceCapacity: 2, serviceMaxBackends: 1 });
    expect(problemsOf(() => planApply(small, input([spec('api', { selector: { app: 'db' } }), spec('x', { selector: { app: 'db' } })]))))
      .toEqual(['3 Service ports (frontends) do not fit cluster.serviceCapacity 2: raise it in the topology file (it is fixed at up)']);
    expect(problemsOf(() => planApply(small, input([spec('web', { selector: { app: 'db' } }), spec('api')]))))
      .toEqual(['document 2 (Service api): 2 ready endpoints, more than cluster.serviceMaxBackends 1: raise it in the topology file (it is fixed at up)']);
    expect(problemsOf(() => lab([{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80 }] }], { serviceMaxBackends: 1 })))
      .toEqual(['service web: 2 ready endpoints, more than cluster.serviceMaxBackends 1: raise it in the topology file (it is fixed at up)']);
  });

  it('planDelete: removes by namespace/name, refuses unknown ones whole', () => {
    const d = planDelete(plan, [{ namespace: 'default', name: 'web' }]);
    expect(d.services.map((s) => s.name)).toEqual(['db']);
    expect(d.results).toEqual([{ namespace: 'default', name: 'web', action: 'deleted' }]);
    expect(() => planDelete(plan, [{ namespace: 'default', name: 'web' }, { namespace: 'shop', name: 'db' }])).toThrow('services "db" not found in namespace shop');
  });
});

describe('with the cluster DNS', () => {
  it('kube-system/kube-dns is the lab\'s own: neither applied nor deleted; its address stays reserved', () => {
    const plan = planTopology({ nodes, services: [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80 }] }] });
    const dns = plan.services.find((s) => s.name === 'kube-dns')!;
    expect(dns.clusterIP).toBe('10.96.0.10');
    expect(problemsOf(() => planApply(plan, { services: [spec('kube-dns', { namespace: 'kube-system' })], origins: ['document 1 (Service kube-dns)'], source: 'f' })))
      .toEqual(["document 1 (Service kube-dns): the name is the cluster DNS Service's (set cluster.dns: false to define your own)"]);
    expect(() => planDelete(plan, [{ namespace: 'kube-system', name: 'kube-dns' }])).toThrow('is the cluster DNS Service: it cannot be deleted');
    const c = planApply(plan, { services: Array.from({ length: 12 }, (_, i) => spec(`s${i}`)), origins: [], source: 'f' });
    expect(c.services.map((s) => s.clusterIP)).not.toContain(undefined);
    expect(c.services.filter((s) => s.clusterIP === '10.96.0.10').map((s) => s.name)).toEqual(['kube-dns']);
    expect(c.services.find((s) => s.name === 'kube-dns')).toBe(dns); // untouched: the same object
  });
});

describe('parseApplyFile: manifests or the topology format', () => {
  it('manifests: Services with their documents as origins', () => {
    const m = parseApplyFile([
      'apiVersion: v1\nkind: Service\nmetadata: { name: api }\nspec: { selector: { app: web }, ports: [{ port: 80 }] }',
      'apiVersion: v1\nkind: Service\nmetadata: { name: db, namespace: shop }\nspec: { ports: [{ port: 5432 }] }',
    ].join('\n---\n'), 'f.yaml');
    expect(m.services.map((s) => `${s.namespace}/${s.name}`)).toEqual(['default/api', 'shop/db']);
    expect(m.origins).toEqual(['document 1 (Service api)', 'document 2 (Service db)']);
  });

  it('Ingress objects are read and checked, and carried to the lab beside the Services (its controller takes them)', () => {
    const ing = 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: shop }\nspec: { defaultBackend: { service: { name: api, port: { number: 80 } } } }';
    const svc = 'apiVersion: v1\nkind: Service\nmetadata: { name: api }\nspec: { ports: [{ port: 80 }] }';
    const both = parseApplyFile(`${svc}\n---\n${ing}`, 'f.yaml');
    expect(both.services.map((s) => s.name)).toEqual(['api']);
    expect(both.ingressObjects?.ingresses.map((l) => [l.value.name, l.origin, l.root])).toEqual([['shop', 'document 2 (Ingress shop)', 'spec.']]);
    expect(ingressObjectCount(both)).toBe(1);
    // the topology format's ingresses: too
    const t = parseApplyFile('ingresses:\n  - { name: shop, defaultBackend: { service: { name: api, port: { number: 80 } } } }\n', 't.yaml');
    expect(t.services).toEqual([]);
    expect(t.ingressObjects?.ingresses.map((l) => l.origin)).toEqual(['ingress shop']);
    // a bad one is named as any bad document is
    expect(problemsOf(() => parseApplyFile(ing.replace('number: 80', 'number: 0'), 'f.yaml'))).toEqual([
      'document 1 (Ingress shop): spec.defaultBackend.service.port.number: 0 is not an integer in [1, 65535]',
    ]);
  });

  it('the topology format: services: read, cluster, namespaces and nodes ignored, anything else refused', () => {
    const t = parseApplyFile('cluster: { name: x }\nnodes: []\nservices:\n  - { name: api, selector: { app: web }, ports: [{ port: 80 }] }\n', 't.yaml');
    expect(t.services.map((s) => s.name)).toEqual(['api']);
    expect(t.origins).toEqual(['services[0]']);
    expect(problemsOf(() => parseApplyFile('services: []\npods: []\n', 't.yaml'))).toEqual(['pods: unknown key (known: services, ingresses, networkPolicies, cluster, namespaces, nodes; cluster, namespaces and nodes are ignored by apply)']);
    expect(problemsOf(() => parseApplyFile('nodes: []\n', 't.yaml'))).toEqual(['services: required (a topology-format file lists its Services under services:, its Ingresses under ingresses:, its NetworkPolicies under networkPolicies:), or give Kubernetes manifests']);
  });

  it('JSON (kubectl get -o json): a List of items, read with JSON.parse, documents numbered by item', () => {
    const svc = (name: string, port: unknown) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, uid: 'x' }, spec: { ports: [{ port }] }, status: {} });
    const m = parseApplyFile(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [svc('a', 80), svc('b', 81)], metadata: {} }), 'l.json');
    expect(m.services.map((s) => s.name)).toEqual(['a', 'b']);
    expect(problemsOf(() => parseApplyFile(JSON.stringify([svc('a', 80), svc('b', 'x')]), 'l.json')))
      .toEqual(['document 2 (Service b): spec.ports[0].port: "x" is not an integer in [1, 65535]']);
  });

  it('a bad manifest: the document and field named, "nothing applied"', () => {
    try {
      parseApplyFile('apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { ports: [{ port: 80 }] }\n---\napiVersion: v1\nkind: Service\nmetadata: { name: api }\nspec: { ports: [{ port: eighty }] }\n', 'bad.yaml');
      throw new Error('accepted');
    } catch (e) {
      expect((e as Error).message).toBe('bad.yaml is invalid (nothing applied):\n  - document 2 (Service api): spec.ports[0].port: "eighty" is not an integer in [1, 65535]');
    }
  });
});
