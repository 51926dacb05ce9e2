// End-to-end, as root: plugins chained after podwire, run as a container
// runtime runs a conflist (CNI SPEC "Network configuration lists": ADD each
// plugin in order, each given the previous one's result as prevResult; DEL in
// reverse order, given the cached result), with Debian's
// containernetworking-plugins from /usr/lib/cni.
//
// portmap writes iptables NAT rules in the network namespace it runs in — on
// a real node, the host's. The host here is a pod of the lab (pw-cnic-host):
// the runtime runs every plugin there (`ip netns exec`), so portmap's rules
// land in a namespace this test made and reach the runtime's pod through
// podwire's data plane, as a node's root namespace reaches its pods. The
// hostPort answers only after ADD (the DNAT rule to the pod's address) and
// no more after DEL (the rules are gone). bandwidth shapes on the host end of
// the pod's veth; a podwire pod's interface is a TAP whose other end is the
// lab process, not a host interface, so bandwidth refuses ADD: the test pins
// that refusal and that the runtime's DEL of the chain then cleans up.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startLab, stopAllLabs, isRoot, runProgram, type RunningLab } from '../helpers/lab.ts';
import { startPodServers, killAll, httpRequests, HTTP_PORT } from '../helpers/pod-servers.ts';
import { CNI_ENTRY, runCni } from '../helpers/cni.ts';

const CNI_BIN = '/usr/lib/cni';
const haveCni = existsSync(`${CNI_BIN}/portmap`) && existsSync(`${CNI_BIN}/bandwidth`);
if (!isRoot || !haveCni) console.warn('test/e2e/cni-chain.test.ts: skipped — needs root and containernetworking-plugins in /usr/lib/cni');

const LAB = 'cnic';
const HOST = 'cnic-host'; // the node's "root" namespace where the runtime runs its plugins: pw-cnic-host, a pod of the lab
const RT = 'cnic-rt1'; // the runtime's pod namespace pw-cnic-rt1
const HOST_PORT = 18080;

const TOPOLOGY = `
cluster:
  clusterCIDR: 10.237.0.0/16
  serviceCIDR: 10.93.0.0/16
nodes:
  - name: n1
    pods: [${HOST}]
`;

type Plugin = Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> };
interface Step { type: string; code: number; json: Record<string, unknown> | undefined; stderr: string }

/** One plugin, as a runtime calls it: in the host namespace, CNI_* in the environment, its configuration on stdin. */
async function callPlugin(type: string, env: Record<string, string>, conf: unknown): Promise<Step> {
  const program = type === 'podwire' ? [process.execPath, CNI_ENTRY] : [`${CNI_BIN}/${type}`];
  const r = await runCni(env, conf, ['ip', 'netns', 'exec', `pw-${HOST}`, ...program]);
  return { type, code: r.code, json: r.json ?? (r.stdout.trim() ? { stdout: r.stdout } : undefined), stderr: r.stderr };
}

