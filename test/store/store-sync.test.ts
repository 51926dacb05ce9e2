// A host following the shared store's Services (src/lab/store-sync.ts) with
// the real store client against a loopback etcd (Debian's etcd-server),
// the real ServiceControl and the worker's real per-node Service programming
// (NodeServices), over a data plane stand-in that counts what is programmed
// into it. Checked: Services arriving while a batch is being applied are
// applied together as the next one (and a transaction is never split);
// the state file, written once the burst is over, holds the Services after
// the last event; an endpoint change re-programs that one frontend and
// nothing else; a bad stored value is ignored, naming its key and field,
// and one the lab refuses keeps only itself out of its batch; a refused
// `apply --store` writes nothing.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';

const DIR = vi.hoisted(() => {
  const d = `/tmp/pw-store-sync-unit-${process.pid}/run/podwire`;
  process.env.PODWIRE_STATE_DIR = d;
  return d;
});
import { SharedStore } from '../../src/store/etcd-store.ts';
import { keys, type ClusterConfig } from '../../src/store/schema.ts';
import { applyToStore } from '../../src/store/store-apply.ts';
import { planFromConfig } from '../../src/store/store-lab.ts';
import { selectHostNode } from '../../src/model/topology.ts';
import { parseApplyFile } from '../../src/model/apply.ts';
import { StoreSync } from '../../src/lab/store-sync.ts';
import { claimHostNode } from '../../src/store/host-claim.ts';
import { ServiceControl } from '../../src/lab/service-control.ts';
import { NodeServices } from '../../src/dataplane/service-sync.ts';
import { statePath, type LabState } from '../../src/lab/state.ts';
import type { EngineServiceConfig } from '../../src/dataplane/engine-protocol.ts';
import { hasEtcd, startEtcd, type TestEtcd } from '../../bench/etcd.ts';
import { skipsMustFail } from '../ci/guard.ts';

if (!hasEtcd) console.warn('test/store/store-sync.test.ts: etcd tests skipped — no etcd (apt-get install etcd-server)');

