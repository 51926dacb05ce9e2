// End-to-end, as root: the CNI plugin against a real lab, called as a
// container runtime calls it, into network namespaces the test makes the way
// a runtime does (`ip netns add`, not podwire). Two nodes: the runtime's pod
// goes on n2, a podwire pod on n1 reaches it by pod IP (across the overlay)
// and through a Service selecting it by the labels the runtime passed; status
// lists it; CHECK verifies it; a second ADD for the same container is
// refused; DEL removes exactly the interface podwire made (the namespace and
// anything else in it stay), is idempotent, frees the address (the next ADD
// gets it back), and succeeds once the lab is gone. A NetworkPolicy applied
// before ADD selects the runtime's pod by its labels once attached; n2
// (maxPods 10) takes more runtime pods than the 7 of a node sized the old
// way, and the next ADD is refused as full.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { startLab, stopAllLabs, isRoot, runProgram, podwire, type RunningLab } from '../helpers/lab.ts';
import { startPodServers, killAll, httpRequests, HTTP_PORT } from '../helpers/pod-servers.ts';
import { runCni } from '../helpers/cni.ts';

if (!isRoot) console.warn('test/e2e/cni-runtime.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'cnie';
const CLIENT = 'cnie-client';
const RT = ['cni-e2e1', 'cni-e2e2', 'cni-e2e3']; // the runtime's namespaces are pw-<this> (startPodServers runs servers there)
const MAX_PODS = 10; // n2's: more than the 7 pod ports a node without pods had before maxPods
const CAP = Array.from({ length: MAX_PODS }, (_, i) => `cni-cap${i}`); // namespaces to fill n2 with

const TOPOLOGY = `
cluster:
  clusterCIDR: 10.236.0.0/16
  serviceCIDR: 10.92.0.0/16
  underlayCIDR: 172.31.246.0/24
nodes:
  - name: n1
    pods: [${CLIENT}]
  - name: n2
    maxPods: ${MAX_PODS}
services:
  - name: web
    namespace: shop
    selector: { app: web }
    ports: [{ port: 80, targetPort: ${HTTP_PORT} }]
`;

const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0', name: 'podwire', type: 'podwire', lab: LAB, node: 'n2', runtimeConfig: { labels: { app: 'web' } }, ...extra,
});
const env = (pod: string, command: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command, CNI_CONTAINERID: `ctr-${pod}`, CNI_NETNS: `/run/netns/pw-${pod}`, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni',
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=${pod}`, ...extra,
});

async function ipIn(ns: string, args: string[]): Promise<string> {
  const r = await runProgram('ip', ['-n', ns, ...args]);
  if (r.code !== 0) throw new Error(`ip -n ${ns} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

afterAll(async () => {
  await stopAllLabs();
  for (const p of [...RT, ...CAP]) await runProgram('ip', ['netns', 'del', `pw-${p}`]);
});

describe.skipIf(!isRoot)('podwire as a CNI plugin, called as a runtime calls it, on a real lab (root)', () => {
  let lab: RunningLab;
  let servers: ChildProcess[] = [];
  let firstIp = '';

  beforeAll(async () => {
    for (const p of [...RT, ...CAP]) {
      await runProgram('ip', ['netns', 'del', `pw-${p}`]); // a leftover of an earlier failed run of this file
      const r = await runProgram('ip', ['netns', 'add', `pw-${p}`]);
      if (r.code !== 0) throw new Error(`ip netns add pw-${p}: ${r.stderr}`);
    }
    // something of the runtime's own in the namespace, which DEL must leave alone
    await ipIn(`pw-${RT[0]}`, ['link', 'add', 'rt-veth0', 'type', 'veth', 'peer', 'name', 'rt-veth1']);
    lab = await startLab(TOPOLOGY, { name: LAB });
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
  });

  it('ADD: the interface, address and default route in the runtime\'s namespace; the result says so', async () => {
    const r = await runCni(env(RT[0], 'ADD'), conf());
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const res = r.json as { interfaces: { name: string; mac: string; sandbox: string }[]; ips: { address: string; gateway: string; interface: number }[]; routes: { dst: string; gw: string }[]; dns: { nameservers: string[]; search: string[] } };
    expect(res.interfaces).toEqual([{ name: 'eth0', mac: expect.stringMatching(/^0a:58:/), mtu: expect.any(Number), sandbox: `/run/netns/pw-${RT[0]}` }]);
    expect(res.ips[0].address).toMatch(/^10\.236\.1\.\d+\/24$/);
    expect(res.ips[0].gateway).toBe('10.236.1.1');
    expect(res.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.236.1.1' }]);
    expect(res.dns.search[0]).toBe('shop.svc.cluster.local');
    firstIp = res.ips[0].address.split('/')[0];
    // what the kernel says, not what we said
    expect(await ipIn(`pw-${RT[0]}`, ['-br', 'addr', 'show', 'dev', 'eth0'])).toContain(res.ips[0].address);
    expect(await ipIn(`pw-${RT[0]}`, ['-br', 'link', 'show', 'dev', 'eth0'])).toContain(res.interfaces[0].mac);
    expect(await ipIn(`pw-${RT[0]}`, ['route', 'show', 'default'])).toContain('default via 10.236.1.1 dev eth0');
  });

  it('a podwire pod on another node reaches it by pod IP, and through the Service selecting it by its labels; status lists it', async () => {
    servers = await startPodServers([RT[0]]);
    const direct = await httpRequests(`pw-${CLIENT}`, firstIp, HTTP_PORT, 3);
    expect(direct).toEqual({ got: [RT[0], RT[0], RT[0]], fails: [] });
    const s = await lab.status();
    const pod = s.pods.find((p) => p.name === RT[0])!;
    expect(pod).toMatchObject({ namespace: 'shop', node: 'n2', ip: firstIp, netns: `/run/netns/pw-${RT[0]}` });
    const web = s.services.find((x) => x.name === 'web')!;
    expect(web.endpoints.map((e) => e.ip)).toEqual([firstIp]);
    const viaSvc = await httpRequests(`pw-${CLIENT}`, web.clusterIP, 80, 3);
    expect(viaSvc).toEqual({ got: [RT[0], RT[0], RT[0]], fails: [] });
  });

  it('CHECK passes; a second ADD for the same container is refused; a namespace that does not exist is code 3', async () => {
    const check = await runCni(env(RT[0], 'CHECK'), conf({ prevResult: { cniVersion: '1.0.0' } }));
    expect([check.code, check.stdout]).toEqual([0, '']);
    const again = await runCni(env(RT[0], 'ADD'), conf());
    expect(again.code).toBe(1);
    expect(again.json).toMatchObject({ code: 101, msg: expect.stringContaining(`container ctr-${RT[0]} already has eth0 on podwire`) });
    const gone = await runCni(env('cni-nonesuch', 'ADD'), conf());
    expect(gone.json).toMatchObject({ code: 3, msg: expect.stringContaining('/run/netns/pw-cni-nonesuch does not exist') });
    const unknownNode = await runCni(env(RT[1], 'ADD'), conf({ node: 'n7' }));
    expect(unknownNode.json).toMatchObject({ code: 7, msg: `node "n7" is not a node of lab "${LAB}" (its nodes: n1, n2)` });
    // CHECK finds what was changed behind podwire's back
    await ipIn(`pw-${RT[0]}`, ['route', 'del', 'default']);
    const broken = await runCni(env(RT[0], 'CHECK'), conf({ prevResult: { cniVersion: '1.0.0' } }));
    expect(broken.json).toMatchObject({ code: 102, msg: expect.stringContaining('default route via 10.236.1.1 dev eth0 is missing') });
    await ipIn(`pw-${RT[0]}`, ['route', 'add', 'default', 'via', '10.236.1.1', 'dev', 'eth0']);
  });

  it('DEL removes only podwire\'s interface, is idempotent; the address comes back to the next ADD; the Service loses the endpoint', async () => {
    killAll(servers);
    const del = await runCni(env(RT[0], 'DEL'), conf());
    expect([del.code, del.stdout]).toEqual([0, '']);
    const links = await ipIn(`pw-${RT[0]}`, ['-br', 'link']);
    expect(links).not.toMatch(/^eth0\b/m);
    expect(links).toContain('rt-veth0');
    const s = await lab.status();
    expect(s.pods.map((p) => p.name)).not.toContain(RT[0]);
    expect(s.services.find((x) => x.name === 'web')!.endpoints).toEqual([]);
    const again = await runCni(env(RT[0], 'DEL'), conf());
    expect([again.code, again.stdout]).toEqual([0, '']);
    const next = await runCni(env(RT[1], 'ADD'), conf());
    expect(next.code, next.stdout).toBe(0);
    expect((next.json!.ips as { address: string }[])[0].address).toBe(`${firstIp}/24`);
  });

  it('a NetworkPolicy applied before ADD selects the runtime\'s pod by its labels: denied after ADD, allowed once the policy is deleted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-cni-netpol-'));
    try {
      const file = join(dir, 'deny.yaml');
      writeFileSync(file, JSON.stringify({ networkPolicies: [{ name: 'lock', namespace: 'shop', spec: { podSelector: { matchLabels: { role: 'locked' } }, policyTypes: ['Ingress'] } }] }));
      const applied = await podwire(['apply', file, '--name', LAB]);
      expect(applied.code, applied.stderr).toBe(0);
      const add = await runCni(env(RT[2], 'ADD'), conf({ runtimeConfig: { labels: { role: 'locked' } } }));
      expect(add.code, add.stdout).toBe(0);
      const ip = (add.json!.ips as { address: string }[])[0].address.split('/')[0];
      servers = await startPodServers([RT[2]]);
      const denied = await httpRequests(`pw-${CLIENT}`, ip, HTTP_PORT, 1);
      expect(denied.got).toEqual([]);
      expect(denied.fails[0]).toMatch(/timed out|TimeoutError/);
      const policies = JSON.parse((await podwire(['policies', '--name', LAB, '--json'])).stdout) as { pods: { pod: string; node: string; ingress?: { isolatedBy: string[] } }[] };
      expect(policies.pods.find((p) => p.pod === `shop/${RT[2]}`)).toMatchObject({ node: 'n2', ingress: { isolatedBy: ['shop/lock'] } });
      const deleted = await podwire(['delete', 'networkpolicy', 'lock', '-n', 'shop', '--name', LAB]);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(await httpRequests(`pw-${CLIENT}`, ip, HTTP_PORT, 2)).toEqual({ got: [RT[2], RT[2]], fails: [] });
    } finally {
      killAll(servers);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`n2 (maxPods ${MAX_PODS}) takes runtime pods until full, then ADD is refused with code 100 naming maxPods`, async () => {
    let attached = 0;
    let refusal: Record<string, unknown> | undefined;
    for (const p of CAP) {
      const r = await runCni(env(p, 'ADD'), conf({ runtimeConfig: { labels: { fill: 'yes' } } }));
      if (r.code !== 0) { refusal = r.json; break; }
      attached++;
    }
    const onN2 = (await lab.status()).pods.filter((p) => p.node === 'n2').length;
    expect(attached).toBeGreaterThan(5); // RT[1] and RT[2] hold 2 of the 10 already: more than the 7 ports of old in all
    expect(onN2).toBeGreaterThan(7);
    expect(refusal).toMatchObject({ code: 100, msg: expect.stringContaining(`node n2 is full: ${MAX_PODS} pods (maxPods ${MAX_PODS}`) });
    // a pod removed frees its port for the next
    const last = CAP[attached - 1];
    expect((await runCni(env(last, 'DEL'), conf())).code).toBe(0);
    expect((await runCni(env(last, 'ADD'), conf())).code).toBe(0);
    for (const p of CAP) expect((await runCni(env(p, 'DEL'), conf())).code).toBe(0);
  }, 120_000);

  it('DEL once the lab is gone: success (the interface went with the lab)', async () => {
    await lab.stop();
    const del = await runCni(env(RT[1], 'DEL'), conf());
    expect([del.code, del.stdout]).toEqual([0, '']);
    expect(await ipIn(`pw-${RT[1]}`, ['-br', 'link'])).not.toMatch(/^eth0\b/m);
    const add = await runCni(env(RT[1], 'ADD'), conf());
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining(`no podwire lab "${LAB}" is running`) });
  });
});