/** The runtime's side of a conflist (SPEC "Network configuration lists", runtimeConfig by declared capabilities). */
async function runChain(command: 'ADD' | 'DEL', plugins: Plugin[], runtimeConfig: Record<string, unknown>, cached?: Record<string, unknown>): Promise<Step[]> {
  const env = {
    CNI_COMMAND: command, CNI_CONTAINERID: `ctr-${RT}`, CNI_NETNS: `/run/netns/pw-${RT}`, CNI_IFNAME: 'eth0', CNI_PATH: CNI_BIN,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${RT}`,
  };
  const steps: Step[] = [];
  let prev = cached;
  for (const plugin of command === 'ADD' ? plugins : [...plugins].reverse()) {
    const rc = Object.fromEntries(Object.entries(runtimeConfig).filter(([k]) => plugin.capabilities?.[k]));
    const conf = { cniVersion: '1.0.0', name: 'podwire', ...plugin, ...(Object.keys(rc).length ? { runtimeConfig: rc } : {}), ...(prev ? { prevResult: prev } : {}) };
    const step = await callPlugin(plugin.type, env, conf);
    steps.push(step);
    if (command === 'ADD') {
      if (step.code !== 0) break; // the runtime then DELs the chain
      prev = step.json;
    }
  }
  return steps;
}

const PODWIRE: Plugin = { type: 'podwire', lab: LAB, node: 'n1' };
const PORTMAP: Plugin = { type: 'portmap', capabilities: { portMappings: true }, snat: true };
const BANDWIDTH: Plugin = { type: 'bandwidth', capabilities: { bandwidth: true } };
const MAPPINGS = { portMappings: [{ hostPort: HOST_PORT, containerPort: HTTP_PORT, protocol: 'tcp' }] };

const natRules = async () => (await runProgram('ip', ['netns', 'exec', `pw-${HOST}`, 'iptables', '-t', 'nat', '-S'])).stdout;

afterAll(async () => {
  await stopAllLabs();
  await runProgram('ip', ['netns', 'del', `pw-${RT}`]);
});

describe.skipIf(!isRoot || !haveCni)('plugins chained after podwire, run as a runtime runs a conflist (root)', () => {
  let lab: RunningLab;
  let servers: ChildProcess[] = [];
  let hostIp = '';

  beforeAll(async () => {
    await runProgram('ip', ['netns', 'del', `pw-${RT}`]); // a leftover of an earlier failed run
    const r = await runProgram('ip', ['netns', 'add', `pw-${RT}`]);
    if (r.code !== 0) throw new Error(`ip netns add pw-${RT}: ${r.stderr}`);
    lab = await startLab(TOPOLOGY, { name: LAB });
    hostIp = (await lab.status()).pods.find((p) => p.name === HOST)!.ip;
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
  });

  it('[podwire, portmap]: the hostPort reaches the pod only while attached; DEL of the chain removes portmap\'s rules and podwire\'s interface', async () => {
    servers = await startPodServers([RT]); // listening before any interface: reachable only once ADD gave it one
    const before = await httpRequests(`pw-${HOST}`, hostIp, HOST_PORT, 1);
    expect(before.got).toEqual([]); // nothing listens on the host's port: refused

    const add = await runChain('ADD', [PODWIRE, PORTMAP], MAPPINGS);
    expect(add.map((s) => [s.type, s.code]), JSON.stringify(add)).toEqual([['podwire', 0], ['portmap', 0]]);
    const result = add[1].json as { interfaces: { name: string; sandbox?: string }[]; ips: { address: string }[] };
    expect(result.interfaces).toEqual([expect.objectContaining({ name: 'eth0', sandbox: `/run/netns/pw-${RT}` })]); // portmap passed podwire's result on
    const podIp = result.ips[0].address.split('/')[0];
    expect(await natRules()).toContain(`--to-destination ${podIp}:${HTTP_PORT}`);
    // a connection to the host's own address and hostPort: portmap's OUTPUT DNAT sends it to the pod, through podwire
    expect(await httpRequests(`pw-${HOST}`, hostIp, HOST_PORT, 3)).toEqual({ got: [RT, RT, RT], fails: [] });

    const del = await runChain('DEL', [PODWIRE, PORTMAP], MAPPINGS, add[1].json);
    expect(del.map((s) => [s.type, s.code]), JSON.stringify(del)).toEqual([['portmap', 0], ['podwire', 0]]);
    expect(await natRules()).not.toContain(podIp);
    expect((await runProgram('ip', ['-n', `pw-${RT}`, '-br', 'link'])).stdout).not.toMatch(/^eth0\b/m);
    expect((await lab.status()).pods.map((p) => p.name)).not.toContain(RT);
    expect((await httpRequests(`pw-${HOST}`, hostIp, HOST_PORT, 1)).got).toEqual([]);
    killAll(servers);
  });

  it('[podwire, bandwidth]: bandwidth refuses a TAP (it shapes on a veth\'s host end, which a podwire pod has not); the runtime\'s DEL then cleans up', async () => {
    const bw = { bandwidth: { ingressRate: 8_000_000, ingressBurst: 800_000, egressRate: 8_000_000, egressBurst: 800_000 } };
    const add = await runChain('ADD', [PODWIRE, BANDWIDTH], bw);
    expect(add.map((s) => s.type)).toEqual(['podwire', 'bandwidth']);
    expect(add[0].code).toBe(0);
    expect(add[1].code, JSON.stringify(add[1])).not.toBe(0);
    expect(JSON.stringify(add[1].json)).toMatch(/veth|host interface|peer/i);
    const del = await runChain('DEL', [PODWIRE, BANDWIDTH], bw, add[0].json);
    expect(del.map((s) => [s.type, s.code]), JSON.stringify(del)).toEqual([['bandwidth', 0], ['podwire', 0]]);
    expect((await runProgram('ip', ['-n', `pw-${RT}`, '-br', 'link'])).stdout).not.toMatch(/^eth0\b/m);
    expect((await lab.status()).pods.map((p) => p.name)).not.toContain(RT);
  });
});
