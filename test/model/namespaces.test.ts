// Kubernetes namespaces in the model: pods live in one, Services select only
// their own namespace's pods, the `namespaces:` list gives labels, pods may
// name container ports and Services target them by name; every refusal with
// its message. No root needed.
import { describe, it, expect } from 'vitest';
import { planTopology, allPods } from '../../src/model/topology.ts';
import { parsePodRef, findPod, podLabel } from '../../src/model/pod-refs.ts';
import { isIanaSvcName } from '../../src/model/pod-ports.ts';
import { serviceFrontends } from '../../src/lab/service-frontends.ts';
import { resolvConfTargets } from '../../src/lab/cluster-dns.ts';
import { resolvConf } from '../../src/dns/responder.ts';
import { parseApplyFile, planApply } from '../../src/model/apply.ts';
import { planProblems as problems, refusalProblems } from '../helpers/problems.ts';

const IANA = 'IANA_SVC_NAME: 1-15 lowercase letters, digits and "-", at least one letter, no "-" at either end or twice in a row';

const webs = {
  cluster: { dns: false },
  nodes: [
    { name: 'n1', pods: [{ name: 'web', namespace: 'a', labels: { app: 'web' } }, { name: 'client', labels: { app: 'client' } }] },
    { name: 'n2', pods: [{ name: 'web', namespace: 'b', labels: { app: 'web' } }, { name: 'web', labels: { app: 'web' } }] },
  ],
  services: [{ name: 'web', namespace: 'a', selector: { app: 'web' }, ports: [{ port: 80 }] }],
};

describe('namespaces: pods, Services and the namespaces list', () => {
  it("a Service's selector picks pods of its own namespace only", () => {
    const plan = planTopology(webs);
    const web = plan.services.find((s) => s.name === 'web')!;
    const a = allPods(plan).find((p) => p.name === 'web' && p.k8sNamespace === 'a')!;
    expect(web.endpoints.map((e) => `${e.pod} ${e.ip}`)).toEqual([`web ${a.ip}`]);
    // the same selector in default picks default/web only
    const inDefault = planTopology({ ...webs, services: [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80 }] }] });
    expect(inDefault.services[0].endpoints.map((e) => `${e.pod} ${e.node}`)).toEqual(['web n2']);
    // expressible before pods had namespaces (all in default): a Service in namespace a picked default/web (on 2f91ec4: endpoints [web n1])
    const crossOnly = planTopology({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: [{ name: 'web', labels: { app: 'web' } }] }], services: [{ name: 'web', namespace: 'a', selector: { app: 'web' }, ports: [{ port: 80 }] }] });
    expect(crossOnly.services[0].endpoints).toEqual([]);
  });

  it('the same pod name in two namespaces: accepted, each its own network namespace; pods in default keep pw-<pod>', () => {
    const plan = planTopology(webs);
    expect(allPods(plan).map((p) => `${p.k8sNamespace}/${p.name} ${p.namespace} ${p.ip}`)).toEqual([
      'a/web pw-web_a 10.244.0.2', 'default/client pw-client 10.244.0.3',
      'b/web pw-web_b 10.244.1.2', 'default/web pw-web 10.244.1.3',
    ]);
    const netns = allPods(plan).map((p) => p.namespace);
    expect(new Set(netns).size).toBe(netns.length);
    // the longest names still make a legal namespace name (a file under /run/netns: 255 bytes at most)
    const long = planTopology({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: [{ name: 'p'.repeat(63), namespace: 'n'.repeat(63) }] }] });
    expect(allPods(long)[0].namespace).toBe(`pw-${'p'.repeat(63)}_${'n'.repeat(63)}`);
    expect(allPods(long)[0].namespace.length).toBeLessThanOrEqual(255);
  });

  it('namespaces: listed ones carry their labels and kubernetes.io/metadata.name; those only named exist implicitly', () => {
    const plan = planTopology({ ...webs, cluster: {}, namespaces: [{ name: 'b', labels: { team: 'shop' } }, 'c'] });
    expect(plan.namespaces).toEqual([
      { name: 'b', labels: { team: 'shop', 'kubernetes.io/metadata.name': 'b' } },
      { name: 'c', labels: { 'kubernetes.io/metadata.name': 'c' } },
      { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' }, implicit: true },
      { name: 'a', labels: { 'kubernetes.io/metadata.name': 'a' }, implicit: true },
      { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' }, implicit: true },
    ]);
    // with no pods outside default and no DNS: just default
    expect(planTopology({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: ['x'] }] }).namespaces!.map((n) => n.name)).toEqual(['default']);
  });

  it('refused: bad namespace names, a duplicate pod in one namespace, a bad namespaces list', () => {
    const one = (pod: unknown, extra: Record<string, unknown> = {}) => ({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: [pod] }], ...extra });
    expect(problems(one({ name: 'web', namespace: 'Shop' })))
      .toEqual(['node n1 pods[0].namespace: "Shop" is not a valid namespace name (lowercase letters, digits, "-", at most 63)']);
    expect(problems(one({ name: 'web', namespace: 'x'.repeat(64) })))
      .toEqual([`node n1 pods[0].namespace: "${'x'.repeat(64)}" is not a valid namespace name (lowercase letters, digits, "-", at most 63)`]);
    expect(problems(one({ name: 'web', namespace: 7 }))).toEqual(['node n1 pods[0].namespace: expected a namespace name']);
    expect(problems({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: [{ name: 'web', namespace: 'a' }] }, { name: 'n2', pods: [{ name: 'web', namespace: 'a' }] }] }))
      .toEqual(['duplicate pod name "web" in namespace a (on nodes n1 and n2): pod names are unique within a namespace']);
    expect(problems(one('x', { namespaces: { a: {} } }))).toEqual(['namespaces: expected a list like [{ name: shop, labels: { team: shop } }]']);
    expect(problems(one('x', { namespaces: ['a', { name: 'a' }, { name: 'B' }, 3, { name: 'c', labels: ['x'] }, { name: 'd', labels: { n: 1 } }, { name: 'e', owner: 'me' }] }))).toEqual([
      'namespaces[1].name: namespace "a" is already namespaces[0]',
      'namespaces[2].name: "B" is not a valid namespace name (lowercase letters, digits, "-", at most 63)',
      'namespaces[3]: expected a name or { name, labels }',
      'namespaces[4].labels: expected a mapping of label names to strings, like { team: shop }',
      'namespaces[5].labels.n: 1 is not a string (quote it)',
      'namespaces[6].owner: unknown key (known: name, labels)',
    ]);
    expect(problems(one('x', { namespaces: [{ name: 'a', labels: { 'kubernetes.io/metadata.name': 'b' } }] })))
      .toEqual(['namespaces[0].labels.kubernetes.io/metadata.name: "b" differs from the namespace\'s name (Kubernetes sets this label to the name)']);
  });
});

