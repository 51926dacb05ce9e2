// End-to-end, as root: a 200-pod lab on 4 nodes. The forwarding loop waits
// on epoll and reads the ready fds only, so while two pods ping each other
// the fds it examines per round stay about the busy ones (status:
// dataplane.loop), not the 200 it watches. Pods attached and detached live
// by the CNI plugin are watched and forgotten; a pod whose namespace is
// deleted under the lab is reported gone and stops being watched; the rest
// keep forwarding.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startLab, stopAllLabs, isRoot, runProgram, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { runCni } from '../helpers/cni.ts';

if (!isRoot) console.warn('test/e2e/many-pods.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'manyp';
const NODES = 4;
const PODS_PER_NODE = 50;
const RUNTIME_POD = 'mp-runtime'; // attached by the CNI plugin: namespace pw-mp-runtime
const pod = (node: number, i: number) => `mp-${node}-${i}`;

const TOPOLOGY = `
cluster:
  dns: false
nodes:
${Array.from({ length: NODES }, (_, n) => `  - name: n${n + 1}
    maxPods: ${PODS_PER_NODE + 2}
    pods: [${Array.from({ length: PODS_PER_NODE }, (_, i) => pod(n + 1, i)).join(', ')}]`).join('\n')}
`;

type Loop = { rounds: number; readyFds: number; watchedFds: number; sleeps: number };
type Status = StatusJson & { dataplane?: { loop?: Loop } };

const cniConf = { cniVersion: '1.0.0', name: 'podwire', type: 'podwire', lab: LAB, node: 'n2' };
const cniEnv = (command: string) => ({
  CNI_COMMAND: command, CNI_CONTAINERID: `ctr-${RUNTIME_POD}`, CNI_NETNS: `/run/netns/pw-${RUNTIME_POD}`, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni',
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${RUNTIME_POD}`,
});

/** `ping -c count` from one namespace; the replies received. */
async function ping(fromNs: string, ip: string, count: number, interval = '0.01'): Promise<number> {
  const r = await runProgram('ip', ['netns', 'exec', fromNs, 'ping', '-n', '-q', '-c', String(count), '-i', interval, '-W', '1', ip], { timeoutMs: 30_000 });
  const m = / (\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

afterAll(async () => {
  await stopAllLabs();
  await runProgram('ip', ['netns', 'del', `pw-${RUNTIME_POD}`]);
});

describe.skipIf(!isRoot)('a 200-pod lab: readiness from the ready fds only, ports changed live (root)', () => {
  let lab: RunningLab;
  let status: Status;
  const podIn = (s: Status, name: string) => s.pods.find((p) => p.name === name)!;

  beforeAll(async () => {
    await runProgram('ip', ['netns', 'del', `pw-${RUNTIME_POD}`]); // left by an earlier failed run
    lab = await startLab(TOPOLOGY, { name: LAB });
    status = (await lab.status()) as Status;
  }, 120_000);

  it('forwards across nodes, examining about the busy fds per round, not all 200', async () => {
    const a = podIn(status, pod(1, 0));
    const b = podIn(status, pod(3, 17));
    expect(await ping(a.netns, b.ip, 3)).toBe(3); // ARP and learning out of the way
    const before = ((await lab.status()) as Status).dataplane!.loop!;
    expect(before.watchedFds).toBe(NODES * PODS_PER_NODE);
    expect(await ping(a.netns, b.ip, 200, '0.005')).toBe(200);
    const after = ((await lab.status()) as Status).dataplane!.loop!;
    const rounds = after.rounds - before.rounds;
    const examined = after.readyFds - before.readyFds;
    // each echo wakes the loop for the request's fd, then the reply's; the status requests wake it too
    expect(rounds).toBeGreaterThan(200);
    expect(examined / rounds).toBeLessThan(3);
  }, 60_000);

  it('watches a pod the CNI plugin attaches, forwards to it, and forgets it on DEL', async () => {
    expect((await runProgram('ip', ['netns', 'add', `pw-${RUNTIME_POD}`])).code).toBe(0);
    const add = await runCni(cniEnv('ADD'), cniConf);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const ip = (add.json as { ips: { address: string }[] }).ips[0].address.split('/')[0];
    const s = (await lab.status()) as Status;
    expect(s.dataplane!.loop!.watchedFds).toBe(NODES * PODS_PER_NODE + 1);
    const client = podIn(s, pod(4, 49));
    expect(await ping(client.netns, ip, 5)).toBe(5);
    const del = await runCni(cniEnv('DEL'), cniConf);
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(((await lab.status()) as Status).dataplane!.loop!.watchedFds).toBe(NODES * PODS_PER_NODE);
    expect(await ping(client.netns, ip, 2, '0.2')).toBe(0);
  }, 60_000);

  it('a pod whose namespace is deleted under the lab is reported gone and no longer watched; the others still forward', async () => {
    const gone = podIn(status, pod(2, 5));
    expect((await runProgram('ip', ['netns', 'del', gone.netns])).code).toBe(0);
    let s: Status | undefined;
    for (let i = 0; i < 50; i++) {
      s = (await lab.status()) as Status;
      if (s.dataplane!.loop!.watchedFds === NODES * PODS_PER_NODE - 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s!.dataplane!.loop!.watchedFds).toBe(NODES * PODS_PER_NODE - 1);
    const n2 = s!.nodes.find((n) => n.name === 'n2')!;
    expect(n2.ports.find((p) => p.pod.endsWith(pod(2, 5)))).toMatchObject({ tap_gone: true });
    expect(lab.output()).toMatch(/TAP gone .*mp-2-5/);
    const a = podIn(status, pod(2, 6));
    const b = podIn(status, pod(1, 9));
    expect(await ping(a.netns, b.ip, 10)).toBe(10);
  }, 60_000);
});
