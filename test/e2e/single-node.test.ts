// End-to-end, as root: a real `podwire up` with pods in network namespaces.
// Pods ping each other and their gateway, move 20 MB over TCP with a sha256
// at both ends, and the lab leaves nothing behind on SIGTERM (or, after a
// kill -9, once `podwire down` ran).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { startLab, stopAllLabs, hostLeftovers, podwire, isRoot, statePathOf, readStateFile, type RunningLab } from '../helpers/lab.ts';
import { ping, tcpTransfer } from '../helpers/traffic.ts';

if (!isRoot) console.warn('test/e2e/single-node.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const MB20 = 20 * 1024 * 1024;

function topology(pods: string[], cidr = '10.250.0.0/16'): string {
  return [
    'cluster:',
    `  clusterCIDR: ${cidr}`,
    'nodes:',
    '  - name: n1',
    `    pods: [${pods.join(', ')}]`,
    '',
  ].join('\n');
}

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('single node, three pods (root)', () => {
  const NAME = 'e2e';
  const PODS = ['e2e-a', 'e2e-b', 'e2e-c'];
  // 10.250.0.0/16 -> node n1 gets 10.250.0.0/24: gateway .1, pods from .2 in file order
  const IPS = ['10.250.0.2', '10.250.0.3', '10.250.0.4'];
  const MACS = ['0a:58:0a:fa:00:02', '0a:58:0a:fa:00:03', '0a:58:0a:fa:00:04'];
  const GATEWAY = '10.250.0.1';
  let lab: RunningLab;

  beforeAll(async () => {
    lab = await startLab(topology(PODS), { name: NAME });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('prints every pod and a ready line', () => {
    for (let i = 0; i < PODS.length; i++) {
      expect(lab.output()).toMatch(new RegExp(`n1\\s+${PODS[i]}\\s+pw-${PODS[i]}\\s+${IPS[i].replace(/\./g, '\\.')}\\s+${MACS[i]}`));
    }
    expect(lab.output()).toMatch(/^ready: 3 pods on 1 node\(s\)/m);
  });

  it('every pod pings every other pod and its gateway', async () => {
    const jobs: { from: string; to: string }[] = [];
    for (let i = 0; i < PODS.length; i++) {
      for (let j = 0; j < PODS.length; j++) if (i !== j) jobs.push({ from: PODS[i], to: IPS[j] });
      jobs.push({ from: PODS[i], to: GATEWAY });
    }
    const results = await Promise.all(jobs.map((j) => ping(`pw-${j.from}`, j.to)));
    results.forEach((r, k) => {
      expect(r.code, `${jobs[k].from} -> ${jobs[k].to}:\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/2 packets transmitted, 2 received/);
    });
  });

  it('a 20 MB TCP transfer arrives intact (sha256 at both ends)', async () => {
    const r = await tcpTransfer('pw-e2e-a', 'pw-e2e-c', IPS[2], MB20);
    expect(r.sent.bytes).toBe(MB20);
    expect(r.received.bytes).toBe(MB20);
    expect(r.received.sha256).toBe(r.sent.sha256);
  });

  it('status --json shows the pods and counters that moved', async () => {
    const s = await lab.status();
    expect(s.lab).toBe(NAME);
    expect(s.pid).toBe(lab.proc.pid);
    expect(s.cluster.offloads).toBe(true);
    // namespace: the Kubernetes one; netns: the network namespace (pw-<pod> in default)
    expect(s.pods.map((p) => [p.name, p.namespace, p.netns, p.node, p.ip, p.mac, p.port])).toEqual(
      PODS.map((p, i) => [p, 'default', `pw-${p}`, 'n1', IPS[i], MACS[i], i]));
    expect(s.nodes).toHaveLength(1);
    const n = s.nodes[0];
    expect(n.gateway).toBe(GATEWAY);
    expect(n.gatewayMac).toBe('0a:58:0a:fa:00:01');
    expect(n.ports.map((p) => p.pod)).toEqual(PODS);
    for (const p of n.ports) {
      expect(p.rx_packets, `port ${p.pod} rx_packets`).toBeGreaterThan(0);
      expect(p.tx_packets, `port ${p.pod} tx_packets`).toBeGreaterThan(0);
      expect(p.rx_bytes).toBeGreaterThan(0);
      expect(p.rx_drops, `port ${p.pod} rx_drops`).toBe(0);
      expect(p.tx_drops, `port ${p.pod} tx_drops`).toBe(0);
    }
    // 20 MB left e2e-a and reached e2e-c
    expect(n.ports[0].rx_bytes).toBeGreaterThan(MB20);
    expect(n.ports[2].tx_bytes).toBeGreaterThan(MB20);
    // good traffic only so far: no drop of any reason
    expect(Object.entries(n.drops).filter(([, v]) => v !== 0)).toEqual([]);
    // 3 pods x 2 echo requests to the gateway; each pod ARPed for it
    expect(n.events.icmp_echo_replies).toBe(6);
    expect(n.events.arp_replies).toBeGreaterThanOrEqual(3);
    // with offloads on, bulk TCP crosses as GSO super-frames
    expect(n.events.gso_frames).toBeGreaterThan(0);
    // the bridge learned each pod's MAC on its own port
    const fdb = new Map(n.fdb.table.map((e) => [e.mac, e.port]));
    MACS.forEach((m, i) => expect(fdb.get(m), `fdb entry for ${m}`).toBe(i));
  });

  it('SIGTERM: exits 0 and removes its namespaces, links and state file', async () => {
    const pid = lab.proc.pid!;
    const state = readStateFile(NAME);
    expect(state?.pid).toBe(pid);
    const before = await hostLeftovers(PODS.map((p) => `pw-${p}`));
    expect(before.namespaces.sort()).toEqual(PODS.map((p) => `pw-${p}`));

    expect(await lab.stop()).toBe(0);
    expect(lab.output()).toMatch(/lab "e2e" removed/);
    const left = await hostLeftovers([...PODS.map((p) => `pw-${p}`), `pw-${pid}-`, ...state!.links]);
    expect(left).toEqual({ namespaces: [], links: [] });
    expect(existsSync(statePathOf(NAME))).toBe(false);
    expect(existsSync(statePathOf(NAME).replace(/\.json$/, '.sock'))).toBe(false);
  });
});

describe.skipIf(!isRoot)('offloads off (root)', () => {
  const NAME = 'e2e-off';
  const PODS = ['e2e-oa', 'e2e-ob'];
  let lab: RunningLab;

  beforeAll(async () => {
    lab = await startLab(topology(PODS, '10.251.0.0/16'), { name: NAME, extraArgs: ['--no-offloads'] });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('passes the same 20 MB TCP transfer with MTU-sized frames only', async () => {
    expect(lab.output()).toMatch(/offloads off/);
    const r = await tcpTransfer('pw-e2e-oa', 'pw-e2e-ob', '10.251.0.3', MB20);
    expect(r.received.bytes).toBe(MB20);
    expect(r.received.sha256).toBe(r.sent.sha256);

    const s = await lab.status();
    expect(s.cluster.offloads).toBe(false);
    const n = s.nodes[0];
    expect(n.events.gso_frames).toBe(0);
    expect(n.drops.oversize).toBe(0);
    const sender = n.ports[0];
    expect(sender.rx_bytes).toBeGreaterThan(MB20);
    // every frame fits the pod MTU, so their average does too
    expect(sender.rx_bytes / sender.rx_packets).toBeLessThanOrEqual(s.cluster.podMtu + 14);
    expect(await lab.stop()).toBe(0);
    expect(await hostLeftovers(PODS.map((p) => `pw-${p}`))).toEqual({ namespaces: [], links: [] });
  });
});

describe.skipIf(!isRoot)('jumbo pod MTU with offloads off (root)', () => {
  // cluster.mtu 9050 with vxlan -> pod MTU 9000: frames up to 9014 bytes must cross whole
  // (regression: the offloads-off slot was a fixed 2304 bytes and the TAP read cut them short)
  const NAME = 'e2e-jumbo';
  const PODS = ['e2e-ja', 'e2e-jb'];
  let lab: RunningLab;

  beforeAll(async () => {
    const yaml = topology(PODS, '10.249.0.0/16').replace('cluster:\n', 'cluster:\n  mtu: 9050\n');
    lab = await startLab(yaml, { name: NAME, extraArgs: ['--no-offloads'] });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('carries 9000-byte packets: ping -s 8972 -M do and a TCP transfer', async () => {
    const s0 = await lab.status();
    expect(s0.cluster.podMtu).toBe(9000);
    // 8972 + 8 ICMP + 20 IP = 9000, don't fragment
    const p = await lab.exec('pw-e2e-ja', ['ping', '-n', '-c', '2', '-W', '2', '-M', 'do', '-s', '8972', '10.249.0.3']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const r = await tcpTransfer('pw-e2e-ja', 'pw-e2e-jb', '10.249.0.3', MB20);
    expect(r.received.bytes).toBe(MB20);
    expect(r.received.sha256).toBe(r.sent.sha256);
    const n = (await lab.status()).nodes[0];
    expect(Object.entries(n.drops).filter(([, v]) => v !== 0)).toEqual([]);
    // the frames really were jumbo: 20 MB in far fewer than 20 MB / 1500 frames
    expect(n.ports[0].rx_bytes / n.ports[0].rx_packets).toBeGreaterThan(2000);
    expect(await lab.stop()).toBe(0);
  });
});

describe.skipIf(!isRoot)('kill -9, then podwire down (root)', () => {
  const NAME = 'e2e-kill';
  const PODS = ['e2e-ka', 'e2e-kb'];

  it('a killed lab leaves its namespaces, and `podwire down --name` removes them', async () => {
    const lab = await startLab(topology(PODS, '10.252.0.0/16'), { name: NAME });
    try {
      const pid = lab.proc.pid!;
      const exited = new Promise((r) => lab.proc.once('exit', r));
      process.kill(pid, 'SIGKILL');
      await exited;

      // nothing ran on the way out: the namespaces and the state file are still there
      const stale = await hostLeftovers(PODS.map((p) => `pw-${p}`));
      expect(stale.namespaces.sort()).toEqual(PODS.map((p) => `pw-${p}`));
      expect(readStateFile(NAME)?.pid).toBe(pid);
      const st = await podwire(['status', '--name', NAME]);
      expect(st.code).toBe(1);
      expect(st.stderr).toMatch(/its process died/);

      const down = await podwire(['down', '--name', NAME]);
      expect(down.code, down.stderr).toBe(0);
      for (const p of PODS) expect(down.stdout).toContain(`pw-${p}`);
      expect(await hostLeftovers([...PODS.map((p) => `pw-${p}`), `pw-${pid}-`])).toEqual({ namespaces: [], links: [] });
      expect(existsSync(statePathOf(NAME))).toBe(false);

      // a second down is a harmless no-op
      const again = await podwire(['down', '--name', NAME]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/no lab named "e2e-kill"/);
    } finally {
      await lab.stop();
    }
  });
});
