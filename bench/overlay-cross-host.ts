// bench overlay's cross-host case: two "hosts" (pw- network namespaces)
// joined by a veth, a pod behind each, traffic between the pods crossing
// the veth as VXLAN.
//
//   podwire  one `podwire up FILE --node nX` per host, started inside it
//            with nsenter (as the cross-host e2e suite does): its underlay
//            is a TAP in the host namespace that nftables joins to the veth
//            for VXLAN (src/lab/host-tap-underlay.ts); with
//            PODWIRE_HOST_UNDERLAY=socket in the environment (the nodes
//            inherit it), a UDP socket on the host's address instead
//            (src/dataplane/socket-underlay.ts).
//   kernel   in the same two hosts: a vxlan device (VNI 1, UDP 8472, the
//            Linux defaults otherwise) between the host addresses, a pod
//            namespace behind each on a veth with the pod MTU (1450),
//            routed, as flannel would wire a node.
//
// Everything is created fresh per case and removed after it, on failure too.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ip, ipBatch, netnsDel, sysctl, run } from '../src/io/netns.ts';
import { packageFile } from '../src/util/package-files.ts';
import { stop } from './child.ts';
import { onInterrupt } from './interrupt.ts';
import type { Endpoints } from './probes.ts';
import type { Dataplane } from './overlay.ts';

export const CROSS_HOST_DESCRIPTION = `pods on two hosts (network namespaces joined by a veth), VXLAN: podwire \`up --node\` on each (${
  process.env.PODWIRE_HOST_UNDERLAY === 'socket' ? 'UDP socket underlay: PODWIRE_HOST_UNDERLAY=socket' : 'host TAP underlay, steered to the veth by nftables'}) vs the kernel's vxlan device`;
const ADDRS = ['10.97.0.1', '10.97.0.2'] as const;
const VXLAN_PORT = 8472;
const POD_MTU = 1450;
const READY_MS = 30_000;

export interface CrossHost { endpoints: Endpoints; podMtu: number }

