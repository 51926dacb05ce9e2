// The NetworkPolicy truth tables, in the style of the upstream netpol e2e
// tests (kubernetes test/e2e/network/netpol): namespaces x, y, z with pods
// a, b, c, each serving TCP and UDP on 80 and 81 (named serve-80-tcp, ...);
// a on n1, b and c on n2, so pairs meet on one node and across the overlay
// (or, layout 'kernel': x/a, y/a and y/b on kernel node k1, the rest on
// podwire node n1, so every case is also judged by the kernel's nftables).
// Each case gives its policies and the expected verdict of every probe
// (from pod, to pod, protocol, port), written from the Kubernetes semantics
// by hand: shared by the in-memory compile test and the netns e2e. A pod
// reaching itself is never probed: it goes over its own loopback, which no
// policy governs (upstream's AllowLoopback).

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const PODS = ['a', 'b', 'c'] as const;
export const PORTS = [80, 81] as const;
export type Proto = 'TCP' | 'UDP';
export interface PodRef { ns: string; pod: string }
export const allPodRefs: PodRef[] = NAMESPACES.flatMap((ns) => PODS.map((pod) => ({ ns, pod })));
export const podName = (p: PodRef) => `${p.ns}/${p.pod}`;

/** Where the pods run: 'podwire' (n1, n2) or 'kernel' (kernel node k1 and podwire node n1). */
export type TruthLayout = 'podwire' | 'kernel';
/** The pods the 'kernel' layout puts on kernel node k1: x/a (the pod most cases isolate) and two pods it meets on one node. */
export const KERNEL_NODE_PODS: PodRef[] = [{ ns: 'x', pod: 'a' }, { ns: 'y', pod: 'a' }, { ns: 'y', pod: 'b' }];

/** The lab: pod `a` of each namespace on n1, `b` and `c` on n2 (layout 'kernel': KERNEL_NODE_PODS on k1, the rest on n1). */
export function truthTopology(extra: Record<string, unknown> = {}, cluster: Record<string, unknown> = {}, layout: TruthLayout = 'podwire') {
  const pod = (ns: string, name: string) => ({
    name, namespace: ns, labels: { pod: name },
    ports: PORTS.flatMap((port) => (['TCP', 'UDP'] as const).map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, containerPort: port, protocol }))),
  });
  const onKernel = (p: PodRef) => KERNEL_NODE_PODS.some((k) => podName(k) === podName(p));
  const nodes = layout === 'podwire'
    ? [
        { name: 'n1', pods: NAMESPACES.map((ns) => pod(ns, 'a')) },
        { name: 'n2', pods: NAMESPACES.flatMap((ns) => [pod(ns, 'b'), pod(ns, 'c')]) },
      ]
    : [
        { name: 'n1', pods: allPodRefs.filter((p) => !onKernel(p)).map((p) => pod(p.ns, p.pod)) },
        { name: 'k1', dataplane: 'kernel', pods: KERNEL_NODE_PODS.map((p) => pod(p.ns, p.pod)) },
      ];
  return {
    cluster: { dns: false, ...(layout === 'kernel' ? { underlay: 'bridge' } : {}), ...cluster },
    namespaces: NAMESPACES.map((ns) => ({ name: ns, labels: { ns } })),
    nodes,
    ...extra,
  };
}

export interface TruthCase {
  name: string;
  /** topology-format entries for networkPolicies: */
  policies: { name: string; namespace: string; spec: Record<string, unknown> }[];
  /** the expected verdict; protocols probed: `protocols` (default TCP and UDP) */
  allowed(from: PodRef, to: PodRef, proto: Proto, port: number): boolean;
  protocols?: Proto[];
}

const is = (p: PodRef, ns: string, pod?: string) => p.ns === ns && (pod === undefined || p.pod === pod);

export const TRUTH_CASES: TruthCase[] = [
  {
    name: 'deny all ingress in x',
    policies: [{ name: 'deny-all', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Ingress'] } }],
    allowed: (_f, t) => t.ns !== 'x',
    protocols: ['TCP', 'UDP'],
  },
  {
    name: 'allow x/a from namespace y only',
    policies: [{ name: 'from-y', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y'] }] } }] }] } }],
    allowed: (f, t) => !is(t, 'x', 'a') || f.ns === 'y',
  },
  {
    name: 'podSelector AND namespaceSelector: x/a from y/b only',
    policies: [{ name: 'and', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] } }],
    allowed: (f, t) => !is(t, 'x', 'a') || is(f, 'y', 'b'),
  },
  {
    name: 'two peers (OR): x/a from namespace y or from x/b',
    policies: [{ name: 'or', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }] } }],
    allowed: (f, t) => !is(t, 'x', 'a') || f.ns === 'y' || is(f, 'x', 'b'),
  },
  {
    name: 'deny all egress from x, DNS allowed',
    policies: [{ name: 'deny-egress', namespace: 'x', spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }] } }],
    allowed: (f) => f.ns !== 'x',
    protocols: ['TCP', 'UDP'],
  },
  {
    name: 'named port: x/a admits serve-80-tcp from everyone',
    policies: [{ name: 'named', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 'serve-80-tcp' }] }] } }],
    allowed: (_f, t, proto, port) => !is(t, 'x', 'a') || (proto === 'TCP' && port === 80),
    protocols: ['TCP', 'UDP'],
  },
  {
    name: 'endPort: x/a admits TCP 81-90 only (81 yes, 80 no)',
    policies: [{ name: 'range', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ protocol: 'TCP', port: 81, endPort: 90 }] }] } }],
    allowed: (_f, t, proto, port) => !is(t, 'x', 'a') || (proto === 'TCP' && port === 81),
  },
  {
    // to-zc has egress rules and no policyTypes: it is [Ingress, Egress], so x/a also admits no ingress
    name: 'egress from x/a to namespaces NotIn [y] on port 80, and to pods c by Exists; policyTypes default isolates x/a ingress',
    policies: [
      { name: 'not-y', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] } }], ports: [{ port: 80 }] }] } },
      { name: 'to-zc', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, egress: [{ to: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'Exists' }] }, podSelector: { matchLabels: { pod: 'c' } } }] }] } },
    ],
    allowed: (f, t, proto, port) => !is(t, 'x', 'a') && (!is(f, 'x', 'a') || (t.ns !== 'y' && proto === 'TCP' && port === 80) || t.pod === 'c'),
  },
];

/**
 * An ipBlock case needs the pods' addresses: egress from x/a to the whole
 * cluster CIDR except y/b's address.
 */
export function ipBlockCase(ipOf: (p: PodRef) => string, clusterCIDR = '10.244.0.0/16'): TruthCase {
  return {
    name: `ipBlock with except: x/a may reach ${clusterCIDR} except y/b`,
    policies: [{ name: 'cidr', namespace: 'x', spec: { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: clusterCIDR, except: [`${ipOf({ ns: 'y', pod: 'b' })}/32`] } }] }] } }],
    allowed: (f, t) => !is(f, 'x', 'a') || !is(t, 'y', 'b'),
  };
}

/** The probe matrix as a grid (rows: from, columns: to; "." allowed, "X" denied), for failure messages. */
export function grid(verdict: (from: PodRef, to: PodRef) => boolean): string {
  const head = `      ${allPodRefs.map(podName).join(' ')}`;
  const rows = allPodRefs.map((f) => `${podName(f).padEnd(5)} ${allPodRefs.map((t) => (verdict(f, t) ? '.' : 'X').padEnd(4)).join('')}`);
  return [head, ...rows].join('\n');
}
