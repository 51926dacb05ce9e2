// NetworkPolicy and the protocols without TCP/UDP's handling in Service NAT
// (assembly/stages/policy.ts): ICMP echo and SCTP. As the Kubernetes API
// reference says, a rule without ports admits every protocol, a rule with
// ports only the listed protocol and port, and ICMP has no ports (so only a
// rule without ports admits a ping). Both are decided once per connection:
// an allowed echo request or SCTP association is tracked in conntrack (an
// echo by its identifier, as the kernel's nf_conntrack_proto_icmp), so its
// replies pass a node where the sender is isolated for ingress, and it keeps
// going when the policies change; an echo reply nobody asked for is judged
// like any new packet.
import { describe, it, expect } from 'vitest';
import { programPolicies } from '../../src/dataplane/policy-sync.ts';
import { compilePolicies, type PolicyPod } from '../../src/model/network-policy-compile.ts';
import { parseNetworkPolicyList } from '../../src/model/network-policy.ts';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { twoNodes, runNode, handOver, podFrame, icmpMsg, N1, N2, POD, UL, type NodeSpec } from './overlay-kit.ts';

const ICMP = 1, SCTP = 132;
const ECHO_REQUEST = 8, ECHO_REPLY = 0;

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
function program(n1: Dataplane, n2: Dataplane, policies: unknown[]) {
  const c = withPolicies(policies);
  programPolicies(n1, c.n1);
  programPolicies(n2, c.n2);
}
const fromClient = (ports?: unknown[]) => ({ name: 'from-client', namespace: 'y', spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'client' } } }], ...(ports ? { ports } : {}) }] } });
const serverClosed = { name: 'closed', namespace: 'y', spec: { podSelector: {} } };
const clientClosed = { name: 'client-closed', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
const clientToServer = (ports?: unknown[]) => ({ name: 'to-server', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'server' } } }], ...(ports ? { ports } : {}) }] } });

const echo = (from: NodeSpec, to: NodeSpec, type: number, id: number, seq: number) =>
  podFrame(from, { dst: to.pod, proto: ICMP, payload: icmpMsg(type, 0, (id << 16) | seq, new Uint8Array(16)) });

/** An SCTP common header + one chunk of `type` (CRC32c left zero: no stage reads it). */
function sctp(sport: number, dport: number, type: number): Uint8Array {
  const b = new Uint8Array(12 + 20);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, type === 1 ? 0 : 0x11223344);
  b[12] = type;
  v.setUint16(14, 20);
  return b;
}
const sctpFrame = (from: NodeSpec, to: NodeSpec, sport: number, dport: number, type: number) =>
  podFrame(from, { dst: to.pod, proto: SCTP, payload: sctp(sport, dport, type) });

/** A frame from `a`'s pod through node `a` and (if it leaves) node `b`: delivered to b's pod?, both nodes' drops. */
function cross(a: Dataplane, b: Dataplane, frame: Uint8Array) {
  const r = runNode(a, [{ port: POD, frame }]);
  if (r.tx.length === 0) return { delivered: false, first: r.drops, second: {} };
  expect(r.tx[0].port).toBe(UL);
  const s = handOver(b, r.tx[0]);
  return { delivered: s.tx.length === 1 && s.tx[0].port === POD, first: r.drops, second: s.drops };
}

