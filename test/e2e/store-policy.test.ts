// End-to-end, as root: a cluster across three "hosts" sharing etcd whose
// pod CIDRs are leased from the store, and a NetworkPolicy carried by the
// store. etcd in its own namespace (pw-sp-etcd, 10.98.0.10); hosts pw-sp-h1..h3
// (10.98.0.1..3) on one bridge in pw-sp-br. The topology fixes n1's range
// only: n3's host starts before n2's, so n3 leases 10.252.1.0/24 and n2
// 10.252.2.0/24 (the opposite of the topology's order). Host 1 started before
// both and planned them the other way round: it must re-address both nodes
// from their leases (routes, and the policy's peers by address). Checked:
// the leased ranges in `status --store`, pods on every host reach each other
// at their leased addresses, a pod announced in the store with its IP and
// labels; a node the topology does not list is refused; a NetworkPolicy
// applied with `apply --store` from host 3 isolates
// pod a (host 1): the pod on host 2 can no longer reach it, the one on host
// 3 still can; `delete networkpolicy --store` lifts it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PODWIRE, isRoot, podwire, runProgram, until, hostLeftovers, statePathOf } from '../helpers/lab.ts';
import { ping } from '../helpers/traffic.ts';
import { startHostPodwire, killHostsNow, type HostProc } from '../helpers/host-podwire.ts';
import { hasEtcd, startEtcd, type TestEtcd } from '../../bench/etcd.ts';
import { skipsMustFail } from '../ci/guard.ts';
import { createStoreNetwork, removeStoreNetwork, labRoutes, type StoreNetwork } from '../helpers/store-network.ts';

if (!isRoot) console.warn('test/e2e/store-policy.test.ts: skipped — needs root (namespaces, a bridge, TAPs, sockets)');
if (!hasEtcd) console.warn('test/e2e/store-policy.test.ts: skipped — no etcd (apt-get install etcd-server)');

const LAB = 'sp';
const HOSTS = ['pw-sp-h1', 'pw-sp-h2', 'pw-sp-h3'] as const;
const ADDRS = ['10.98.0.1', '10.98.0.2', '10.98.0.3'] as const;
const BRIDGE_NS = 'pw-sp-br';
const ETCD_NS = 'pw-sp-etcd';
const ETCD_IP = '10.98.0.10';
const STORE = `etcd://${ETCD_IP}:2379`;
const TTL = 3;
const POD = { a: 'sp-xa', b: 'sp-xb', c: 'sp-xc' };
/** n1's range is the topology's; n3 leases the lowest free one first, n2 the next */
const IP = { a: '10.252.0.2', b: '10.252.2.2', c: '10.252.1.2' };

const TOPOLOGY = [
  'cluster:',
  `  name: ${LAB}`,
  '  clusterCIDR: 10.252.0.0/16',
  '  serviceCIDR: 10.253.0.0/16',
  '  overlay: vxlan',
  '  mtu: 1500',
  'nodes:',
  '  - name: n1',
  `    address: ${ADDRS[0]}`,
  '    podCIDR: 10.252.0.0/24',
  `    pods: [{ name: ${POD.a}, labels: { app: web } }]`,
  '  - name: n2',
  `    address: ${ADDRS[1]}`,
  `    pods: [{ name: ${POD.b}, labels: { role: stranger } }]`,
  '  - name: n3',
  `    address: ${ADDRS[2]}`,
  `    pods: [{ name: ${POD.c}, labels: { role: friend } }]`,
  '',
].join('\n');

const POLICY = [
  'apiVersion: networking.k8s.io/v1',
  'kind: NetworkPolicy',
  'metadata: { name: web-friends, namespace: default }',
  'spec:',
  '  podSelector: { matchLabels: { app: web } }',
  '  policyTypes: [Ingress]',
  '  ingress: [{ from: [{ podSelector: { matchLabels: { role: friend } } }] }]',
  '',
].join('\n');