/** Bring the case up for `dataplane`, run `fn`, take everything down. `name` prefixes every namespace (pw-NAME-...). */
export async function withCrossHost<T>(dataplane: Dataplane, name: string, fn: (c: CrossHost) => Promise<T>): Promise<T> {
  const hosts = [`pw-${name}-h1`, `pw-${name}-h2`];
  const made: string[] = [];
  const procs: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-xh-'));
  const lab = `${name}x`;
  // everything the case made, taken down at its end and on Ctrl-C / SIGTERM mid-case (a second call finds nothing left)
  const takeDown = async (interrupted: boolean): Promise<void> => {
    // podwire removes its pods on SIGTERM; then the hosts (taking the veth and vxlan devices along)
    await Promise.all(procs.splice(0).map(async (p, i) => {
      // a node that ended on its own during the case: say how, so a failed probe has its cause
      if (!interrupted && (p.exitCode !== null || p.signalCode !== null)) {
        process.stderr.write(`cross-host: podwire --node n${i + 1} ended during the case (${p.exitCode ?? p.signalCode}); its last output:\n${outputs.get(p)?.slice(-4000) ?? ''}\n`);
      }
      await stop(p);
      if (p.signalCode === 'SIGKILL') await downLab(`${lab}-n${i + 1}`); // killed before it cleaned up
    }));
    for (const ns of made.splice(0).reverse()) await netnsDel(ns).catch(() => undefined);
  };
  const unregister = onInterrupt(() => takeDown(true));
  try {
    for (const h of hosts) { await ip(['netns', 'add', h]); made.push(h); }
    await ipBatch([`link add ${name}-v1 type veth peer name ${name}-v2 netns ${hosts[1]}`], hosts[0]);
    for (let i = 0; i < 2; i++) {
      await ipBatch([`addr add ${ADDRS[i]}/24 dev ${name}-v${i + 1}`, 'link set lo up', `link set ${name}-v${i + 1} up`], hosts[i]);
    }
    if (dataplane === 'podwire') {
      const file = join(dir, 'cross-host.yaml');
      writeFileSync(file, topology(lab));
      for (let i = 0; i < 2; i++) procs.push(await startNode(hosts[i], file, `n${i + 1}`, lab));
      const [a, b] = [`pw-${lab}-a`, `pw-${lab}-b`];
      return await fn({ endpoints: { clientNs: a, serverNs: b, serverIp: '10.248.1.2', target: '10.248.1.2' }, podMtu: POD_MTU });
    }
    const pods = [`pw-${name}-ka`, `pw-${name}-kb`];
    const podNet = ['10.250.0', '10.250.1'];
    for (let i = 0; i < 2; i++) {
      const [h, p, j] = [hosts[i], pods[i], 1 - i];
      await ip(['netns', 'add', p]);
      made.push(p);
      await ipBatch([
        `link add ${name}-vx type vxlan id 1 local ${ADDRS[i]} remote ${ADDRS[j]} dstport ${VXLAN_PORT} dev ${name}-v${i + 1}`,
        `addr add 10.250.255.${i + 1}/30 dev ${name}-vx`,
        `link set ${name}-vx up`,
        `link add ${name}-p${i + 1} mtu ${POD_MTU} type veth peer name eth0 netns ${p}`,
        `addr add ${podNet[i]}.1/24 dev ${name}-p${i + 1}`,
        `link set ${name}-p${i + 1} up`,
        `route add ${podNet[j]}.0/24 via 10.250.255.${j + 1} dev ${name}-vx`,
      ], h);
      await ipBatch(['link set lo up', `link set eth0 mtu ${POD_MTU}`, `addr add ${podNet[i]}.2/24 dev eth0`, 'link set eth0 up', `route add default via ${podNet[i]}.1`], p);
      await sysctl(h, { 'net.ipv4.ip_forward': 1 });
    }
    return await fn({ endpoints: { clientNs: pods[0], serverNs: pods[1], serverIp: `${podNet[1]}.2`, target: `${podNet[1]}.2` }, podMtu: POD_MTU });
  } finally {
    await takeDown(false);
    unregister();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two nodes, one pod each, at the two host addresses (outside the pod and Service ranges). */
function topology(lab: string): string {
  return [
    'cluster:',
    `  name: ${lab}`,
    '  clusterCIDR: 10.248.0.0/16',
    '  serviceCIDR: 10.249.0.0/16',
    '  overlay: vxlan',
    '  mtu: 1500',
    '  dns: false',
    'nodes:',
    '  - name: n1',
    `    address: ${ADDRS[0]}`,
    `    pods: [${lab}-a]`,
    '  - name: n2',
    `    address: ${ADDRS[1]}`,
    `    pods: [${lab}-b]`,
    '',
  ].join('\n');
}

/** What each node's podwire printed (the last 16 kB), for a node that ends during a case. */
const outputs = new WeakMap<ChildProcess, string>();

/** `nsenter --net=/run/netns/HOST podwire up FILE --node NODE --name LAB`, once it printed `ready`. */
async function startNode(host: string, file: string, node: string, lab: string): Promise<ChildProcess> {
  const child = spawn('nsenter', [`--net=/run/netns/${host}`, process.execPath, packageFile('bin/podwire.js'), 'up', file, '--node', node, '--name', lab],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: string) => { out = (out + c).slice(-16_000); outputs.set(child, out); };
  child.stdout!.setEncoding('utf8').on('data', keep);
  child.stderr!.setEncoding('utf8').on('data', keep);
  for (let t = 0; !/^ready\b/m.test(out); t += 50) {
    if (child.exitCode !== null || t > READY_MS) {
      await stop(child);
      await downLab(`${lab}-${node}`);
      throw new Error(`podwire up --node ${node} in ${host}: not ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/** `podwire down --name ID`: a lab its process left behind, removed by what its state file names. */
async function downLab(id: string): Promise<void> {
  await run(process.execPath, [packageFile('bin/podwire.js'), 'down', '--name', id], { timeoutMs: 20_000 }).catch(() => undefined);
}
