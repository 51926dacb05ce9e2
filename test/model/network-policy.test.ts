// NetworkPolicy in the model: the API server's refusals (each naming the
// field), the policyTypes defaults, and the compiled per-node tables checked
// against the netpol truth tables (test/helpers/netpol-cases.ts) through
// decidePolicy, which performs the data plane's lookups. No root needed.
import { describe, it, expect } from 'vitest';
import { planTopology, allPods } from '../../src/model/topology.ts';
import { compilePlanPolicies, decidePolicy, PROTO_NUMBER, type CompiledPolicies } from '../../src/model/network-policy-compile.ts';
import { planProblems as problems } from '../helpers/problems.ts';
import { truthTopology, TRUTH_CASES, ipBlockCase, allPodRefs, PORTS, grid, podName, type PodRef, type Proto, type TruthCase } from '../helpers/netpol-cases.ts';

const spec = (s: Record<string, unknown>) => truthTopology({ networkPolicies: [{ name: 'p', namespace: 'x', spec: s }] });

describe('NetworkPolicy: reading and refusals', () => {
  it('policyTypes default: Ingress, plus Egress when egress rules are present', () => {
    const plan = planTopology(truthTopology({ networkPolicies: [
      { name: 'i', namespace: 'x', spec: { podSelector: {} } },
      { name: 'e', namespace: 'x', spec: { podSelector: {}, egress: [{}] } },
      { name: 'only-e', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Egress'] } },
    ] }));
    expect(plan.networkPolicies!.map((p) => `${p.name}: ${p.policyTypes.join(',')}`)).toEqual(['i: Ingress', 'e: Ingress,Egress', 'only-e: Egress']);
  });

  it('refuses bad selectors, peers, ipBlocks and ports, naming the field', () => {
    const w = 'networkPolicies[0].spec';
    expect(problems(spec({ podSelector: { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['x'] }] } })))
      .toEqual([`${w}.podSelector.matchExpressions[0].operator: "Equals" is not a valid selector operator (In, NotIn, Exists, DoesNotExist)`]);
    expect(problems(spec({ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }, { key: 'app', operator: 'Exists', values: ['a'] }] } }))).toEqual([
      `${w}.podSelector.matchExpressions[0].values: must be specified when operator is In`,
      `${w}.podSelector.matchExpressions[1].values: may not be specified when operator is Exists`,
    ]);
    expect(problems(spec({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16', '10.0.0.0/8'] } }] }] }))).toEqual([
      `${w}.ingress[0].from[0].ipBlock.except[0]: 11.0.0.0/16 must be a strict subset of cidr 10.0.0.0/8`,
      `${w}.ingress[0].from[0].ipBlock.except[1]: 10.0.0.0/8 must be a strict subset of cidr 10.0.0.0/8`,
    ]);
    expect(problems(spec({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0/8' } }] }] })))
      .toEqual([`${w}.ingress[0].from[0].ipBlock.cidr: "10.0.0/8" is not a valid IPv4 CIDR like 10.0.0.0/16`]);
    expect(problems(spec({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }, {}] }] }))).toEqual([
      `${w}.ingress[0].from[0]: may not specify more than 1 peer type (ipBlock cannot be combined with podSelector or namespaceSelector)`,
      `${w}.ingress[0].from[1]: must specify a peer (podSelector, namespaceSelector or ipBlock)`,
    ]);
    expect(problems(spec({ podSelector: {}, egress: [{ ports: [{ endPort: 90 }, { port: 90, endPort: 80 }, { port: 'http', endPort: 90 }, { protocol: 'ICMP', port: 0 }] }] }))).toEqual([
      `${w}.egress[0].ports[0].endPort: may not be specified when port is not specified`,
      `${w}.egress[0].ports[1].endPort: 80 must be greater than or equal to port 90`,
      `${w}.egress[0].ports[2].endPort: may not be specified when port is a named port ("http")`,
      `${w}.egress[0].ports[3].protocol: "ICMP" is not one of TCP, UDP, SCTP`,
      `${w}.egress[0].ports[3].port: 0 is not an integer in [1, 65535]`,
    ]);
    expect(problems(spec({ podSelector: {}, policyTypes: ['Ingress', 'ingress'], ingres: [] }))).toEqual([
      `${w}.ingres: unknown key (known: podSelector, policyTypes, ingress, egress)`,
      `${w}.policyTypes[1]: "ingress" is not one of Ingress, Egress`,
    ]);
  });

  it('accepts a cidr with host bits (as its network) and a port name no pod declares (it matches nothing)', () => {
    const plan = planTopology(spec({ podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.7/16' } }], ports: [{ port: 'nope' }] }] }));
    const rule = plan.networkPolicies![0].ingress[0];
    expect(rule.peers).toEqual([{ kind: 'ipBlock', ipBlock: { cidr: { net: 0x0af40000, prefixLen: 16 }, except: [] } }]);
    const c = compilePlanPolicies(plan, 'n1');
    const xa = allPods(plan).find((p) => p.name === 'a' && p.k8sNamespace === 'x')!;
    const yb = allPods(plan).find((p) => p.name === 'b' && p.k8sNamespace === 'y')!;
    expect(decidePolicy(c, 'ingress', xa.ip, yb.ip, 6, 80)).toEqual({ allowed: false, isolatedBy: ['x/p'] });
  });
});

/** Every probe of a case through the compiled tables: egress at the source's node, then ingress at the destination's. */
function probeMatrix(tc: TruthCase, topo = truthTopology({ networkPolicies: tc.policies })) {
  const plan = planTopology(topo);
  const compiled = new Map<string, CompiledPolicies>(plan.nodes.map((n) => [n.name, compilePlanPolicies(plan, n.name)]));
  const pod = (r: PodRef) => allPods(plan).find((p) => p.name === r.pod && p.k8sNamespace === r.ns)!;
  const probe = (f: PodRef, t: PodRef, proto: Proto, port: number) => {
    const src = pod(f), dst = pod(t);
    return decidePolicy(compiled.get(src.node)!, 'egress', src.ip, dst.ip, PROTO_NUMBER[proto], port).allowed
      && decidePolicy(compiled.get(dst.node)!, 'ingress', dst.ip, src.ip, PROTO_NUMBER[proto], port).allowed;
  };
  return { plan, probe };
}

function checkCase(tc: TruthCase, topo?: ReturnType<typeof truthTopology>) {
  const { probe } = probeMatrix(tc, topo);
  for (const proto of tc.protocols ?? ['TCP', 'UDP']) for (const port of PORTS) {
    const self = (f: PodRef, t: PodRef) => podName(f) === podName(t);
    const got = (f: PodRef, t: PodRef) => self(f, t) || probe(f, t, proto, port);
    const want = (f: PodRef, t: PodRef) => self(f, t) || tc.allowed(f, t, proto, port);
    const same = allPodRefs.every((f) => allPodRefs.every((t) => got(f, t) === want(f, t)));
    if (!same) expect.fail(`${tc.name}, ${proto} ${port}:\nexpected\n${grid(want)}\ngot\n${grid(got)}`);
  }
}

describe('NetworkPolicy truth tables through the compiled tables', () => {
  it('no policy: everything reaches everything', () => checkCase({ name: 'none', policies: [], allowed: () => true, protocols: ['TCP', 'UDP'] }));
  for (const tc of TRUTH_CASES) it(tc.name, () => checkCase(tc));
  // the mixed-cluster layout of the e2e (x/a, y/a, y/b on kernel node k1): the same answers, compiled per node
  for (const tc of TRUTH_CASES) it(`${tc.name} (kernel node layout)`, () => checkCase(tc, truthTopology({ networkPolicies: tc.policies }, {}, 'kernel')));
  it('ipBlock with except', () => {
    const plan = planTopology(truthTopology());
    const ipOf = (r: PodRef) => allPods(plan).find((p) => p.name === r.pod && p.k8sNamespace === r.ns)!.ip;
    checkCase(ipBlockCase(ipOf));
  });
  it('the cost is per identity, not per pod or policy: 100 equivalent policies compile to the same entries', () => {
    const one = TRUTH_CASES[1];
    const many = { ...one, policies: Array.from({ length: 100 }, (_, i) => ({ ...one.policies[0], name: `from-y-${i}` })) };
    const a = compilePlanPolicies(planTopology(truthTopology({ networkPolicies: one.policies })), 'n1');
    const b = compilePlanPolicies(planTopology(truthTopology({ networkPolicies: many.policies })), 'n1');
    expect(b.allows.map((e) => [e.podIp, e.direction, e.peer, e.protocol, e.ranges.length])).toEqual(a.allows.map((e) => [e.podIp, e.direction, e.peer, e.protocol, e.ranges.length]));
    checkCase(many);
  });
});

describe('NetworkPolicy manifests', () => {
  it('reads networking.k8s.io/v1 NetworkPolicy documents; a bad one is refused naming document and field', async () => {
    const { parseManifests } = await import('../../src/model/manifests.ts');
    const { refusalProblems } = await import('../helpers/problems.ts');
    const good = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web-from-front, namespace: shop }
spec:
  podSelector: { matchLabels: { app: web } }
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: front } } }], ports: [{ port: http }] }]
`;
    const m = parseManifests(good);
    expect(m.networkPolicies.map((p) => [p.origin, p.value.namespace, p.value.name, p.value.policyTypes])).toEqual([['document 1 (NetworkPolicy web-from-front)', 'shop', 'web-from-front', ['Ingress']]]);
    const bad = `${good}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: bad }
