// The NetworkPolicy stage (assembly/stages/policy.ts) and its tables
// (assembly/tables/policy.ts): the tables agree with the model's decidePolicy
// on every probe of the truth tables; and on two VXLAN nodes (overlay-kit),
// frames are denied and counted at the right node (egress at the source,
// ingress at the destination), an allowed connection is tracked so its
// replies pass, and it survives the policies changing underneath it.
import { describe, it, expect } from 'vitest';
import { createNodes } from '../../src/dataplane/dataplane.ts';
import { programPolicies, dataplaneDecides, policyDecisionText } from '../../src/dataplane/policy-sync.ts';
import { decodeTrace } from '../../src/dataplane/trace.ts';
import { planTopology, allPods } from '../../src/model/topology.ts';
import { compilePlanPolicies, compilePolicies, decidePolicy, PROTO_NUMBER, type PolicyPod } from '../../src/model/network-policy-compile.ts';
import { parseNetworkPolicyList } from '../../src/model/network-policy.ts';
import { ipv4ToInt } from '../../src/model/addr.ts';
import { truthTopology, TRUTH_CASES, ipBlockCase, PORTS, type PodRef } from '../helpers/netpol-cases.ts';
import { twoNodes, runNode, handOver, podFrame, N1, N2, POD, UL } from './overlay-kit.ts';
import { tcpSeg, SYN, ACK, TCP, UDP } from './service-kit.ts';
import { udp } from './overlay-kit.ts';

describe('policy tables: the data plane decides as decidePolicy does', () => {
  const base = planTopology(truthTopology());
  const ipOf = (r: PodRef) => allPods(base).find((p) => p.name === r.pod && p.k8sNamespace === r.ns)!.ip;
  for (const tc of [...TRUTH_CASES, ipBlockCase(ipOf)]) {
    it(tc.name, () => {
      const plan = planTopology(truthTopology({ networkPolicies: tc.policies }));
      const nodes = createNodes(2, { slots: 4, maxPorts: 4 });
      const compiled = plan.nodes.map((n, i) => {
        const c = compilePlanPolicies(plan, n.name);
        programPolicies(nodes[i], c);
        return c;
      });
      const pods = allPods(plan);
      let checked = 0;
      plan.nodes.forEach((n, i) => {
        for (const local of n.pods) for (const peer of pods) for (const dir of ['ingress', 'egress'] as const) for (const proto of ['TCP', 'UDP'] as const) for (const port of [...PORTS, 53, 82]) {
          const want = decidePolicy(compiled[i], dir, local.ip, peer.ip, PROTO_NUMBER[proto], port);
          if (!want.isolatedBy.length) continue; // not isolated: the stage never asks
          const got = dataplaneDecides(nodes[i], dir, ipv4ToInt(local.ip), ipv4ToInt(peer.ip), proto, port);
          if (got !== want.allowed) expect.fail(`${n.name} ${dir} ${local.k8sNamespace}/${local.name} <-> ${peer.k8sNamespace}/${peer.name} ${proto} ${port}: data plane ${got}, model ${want.allowed}`);
          checked++;
        }
        // an address no pod has: judged by its prefix class
        for (const local of n.pods) {
          const want = decidePolicy(compiled[i], 'egress', local.ip, '192.0.2.7', 6, 80);
          if (want.isolatedBy.length) expect(dataplaneDecides(nodes[i], 'egress', ipv4ToInt(local.ip), ipv4ToInt('192.0.2.7'), 'TCP', 80)).toBe(want.allowed);
        }
      });
      expect(checked).toBeGreaterThan(0);
    });
  }
});

