// Services in the model: how ClusterIPs, nodePorts and endpoints are decided,
// and every Service podwire refuses, with its exact message.
import { describe, it, expect } from 'vitest';
import { planTopology, TopologyError } from '../../src/model/topology.ts';
import { planServices, dnsServiceIP, serviceFqdn } from '../../src/model/services.ts';
import { refusalProblems } from '../helpers/problems.ts';

const nodes = [
  { name: 'n1', pods: [{ name: 'web-1', labels: { app: 'web' } }, { name: 'db-1', labels: { app: 'db' } }] },
  { name: 'n2', pods: [{ name: 'web-2', labels: { app: 'web', tier: 'front' } }, 'plain'] },
];
// the cluster DNS (its kube-dns Service, test/model/dns.test.ts) is off here: these lists are the user's Services only
const lab = (services: unknown, cluster: Record<string, unknown> = {}) => planTopology({ cluster: { dns: false, ...cluster }, nodes, services });
const svc = (name: string, extra: Record<string, unknown> = {}) => ({ name, ports: [{ port: 80 }], ...extra });

/** The problems planTopology reports for a lab with these services. */
function problems(services: unknown, cluster: Record<string, unknown> = {}): string[] {
  return refusalProblems(() => lab(services, cluster), services);
}

describe('services: allocation', () => {
  it('the DNS address and FQDNs', () => {
    expect(dnsServiceIP('10.96.0.0/12')).toBe('10.96.0.10');
    expect(dnsServiceIP('10.100.8.0/28')).toBe('10.100.8.10');
    expect(() => dnsServiceIP('10.100.8.0/29')).toThrow('serviceCIDR 10.100.8.0/29 is too small to hold the cluster DNS address (its 10th address): use a /28 or larger');
    expect(serviceFqdn({ name: 'web', namespace: 'default' })).toBe('web.default.svc.cluster.local');
    const plan = lab([]);
    expect(plan.dnsIP).toBe('10.96.0.10');
    expect(plan.services).toEqual([]);
    expect(planTopology({ cluster: { dns: false }, nodes }).services).toEqual([]);
    expect(planTopology({ nodes }).services.map((s) => `${s.namespace}/${s.name} ${s.clusterIP}`)).toEqual(['kube-system/kube-dns 10.96.0.10']);
  });

  it('ClusterIPs in address order from .1, skipping the DNS address .10', () => {
    const plan = lab(Array.from({ length: 11 }, (_, i) => svc(`s${i}`)));
    expect(plan.services.map((s) => s.clusterIP)).toEqual([
      '10.96.0.1', '10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5', '10.96.0.6', '10.96.0.7', '10.96.0.8', '10.96.0.9',
      '10.96.0.11', '10.96.0.12',
    ]);
  });

  it('explicit ClusterIPs are kept and skipped by allocation', () => {
    const plan = lab([svc('a'), svc('b', { clusterIP: '10.96.0.2' }), svc('c'), svc('d', { clusterIP: '10.97.1.1' })]);
    expect(plan.services.map((s) => [s.name, s.clusterIP])).toEqual([['a', '10.96.0.1'], ['b', '10.96.0.2'], ['c', '10.96.0.3'], ['d', '10.97.1.1']]);
  });

  it('a /28 runs out after 13 Services (network, DNS and broadcast are not given out)', () => {
    const cluster = { serviceCIDR: '10.100.0.0/28' };
    expect(lab(Array.from({ length: 13 }, (_, i) => svc(`s${i}`)), cluster).services.at(-1)!.clusterIP).toBe('10.100.0.14');
    expect(problems(Array.from({ length: 14 }, (_, i) => svc(`s${i}`)), cluster))
      .toEqual(['service s13: cluster.serviceCIDR 10.100.0.0/28 has no free address left']);
  });

  it('defaults: namespace, type, targetPort, protocol, affinity, policies', () => {
    const [s] = lab([svc('web')]).services;
    expect(s).toEqual({
      name: 'web', namespace: 'default', type: 'ClusterIP', clusterIP: '10.96.0.1',
      ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }],
      sessionAffinity: 'None', sessionAffinityTimeoutSeconds: 10800,
      externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', externalIPs: [], endpoints: [],
    });
  });

  it('every field given', () => {
    const [s] = lab([{
      name: 'web', namespace: 'shop', type: 'LoadBalancer', clusterIP: '10.96.5.5',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 31000 }, { name: 'dns', port: 53, protocol: 'UDP' }],
      selector: { app: 'web' }, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', externalIPs: ['192.0.2.7'], loadBalancerIP: '192.0.2.8',
    }]).services;
    expect(s).toMatchObject({
      namespace: 'shop', type: 'LoadBalancer', clusterIP: '10.96.5.5',
      ports: [
        { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 31000 },
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP', nodePort: 30000 },
      ],
      sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 60,
      externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', externalIPs: ['192.0.2.7'], loadBalancerIP: '192.0.2.8',
    });
    expect(serviceFqdn(s)).toBe('web.shop.svc.cluster.local');
  });

  it('nodePorts: from 30000 up, skipping those given, none for ClusterIP', () => {
    const plan = lab([
      svc('a', { type: 'NodePort' }),
      svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30001 }] }),
      svc('c', { type: 'LoadBalancer', ports: [{ name: 'x', port: 80 }, { name: 'y', port: 81 }] }),
      svc('d'),
    ]);
    expect(plan.services.map((s) => s.ports.map((p) => p.nodePort))).toEqual([[30000], [30001], [30002, 30003], [undefined]]);
    // one Service may use a nodePort for TCP and UDP alike
    const [dns] = lab([svc('dns', { type: 'NodePort', ports: [{ name: 't', port: 53, nodePort: 30053 }, { name: 'u', port: 53, protocol: 'UDP', nodePort: 30053 }] })]).services;
    expect(dns.ports.map((p) => p.nodePort)).toEqual([30053, 30053]);
  });

  it("endpoints by selector, across nodes (the issue's example)", () => {
    const plan = lab([svc('web', { selector: { app: 'web' } }), svc('front', { selector: { app: 'web', tier: 'front' } }), svc('none', { selector: { app: 'cache' } }), svc('manual')]);
    const [web, front, none, manual] = plan.services;
    expect(web.endpoints).toEqual([
      { pod: 'web-1', node: 'n1', ip: '10.244.0.2', ready: true },
      { pod: 'web-2', node: 'n2', ip: '10.244.1.2', ready: true },
    ]);
    expect(front.endpoints.map((e) => e.pod)).toEqual(['web-2']);
    expect(none.endpoints).toEqual([]);
    expect(manual.endpoints).toEqual([]);
    // an empty selector selects nothing, as in Kubernetes
    expect(lab([svc('e', { selector: {} })]).services[0].endpoints).toEqual([]);
  });

  it('endpoints are sorted by pod name, whatever the node order', () => {
    const plan = planTopology({
      nodes: [{ name: 'n1', pods: [{ name: 'z', labels: { app: 'x' } }] }, { name: 'n2', pods: [{ name: 'b', labels: { app: 'x' } }, { name: 'a', labels: { app: 'x' } }] }],
      services: [svc('x', { selector: { app: 'x' } })],
    });
    expect(plan.services[0].endpoints.map((e) => `${e.pod}@${e.node}`)).toEqual(['a@n2', 'b@n2', 'z@n1']);
  });

  it('planServices on its own, against a plan', () => {
    const plan = lab([]);
    expect(planServices([svc('web', { selector: { app: 'web' } })], plan)[0].endpoints.map((e) => e.pod)).toEqual(['web-1', 'web-2']);
    expect(() => planServices([svc('web', { type: 'Bogus' })], plan)).toThrow('services is invalid:\n  - service web: type: unknown Service type "Bogus" (expected one of ClusterIP, NodePort, LoadBalancer, ExternalName)');
  });
});