spec: { podSelector: {}, egress: [{ ports: [{ port: 80, endPort: 79 }] }] }
`;
    expect(refusalProblems(() => parseManifests(bad), bad)).toEqual(['document 2 (NetworkPolicy bad): spec.egress[0].ports[0].endPort: 79 must be greater than or equal to port 80']);
  });
});

describe('podwire policies: the per-pod view of the compiled tables', () => {
  it('names the isolating policy, the peers, ports and rule', async () => {
    const { policyPodsJson } = await import('../../src/lab/policy-control.ts');
    const plan = planTopology(truthTopology({ networkPolicies: TRUTH_CASES[6].policies }));
    expect(policyPodsJson(compilePlanPolicies(plan, 'n1'))).toEqual([{
      node: 'n1', pod: 'x/a', ip: '10.244.0.2', enforced: true, enforcedBy: 'podwire',
      ingress: { isolatedBy: ['x/range'], allow: [{ peer: '0.0.0.0/0', protocol: 'TCP', ports: '81-90', rule: 'x/range ingress[0]' }] },
    }]);
    expect(policyPodsJson(compilePlanPolicies(plan, 'n2'))).toEqual([]);
  });
});

describe('podwire apply FILE with NetworkPolicies', () => {
  it('manifests and the topology format both carry them; a bad one is refused naming document and field', async () => {
    const { parseApplyFile } = await import('../../src/model/apply.ts');
    const { refusalProblems } = await import('../helpers/problems.ts');
    const m = parseApplyFile('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: deny, namespace: x }\nspec: { podSelector: {} }\n', 'p.yaml');
    expect(m.services).toEqual([]);
    expect(m.networkPolicies!.map((p) => `${p.origin} ${p.value.namespace}/${p.value.name}`)).toEqual(['document 1 (NetworkPolicy deny) x/deny']);
    const t = parseApplyFile('networkPolicies: [{ name: deny, namespace: x, spec: { podSelector: {} } }]\n', 't.yaml');
    expect(t.networkPolicies!.map((p) => `${p.origin} ${p.value.namespace}/${p.value.name}`)).toEqual(['networkPolicies[0] x/deny']);
    const bad = 'networkPolicies: [{ name: deny, namespace: x, spec: { podSelector: { matchExpressions: [{ key: a, operator: Has }] } } }]\n';
    expect(refusalProblems(() => parseApplyFile(bad, 'b.yaml'), bad)).toEqual([
      'networkPolicies[0].spec.podSelector.matchExpressions[0].operator: "Has" is not a valid selector operator (In, NotIn, Exists, DoesNotExist)',
    ]);
  });
});
