// The shared store's layout and transactions against a real etcd (Debian's
// etcd-server) started by the test on 127.0.0.1 at a free port: schema
// created once and another version refused (both named), config written once
// and a different one refused, node leases and pod CIDRs taken by
// compare-and-swap (of two hosts claiming at once exactly one wins), a lease
// that is not renewed disappears after its TTL, a watch sees puts and deletes,
// undecodable values are refused naming the key and field, and an
// unreachable store is named in the error.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SharedStore } from '../../src/store/etcd-store.ts';
import { parseStoreUrl } from '../../src/store/store-url.ts';
import { keys, SCHEMA_VERSION, decodeNodeLease, decodeService, decodeConfig, type ClusterConfig, type NodeLease } from '../../src/store/schema.ts';
import { hasEtcd, startEtcd, freePort, type TestEtcd } from '../../bench/etcd.ts';
import { skipsMustFail } from '../ci/guard.ts';

if (!hasEtcd) console.warn('test/store/etcd-store.test.ts: etcd tests skipped — no etcd (apt-get install etcd-server)');

const config = (source = 'lab.yaml'): ClusterConfig => ({
  clusterCIDR: '10.244.0.0/16', overlay: 'vxlan', vxlan: { vni: 1, port: 8472 },
  topology: { cluster: { name: 'st' }, nodes: [{ name: 'n1', pods: ['a'] }] }, source,
});
const lease = (node: string, podCIDR: string, instance = `i-${node}`): NodeLease => ({
  node, podCIDR, underlayIp: '10.0.0.1', vtepMac: '02:00:00:00:00:01', host: 'h', since: new Date().toISOString(), instance,
});

describe('store URL', () => {
  it('etcd:// and etcds:// with one or more HOST:PORT', () => {
    expect(parseStoreUrl('etcd://10.0.0.1:2379')).toEqual({ url: 'etcd://10.0.0.1:2379', hosts: ['http://10.0.0.1:2379'], tls: false });
    expect(parseStoreUrl('etcds://a:1,b.example:2').hosts).toEqual(['https://a:1', 'https://b.example:2']);
  });
  it('refuses other schemes, missing ports and bad ports, naming the part', () => {
    expect(() => parseStoreUrl('http://a:1')).toThrow(/not etcd:\/\/HOST:PORT/);
    expect(() => parseStoreUrl('etcd://a')).toThrow(/"a" in etcd:\/\/a is not HOST:PORT/);
    expect(() => parseStoreUrl('etcd://a:1,b:70000')).toThrow(/"b:70000"/);
  });
});