describe('ICMP echo under NetworkPolicy', () => {
  it('a ping is denied by a rule-less deny, and by a rule with ports (ICMP has none); a rule without ports admits it', () => {
    const [n1, n2] = twoNodes('vxlan');
    program(n1, n2, [serverClosed]);
    expect(cross(n1, n2, echo(N1, N2, ECHO_REQUEST, 7, 1))).toEqual({ delivered: false, first: {}, second: { policy_denied_ingress: 1 } });
    program(n1, n2, [serverClosed, fromClient([{ protocol: 'TCP', port: 80 }])]);
    expect(cross(n1, n2, echo(N1, N2, ECHO_REQUEST, 7, 2))).toEqual({ delivered: false, first: {}, second: { policy_denied_ingress: 1 } });
    program(n1, n2, [serverClosed, fromClient()]);
    expect(cross(n1, n2, echo(N1, N2, ECHO_REQUEST, 7, 3))).toEqual({ delivered: true, first: {}, second: {} });
  });

  it('is decided once: the echo is tracked, its replies pass a client isolated both ways, it survives a policy change; an unasked reply is denied', () => {
    const [n1, n2] = twoNodes('vxlan');
    program(n1, n2, [serverClosed, fromClient(), clientClosed, clientToServer()]);
    expect(cross(n1, n2, echo(N1, N2, ECHO_REQUEST, 9, 1))).toEqual({ delivered: true, first: {}, second: {} });
    expect(n1.conntrack(0).map((e) => [e.proto, e.state])).toEqual([[ICMP, 'icmp_request']]);
    // the reply: known on both nodes (reply direction), though the client admits no ingress
    expect(cross(n2, n1, echo(N2, N1, ECHO_REPLY, 9, 1))).toEqual({ delivered: true, first: {}, second: {} });
    expect(n1.conntrack(0).map((e) => e.state)).toEqual(['icmp_replied']);
    // everything closed now: the ping going on keeps going, a new one (another identifier) is denied at the source
    program(n1, n2, [serverClosed, clientClosed]);
    expect(cross(n1, n2, echo(N1, N2, ECHO_REQUEST, 9, 2))).toEqual({ delivered: true, first: {}, second: {} });
    expect(cross(n1, n2, echo(N1, N2, ECHO_REQUEST, 10, 1))).toEqual({ delivered: false, first: { policy_denied_egress: 1 }, second: {} });
    // an echo reply to the client that answers no request of its own
    expect(cross(n2, n1, echo(N2, N1, ECHO_REPLY, 11, 1))).toMatchObject({ delivered: false, second: { policy_denied_ingress: 1 } });
  });
});

describe('SCTP under NetworkPolicy', () => {
  it('a port rule admits only its protocol: TCP 5000 does not admit SCTP 5000, SCTP 5000 does', () => {
    const [n1, n2] = twoNodes('vxlan');
    program(n1, n2, [serverClosed, fromClient([{ protocol: 'TCP', port: 5000 }])]);
    expect(cross(n1, n2, sctpFrame(N1, N2, 40000, 5000, 1))).toMatchObject({ delivered: false, second: { policy_denied_ingress: 1 } });
    program(n1, n2, [serverClosed, fromClient([{ protocol: 'SCTP', port: 5000 }])]);
    expect(cross(n1, n2, sctpFrame(N1, N2, 40001, 5000, 1))).toEqual({ delivered: true, first: {}, second: {} });
    expect(cross(n1, n2, sctpFrame(N1, N2, 40002, 5001, 1))).toMatchObject({ delivered: false, second: { policy_denied_ingress: 1 } });
  });

  it('an allowed association is tracked: its INIT ACK reaches a client isolated both ways, and it survives a policy change', () => {
    const [n1, n2] = twoNodes('vxlan');
    program(n1, n2, [serverClosed, fromClient([{ protocol: 'SCTP', port: 5000 }]), clientClosed, clientToServer([{ protocol: 'SCTP', port: 5000 }])]);
    expect(cross(n1, n2, sctpFrame(N1, N2, 40000, 5000, 1))).toEqual({ delivered: true, first: {}, second: {} });
    expect(cross(n2, n1, sctpFrame(N2, N1, 5000, 40000, 2))).toEqual({ delivered: true, first: {}, second: {} });
    program(n1, n2, [serverClosed, clientClosed]);
    expect(cross(n1, n2, sctpFrame(N1, N2, 40000, 5000, 0))).toEqual({ delivered: true, first: {}, second: {} });
    expect(cross(n1, n2, sctpFrame(N1, N2, 40003, 5000, 1))).toMatchObject({ delivered: false, first: { policy_denied_egress: 1 } });
  });
});