describe('namespaces: named container ports and named targetPorts', () => {
  const lab = (ports: unknown[], otherPorts?: unknown[]) => planTopology({
    cluster: { dns: false },
    nodes: [{ name: 'n1', pods: [
      { name: 'w1', labels: { app: 'w' }, ports },
      { name: 'w2', labels: { app: 'w' }, ...(otherPorts ? { ports: otherPorts } : {}) },
    ] }],
    services: [{ name: 'w', selector: { app: 'w' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }] }],
  });

  it('resolved per backend pod: each pod its own port of that name; a pod without it is no backend for that port', () => {
    const plan = lab([{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }], [{ name: 'http', containerPort: 9090 }, { name: 'dns', containerPort: 53, protocol: 'TCP' }]);
    const [w1, w2] = allPods(plan);
    expect(w1.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }]);
    const svc = plan.services[0];
    expect(svc.ports.map((p) => p.targetPort)).toEqual(['http', 'dns']);
    expect(svc.endpoints.map((e) => e.targetPorts)).toEqual([{ 'http/TCP': 8080, 'dns/UDP': 5353 }, { 'http/TCP': 9090 }]);
    const fe = serviceFrontends(plan, plan.nodes[0]);
    expect(fe.map((f) => `${f.vip}:${f.port}/${f.proto} -> ${f.backends.map((b) => `${b.ip}:${b.port}`).join(' ')}`)).toEqual([
      `${svc.clusterIP}:80/tcp -> ${w1.ip}:8080 ${w2.ip}:9090`,
      // w2's "dns" is TCP: no UDP port of that name, so no backend of 53/UDP (as FindPort matches name and protocol)
      `${svc.clusterIP}:53/udp -> ${w1.ip}:5353`,
    ]);
    // a pod declaring no ports is an endpoint of no named port
    const bare = lab([{ name: 'http', containerPort: 8080 }]);
    expect(serviceFrontends(bare, bare.nodes[0])[0].backends.map((b) => b.port)).toEqual([8080]);
  });

  it('refused: a containerPort out of range, a port name that is not an IANA_SVC_NAME, a name twice, an unknown protocol', () => {
    expect(problems({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: [{ name: 'w', ports: [
      { name: 'http', containerPort: 0 }, { containerPort: 70000 }, { name: 'http--x', containerPort: 80 },
      { name: 'http', containerPort: 81 }, { name: 'ok', containerPort: 82, protocol: 'SCTP' }, { name: 'q', containerPort: 83, hostPort: 8 },
      { name: 'http', containerPort: 84 }, 'x', { name: '' },
    ] }] }] })).toEqual([
      'node n1 pods[0].ports[0].containerPort: 0 is not an integer in [1, 65535]',
      'node n1 pods[0].ports[1].containerPort: 70000 is not an integer in [1, 65535]',
      `node n1 pods[0].ports[2].name: "http--x" is not a valid port name (${IANA})`,
      // a port refused for its number still holds its name
      'node n1 pods[0].ports[3].name: "http" is already the name of ports[0]',
      'node n1 pods[0].ports[4].protocol: unknown protocol "SCTP" (expected one of TCP, UDP)',
      'node n1 pods[0].ports[5].hostPort: unknown key (known: name, containerPort, protocol)',
      'node n1 pods[0].ports[6].name: "http" is already the name of ports[0]',
      'node n1 pods[0].ports[7]: expected a mapping like { name: http, containerPort: 8080 }',
      'node n1 pods[0].ports[8].containerPort: required',
      `node n1 pods[0].ports[8].name: "" is not a valid port name (${IANA})`,
    ]);
    expect(problems({ cluster: { dns: false }, nodes: [{ name: 'n1', pods: [{ name: 'w', ports: { http: 80 } }] }] }))
      .toEqual(['node n1 pods[0].ports: expected a list like [{ name: http, containerPort: 8080 }]']);
    expect(['http', 'h2c', 'x-1', 'a'.repeat(15)].every(isIanaSvcName)).toBe(true);
    expect(['', '80', '-a', 'a-', 'a--b', 'A', 'a_b', 'a'.repeat(16)].some(isIanaSvcName)).toBe(false);
  });

  it('podwire apply: a named targetPort of the wrong shape is refused naming the document and field; nothing applied', () => {
    const plan = planTopology({ ...webs });
    const file = 'apiVersion: v1\nkind: Service\nmetadata: { name: api, namespace: a }\nspec: { selector: { app: web }, ports: [{ port: 80, targetPort: "-http" }] }\n';
    expect(refusalProblems(() => parseApplyFile(file, 'api.yaml'), file))
      .toEqual([`document 1 (Service api): spec.ports[0].targetPort: "-http" is neither a port number nor a valid port name (${IANA})`]);
    // a good one selects in its own namespace
    const ok = planApply(plan, parseApplyFile(file.replace('"-http"', 'http'), 'api.yaml'));
    expect(ok.services.find((s) => s.name === 'api')!.endpoints.map((e) => `${e.pod} ${e.node} ${JSON.stringify(e.targetPorts)}`)).toEqual(['web n1 {}']);
  });
});