/** Client pod N1.pod (namespace x, app=client) on node 1, server pod N2.pod (namespace y, app=server) on node 2. */
function withPolicies(policies: unknown[]) {
  const pods: PolicyPod[] = [
    { name: 'client', namespace: 'x', labels: { app: 'client' }, ip: N1.pod, node: 'n1' },
    { name: 'server', namespace: 'y', labels: { app: 'server' }, ip: N2.pod, node: 'n2' },
  ];
  const problems: string[] = [];
  const specs = parseNetworkPolicyList(policies, problems);
  expect(problems).toEqual([]);
  const ns = new Map([['x', { 'kubernetes.io/metadata.name': 'x' }], ['y', { 'kubernetes.io/metadata.name': 'y' }]]);
  return { n1: compilePolicies('n1', pods, ns, specs), n2: compilePolicies('n2', pods, ns, specs) };
}
const denyServerIngress = { name: 'deny', namespace: 'y', spec: { podSelector: {} } };
const allowClientTo80 = { name: 'allow-80', namespace: 'y', spec: { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 80 }] }] } };
const denyClientEgress = { name: 'no-egress', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Egress'] } };

const syn = (sport: number, dport: number, flags = SYN) => podFrame(N1, { dst: N2.pod, proto: TCP, payload: tcpSeg(N1.pod, N2.pod, sport, dport, flags) });
const synAck = (sport: number, dport: number) => podFrame(N2, { dst: N1.pod, proto: TCP, payload: tcpSeg(N2.pod, N1.pod, dport, sport, SYN | ACK) });

/** A client frame through node 1 and, when it leaves, node 2: what node 2 delivered, and both nodes' drops. */
function toServer(n1: ReturnType<typeof twoNodes>[0], n2: ReturnType<typeof twoNodes>[1], frame: Uint8Array) {
  const a = runNode(n1, [{ port: POD, frame }]);
  if (a.tx.length === 0) return { delivered: false, n1: a.drops, n2: {} };
  expect(a.tx[0].port).toBe(UL);
  const b = handOver(n2, a.tx[0]);
  return { delivered: b.tx.length === 1 && b.tx[0].port === POD, n1: a.drops, n2: b.drops };
}

describe('policy stage on two VXLAN nodes', () => {
  it('ingress is denied at the destination node, counted policy_denied_ingress; no policy: delivered', () => {
    const [n1, n2] = twoNodes('vxlan');
    expect(toServer(n1, n2, syn(40000, 80))).toEqual({ delivered: true, n1: {}, n2: {} });
    const c = withPolicies([denyServerIngress]);
    programPolicies(n1, c.n1);
    programPolicies(n2, c.n2);
    expect(toServer(n1, n2, syn(40001, 80))).toEqual({ delivered: false, n1: {}, n2: { policy_denied_ingress: 1 } });
    // UDP and ping too (a rule-less deny admits nothing)
    const u = podFrame(N1, { dst: N2.pod, proto: UDP, payload: udp(N1.pod, N2.pod, 5000, 81, new Uint8Array(8)) });
    expect(toServer(n1, n2, u)).toMatchObject({ delivered: false, n2: { policy_denied_ingress: 1 } });
  });

  it('egress is denied at the source node, before the overlay', () => {
    const [n1, n2] = twoNodes('vxlan');
    const c = withPolicies([denyClientEgress]);
    programPolicies(n1, c.n1);
    programPolicies(n2, c.n2);
    n1.traceBegin(false);
    expect(toServer(n1, n2, syn(40000, 80))).toEqual({ delivered: false, n1: { policy_denied_egress: 1 }, n2: {} });
    const { words } = n1.traceRecords();
    n1.traceEnd();
    const steps = decodeTrace(words, { port: () => 'p', service: () => undefined, drop: (r) => n1.dropName(r), policy: (d, l, a, x) => policyDecisionText(n1, d, l, a, x) });
    expect(steps.filter((st) => st.step === 'policy').map((st) => st.text)).toEqual([
      'egress policy of 10.244.0.2 (peer 10.244.1.2): denied (x/no-egress: no rule admits y{app=server})',
    ]);
  });

  it('an allowed connection is tracked: its reply passes a node where the client is isolated; it survives policy changes; a new one is judged anew', () => {
    const [n1, n2] = twoNodes('vxlan');
    // client: no ingress allowed at all (its replies must still come back); server: port 80 from the client only
    const clientDenyIngress = { name: 'client-closed', namespace: 'x', spec: { podSelector: {} } };
    let c = withPolicies([denyServerIngress, allowClientTo80, clientDenyIngress]);
    programPolicies(n1, c.n1);
    programPolicies(n2, c.n2);
    expect(toServer(n1, n2, syn(40000, 81))).toMatchObject({ delivered: false, n2: { policy_denied_ingress: 1 } });
    expect(toServer(n1, n2, syn(40000, 80))).toEqual({ delivered: true, n1: {}, n2: {} });
    // the SYN-ACK: node 2 knows the flow (reply direction), node 1 too, though the client admits no ingress
    const back = runNode(n2, [{ port: POD, frame: synAck(40000, 80) }]);
    expect(back.drops).toEqual({});
    const d = handOver(n1, back.tx[0]);
    expect(d.drops).toEqual({});
    expect(d.tx.map((t) => t.port)).toEqual([POD]);
    // the policies change to deny everything: the established connection keeps going, a new one is denied
    c = withPolicies([denyServerIngress, clientDenyIngress]);
    programPolicies(n1, c.n1);
    programPolicies(n2, c.n2);
    expect(toServer(n1, n2, syn(40000, 80, ACK))).toEqual({ delivered: true, n1: {}, n2: {} });
    expect(toServer(n1, n2, syn(40002, 80))).toMatchObject({ delivered: false, n2: { policy_denied_ingress: 1 } });
    // an unsolicited SYN-ACK to the client (no flow): denied at node 1 by the client's own ingress isolation
    const stray = runNode(n2, [{ port: POD, frame: synAck(40009, 80) }]);
    expect(stray.tx).toHaveLength(1);
    expect(handOver(n1, stray.tx[0]).drops).toMatchObject({ policy_denied_ingress: 1 });
  });

  it("a pod reaching itself through its own Service (hairpin, masqueraded) is loopback: allowed, though its ingress is isolated", () => {
    const [, n2] = twoNodes('vxlan');
    const c = withPolicies([denyServerIngress]);
    programPolicies(n2, c.n2);
    n2.addService('10.96.0.20', 80, 'tcp', [{ ip: N2.pod, port: 80 }]);
    const r = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: '10.96.0.20', proto: TCP, payload: tcpSeg(N2.pod, '10.96.0.20', 41000, 80, SYN) }) }]);
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ service_snat: 1 });
    expect(r.tx.map((t) => t.port)).toEqual([POD]);
    // from the pod's own address (not masqueraded), the same SYN straight to itself would be judged: denied
    const direct = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: N2.pod, proto: TCP, payload: tcpSeg(N2.pod, N2.pod, 41001, 80, SYN) }) }]);
    expect(direct.drops).toEqual({ policy_denied_ingress: 1 });
  });
});
