// Kubernetes manifests read into the model (for a future `podwire apply`):
// Services and EndpointSlices, and every document refused, with its message.
import { describe, it, expect } from 'vitest';
import { parseManifests } from '../../src/model/manifests.ts';
import { planTopology } from '../../src/model/topology.ts';
import { allocateServices } from '../../src/model/services.ts';
import { refusalProblems } from '../helpers/problems.ts';

/** The problems parseManifests reports (fails the test if it accepts the text). */
function problems(text: string): string[] {
  return refusalProblems(() => parseManifests(text), text);
}

const WEB = `
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: { app: web }
spec:
  type: NodePort
  selector: { app: web }
  ports:
    - name: http
      port: 80
      targetPort: 8080
      nodePort: 30080
`;
const EXTERNAL = `
apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: shop }
spec:
  ports: [{ name: http, port: 80 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: legacy-1
  namespace: shop
  labels: { kubernetes.io/service-name: legacy }
addressType: IPv4
ports: [{ name: http, port: 9090, protocol: TCP }]
endpoints:
  - addresses: [10.244.0.2]
    conditions: { ready: true }
    nodeName: n1
    targetRef: { kind: Pod, name: web-1 }
  - addresses: [10.244.1.2]
    conditions: { ready: false }
`;

describe('manifests: read', () => {
  it('a Service, with defaults filled in', () => {
    expect(parseManifests(WEB).services).toEqual([{
      name: 'web', namespace: 'default', type: 'NodePort', selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 }],
      sessionAffinity: 'None', sessionAffinityTimeoutSeconds: 10800,
      externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', externalIPs: [],
    }]);
  });

  it('Service + EndpointSlice round trip: endpoints and targetPort from the slice, then planned against a lab', () => {
    const { services } = parseManifests(WEB + '---' + EXTERNAL + '---\n');
    expect(services.map((s) => `${s.namespace}/${s.name}`)).toEqual(['default/web', 'shop/legacy']);
    const legacy = services[1];
    expect(legacy.ports).toEqual([{ name: 'http', port: 80, targetPort: 9090, protocol: 'TCP' }]);
    expect(legacy.endpoints).toEqual([
      { ip: '10.244.0.2', ready: true, node: 'n1', pod: 'web-1' },
      { ip: '10.244.1.2', ready: false },
    ]);
    const plan = planTopology({
      nodes: [
        { name: 'n1', pods: [{ name: 'web-1', labels: { app: 'web' } }] },
        { name: 'n2', pods: [{ name: 'web-2', labels: { app: 'web' } }] },
      ],
    });
    const problems: string[] = [];
    const planned = allocateServices(services, plan, problems);
    expect(problems).toEqual([]);
    expect(planned.map((s) => [s.name, s.clusterIP, s.ports[0].nodePort, s.endpoints])).toEqual([
      ['web', '10.96.0.1', 30080, [
        { pod: 'web-1', node: 'n1', ip: '10.244.0.2', ready: true },
        { pod: 'web-2', node: 'n2', ip: '10.244.1.2', ready: true },
      ]],
      ['legacy', '10.96.0.2', undefined, [
        { pod: 'web-1', node: 'n1', ip: '10.244.0.2', ready: true },
        { pod: 'web-2', node: 'n2', ip: '10.244.1.2', ready: false },
      ]],
    ]);
    // an endpoint that is no pod, or on another node than its pod
    const wrong = parseManifests(EXTERNAL.replace('10.244.1.2', '10.244.9.9').replace('nodeName: n1', 'nodeName: n2')).services;
    const p2: string[] = [];
    expect(allocateServices(wrong, plan, p2)).toEqual([]);
    expect(p2).toEqual(['service shop/legacy: endpoints[0]: pod web-1 (10.244.0.2) runs on node n1, not n2', 'service shop/legacy: endpoints[1]: 10.244.9.9 is not the address of any pod in the lab']);
  });

  it('empty text and empty documents are no Services', () => {
    expect(parseManifests('').services).toEqual([]);
    expect(parseManifests('---\n---\n').services).toEqual([]);
  });
});