describe('services: refused, each with its message', () => {
  it('not a list, not a mapping, bad names', () => {
    expect(problems({ web: {} })).toEqual(['services: expected a list']);
    expect(problems(['web'])).toEqual(['services[0]: expected a mapping with "name" and "ports"']);
    expect(problems([svc('Web'), svc('1web'), { ports: [{ port: 80 }] }])).toEqual([
      'services[0].name: "Web" is not a valid Service name (lowercase letters, digits, "-", starting with a letter, at most 63)',
      'services[1].name: "1web" is not a valid Service name (lowercase letters, digits, "-", starting with a letter, at most 63)',
      'services[2].name: undefined is not a valid Service name (lowercase letters, digits, "-", starting with a letter, at most 63)',
    ]);
    expect(problems([svc('web', { namespace: 'Shop' })])).toEqual(['services[0].namespace: "Shop" is not a valid namespace (lowercase letters, digits, "-", at most 63)']);
  });

  it('unknown keys', () => {
    expect(problems([svc('web', { selecter: { app: 'web' } })])).toEqual([
      'services[0].selecter: unknown key (known: name, namespace, type, clusterIP, ports, selector, sessionAffinity, sessionAffinityConfig, externalTrafficPolicy, internalTrafficPolicy, externalIPs, loadBalancerIP, externalName)',
    ]);
    expect(problems([svc('web', { ports: [{ port: 80, target: 8080 }] })])).toEqual(['service web: ports[0].target: unknown key (known: name, port, targetPort, protocol, nodePort)']);
  });

  it('duplicate names per namespace (the same name in another namespace is fine)', () => {
    expect(problems([svc('web'), svc('web')])).toEqual(['service web: duplicate Service name "web" in namespace default']);
    expect(problems([svc('web', { namespace: 'shop' }), svc('web', { namespace: 'shop' })])).toEqual(['service shop/web: duplicate Service name "web" in namespace shop']);
    expect(lab([svc('web'), svc('web', { namespace: 'shop' })]).services.map((s) => s.clusterIP)).toEqual(['10.96.0.1', '10.96.0.2']);
  });

  it('bad ports', () => {
    expect(problems([svc('web', { ports: [] })])).toEqual(['service web: ports: expected a list with at least one port']);
    expect(problems([svc('web', { ports: [{ port: 0 }, { port: 65536 }, { port: 'eighty' }, {}, 80] })])).toEqual([
      'service web: ports[0].name: required when a Service has more than one port',
      'service web: ports[0].port: 0 is not an integer in [1, 65535]',
      'service web: ports[1].name: required when a Service has more than one port',
      'service web: ports[1].port: 65536 is not an integer in [1, 65535]',
      'service web: ports[2].name: required when a Service has more than one port',
      'service web: ports[2].port: "eighty" is not an integer in [1, 65535]',
      'service web: ports[3].name: required when a Service has more than one port',
      'service web: ports[3].port: required',
      'service web: ports[4]: expected a mapping like { port: 80, targetPort: 8080 }',
    ]);
    expect(problems([svc('web', { ports: [{ port: 80, targetPort: 0 }] })])).toEqual(['service web: ports[0].targetPort: 0 is not an integer in [1, 65535]']);
  });

  it('a named targetPort of the wrong shape', () => {
    for (const bad of ['8080', 'http--alt', '-http', 'a-very-long-port-name'])
      expect(problems([svc('web', { ports: [{ port: 80, targetPort: bad }] })]))
        .toEqual([`service web: ports[0].targetPort: "${bad}" is neither a port number nor a valid port name (IANA_SVC_NAME: 1-15 lowercase letters, digits and "-", at least one letter, no "-" at either end or twice in a row)`]);
  });

  it('duplicate port and protocol, duplicate port names', () => {
    expect(problems([svc('web', { ports: [{ name: 'a', port: 80 }, { name: 'b', port: 80, protocol: 'UDP' }, { name: 'a', port: 80, targetPort: 8080 }] })])).toEqual([
      'service web: ports[2].name: "a" is already the name of ports[0]',
      'service web: ports[2]: port 80/TCP is already ports[0]',
    ]);
  });

  it('unknown type, protocol, affinity and policies', () => {
    expect(problems([svc('web', {
      type: 'Ingress', ports: [{ port: 80, protocol: 'SCTP' }], sessionAffinity: 'Cookie',
      externalTrafficPolicy: 'Nearest', internalTrafficPolicy: 'local',
    })])).toEqual([
      'service web: type: unknown Service type "Ingress" (expected one of ClusterIP, NodePort, LoadBalancer, ExternalName)',
      'service web: ports[0].protocol: unknown protocol "SCTP" (expected one of TCP, UDP)',
      'service web: sessionAffinity: unknown session affinity "Cookie" (expected one of None, ClientIP)',
      'service web: externalTrafficPolicy: unknown traffic policy "Nearest" (expected one of Cluster, Local)',
      'service web: internalTrafficPolicy: unknown traffic policy "local" (expected one of Cluster, Local)',
    ]);
  });

  it('affinity config', () => {
    expect(problems([svc('web', { sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } } })]))
      .toEqual(['service web: sessionAffinityConfig: only allowed with sessionAffinity ClientIP']);
    expect(problems([svc('web', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } })]))
      .toEqual(['service web: sessionAffinityConfig.clientIP.timeoutSeconds: 0 is not an integer in [1, 86400]']);
    expect(problems([svc('web', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { timeoutSeconds: 5 } })]))
      .toEqual(['service web: sessionAffinityConfig: expected { clientIP: { timeoutSeconds: N } }']);
  });

  it('a selector that is not a string map', () => {
    const msg = 'service web: selector: expected a mapping of label names to strings, like { app: web }';
    expect(problems([svc('web', { selector: 'app=web' })])).toEqual([msg]);
    expect(problems([svc('web', { selector: { app: 1 } })])).toEqual([msg]);
    expect(problems([svc('web', { selector: ['app'] })])).toEqual([msg]);
  });

  it('ClusterIPs: not an address, outside the range, reserved, taken, headless', () => {
    // field problems are reported first (as the topology's are); the checks across Services once the fields are right
    expect(problems([svc('a', { clusterIP: '10.96.0.300' }), svc('h', { clusterIP: 'None', type: 'NodePort' })])).toEqual([
      'service a: clusterIP: "10.96.0.300" is not an IPv4 address',
      'service h: clusterIP: "None" (headless) requires type ClusterIP, not NodePort',
    ]);
    expect(problems([
      svc('b', { clusterIP: '10.200.0.1' }), svc('c', { clusterIP: '10.96.0.10' }),
      svc('d', { clusterIP: '10.96.0.0' }), svc('e', { clusterIP: '10.111.255.255' }), svc('f', { clusterIP: '10.96.0.7' }),
      svc('g', { clusterIP: '10.96.0.7' }),
    ])).toEqual([
      'service b: clusterIP 10.200.0.1 is outside cluster.serviceCIDR 10.96.0.0/12',
      'service c: clusterIP 10.96.0.10 is reserved for the cluster DNS Service',
      'service d: clusterIP 10.96.0.0 is the network address of cluster.serviceCIDR 10.96.0.0/12',
      'service e: clusterIP 10.111.255.255 is the broadcast address of cluster.serviceCIDR 10.96.0.0/12',
      'service g: clusterIP 10.96.0.7 is already the clusterIP of service f',
    ]);
  });

  it('nodePorts: out of range, on a ClusterIP Service, taken', () => {
    expect(problems([svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }), svc('b', { ports: [{ port: 80, nodePort: 30080 }] })])).toEqual([
      'service a: ports[0].nodePort: 80 is not an integer in [30000, 32767]',
      'service b: ports[0].nodePort: only a NodePort or LoadBalancer Service has nodePorts',
    ]);
    expect(problems([
      svc('c', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
      svc('d', { type: 'LoadBalancer', ports: [{ port: 81, nodePort: 30080 }] }),
      svc('e', { type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30090 }, { name: 'b', port: 81, nodePort: 30090 }] }),
    ])).toEqual([
      'service d: ports[0].nodePort 30080 is already used by service c',
      'service e: ports[1].nodePort 30090/TCP is used twice',
    ]);
  });

  it('externalIPs, loadBalancerIP, externalTrafficPolicy where they do not apply', () => {
    expect(problems([svc('web', { externalIPs: ['1.2.3'], loadBalancerIP: '192.0.2.1', externalTrafficPolicy: 'Local' })])).toEqual([
      'service web: externalIPs[0]: "1.2.3" is not an IPv4 address',
      'service web: externalTrafficPolicy: only applies to NodePort and LoadBalancer Services, or to externalIPs',
      'service web: loadBalancerIP: only a LoadBalancer Service has a loadBalancerIP',
    ]);
    expect(problems([svc('web', { externalIPs: '192.0.2.1' })])).toEqual(['service web: externalIPs: expected a list of IPv4 addresses']);
  });

  it('a serviceCIDR too small for the DNS address', () => {
    expect(problems([], { serviceCIDR: '10.100.0.0/29' }))
      .toEqual(['cluster.serviceCIDR 10.100.0.0/29 is too small: the cluster DNS address is its 10th address (use a /28 or larger)']);
  });

  it('several problems at once, with the rest of the topology', () => {
    try {
      planTopology({ cluster: { overlay: 'gre' }, nodes, services: [svc('web', { type: 'Headless' }), svc('web', { ports: [{ port: -1 }] }), svc('ok', { clusterIP: '10.0.0.1' })] });
      throw new Error('accepted');
    } catch (e) {
      expect((e as TopologyError).problems).toEqual([
        'cluster.overlay: unknown overlay "gre" (expected one of vxlan, ipip, host-gw)',
        'service web: type: unknown Service type "Headless" (expected one of ClusterIP, NodePort, LoadBalancer, ExternalName)',
        'service web: ports[0].port: -1 is not an integer in [1, 65535]',
      ]);
    }
    // field problems fixed, the allocation problems show
    expect(problems([svc('web'), svc('web'), svc('ok', { clusterIP: '10.0.0.1' })])).toEqual([
      'service web: duplicate Service name "web" in namespace default',
      'service ok: clusterIP 10.0.0.1 is outside cluster.serviceCIDR 10.96.0.0/12',
    ]);
  });
});
