// NetworkPolicy on masqueraded Service traffic (assembly/stages/policy.ts):
// a Service whose frontend masquerades (externalTrafficPolicy: Cluster, or a
// LoadBalancer / NodePort address) rewrites the client's source to the
// node's gateway address before the policy stage runs. Kubernetes applies
// policies to the pod's own traffic: kube-proxy's masquerade must not open a
// hole. So a new masqueraded flow is judged on the client's address from
// before the SNAT: egress of the client pod, and ingress of a backend on the
// same node with the client as its peer. A pod reaching itself through its
// own Service (hairpin) stays allowed, as loopback.
import { describe, it, expect } from 'vitest';
import { programPolicies } from '../../src/dataplane/policy-sync.ts';
import { compilePolicies, type PolicyPod } from '../../src/model/network-policy-compile.ts';
import { parseNetworkPolicyList } from '../../src/model/network-policy.ts';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { runNode, podFrame, N1, N2, POD, UL } from './overlay-kit.ts';
import { setup, tcpSeg, l4At, SYN, TCP, B1, B1_PORT } from './service-kit.ts';

const VIP = '10.96.0.30';

/** client (x, app=client) and backend b1 (y, app=server) on node 1, server (y, app=server) on node 2. */
function compile(policies: unknown[], node = 'n1') {
  const pods: PolicyPod[] = [
    { name: 'client', namespace: 'x', labels: { app: 'client' }, ip: N1.pod, node: 'n1' },
    { name: 'b1', namespace: 'y', labels: { app: 'server' }, ip: B1, node: 'n1' },
    { name: 'server', namespace: 'y', labels: { app: 'server' }, ip: N2.pod, node: 'n2' },
  ];
  const problems: string[] = [];
  const specs = parseNetworkPolicyList(policies, problems);
  expect(problems).toEqual([]);
  const ns = new Map(['x', 'y', 'z'].map((n) => [n, { 'kubernetes.io/metadata.name': n }]));
  return compilePolicies(node, pods, ns, specs);
}
const noEgressFromX = { name: 'no-egress', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Egress'] } };
const serverFromZOnly = { name: 'from-z', namespace: 'y', spec: { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }] } };
const serverFromX = { name: 'from-x', namespace: 'y', spec: { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } }], ports: [{ port: 8080 }] }] } };

const synToVip = (sport: number) => podFrame(N1, { dst: VIP, proto: TCP, payload: tcpSeg(N1.pod, VIP, sport, 80, SYN) });
const masqueraded = (n1: Dataplane, backend: string) => n1.addService(VIP, 80, 'tcp', [{ ip: backend, port: 8080 }], { masquerade: true });

describe('policy on masqueraded Service traffic: judged on the client before SNAT', () => {
  it('an egress-isolated pod cannot leave through a masqueraded Service (backend on its own node)', () => {
    const [n1] = setup();
    programPolicies(n1, compile([noEgressFromX]));
    masqueraded(n1, B1);
    const r = runNode(n1, [{ port: POD, frame: synToVip(43000) }]);
    expect(r.drops).toEqual({ policy_denied_egress: 1 });
    expect(r.events).toMatchObject({ service_snat: 1 });
    expect(n1.conntrack(0)).toEqual([]);
  });

  it('nor through one whose backend is on another node (denied before the overlay)', () => {
    const [n1] = setup();
    programPolicies(n1, compile([noEgressFromX]));
    masqueraded(n1, N2.pod);
    const r = runNode(n1, [{ port: POD, frame: synToVip(43001) }]);
    expect(r.drops).toEqual({ policy_denied_egress: 1 });
    expect(r.tx.filter((t) => t.port === UL)).toHaveLength(0);
  });

  it('a backend on the same node judges the client, not the gateway address: denied, and allowed when a rule admits the client', () => {
    const [n1] = setup();
    masqueraded(n1, B1);
    programPolicies(n1, compile([serverFromZOnly]));
    const denied = runNode(n1, [{ port: POD, frame: synToVip(43002) }]);
    expect(denied.drops).toEqual({ policy_denied_ingress: 1 });
    expect(n1.conntrack(0)).toEqual([]);
    programPolicies(n1, compile([serverFromZOnly, serverFromX]));
    const ok = runNode(n1, [{ port: POD, frame: synToVip(43003) }]);
    expect(ok.drops).toEqual({});
    expect(ok.tx.map((t) => t.port)).toEqual([B1_PORT]);
    // still masqueraded: the backend sees the gateway address
    expect(l4At(ok.tx[0].frame, 14)).toMatchObject({ src: N1.gw, dst: B1, dport: 8080 });
  });
});