const running = new Set<HostProc>();

function startHost(i: number, file?: string): Promise<HostProc> {
  const node = `n${i + 1}`;
  const args = ['up', ...(file ? [file] : []), '--node', node, '--store', STORE, '--store-ttl', String(TTL), ...(file ? [] : ['--name', LAB])];
  return startHostPodwire(HOSTS[i], node, `${LAB}-${node}`, args, running, 40_000);
}

function onHost(i: number, args: string[]) {
  return runProgram('nsenter', [`--net=/run/netns/${HOSTS[i]}`, process.execPath, PODWIRE, ...args], { timeoutMs: 60_000 });
}

const NET: StoreNetwork = { prefix: 'pw-sp-', bridgeNs: BRIDGE_NS, etcdNs: ETCD_NS, etcdIp: ETCD_IP, hosts: HOSTS, addrs: ADDRS };
const createNetwork = () => createStoreNetwork(NET);
const removeNetwork = () => removeStoreNetwork(NET);

let etcd: TestEtcd | undefined;
let dir = '';
process.once('exit', () => {
  if (!isRoot) return;
  killHostsNow(running);
  try { etcd?.proc.kill('SIGKILL'); } catch { /* gone */ }
  removeNetwork();
});

describe.skipIf((!isRoot || !hasEtcd) && !skipsMustFail())('leased pod CIDRs and a NetworkPolicy through the store (root)', () => {
  const hosts: HostProc[] = [];
  let file = '';

  beforeAll(async () => {
    const left = await hostLeftovers(['pw-sp-']);
    if (left.namespaces.length) throw new Error(`namespaces from an earlier run are still there: ${left.namespaces.join(', ')}`);
    dir = mkdtempSync(join(tmpdir(), 'pw-sp-'));
    file = join(dir, 'cluster.yaml');
    writeFileSync(file, TOPOLOGY);
    await createNetwork();
    etcd = await startEtcd({ ip: ETCD_IP, port: 2379, netns: ETCD_NS });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...running].map((h) => h.stop()));
    await etcd?.stop();
    removeNetwork();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ranges leased in join order: every host programs the leases, pods reach each other at their leased addresses', async () => {
    hosts.push(await startHost(0, file));
    hosts.push(await startHost(2)); // n3 before n2: it leases the lowest free range
    expect(hosts[1].output()).toContain('pod CIDR 10.252.1.0/24, leased from the cluster CIDR');
    hosts.push(await startHost(1));
    expect(hosts[2].output()).toContain('pod CIDR 10.252.2.0/24, leased from the cluster CIDR');
    // host 1 planned n2 and n3 in the topology's order before their leases came: it follows the leases
    await until('host 1 routes to the leased ranges', async () => {
      const r = (await labRoutes(`${LAB}-n1`)).filter((x) => x.kind === 'vxlan').map((x) => `${x.cidr} ${x.nextHop}`).sort();
      return JSON.stringify(r) === JSON.stringify([`10.252.1.0/24 ${ADDRS[2]}`, `10.252.2.0/24 ${ADDRS[1]}`]);
    });
    expect(hosts[0].output()).toMatch(/node\(s\) n3 \(10\.252\.1\.0\/24\)[^\n]* leased another pod CIDR than planned here/);
    for (const [from, to] of [['a', 'b'], ['a', 'c'], ['b', 'c'], ['c', 'a'], ['b', 'a']] as const) {
      const r = await ping(`pw-${POD[from]}`, IP[to]);
      expect(r.code, `${from} -> ${to}: ${r.stdout}`).toBe(0);
    }
    const st = await onHost(1, ['status', '--store', STORE, '--name', LAB, '--json']);
    expect(st.code, st.stderr).toBe(0);
    const j = JSON.parse(st.stdout) as { nodes: { node: string; podCIDR: string; lease: { podCIDR: string } | null; pods: string[] }[]; pods: { name: string; node: string; ip: string; labels: Record<string, string> }[] };
    expect(j.nodes.map((n) => [n.node, n.podCIDR, n.lease?.podCIDR, n.pods])).toEqual([
      ['n1', '10.252.0.0/24', '10.252.0.0/24', [POD.a]], ['n2', '10.252.2.0/24', '10.252.2.0/24', [POD.b]], ['n3', '10.252.1.0/24', '10.252.1.0/24', [POD.c]],
    ]);
    expect(j.pods.find((p) => p.name === POD.c)).toEqual({ name: POD.c, namespace: 'default', node: 'n3', ip: IP.c, labels: { role: 'friend' } });
  });

  it('a node the topology does not list cannot join: refused naming the nodes, nothing created', async () => {
    const r = await onHost(1, ['up', '--node', 'n9', '--store', STORE, '--name', LAB]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no node "n9" in the topology (nodes: n1, n2, n3)');
    expect(existsSync(statePathOf(`${LAB}-n9`))).toBe(false);
    const st = await onHost(0, ['status', '--store', STORE, '--name', LAB, '--json']);
    expect((JSON.parse(st.stdout) as { nodes: { node: string }[] }).nodes.map((n) => n.node)).toEqual(['n1', 'n2', 'n3']);
  });

  it('a NetworkPolicy applied with --store on host 3: the pod on host 2 cannot reach pod a on host 1, the one on host 3 still can; deleted: lifted', async () => {
    const pol = join(dir, 'policy.yaml');
    writeFileSync(pol, POLICY);
    const r = await onHost(2, ['apply', pol, '--store', STORE, '--name', LAB]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('networkpolicy.networking.k8s.io/web-friends created\n');
    await until('host 1 has the policy', async () => /applied 1 NetworkPolicy\(ies\) \(web-friends\)/.test(hosts[0].output()));
    for (const h of hosts) await until(`${h.id} has the policy`, async () => /applied 1 NetworkPolicy\(ies\) \(web-friends\)/.test(h.output()));
    // a is isolated for ingress on host 1: its peers are judged by the addresses host 1 re-planned from the leases
    const denied = await ping(`pw-${POD.b}`, IP.a);
    expect(denied.code, `b -> a with the policy: ${denied.stdout}`).not.toBe(0);
    const allowed = await ping(`pw-${POD.c}`, IP.a);
    expect(allowed.code, `c -> a with the policy: ${allowed.stdout}`).toBe(0);
    const pols = await podwire(['policies', '--json', '--name', `${LAB}-n1`], { timeoutMs: 20_000 });
    expect(pols.code, pols.stderr).toBe(0);
    expect(pols.stdout).toContain('default/web-friends');
    const st = await onHost(0, ['status', '--store', STORE, '--name', LAB]);
    expect(st.stdout).toContain('1 NetworkPolicy(ies) applied through the store: default/web-friends');

    const del = await onHost(1, ['delete', 'networkpolicy', 'web-friends', '--store', STORE, '--name', LAB]);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe('networkpolicy.networking.k8s.io "web-friends" deleted\n');
    await until('host 1 deleted the policy', async () => /deleted 1 NetworkPolicy\(ies\) \(web-friends\)/.test(hosts[0].output()));
    const lifted = await ping(`pw-${POD.b}`, IP.a);
    expect(lifted.code, `b -> a after the delete: ${lifted.stdout}`).toBe(0);
  });

  it('SIGTERM: each host gives its lease back and removes what it created; the lab leaves the store', async () => {
    for (const h of hosts.splice(0)) expect(await h.stop()).toBe(0);
    expect(await hostLeftovers(Object.values(POD).map((p) => `pw-${p}`))).toEqual({ namespaces: [], links: [] });
    const down = await onHost(0, ['down', '--store', STORE, '--name', LAB]);
    expect(down.stdout).toMatch(/lab "sp" removed from the store/);
  });
});