describe('namespaces: EndpointSlices', () => {
  it("an endpoint's targetRef.namespace is checked against the pod holding its address", () => {
    const plan = planTopology({ ...webs });
    const aWeb = allPods(plan).find((p) => p.k8sNamespace === 'a')!;
    const slice = (ns: unknown) => [
      'apiVersion: v1\nkind: Service\nmetadata: { name: legacy, namespace: a }\nspec: { ports: [{ port: 80 }] }',
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: legacy-1, namespace: a, labels: { kubernetes.io/service-name: legacy } }\naddressType: IPv4\nendpoints: [{ addresses: [${aWeb.ip}], targetRef: { kind: Pod, name: web, namespace: ${ns} } }]`,
    ].join('\n---\n') + '\n';
    expect(planApply(plan, parseApplyFile(slice('a'), 'l.yaml')).services.find((s) => s.name === 'legacy')!.endpoints.map((e) => e.ip)).toEqual([aWeb.ip]);
    expect(refusalProblems(() => planApply(plan, parseApplyFile(slice('b'), 'l.yaml')), 'b'))
      .toEqual([`document 1 (Service legacy): endpoints[0]: ${aWeb.ip} is pod web of namespace a, not of b`]);
    expect(refusalProblems(() => parseApplyFile(slice('B_'), 'l.yaml'), 'B_'))
      .toEqual(['document 2 (EndpointSlice legacy-1): endpoints[0].targetRef.namespace: "B_" is not a valid namespace']);
  });
});

describe('namespaces: naming pods, and each pod\'s resolv.conf', () => {
  it('NAME (default), NAMESPACE/NAME and NAME.NAMESPACE', () => {
    expect(parsePodRef('web')).toEqual({ namespace: 'default', name: 'web' });
    expect(parsePodRef('a/web')).toEqual({ namespace: 'a', name: 'web' });
    expect(parsePodRef('web.a')).toEqual({ namespace: 'a', name: 'web' });
    const pods = allPods(planTopology(webs));
    expect(findPod(pods, 'web')?.node).toBe('n2');
    expect(findPod(pods, 'a/web')?.namespace).toBe('pw-web_a');
    expect(findPod(pods, 'web.b')?.namespace).toBe('pw-web_b');
    expect(findPod(pods, 'c/web')).toBeUndefined();
    expect(pods.map(podLabel)).toEqual(['a/web', 'client', 'b/web', 'web']);
  });

  it("each pod's search path starts with its own namespace", () => {
    const plan = planTopology({ ...webs, cluster: {} });
    expect(resolvConfTargets(plan)).toEqual([
      { netns: 'pw-web_a', k8sNamespace: 'a' }, { netns: 'pw-client', k8sNamespace: 'default' },
      { netns: 'pw-web_b', k8sNamespace: 'b' }, { netns: 'pw-web', k8sNamespace: 'default' },
    ]);
    expect(resolvConf(plan.dnsIP, 'a')).toContain('\nsearch a.svc.cluster.local svc.cluster.local cluster.local\n');
  });
});
