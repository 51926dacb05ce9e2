// The cluster the NetworkPolicy suites measure against (bench/policy-hotpath.ts):
// node n1 is the Service rig's node (client pods 10.244.0.2-.65 in namespace
// "front", backend pods 10.244.0.128-.247 in "bench"); the rest of the
// cluster's pods live on other nodes, in 50 namespaces of 20 apps each, so
// identities and selectors look like a real cluster's. Policies come in a
// fixed, realistic mix (policySet): one admits the clients to the backends;
// of the others, a tenth select the backends (extra ports from other
// namespaces, or ipBlocks), a tenth make the clients egress-isolated (to the
// backends and DNS), the rest select pods of other nodes (podSelector,
// namespaceSelector, matchExpressions, ipBlock with except).
import { intToIpv4 } from '../src/model/addr.ts';
import { parseNetworkPolicyList, type NetworkPolicySpec } from '../src/model/network-policy.ts';
import type { PolicyPod } from '../src/model/network-policy-compile.ts';

export const CLIENTS = 64;
export const BACKENDS = 120;
const OTHER_NAMESPACES = 50;
const APPS = 20;

const clientIp = (k: number) => intToIpv4((0x0af40002 + k) >>> 0);
const backendIp = (j: number) => intToIpv4((0x0af40080 + j) >>> 0);
/** other nodes' pods: 10.245.0.0/16 onwards, 200 per node */
const otherIp = (k: number) => intToIpv4((0x0af50000 + k) >>> 0);

/** `total` pods: the rig's clients and backends on n1, the rest on nodes n2.. (200 each). */
export function policyPods(total: number): PolicyPod[] {
  const pods: PolicyPod[] = [];
  for (let k = 0; k < CLIENTS; k++) pods.push({ name: `client-${k}`, namespace: 'front', labels: { app: 'client' }, ip: clientIp(k), node: 'n1' });
  for (let j = 0; j < BACKENDS; j++) pods.push({ name: `backend-${j}`, namespace: 'bench', labels: { app: 'backend', tier: 'api' }, ip: backendIp(j), node: 'n1' });
  for (let k = 0; pods.length < total; k++) {
    const ns = k % OTHER_NAMESPACES;
    pods.push({ name: `p-${k}`, namespace: `ns-${ns}`, labels: { app: `app-${(k / OTHER_NAMESPACES | 0) % APPS}`, tier: k % 3 === 0 ? 'db' : 'web' }, ip: otherIp(k), node: `n${2 + ((k / 200) | 0)}` });
  }
  return pods;
}

export function policyNamespaces(): Map<string, Record<string, string>> {
  const m = new Map<string, Record<string, string>>();
  m.set('front', { 'kubernetes.io/metadata.name': 'front', team: 'front' });
  m.set('bench', { 'kubernetes.io/metadata.name': 'bench', team: 'bench' });
  for (let n = 0; n < OTHER_NAMESPACES; n++) m.set(`ns-${n}`, { 'kubernetes.io/metadata.name': `ns-${n}`, team: `t${n % 5}` });
  return m;
}

/** `n` policies of the mix above (0: none), read and validated as a topology's networkPolicies. */
export function policySet(n: number): NetworkPolicySpec[] {
  const raw: unknown[] = [];
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      raw.push({ name: 'backend-from-front', namespace: 'bench', spec: { podSelector: { matchLabels: { app: 'backend' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'front' } }, podSelector: { matchLabels: { app: 'client' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }] } });
      continue;
    }
    const ns = `ns-${i % OTHER_NAMESPACES}`;
    const app = `app-${i % APPS}`;
    switch (i % 10) {
      case 0: // the backends: an ipBlock on an extra port
        raw.push({ name: `backend-block-${i}`, namespace: 'bench', spec: { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['backend'] }] },
          ingress: [{ from: [{ ipBlock: { cidr: `172.16.${i % 64}.0/24` } }], ports: [{ protocol: 'TCP', port: 9000 + (i % 50) }] }] } });
        break;
      case 1: // the backends: another team's namespaces on an extra port
        raw.push({ name: `backend-team-${i}`, namespace: 'bench', spec: { podSelector: { matchLabels: { tier: 'api' } },
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${(i / 10 | 0) % 5}` } } }], ports: [{ protocol: 'TCP', port: 8000 + (i % 100) }] }] } });
        break;
      case 2: // the clients: egress to the backends and to DNS only
        raw.push({ name: `client-egress-${i}`, namespace: 'front', spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'],
          egress: [
            { to: [{ namespaceSelector: { matchLabels: { team: 'bench' } } }], ports: [{ protocol: 'TCP', port: 8080 }] },
            { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
          ] } });
        break;
      case 3: case 4: case 5: // other nodes' pods: from another app of their namespace
        raw.push({ name: `app-from-app-${i}`, namespace: ns, spec: { podSelector: { matchLabels: { app } },
          ingress: [{ from: [{ podSelector: { matchLabels: { app: `app-${(i + 1) % APPS}` } } }], ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 443 }] }] } });
        break;
      case 6: case 7: // other nodes' pods: from namespaces by expression
        raw.push({ name: `db-from-teams-${i}`, namespace: ns, spec: { podSelector: { matchLabels: { tier: 'db' } },
          ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['t1', 't2'] }] } }], ports: [{ protocol: 'TCP', port: 5432 }] }] } });
        break;
      default: // other nodes' pods: egress to a network, minus a part of it
        raw.push({ name: `egress-block-${i}`, namespace: ns, spec: { podSelector: { matchLabels: { app } }, policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: `10.${100 + (i % 100)}.0.0/16`, except: [`10.${100 + (i % 100)}.1.0/24`] } }] }] } });
    }
  }
  const problems: string[] = [];
  const specs = parseNetworkPolicyList(raw, problems);
  if (problems.length) throw new Error(`policy set: ${problems.slice(0, 3).join('; ')}`);
  return specs;
}