const LAB = 'sy';
const TOPOLOGY = {
  cluster: { name: LAB, clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16', overlay: 'vxlan', dns: false, serviceCapacity: 2048 },
  nodes: [
    { name: 'n1', address: '10.0.0.1', pods: [{ name: 'a1', labels: { app: 'web' } }, { name: 'a2', labels: { app: 'db' } }] },
    { name: 'n2', address: '10.0.0.2', pods: [{ name: 'b1', labels: { app: 'web' } }] },
  ],
};
const CONFIG: ClusterConfig = { clusterCIDR: '10.244.0.0/16', overlay: 'vxlan', vxlan: { vni: 1, port: 8472 }, topology: TOPOLOGY, source: 'sy.yaml' };

/** The data plane's Service table as programServices drives it, counting each frontend (re)programmed or removed. */
function countingDataplane() {
  const table = new Map<string, unknown>();
  const dp = {
    added: [] as string[],
    removed: [] as string[],
    ex: { svcMaxBackends: () => 256, svcCapacity: () => 4096, svcFrontendCount: () => table.size },
    addService(vip: string, port: number, proto: string, backends: unknown) { table.set(`${vip}:${port}/${proto}`, backends); dp.added.push(`${vip}:${port}/${proto}`); },
    removeService(vip: string, port: number, proto: string) { table.delete(`${vip}:${port}/${proto}`); dp.removed.push(`${vip}:${port}/${proto}`); },
    ctFlushBackend: () => 0,
  };
  return dp;
}

const servicesYaml = (n: number) => Array.from({ length: n }, (_, i) => [
  'apiVersion: v1', 'kind: Service', `metadata: { name: s${i} }`, `spec: { selector: { app: ${i % 2 ? 'web' : 'db'} }, ports: [{ port: 80 }] }`,
].join('\n')).join('\n---\n');

const movingYaml = (ip: string) => [
  'apiVersion: v1', 'kind: Service', 'metadata: { name: moving }', 'spec: { clusterIP: 10.96.200.1, ports: [{ port: 80, targetPort: 8080 }] }',
  '---',
  'apiVersion: discovery.k8s.io/v1', 'kind: EndpointSlice', 'metadata: { name: moving-1, labels: { kubernetes.io/service-name: moving } }',
  'addressType: IPv4', 'ports: [{ port: 8080 }]', `endpoints: [{ addresses: [${ip}] }]`,
].join('\n');

describe.skipIf(!hasEtcd && !skipsMustFail())('a host following the store\'s Services', () => {
  let etcd: TestEtcd;
  let writer: SharedStore;
  let sync: StoreSync;
  let control: ServiceControl;
  const lines: string[] = [];
  const dp = countingDataplane();
  const node = new NodeServices(dp as never);
  const syncs: { services: EngineServiceConfig[]; only?: string[] }[] = [];
  /** while set, the data plane answers only once it resolves: batches pile up behind the one being programmed */
  let gate: Promise<void> | undefined;
  const plan = selectHostNode(planFromConfig(LAB, CONFIG), 'n1');
  const state: LabState = { name: `${LAB}-n1`, pid: process.pid, startedAt: new Date().toISOString(), namespaces: [], links: [], socket: '/nonexistent' };
  const lab = {
    plan, state, onServicesChanged: [], ingress: undefined,
    async syncServices(_node: string, services: EngineServiceConfig[], only?: string[]) {
      syncs.push({ services, ...(only ? { only } : {}) });
      if (gate) await gate;
      return node.sync(services, only);
    },
    async setAbsentNodes(names: string[]) { plan.absentNodes = names; },
  };
  const applied = () => lines.filter((l) => l.includes('store: applied'));
  const until = async (ok: () => boolean, what: string) => {
    for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() - t0 > 10_000) throw new Error(`no ${what} within 10 s; log:\n${lines.join('\n')}`);
    }
  };

  beforeAll(async () => {
    etcd = await startEtcd();
    writer = await SharedStore.connect({ url: etcd.url });
    await writer.labConfig(LAB, CONFIG);
    // node n2 is live (its lease in the store): its pods are endpoints
    const n2 = plan.nodes[1];
    await writer.claimNode(LAB, { node: 'n2', podCIDR: n2.podCIDR, underlayIp: n2.underlayIp, vtepMac: n2.vtepMac, host: 'h2', since: new Date().toISOString(), instance: 'i2' }, 30, () => {});
    control = new ServiceControl(lab as never, (l) => lines.push(l));
    const store = await SharedStore.connect({ url: etcd.url });
    const claim = await claimHostNode(store, LAB, CONFIG, plan.nodes[0], 5, (l) => lines.push(l));
    sync = await StoreSync.start(store, lab as never, control, { claim, config: CONFIG, log: (l) => lines.push(l) });
  });
  afterAll(async () => {
    control?.close();
    await sync?.stop();
    await writer?.close();
    await etcd?.stop();
    rmSync(DIR.replace(/\/run\/podwire$/, ''), { recursive: true, force: true });
  });

  it('Services arriving while a batch is programmed are applied as one next batch; the state file then holds the last', async () => {
    let open!: () => void;
    gate = new Promise((r) => { open = r; });
    // 300 Services: three transactions (128, 128, 44) sent at once
    await applyToStore({ url: etcd.url }, LAB, parseApplyFile(servicesYaml(300), 'many.yaml'));
    await until(() => syncs.length > 0, 'first batch programmed');
    await new Promise((r) => setTimeout(r, 200)); // every watch response is in by now, held behind the gate
    gate = undefined;
    open();
    await until(() => plan.services.length === 300, 'all 300 Services planned');
    const sizes = applied().map((l) => Number(/applied (\d+) Service/.exec(l)![1]));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(300);
    expect(sizes.length).toBeLessThanOrEqual(2); // the first batch, then everything that came meanwhile
    // whole transactions (etcd commits the three in whatever order they come)
    for (const n of sizes.slice(0, -1)) expect([44, 128, 172, 256]).toContain(n);
    expect(dp.added).toHaveLength(300);
    await until(() => {
      try { return (JSON.parse(readFileSync(statePath(state.name), 'utf8')) as LabState).services?.length === 300; } catch { return false; }
    }, 'state file with 300 Services');
    expect((JSON.parse(readFileSync(statePath(state.name), 'utf8')) as LabState).services).toEqual(plan.services);
  });

  it('an endpoint change re-programs that Service\'s one frontend, nothing else', async () => {
    await applyToStore({ url: etcd.url }, LAB, parseApplyFile(movingYaml('10.244.0.2'), 'moving.yaml'));
    await until(() => applied().some((l) => l.includes('(moving)')), 'moving created');
    const before = { added: dp.added.length, removed: dp.removed.length, syncs: syncs.length, lines: applied().length };
    await applyToStore({ url: etcd.url }, LAB, parseApplyFile(movingYaml('10.244.1.2'), 'moving.yaml'));
    await until(() => applied().length > before.lines, 'the change applied');
    expect(dp.added.slice(before.added)).toEqual(['10.96.200.1:80/tcp']);
    expect(dp.removed.length).toBe(before.removed);
    expect(syncs.slice(before.syncs)).toEqual([{ services: [expect.objectContaining({ vip: '10.96.200.1', backends: [{ ip: '10.244.1.2', port: 8080 }] })], only: ['default/moving'] }]);
    expect(applied().at(-1)).toMatch(/applied 1 Service\(s\) \(moving\): 1 frontend\(s\) programmed; waited [\d.]+ ms, planned [\d.]+ ms, programmed [\d.]+ ms/);
  });

  it('a bad stored value is ignored naming its key and field; one the lab refuses keeps only itself out; a delete removes the frontend', async () => {
    const bad = keys.service(LAB, 'default', 'bad');
    const stored = (name: string, clusterIP: string, port: number) => JSON.stringify({
      spec: { name, namespace: 'default', type: 'ClusterIP', clusterIP, ports: [{ port, targetPort: port, protocol: 'TCP' }], sessionAffinity: 'None', sessionAffinityTimeoutSeconds: 10800, externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', externalIPs: [] },
      origin: 'written by hand',
    });
    // one transaction: an undecodable value, a Service taking moving's address, and a good one
    await writer.client.if(keys.schema(LAB), 'Version', '>', 0).then(
      writer.client.put(bad).value(JSON.stringify({ spec: { name: 'bad', namespace: 'default' }, origin: 'x' })),
      writer.client.put(keys.service(LAB, 'default', 'clash')).value(stored('clash', '10.96.200.1', 82)),
      writer.client.put(keys.service(LAB, 'default', 'good')).value(stored('good', '10.96.201.1', 81)),
    ).commit();
    await until(() => applied().some((l) => l.includes('(good)')), 'good applied');
    expect(lines).toContain(`podwire: store: store key ${bad}: bad field spec (expected a Service spec with name, namespace and ports): ignored`);
    expect(lines.find((l) => l.startsWith(`podwire: store: could not apply ${keys.service(LAB, 'default', 'clash')} (written by hand)`))).toMatch(/10\.96\.200\.1/);
    expect(plan.services.map((s) => s.name).filter((n) => ['bad', 'clash', 'good'].includes(n))).toEqual(['good']);
    expect(plan.services.find((s) => s.name === 'moving')?.ports[0].port).toBe(80);
    const removed = dp.removed.length;
    await writer.deleteServices(LAB, [{ namespace: 'default', name: 'good' }, { namespace: 'default', name: 'clash' }, { namespace: 'default', name: 'bad' }]);
    await until(() => lines.some((l) => l.includes('store: deleted 1 Service(s) (good)')), 'good deleted');
    expect(dp.removed.slice(removed)).toEqual(['10.96.201.1:81/tcp']);
  });

  it('a refused apply --store writes nothing', async () => {
    const before = (await writer.services(LAB)).services.length;
    const clash = 'apiVersion: v1\nkind: Service\nmetadata: { name: taken }\nspec: { clusterIP: 10.96.200.1, ports: [{ port: 80 }] }\n---\n' + servicesYaml(1).replace('s0', 'fresh');
    await expect(applyToStore({ url: etcd.url }, LAB, parseApplyFile(clash, 'clash.yaml'))).rejects.toThrow(/clash\.yaml: nothing applied/);
    expect((await writer.services(LAB)).services.length).toBe(before);
  });
});
