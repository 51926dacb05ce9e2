// The store's schema beyond leases and Services, against a real etcd on
// loopback (Debian's etcd-server): pod CIDRs leased from the cluster CIDR
// (20 hosts claiming at once get 20 distinct ranges, none of them a range
// the topology fixes; a node comes back on the range it held; a full pool is
// refused, named), the plan every host makes from the leases, pods bound to
// their node's lease, and NetworkPolicies written as Kubernetes specs and
// read back through the file validation (a bad stored one is refused naming
// the key and the field).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SharedStore } from '../../src/store/etcd-store.ts';
import { keys, decodePolicy, encodePolicy, decodePod, type ClusterConfig, type NodeLease } from '../../src/store/schema.ts';
import { lowestFreeSubnet, subnetHistoryKey } from '../../src/store/subnet-lease.ts';
import { subnetPool, planWithLeases, leasesItsRange } from '../../src/store/store-lab.ts';
import { podEntries, storedPods } from '../../src/store/store-pods.ts';
import { readdressFromLeases } from '../../src/lab/store-subnets.ts';
import { applyPoliciesToStore, deletePoliciesFromStore, storedPolicies } from '../../src/store/store-policies.ts';
import { parseNetworkPolicyList } from '../../src/model/network-policy.ts';
import { networkPolicyManifestSpec } from '../../src/model/network-policy-manifest.ts';
import { readNetworkPolicySpec } from '../../src/model/network-policy.ts';
import { hasEtcd, startEtcd, type TestEtcd } from '../../bench/etcd.ts';
import { skipsMustFail } from '../ci/guard.ts';

if (!hasEtcd) console.warn('test/store/store-schema.test.ts: etcd tests skipped — no etcd (apt-get install etcd-server)');

/** n1 fixes its range (10.244.0.0/24); the others leave it open. */
const config = (nodes = 3): ClusterConfig => ({
  clusterCIDR: '10.244.0.0/16', overlay: 'vxlan', vxlan: { vni: 1, port: 8472 },
  topology: {
    cluster: { name: 'ss', clusterCIDR: '10.244.0.0/16' },
    nodes: [
      { name: 'n1', podCIDR: '10.244.0.0/24', address: '10.0.0.1', pods: [{ name: 'a', labels: { app: 'web' } }] },
      ...Array.from({ length: nodes - 1 }, (_, i) => ({ name: `n${i + 2}`, address: `10.0.0.${i + 2}`, pods: [`p${i + 2}`] })),
    ],
  },
  source: 'lab.yaml',
});
const lease = (node: string, podCIDR = '', instance = `i-${node}`): NodeLease => ({
  node, podCIDR, underlayIp: '10.0.0.9', vtepMac: '02:00:00:00:00:09', host: 'h', since: new Date().toISOString(), instance,
});

const POLICIES = parseNetworkPolicyList([
  { name: 'web-in', namespace: 'default', spec: {
    podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } }, namespaceSelector: {} }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 80, endPort: 90 }, { port: 'http' }] }, {}],
  } },
  { name: 'out', namespace: 'shop', spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 'a' } } }] }] } },
], []);

