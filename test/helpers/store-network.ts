// The shared-store e2e suites' network: host namespaces and etcd's namespace
// on one Linux bridge in a namespace of its own. Each veth is created in the
// bridge's namespace with its other end moved straight into the host's:
// nothing appears in the root namespace.
import { spawnSync } from 'node:child_process';
import { podwire, runProgram } from './lab.ts';
import type { RouteJson } from '../../src/lab/table-control.ts';

export interface StoreNetwork {
  /** name prefix of the bridge's links (pw-xx-): the bridge is PREFIX br0, its ports PREFIX p<i>, each end PREFIX eth */
  prefix: string;
  bridgeNs: string;
  etcdNs: string;
  etcdIp: string;
  hosts: readonly string[];
  /** each host's address, in the order of `hosts` (a /24 shared with etcdIp) */
  addrs: readonly string[];
}

export async function createStoreNetwork(n: StoreNetwork): Promise<void> {
  const br = `${n.prefix}br0`, eth = `${n.prefix}eth`;
  const cmds: string[][] = [
    ['netns', 'add', n.bridgeNs], ['netns', 'add', n.etcdNs], ...n.hosts.map((h) => ['netns', 'add', h]),
    ['-n', n.bridgeNs, 'link', 'add', br, 'type', 'bridge'], ['-n', n.bridgeNs, 'link', 'set', br, 'up'],
  ];
  const ends: [string, string][] = [...n.hosts.map((h, i): [string, string] => [h, `${n.addrs[i]}/24`]), [n.etcdNs, `${n.etcdIp}/24`]];
  ends.forEach(([ns, addr], i) => {
    cmds.push(['-n', n.bridgeNs, 'link', 'add', `${n.prefix}p${i}`, 'type', 'veth', 'peer', 'name', eth, 'netns', ns]);
    cmds.push(['-n', n.bridgeNs, 'link', 'set', `${n.prefix}p${i}`, 'master', br, 'up']);
    cmds.push(['-n', ns, 'addr', 'add', addr, 'dev', eth], ['-n', ns, 'link', 'set', eth, 'up'], ['-n', ns, 'link', 'set', 'lo', 'up']);
  });
  for (const a of cmds) {
    const r = await runProgram('ip', a);
    if (r.code !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`);
  }
}

/** Synchronous, so it can run in a process 'exit' handler too. */
export function removeStoreNetwork(n: StoreNetwork): void {
  for (const ns of [...n.hosts, n.etcdNs, n.bridgeNs]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** The routes of a host's lab (`podwire routes --json --name ID`): its first node's. */
export async function labRoutes(id: string): Promise<RouteJson[]> {
  const r = await podwire(['routes', '--json', '--name', id], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`podwire routes --name ${id}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { routes: RouteJson[] }[])[0].routes;
}
