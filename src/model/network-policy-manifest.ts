// A NetworkPolicySpec written back in the Kubernetes shape (networking.k8s.io/v1
// NetworkPolicy spec: selectors, rules with from/to and ports, ipBlock CIDRs
// as text), so that readNetworkPolicySpec reads it back to the same spec.
// Used where a policy leaves this process (the shared store keeps this form:
// a host reading it validates it like a file, field by field).
import { rangeText, type LabelSelector, type NetworkPolicySpec, type PolicyPeer, type PolicyRule } from './network-policy.ts';

export function networkPolicyManifestSpec(p: NetworkPolicySpec): Record<string, unknown> {
  return {
    podSelector: selector(p.podSelector),
    policyTypes: [...p.policyTypes],
    ...(p.ingress.length ? { ingress: p.ingress.map((r) => rule(r, 'from')) } : {}),
    ...(p.egress.length ? { egress: p.egress.map((r) => rule(r, 'to')) } : {}),
  };
}

function selector(s: LabelSelector): Record<string, unknown> {
  return {
    ...(Object.keys(s.matchLabels).length ? { matchLabels: { ...s.matchLabels } } : {}),
    ...(s.matchExpressions.length ? { matchExpressions: s.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values.length ? { values: [...e.values] } : {}) })) } : {}),
  };
}

function rule(r: PolicyRule, peersKey: 'from' | 'to'): Record<string, unknown> {
  return {
    ...(r.peers ? { [peersKey]: r.peers.map(peer) } : {}),
    ...(r.ports ? { ports: r.ports.map((x) => ({ protocol: x.protocol, ...(x.port !== undefined ? { port: x.port } : {}), ...(x.endPort !== undefined ? { endPort: x.endPort } : {}) })) } : {}),
  };
}

function peer(p: PolicyPeer): Record<string, unknown> {
  if (p.kind === 'ipBlock') return { ipBlock: { cidr: rangeText(p.ipBlock.cidr), ...(p.ipBlock.except.length ? { except: p.ipBlock.except.map(rangeText) } : {}) } };
  return { ...(p.podSelector ? { podSelector: selector(p.podSelector) } : {}), ...(p.namespaceSelector ? { namespaceSelector: selector(p.namespaceSelector) } : {}) };
}