describe('leased pod CIDRs: choosing', () => {
  const pool = { clusterCIDR: '10.244.0.0/16', subnetLen: 24, reserved: ['10.244.0.0/24'] };
  it('the lowest /N not taken and not fixed by the topology', () => {
    expect(lowestFreeSubnet(pool, [])).toBe('10.244.1.0/24');
    expect(lowestFreeSubnet(pool, ['10.244.1.0/24', '10.244.3.0/24'])).toBe('10.244.2.0/24');
  });
  it('the preferred range when it is free, in the pool and of the right size; else the lowest', () => {
    expect(lowestFreeSubnet(pool, ['10.244.1.0/24'], '10.244.9.0/24')).toBe('10.244.9.0/24');
    expect(lowestFreeSubnet(pool, ['10.244.9.0/24'], '10.244.9.0/24')).toBe('10.244.1.0/24');
    expect(lowestFreeSubnet(pool, [], '10.244.0.0/24')).toBe('10.244.1.0/24'); // fixed by the topology
    expect(lowestFreeSubnet(pool, [], '10.245.9.0/24')).toBe('10.244.1.0/24'); // outside
    expect(lowestFreeSubnet(pool, [], '10.244.8.0/23')).toBe('10.244.1.0/24'); // another size
  });
  it('undefined when the pool is full', () => {
    expect(lowestFreeSubnet({ clusterCIDR: '10.244.0.0/23', subnetLen: 24, reserved: ['10.244.0.0/24'] }, ['10.244.1.0/24'])).toBeUndefined();
  });
  it('the pool: the cluster CIDR in /nodeCIDRMaskSize pieces, minus the ranges the topology fixes', () => {
    expect(subnetPool(config())).toEqual({ clusterCIDR: '10.244.0.0/16', subnetLen: 24, reserved: ['10.244.0.0/24'] });
    const c = config();
    (c.topology as { cluster: Record<string, unknown> }).cluster.nodeCIDRMaskSize = 26;
    expect(subnetPool(c).subnetLen).toBe(26);
    expect(leasesItsRange(c, 'n1')).toBe(false);
    expect(leasesItsRange(c, 'n2')).toBe(true);
    expect(leasesItsRange(c, 'n9')).toBe(false); // not in the topology
  });
  it('every host plans the leased ranges; nodes without a lease get what is left, never a leased range', () => {
    const plan = planWithLeases('ss', config(), new Map([['n3', '10.244.1.0/24']]));
    expect(plan.nodes.map((n) => [n.name, n.podCIDR])).toEqual([['n1', '10.244.0.0/24'], ['n2', '10.244.2.0/24'], ['n3', '10.244.1.0/24']]);
    expect(plan.nodes[2].pods[0].ip).toBe('10.244.1.2');
    expect(plan.name).toBe('ss');
  });
  it('a host that planned before the leases came re-addresses the other nodes in place; its own node never moves', () => {
    // host of n1, started alone: n2 and n3 planned in the topology's order
    const plan = { ...planWithLeases('ss', config(), new Map()), hostNode: 'n1' };
    const n2 = plan.nodes[1];
    const pod3 = plan.nodes[2].pods[0];
    expect([n2.podCIDR, pod3.ip]).toEqual(['10.244.1.0/24', '10.244.2.2']);
    const live = new Map([['n1', lease('n1', '10.244.0.0/24')], ['n3', lease('n3', '10.244.1.0/24')]]);
    expect(readdressFromLeases(plan, config(), live)).toEqual(['n2', 'n3']);
    expect(plan.nodes[1]).toBe(n2); // the same objects: the lab holds them
    expect([n2.podCIDR, n2.gateway, n2.pods[0].ip, n2.pods[0].gateway]).toEqual(['10.244.2.0/24', '10.244.2.1', '10.244.2.2', '10.244.2.1']);
    expect([plan.nodes[2].podCIDR, pod3.ip, pod3.mac]).toEqual(['10.244.1.0/24', '10.244.1.2', planWithLeases('ss', config(), new Map([['n3', '10.244.1.0/24']])).nodes[2].pods[0].mac]);
    expect(readdressFromLeases(plan, config(), live)).toEqual([]); // nothing moves twice
    // a lease naming a range outside the cluster CIDR does not plan: named, nothing changed
    expect(() => readdressFromLeases(plan, config(), new Map([['n2', lease('n2', '10.99.0.0/24')]]))).toThrow(/10\.99\.0\.0\/24/);
    expect(n2.podCIDR).toBe('10.244.2.0/24');
  });
});

