// The Ingress controller in the plan (src/model/ingress-pod.ts): cluster.ingress
// places the controller pod after the user pods and the DNS pod, and adds its
// LoadBalancer Service as ingress-nginx's manifests deploy it; refusals name
// the field. Pure: no nginx here (test/e2e/ingress-lab.test.ts runs it).
import { describe, it, expect } from 'vitest';
import { planTopology, TopologyError } from '../../src/model/topology.ts';
import { planApply, planDelete, parseApplyFile } from '../../src/model/apply.ts';

const problemsOf = (doc: unknown): string[] => {
  try { planTopology(doc); } catch (e) { expect(e).toBeInstanceOf(TopologyError); return (e as TopologyError).problems; }
  throw new Error('accepted');
};
const base = (cluster: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  cluster,
  nodes: [{ name: 'n1', pods: ['client', { name: 'api-1', labels: { app: 'api' } }] }, { name: 'n2', pods: [] }],
  services: [{ name: 'api', selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] }],
  ...extra,
});
const SHOP = { name: 'shop', rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } } }] } }] };

describe('cluster.ingress: nginx', () => {
  it('places the controller pod after the user pods and the DNS pod, behind a LoadBalancer Service on 80 (http) and 443 (https)', () => {
    const plan = planTopology(base({ ingress: 'nginx', ingressExternalTrafficPolicy: 'Local', ingressLoadBalancerIP: '172.30.255.200' }, { ingresses: [SHOP] }));
    expect(plan.dns?.pod.ip).toBe('10.244.0.4');
    expect(plan.ingress).toMatchObject({ controller: 'nginx', node: 'n1', pod: { name: 'ingress-nginx-controller', k8sNamespace: 'ingress-nginx', ip: '10.244.0.5', port: 3 } });
    const svc = plan.services.find((s) => s.namespace === 'ingress-nginx')!;
    expect(svc).toMatchObject({
      name: 'ingress-nginx-controller', type: 'LoadBalancer', externalTrafficPolicy: 'Local', loadBalancerIP: '172.30.255.200',
      endpoints: [{ pod: 'ingress-nginx-controller', node: 'n1', ip: '10.244.0.5', ready: true }],
    });
    expect(svc.ports.map((p) => [p.name, p.port, p.targetPort, p.protocol])).toEqual([['http', 80, 80, 'TCP'], ['https', 443, 443, 'TCP']]);
    expect(svc.ports.every((p) => p.nodePort !== undefined)).toBe(true);
    // the user's Service keeps the first ClusterIP: the controller's comes after
    expect(plan.services.map((s) => s.clusterIP)).toEqual(['10.96.0.1', '10.96.0.2', '10.96.0.10']);
    expect(plan.ingressObjects?.ingresses.map((l) => l.value.name)).toEqual(['shop']);
    expect(plan.namespaces?.map((n) => n.name)).toContain('ingress-nginx');
  });

  it('off by default: no pod, no Service; ingresses: without a controller is refused', () => {
    const plan = planTopology(base({}));
    expect(plan.ingress).toBeUndefined();
    expect(plan.services.some((s) => s.namespace === 'ingress-nginx')).toBe(false);
    expect(problemsOf(base({}, { ingresses: [SHOP] }))).toEqual(['ingresses: no Ingress controller runs them: set cluster.ingress: nginx']);
    // references are checked before anything is created
    const typo = { ...SHOP, rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'apx', port: { number: 80 } } } }] } }] };
    expect(problemsOf(base({ ingress: 'nginx' }, { ingresses: [typo] }))).toEqual(['ingress shop: rules[0].http.paths[0].backend.service.name: no Service "apx" in namespace default']);
  });

  it('refuses, naming the field: an unknown controller, a bad policy or address, the controller\'s names taken, no podwire node', () => {
    expect(problemsOf(base({ ingress: 'traefik' }))).toEqual(['cluster.ingress: "traefik" is not a known controller (one of nginx)']);
    expect(problemsOf(base({ ingress: 'nginx', ingressExternalTrafficPolicy: 'local' }))).toEqual(['cluster.ingressExternalTrafficPolicy: "local" is not one of Cluster, Local']);
    expect(problemsOf(base({ ingress: 'nginx', ingressLoadBalancerIP: '300.1.1.1' }))).toEqual(['cluster.ingressLoadBalancerIP: "300.1.1.1" is not an IPv4 address']);
    expect(problemsOf(base({ ingressLoadBalancerIP: '10.0.0.1' }))).toEqual(['cluster.ingressLoadBalancerIP: set cluster.ingress: nginx too (there is no controller Service without it)']);
    const taken = base({ ingress: 'nginx' });
    taken.services.push({ name: 'ingress-nginx-controller', namespace: 'ingress-nginx', ports: [{ port: 80 }] } as never);
    expect(problemsOf(taken)[0]).toMatch(/^service ingress-nginx\/ingress-nginx-controller: the name is the Ingress controller's Service/);
    expect(problemsOf({ cluster: { ingress: 'nginx', underlay: 'bridge' }, nodes: [{ name: 'k1', dataplane: 'kernel', pods: ['a'] }] }))
      .toEqual(['cluster.ingress: the Ingress controller pod runs on a podwire node, and this lab has kernel nodes only']);
  });

  it('podwire apply and delete cannot touch the controller Service; a file of Ingresses alone changes no Service', () => {
    const plan = planTopology(base({ ingress: 'nginx' }));
    const own = parseApplyFile('apiVersion: v1\nkind: Service\nmetadata: { name: ingress-nginx-controller, namespace: ingress-nginx }\nspec: { ports: [{ port: 80 }] }\n', 'f.yaml');
    expect(() => planApply(plan, own)).toThrow(/document 1 \(Service ingress-nginx-controller\): the name is the Ingress controller's Service/);
    expect(() => planDelete(plan, [{ namespace: 'ingress-nginx', name: 'ingress-nginx-controller' }])).toThrow(/is the Ingress controller's Service: it cannot be deleted/);
    const only = parseApplyFile('apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: shop }\nspec: { defaultBackend: { service: { name: api, port: { number: 80 } } } }\n', 'f.yaml');
    expect(planApply(plan, only)).toEqual({ services: plan.services, results: [], touched: [] });
  });
});