describe('schema decoding', () => {
  it('names the key and the bad field', () => {
    const k = keys.node('st', 'n1');
    expect(() => decodeNodeLease(k, '{')).toThrow(new RegExp(`store key ${k}: not JSON`));
    expect(() => decodeNodeLease(k, JSON.stringify({ ...lease('n1', '10.244.0.0/24'), podCIDR: '10.244.0.0' }))).toThrow(/bad field\(s\) podCIDR \(a CIDR, got "10.244.0.0"\)/);
    expect(() => decodeNodeLease(k, JSON.stringify(lease('n2', '10.244.0.0/24')))).toThrow(/field node "n2" is not the key's node/);
    expect(() => decodeService(keys.service('st', 'default', 'web'), JSON.stringify({ spec: { name: 'api', namespace: 'default', ports: [] }, origin: 'x' }))).toThrow(/names default\/api, not the key's Service/);
    expect(() => decodeConfig(keys.config('st'), JSON.stringify({ ...config(), vxlan: { vni: 1 } }))).toThrow(/bad field vxlan/);
  });
  it('round-trips', () => {
    const l = lease('n1', '10.244.0.0/24');
    expect(decodeNodeLease(keys.node('st', 'n1'), JSON.stringify(l))).toEqual(l);
    expect(keys.subnet('st', '10.244.3.0/24')).toBe('/podwire/st/subnets/10.244.3.0-24');
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

  it('an unreachable store: a clear error naming it', async () => {
    const url = `etcd://127.0.0.1:${await freePort()}`;
    await expect(SharedStore.connect({ url, connectTimeoutMs: 1000 })).rejects.toThrow(new RegExp(`cannot reach the store at ${url}`));
  });

  it('config: written once; the same again joins; another is refused; none without a file: not in the store', async () => {
    expect((await store.labConfig('cfg', config())).created).toBe(true);
    expect((await store.labConfig('cfg', config('other-name.yaml'))).created).toBe(false);
    expect((await store.labConfig('cfg')).config.source).toBe('lab.yaml');
    const other = { ...config('b.yaml'), topology: { cluster: { name: 'st' }, nodes: [{ name: 'n9', pods: ['z'] }] } };
    await expect(store.labConfig('cfg', other)).rejects.toThrow(/another topology \(from lab.yaml\) than b.yaml: refused, the store's wins/);
    await expect(store.labConfig('nolab')).rejects.toThrow(/has no lab "nolab"/);
    expect(await store.labs()).toContain('cfg');
  });

  it('a schema of another version is refused, both versions named', async () => {
    await store.labConfig('old', config());
    await store.client.put(keys.schema('old')).value('7');
    await expect(store.labConfig('old')).rejects.toThrow(new RegExp(`schema version 7, this podwire reads and writes version ${SCHEMA_VERSION}: refused`));
  });

  it('two hosts claiming the same node at once: exactly one wins; another node on the same pod CIDR is refused', async () => {
    await store.labConfig('cas', config());
    const other = await SharedStore.connect({ url: etcd.url });
    try {
      const results = await Promise.allSettled([
        store.claimNode('cas', lease('n1', '10.244.0.0/24', 'A'), 5, () => {}),
        other.claimNode('cas', lease('n1', '10.244.0.0/24', 'B'), 5, () => {}),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(String(lost.reason)).toMatch(/node n1 is already running on host h|changed while being taken/);
      await expect(other.claimNode('cas', lease('n2', '10.244.0.0/24', 'C'), 5, () => {})).rejects.toThrow(/pod CIDR 10.244.0.0\/24 of node n2 is held by node n1/);
      const { leases } = await store.nodeLeases('cas');
      expect(leases.map((l) => l.node)).toEqual(['n1']);
      expect(await store.client.get(keys.subnet('cas', '10.244.0.0/24')).string()).toBe('n1');
    } finally {
      await other.close();
    }
  });

  it('a lease not renewed disappears after its TTL (and the watch sees it come and go)', async () => {
    await store.labConfig('ttl', config());
    const seen: string[] = [];
    const { revision } = await store.nodeLeases('ttl');
    await store.watch(keys.nodes('ttl'), revision, (events) => { for (const e of events) seen.push(`${e.type} ${e.key.split('/').pop()}`); });
    const host = await SharedStore.connect({ url: etcd.url });
    await host.claimNode('ttl', lease('n3', '10.244.3.0/24'), 2, () => {});
    await host.close(); // stops the keepalive, as a killed podwire would
    const t0 = Date.now();
    for (;;) {
      if ((await store.nodeLeases('ttl')).leases.length === 0) break;
      expect(Date.now() - t0).toBeLessThan(5000);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - t0).toBeGreaterThan(1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['put n3', 'delete n3']);
    expect(await store.client.get(keys.subnet('ttl', '10.244.3.0/24')).string()).toBeNull();
  });

  it('a claim released gives the node back at once; a kept one is renewed past its TTL', async () => {
    await store.labConfig('rel', config());
    const c = await store.claimNode('rel', lease('n1', '10.244.0.0/24'), 1, () => {});
    await new Promise((r) => setTimeout(r, 2500));
    expect((await store.nodeLeases('rel')).leases).toHaveLength(1);
    await c.release();
    expect((await store.nodeLeases('rel')).leases).toHaveLength(0);
  });

  it('Services: written in transactions, read back, deleted', async () => {
    await store.labConfig('svc', config());
    const many = Array.from({ length: 300 }, (_, i) => ({ spec: { name: `s${i}`, namespace: 'default', type: 'ClusterIP' as const, ports: [{ port: 80, targetPort: 80, protocol: 'TCP' as const }] }, origin: `doc ${i}` }));
    await store.putServices('svc', many as never);
    expect((await store.services('svc')).services).toHaveLength(300);
    await store.deleteServices('svc', [{ namespace: 'default', name: 's0' }]);
    expect((await store.services('svc')).services).toHaveLength(299);
    expect(await store.deleteLab('svc')).toBeGreaterThan(299);
  });
});