describe('NetworkPolicies in the store: the Kubernetes spec', () => {
  it('written back as a manifest spec and read through the file validation to the same policy', () => {
    expect(POLICIES).toHaveLength(2);
    for (const p of POLICIES) {
      const problems: string[] = [];
      expect({ name: p.name, namespace: p.namespace, ...readNetworkPolicySpec(networkPolicyManifestSpec(p), 'spec', problems) }).toEqual(p);
      expect(problems).toEqual([]);
      const key = keys.policy('ss', p.namespace, p.name);
      expect(decodePolicy(key, encodePolicy({ policy: p, origin: 'f.yaml document 1' }))).toEqual({ policy: p, origin: 'f.yaml document 1' });
    }
    expect(networkPolicyManifestSpec(POLICIES[0]).ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { role: 'client' } }, namespaceSelector: {} }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 80, endPort: 90 }, { protocol: 'TCP', port: 'http' }] },
      {},
    ]);
  });
  it('a bad stored policy is refused naming the key and the field', () => {
    const key = keys.policy('ss', 'default', 'web-in');
    const good = JSON.parse(encodePolicy({ policy: POLICIES[0], origin: 'x' })) as Record<string, unknown>;
    expect(() => decodePolicy(key, JSON.stringify({ ...good, spec: { podSelector: { matchLabels: { app: 7 } } } })))
      .toThrow(`store key ${key}: bad field spec.podSelector.matchLabels.app: 7 is not a valid label value`);
    expect(() => decodePolicy(key, JSON.stringify({ ...good, spec: { ingress: [{ from: [{}] }] } }))).toThrow(/bad field spec\.ingress\[0\]\.from\[0\]: must specify a peer/);
    expect(() => decodePolicy(key, JSON.stringify({ ...good, name: 'other' }))).toThrow(/say default\/other, not the key's NetworkPolicy/);
    expect(() => decodePolicy(key, '[]')).toThrow(`store key ${key}: expected a JSON object`);
  });
  it('a bad stored pod is refused naming the key and the field', () => {
    const key = keys.pod('ss', 'default', 'a');
    expect(() => decodePod(key, JSON.stringify({ name: 'a', namespace: 'default', node: 'n1', ip: '10.244.0.300', labels: {} }))).toThrow(/bad field\(s\) ip \(an IPv4 address, got "10.244.0.300"\)/);
    expect(() => decodePod(key, JSON.stringify({ name: 'a', namespace: 'default', node: 'n1', ip: '10.244.0.3', labels: { x: 1 } }))).toThrow(/bad field\(s\) labels/);
  });
});