describe('manifests: refused, each with its message naming the document', () => {
  it('a bad field, named by document index, kind and name', () => {
    expect(problems(WEB + '---\n' + WEB.replace('name: web', 'name: api').replace('port: 80', 'port: eighty')))
      .toEqual(['document 2 (Service api): spec.ports[0].port: "eighty" is not an integer in [1, 65535]']);
  });

  it('a named targetPort: a valid name is read, a bad one refused naming the document and field', () => {
    expect(parseManifests(WEB.replace('targetPort: 8080', 'targetPort: http')).services[0].ports[0].targetPort).toBe('http');
    expect(problems(WEB.replace('targetPort: 8080', 'targetPort: Http_1')))
      .toEqual(['document 1 (Service web): spec.ports[0].targetPort: "Http_1" is neither a port number nor a valid port name (IANA_SVC_NAME: 1-15 lowercase letters, digits and "-", at least one letter, no "-" at either end or twice in a row)']);
  });

  it('bad YAML', () => {
    const p = problems(WEB + '---\nkind: Service\nmetadata: { name: x\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^document 2: not valid YAML: /);
  });

  it('unsupported kinds, wrong apiVersion, not an object', () => {
    expect(problems('apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\n---\napiVersion: v1\nkind: Endpoints\nmetadata: { name: web }\n'))
      .toEqual([
        'document 1 (Deployment web): kind Deployment is not supported (podwire reads Service, EndpointSlice, Ingress, IngressClass, Secret, NetworkPolicy)',
        'document 2 (Endpoints web): kind Endpoints is not supported (podwire reads Service, EndpointSlice, Ingress, IngressClass, Secret, NetworkPolicy)',
      ]);
    expect(problems(WEB.replace('apiVersion: v1', 'apiVersion: v2'))).toEqual(['document 1 (Service web): apiVersion: "v2" is not v1 (a Service is apiVersion v1)']);
    expect(problems('- a\n- b\n')).toEqual(['document 1: expected a Kubernetes object (a mapping with apiVersion, kind, metadata)']);
    expect(problems('apiVersion: v1\nmetadata: { name: web }\n')).toEqual(['document 1: kind: required (podwire reads Service, EndpointSlice, Ingress, IngressClass, Secret, NetworkPolicy)']);
  });

  it('missing fields', () => {
    expect(problems('apiVersion: v1\nkind: Service\nmetadata: {}\nspec: { ports: [{ port: 80 }] }\n')).toEqual(['document 1 (Service): metadata.name: required']);
    expect(problems('apiVersion: v1\nkind: Service\nmetadata: { name: web }\n')).toEqual(['document 1 (Service web): spec: expected a mapping with ports']);
    expect(problems('apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web } }\n')).toEqual(['document 1 (Service web): spec.ports: expected a list with at least one port']);
    expect(problems('apiVersion: v1\nkind: Service\nspec: { ports: [{ port: 80 }] }\n')).toEqual(['document 1 (Service): metadata: expected a mapping with name']);
  });

  it('unknown keys in the object and its spec', () => {
    expect(problems(WEB.replace('spec:', 'spec:\n  ipFamily: [IPv4]') + 'extra: 1\n')).toEqual([
      'document 1 (Service web): extra: unknown key (known: apiVersion, kind, metadata, spec, status)',
      'document 1 (Service web): spec.ipFamily: unknown key (known: type, clusterIP, ports, selector, sessionAffinity, sessionAffinityConfig, externalTrafficPolicy, internalTrafficPolicy, externalIPs, loadBalancerIP, externalName)',
    ]);
  });

  it('EndpointSlices: no Service, a Service with a selector, a port the Service has not, bad fields', () => {
    const slice = EXTERNAL.split('---')[1];
    expect(problems(slice)).toEqual(['document 1 (EndpointSlice legacy-1): metadata.labels.kubernetes.io/service-name: no Service "legacy" in namespace shop among the documents']);
    expect(problems(WEB + '---' + slice.replace('legacy }', 'web }').replace('namespace: shop', 'namespace: default'))).toEqual([
      'document 2 (EndpointSlice legacy-1): metadata.labels.kubernetes.io/service-name: Service web has a selector, so its endpoints come from its pods: an EndpointSlice is for a Service without one',
    ]);
    expect(problems(EXTERNAL.replace('ports: [{ name: http, port: 9090', 'ports: [{ name: https, port: 9090')))
      .toEqual(['document 2 (EndpointSlice legacy-1): ports[0]: Service legacy has no TCP port named "https"']);
    expect(problems(EXTERNAL.replace('addressType: IPv4', 'addressType: IPv6').replace('[10.244.0.2]', '[10.244.0.2, 10.244.0.3]')
      .replace('{ ready: false }', '{ ready: maybe }').replace('labels: { kubernetes.io/service-name: legacy }', 'labels: {}'))).toEqual([
      'document 2 (EndpointSlice legacy-1): metadata.labels.kubernetes.io/service-name: required: the name of the Service this slice belongs to',
      'document 2 (EndpointSlice legacy-1): addressType: "IPv6": podwire models IPv4 only (addressType: IPv4)',
      'document 2 (EndpointSlice legacy-1): endpoints[0].addresses: expected a list of one IPv4 address',
      'document 2 (EndpointSlice legacy-1): endpoints[1].conditions.ready: expected true or false',
    ]);
  });

  it('several documents wrong at once', () => {
    expect(problems(`${WEB.replace('type: NodePort', 'type: Nodeport')}---
apiVersion: v1
kind: Service
metadata: { name: db }
spec: { ports: [{ port: 5432, protocol: SCTP }] }
---
kind: ConfigMap
metadata: { name: cfg }
`)).toEqual([
      'document 1 (Service web): spec.type: unknown Service type "Nodeport" (expected one of ClusterIP, NodePort, LoadBalancer, ExternalName)',
      'document 2 (Service db): spec.ports[0].protocol: unknown protocol "SCTP" (expected one of TCP, UDP)',
      'document 3 (ConfigMap cfg): kind ConfigMap is not supported (podwire reads Service, EndpointSlice, Ingress, IngressClass, Secret, NetworkPolicy)',
    ]);
  });
});

// What `kubectl get svc,endpointslice -o yaml` prints: the fields it always adds are accepted and ignored.
const EXPORTED = `
apiVersion: v1
kind: Service
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Service"}
  creationTimestamp: "2026-11-21T10:00:00Z"
  labels: { app: legacy }
  name: legacy
  namespace: shop
  resourceVersion: "4242"
  uid: 0b6a3c1e-1111-2222-3333-444455556666
spec:
  clusterIP: 10.96.0.44
  clusterIPs: [10.96.0.44]
  internalTrafficPolicy: Cluster
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: 9090
  sessionAffinity: None
  type: ClusterIP
status:
  loadBalancer: {}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  creationTimestamp: "2026-11-21T10:00:00Z"
  generateName: legacy-
  generation: 1
  labels:
    kubernetes.io/service-name: legacy
    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
  name: legacy-x7k2p
  namespace: shop
  ownerReferences:
  - { apiVersion: v1, kind: Service, name: legacy, uid: 0b6a3c1e-1111-2222-3333-444455556666 }
  resourceVersion: "4243"
  uid: 9f9f9f9f-1111-2222-3333-444455556666
addressType: IPv4
endpoints:
- addresses: [10.244.0.2]
  conditions: { ready: true, serving: true, terminating: false }
  nodeName: n1
  targetRef: { kind: Pod, name: web-1, namespace: shop, uid: 12345678-1111-2222-3333-444455556666 }
ports:
- { name: http, port: 9090, protocol: TCP, appProtocol: http }
`;

describe('manifests: what kubectl exports', () => {
  it('metadata (uid, resourceVersion, creationTimestamp, annotations, labels), clusterIPs, ipFamilies, ipFamilyPolicy, status: accepted, ignored', () => {
    const m = parseManifests(EXPORTED);
    expect(m.services).toEqual([{
      name: 'legacy', namespace: 'shop', type: 'ClusterIP', clusterIP: '10.96.0.44',
      ports: [{ name: 'http', port: 80, targetPort: 9090, protocol: 'TCP' }],
      sessionAffinity: 'None', sessionAffinityTimeoutSeconds: 10800,
      externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', externalIPs: [],
      endpoints: [{ ip: '10.244.0.2', ready: true, node: 'n1', pod: 'web-1', podNamespace: 'shop' }],
    }]);
    expect(m.origins).toEqual(['document 1 (Service legacy)']);
  });

  it('clusterIPs alone gives the clusterIP; a NodePort export (allocateLoadBalancerNodePorts, externalTrafficPolicy) too', () => {
    const svc = (spec: string) => `apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n${spec}\n`;
    expect(parseManifests(svc('  clusterIPs: [10.96.0.7]\n  ports: [{ port: 80 }]')).services[0].clusterIP).toBe('10.96.0.7');
    expect(parseManifests(svc('  type: LoadBalancer\n  allocateLoadBalancerNodePorts: true\n  externalTrafficPolicy: Cluster\n  ports: [{ port: 80, nodePort: 30080 }]')).services[0])
      .toMatchObject({ type: 'LoadBalancer', ports: [{ port: 80, nodePort: 30080 }] });
  });

  it('refused, naming document and field: dual stack, IPv6, clusterIPs disagreeing, headless', () => {
    const svc = (spec: string) => `apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  ports: [{ port: 80 }]\n${spec}\n`;
    expect(problems(svc('  ipFamilies: [IPv6]'))).toEqual(['document 1 (Service web): spec.ipFamilies: ["IPv6"]: podwire models IPv4 only (ipFamilies: [IPv4])']);
    expect(problems(svc('  ipFamilyPolicy: RequireDualStack'))).toEqual(['document 1 (Service web): spec.ipFamilyPolicy: RequireDualStack: podwire models IPv4 single-stack Services only']);
    expect(problems(svc('  ipFamilyPolicy: Sometimes'))).toEqual(['document 1 (Service web): spec.ipFamilyPolicy: unknown IP family policy "Sometimes" (expected one of SingleStack, PreferDualStack, RequireDualStack)']);
    expect(problems(svc('  clusterIP: 10.96.0.1\n  clusterIPs: [10.96.0.2]'))).toEqual(['document 1 (Service web): spec.clusterIPs[0]: "10.96.0.2" differs from clusterIP "10.96.0.1"']);
    expect(problems(svc('  clusterIPs: [10.96.0.2, "fd00::2"]'))).toEqual(['document 1 (Service web): spec.clusterIPs: ["10.96.0.2","fd00::2"]: podwire models IPv4 single-stack Services only (one clusterIP)']);
    expect(problems(svc('  clusterIP: 10.96.0.1\n  clusterIPs: [None]'))).toEqual(['document 1 (Service web): spec.clusterIPs[0]: "None" differs from clusterIP "10.96.0.1"']);
    expect(problems(svc('  type: ExternalName\n  externalName: -bad'))).toEqual(['document 1 (Service web): spec.externalName: "-bad" is not a DNS name (lowercase labels of letters, digits and "-", at most 253 characters); type ExternalName requires one']);
    expect(problems(svc('  externalName: db.example.com'))).toEqual(['document 1 (Service web): spec.externalName: only an ExternalName Service has an externalName']);
  });
});