describe.skipIf(!hasEtcd && !skipsMustFail())('against etcd', () => {
  let etcd: TestEtcd;
  let store: SharedStore;
  beforeAll(async () => {
    etcd = await startEtcd();
    store = await SharedStore.connect({ url: etcd.url });
  });
  afterAll(async () => {
    await store?.close();
    await etcd?.stop();
  });

  it('20 hosts leasing a pod CIDR at once: 20 distinct ranges of the pool, none fixed by the topology', async () => {
    const c = config(21);
    await store.labConfig('race', c);
    const hosts = await Promise.all(Array.from({ length: 20 }, () => SharedStore.connect({ url: etcd.url })));
    try {
      const t0 = performance.now();
      const claims = await Promise.all(hosts.map((h, i) => h.claimNode('race', lease(`n${i + 2}`), 5, () => {}, { subnetFrom: subnetPool(c) })));
      console.log(`store: 20 concurrent pod CIDR leases granted in ${(performance.now() - t0).toFixed(0)} ms`);
      const got = claims.map((x) => x.lease.podCIDR);
      expect(new Set(got).size).toBe(20);
      // the lowest 20 free /24s: 10.244.1.0 .. 10.244.20.0 (10.244.0.0/24 is n1's, fixed)
      expect([...got].sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))).toEqual(Array.from({ length: 20 }, (_, i) => `10.244.${i + 1}.0/24`));
      // the store agrees: one subnets/ key per range, held by the node whose lease says it
      const { leases } = await store.nodeLeases('race');
      for (const l of leases) expect(await store.client.get(keys.subnet('race', l.podCIDR)).string()).toBe(l.node);
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  }, 30_000);

  it('a node released comes back on the range it held, even when a lower one is free', async () => {
    const c = config(4);
    await store.labConfig('back', c);
    const pool = subnetPool(c);
    const a = await store.claimNode('back', lease('n2'), 5, () => {}, { subnetFrom: pool });
    const b = await store.claimNode('back', lease('n3'), 5, () => {}, { subnetFrom: pool });
    expect([a.lease.podCIDR, b.lease.podCIDR]).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
    await a.release();
    await b.release();
    expect(await store.client.get(subnetHistoryKey('back', 'n3')).string()).toBe('10.244.2.0/24');
    const again = await store.claimNode('back', lease('n3', '', 'i-again'), 5, () => {}, { subnetFrom: pool });
    expect(again.lease.podCIDR).toBe('10.244.2.0/24');
    // a newcomer takes the lowest free
    const n4 = await store.claimNode('back', lease('n4'), 5, () => {}, { subnetFrom: pool });
    expect(n4.lease.podCIDR).toBe('10.244.1.0/24');
    await again.release();
    await n4.release();
  });

  it('a pool with no range left: refused, naming the pool', async () => {
    const c: ClusterConfig = { ...config(3), clusterCIDR: '10.244.0.0/23' };
    await store.labConfig('full', c);
    const pool = subnetPool(c);
    const a = await store.claimNode('full', lease('n2'), 5, () => {}, { subnetFrom: pool });
    expect(a.lease.podCIDR).toBe('10.244.1.0/24');
    await expect(store.claimNode('full', lease('n3'), 5, () => {}, { subnetFrom: pool })).rejects.toThrow('cluster CIDR 10.244.0.0/23 has no free /24 left for node n3 (1 leased, 1 fixed by the topology)');
    expect((await store.nodeLeases('full')).leases.map((l) => l.node)).toEqual(['n2']);
    await a.release();
  });

  it("a node's pods are bound to its lease: announced, and gone with it", async () => {
    await store.labConfig('pods', config());
    const c = await store.claimNode('pods', lease('n1', '10.244.0.0/24'), 5, () => {});
    await c.announce(() => podEntries('pods', [{ name: 'a', k8sNamespace: 'default', node: 'n1', ip: '10.244.0.2', labels: { app: 'web' } }]));
    expect((await storedPods(store, 'pods')).pods).toEqual([{ name: 'a', namespace: 'default', node: 'n1', ip: '10.244.0.2', labels: { app: 'web' } }]);
    // a runtime's pod came (CNI ADD), then a went: announced again, a's key leaves
    await c.announce(() => podEntries('pods', [{ name: 'a', k8sNamespace: 'default', node: 'n1', ip: '10.244.0.2', labels: {} }, { name: 'r', k8sNamespace: 'shop', node: 'n1', ip: '10.244.0.3', labels: {} }]));
    expect((await storedPods(store, 'pods')).pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['default/a', 'shop/r']);
    await c.announce(() => podEntries('pods', [{ name: 'r', k8sNamespace: 'shop', node: 'n1', ip: '10.244.0.3', labels: {} }]));
    expect((await storedPods(store, 'pods')).pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/r']);
    await c.release();
    expect((await storedPods(store, 'pods')).pods).toEqual([]);
  });

  it('NetworkPolicies: applied (created, unchanged, configured), read back, deleted; a missing one is named', async () => {
    await store.labConfig('pol', config());
    const opts = { url: etcd.url };
    const located = POLICIES.map((value, i) => ({ value, origin: `networkPolicies[${i}]`, root: 'spec.' }));
    expect(await applyPoliciesToStore(opts, 'pol', 'p.yaml', located)).toEqual([
      { namespace: 'default', name: 'web-in', action: 'created' }, { namespace: 'shop', name: 'out', action: 'created' },
    ]);
    const changed = { ...POLICIES[1], policyTypes: ['Ingress' as const, 'Egress' as const] };
    expect((await applyPoliciesToStore(opts, 'pol', 'p.yaml', [located[0], { ...located[1], value: changed }])).map((r) => r.action)).toEqual(['unchanged', 'configured']);
    const { policies } = await storedPolicies(store, 'pol');
    expect(policies.map((p) => p.policy)).toEqual([POLICIES[0], changed]);
    expect(policies[0].origin).toBe('p.yaml networkPolicies[0]');
    await expect(deletePoliciesFromStore(opts, 'pol', [{ namespace: 'default', name: 'nope' }])).rejects.toThrow(/not in the store's lab "pol": networkpolicies.networking.k8s.io "nope" in namespace default/);
    expect(await deletePoliciesFromStore(opts, 'pol', [{ namespace: 'shop', name: 'out' }])).toEqual(['out']);
    expect((await storedPolicies(store, 'pol')).policies.map((p) => p.policy.name)).toEqual(['web-in']);
    await expect(applyPoliciesToStore(opts, 'nolab', 'p.yaml', located)).rejects.toThrow(/has no lab "nolab"/);
  });
});
