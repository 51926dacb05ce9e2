// podwire status [--json]: the running lab, asked over its control socket.
import { Command } from 'commander';
import { listLabs, readState, labProcessAlive } from '../lab/state.ts';
import { requestControl } from '../lab/control.ts';
import type { LabStatus } from '../lab/status.ts';
import type { MemoryStatus } from '../lab/memory-status.ts';
import type { DnsStatus } from '../lab/cluster-dns.ts';
import { table } from '../util/table.ts';
import { withStoreOptions, type StoreFlags } from './store-options.ts';

export function statusCommand(): Command {
  return withStoreOptions(new Command('status'))
    .description('pods, ports and counters of the running lab')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name?: string; json?: boolean } & StoreFlags) => {
      if (opts.store !== undefined) return (await import('./store-status.ts')).storeStatus(opts); // the etcd client: loaded only with --store
      const name = opts.name ?? pickLab();
      const state = readState(name);
      if (!state || !labProcessAlive(state)) throw new Error(`lab "${name}" is not running${state ? ' (its process died: podwire down cleans up)' : ''}`);
      const s = (await requestControl(state.socket, 'status')) as LabStatus;
      if (opts.json) {
        console.log(JSON.stringify(s, null, 2));
        return;
      }
      console.log(`lab "${s.lab}" pid ${s.pid} since ${s.startedAt}: cluster ${s.cluster.clusterCIDR}, pod MTU ${s.cluster.podMtu}, offloads ${s.cluster.offloads ? 'on' : 'off'}${s.hostNode ? `; node ${s.hostNode} only (--node), the others run on other hosts` : ''}`);
      if (s.memory) console.log(memoryLine(s.memory));
      const dp = s.dataplane;
      if (dp && (dp.worker !== 'running' || dp.restarts > 0)) {
        console.log(`data plane worker: ${dp.worker}${dp.restarts ? `, restarted ${dp.restarts} time(s) (counters, tracked connections and learned MACs since then only)` : ''}${dp.lastFailure ? `; last died ${dp.lastFailure}` : ''}`);
      }
      const services = s.services ?? [];
      if (services.length) {
        console.log('\nservices (ClusterIP frontends on every podwire node; kernel nodes have none):');
        console.log(table(['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'ENDPOINTS'],
          services.map((v) => [
            // as kubectl prints them: a headless Service's clusterIP "None", an ExternalName one's <none> (its name where endpoints go)
            v.namespace, v.name, v.type, v.clusterIP || '<none>', externalIpColumn(v),
            v.ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}->${p.targetPort}`).join(',') || '<none>',
            v.externalName ? `-> ${v.externalName}` : v.endpoints.length ? v.endpoints.map((e) => `${e.ip}${e.ready ? '' : ' (not ready)'}`).join(',') : '<none>',
          ])));
      }
      for (const v of services) if (v.status?.pending) console.log(`${v.namespace}/${v.name}: EXTERNAL-IP <pending>: ${v.status.pending}`);
      if (s.external?.length) {
        console.log(`\nexternal hosts (on the underlay ${s.cluster.underlayCIDR}; no route to pods or Services):`);
        console.log(table(['NETNS', 'IP', 'MAC'], s.external.map((h) => [h.netns, h.ip, h.mac])));
      }
      const impaired = s.pods.filter((p) => p.netem);
      if (impaired.length) {
        console.log('\nimpaired links (frames to the pod; podwire netem set|clear):');
        console.log(table(['NAMESPACE', 'POD', 'NODE', 'NETEM', 'FRAMES', 'LOST', 'DUPLICATED', 'CORRUPTED', 'OVER LIMIT', 'HELD'],
          impaired.map((p) => {
            const st = p.netem!.stats;
            return [p.namespace, p.name, p.node, p.netem!.text, st?.frames ?? 0, st?.lost ?? 0, st?.duplicated ?? 0, st?.corrupted ?? 0, st?.overLimit ?? 0, st?.queued ?? 0];
          })));
      }
      const links = (s.links ?? []).filter((l) => l.netem);
      if (links.length) {
        console.log('\nimpaired node-to-node links (both directions; podwire netem set|clear A:B):');
        console.log(table(['FROM', 'TO', 'NETEM', 'FRAMES', 'LOST', 'DUPLICATED', 'CORRUPTED', 'OVER LIMIT', 'HELD'],
          links.flatMap((l) => [[l.between[0], l.between[1]], [l.between[1], l.between[0]]].map(([from, to]) => {
            const st = l.directions.find((d) => d.from === from && d.to === to)?.stats;
            return [from, to, l.netem!.text, st?.frames ?? 0, st?.lost ?? 0, st?.duplicated ?? 0, st?.corrupted ?? 0, st?.overLimit ?? 0, st?.queued ?? 0];
          }))));
      }
      if (s.dns) console.log(dnsStatusLine(s.dns));
      if (s.store) {
        const st = s.store;
        console.log(`store ${st.url} lab "${st.lab}" (${st.connected ? 'watching' : 'etcd unreachable: the data plane keeps what it has'}): nodes with a lease ${st.liveNodes.join(', ') || 'none'}; without ${st.absentNodes.join(', ') || 'none'}; ${st.services} Service(s)${st.policies !== undefined ? `, ${st.policies} NetworkPolicy(ies)` : ''} from the store`);
      }
      if (s.ingresses?.length) {
        console.log('\ningresses:');
        console.log(table(['NAMESPACE', 'NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'RULES'],
          s.ingresses.map((i) => [
            i.namespace, i.name, `${i.class ?? '<none>'}${i.served ? '' : ' (not ours)'}`, i.hosts.join(','), i.address, i.ports.join(','),
            [...i.rules.map((r) => `${r.host}${r.path} (${r.pathType}) -> ${r.backend}`), ...(i.defaultBackend ? [`default -> ${i.defaultBackend}`] : [])].join('; '),
          ])));
      }
      for (const n of s.nodes) {
        if (n.dataplane === 'kernel') {
          // a kernel node forwards in Linux (bridge, veths, vxlan): its counters are the kernel's, not podwire's
          console.log(`\nnode ${n.name} (kernel data plane: counters with ip -s link in its pods' namespaces)  podCIDR ${n.podCIDR}  gateway ${n.gateway}`);
          console.log(table(['NAMESPACE', 'POD', 'NETNS', 'IP'],
            s.pods.filter((x) => x.node === n.name).map((pod) => [pod.namespace, pod.name, pod.netns, pod.ip])));
          continue;
        }
        console.log(`\nnode ${n.name}  podCIDR ${n.podCIDR}  gateway ${n.gateway} (${n.gatewayMac})  fdb ${n.fdb.entries}/${n.fdb.capacity}`);
        if (n.underlay) {
          const u = n.underlay.counters;
          console.log(`underlay ${n.underlay.ip} (${n.underlay.mac}, VTEP ${n.underlay.vtepMac}) ${s.cluster.overlay}${s.cluster.overlay === 'vxlan' ? ` vni ${s.cluster.vxlan.vni} port ${s.cluster.vxlan.port}` : ''}: rx ${u.rx_packets} pkts ${u.rx_bytes} B, tx ${u.tx_packets} pkts ${u.tx_bytes} B, drops rx ${u.rx_drops} tx ${u.tx_drops}`);
          if (n.underlay.path) console.log(`  ${n.underlay.path.text}`);
          const k = n.underlay.socket;
          if (k) {
            console.log(`  across hosts (${k.kind === 'vxlan' ? 'UDP' : 'raw IP proto 4'} socket) to ${k.peers.map((p) => `${p.node} ${p.address}`).join(', ')}: sent ${k.txPackets} (errors ${k.txErrors}, no peer ${k.txNoPeer}), received ${k.rxPackets} (errors ${k.rxErrors}, unknown sender ${k.rxUnknownPeer}, too big ${k.rxTooBig})`);
            console.log(`  tx ${k.txPath} (${k.txSends} sends, ${k.txGsoSends} GSO${k.txGsoRefused ? `, refused ${k.txGsoRefused}` : ''})${k.sourcePorts.length ? `, source ports ${k.sourcePorts.join(',')}` : ''}; rx ${k.rxPath} (${k.rxGroBatches} coalesced reads), to pods ${k.toPodCoalesced} segments as ${k.toPodSuperFrames} super-frames`);
          }
        }
        console.log(table(['PORT', 'NAMESPACE', 'POD', 'IP', 'RX PKTS', 'RX BYTES', 'TX PKTS', 'TX BYTES', 'RX DROPS', 'TX DROPS'],
          n.ports.map((p) => {
            const pod = s.pods.find((x) => x.node === n.name && x.port === p.port);
            return [p.port, pod?.namespace ?? '', pod?.name ?? p.pod, pod?.ip ?? '', p.rx_packets, p.rx_bytes, p.tx_packets, p.tx_bytes, p.rx_drops, p.tx_drops] as (string | number)[];
          })));
        const drops = Object.entries(n.drops).filter(([, v]) => v > 0);
        console.log(`drops: ${drops.length ? drops.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`);
        console.log(`events: ${Object.entries(n.events).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`);
      }
    });
}

function pickLab(): string {
  const live = listLabs().filter((l) => { const s = readState(l); return s && labProcessAlive(s); });
  if (live.length === 1) return live[0];
  if (live.length === 0) throw new Error('no lab is running (start one with: sudo npx podwire up)');
  throw new Error(`several labs are running (${live.join(', ')}): pick one with --name`);
}

/** kubectl's EXTERNAL-IP: a LoadBalancer's address or <pending>, externalIPs, else <none>. */
function externalIpColumn(v: LabStatus['services'][number] & { externalIPs?: string[] }): string {
  const ips = [...(v.status?.loadBalancer.ingress ?? []).map((i) => i.ip), ...(v.externalIPs ?? [])];
  if (ips.length) return ips.join(',');
  return v.type === 'LoadBalancer' ? '<pending>' : '<none>';
}

/** The cluster DNS and its counters (here, not in lab/cluster-dns.ts: status must not load the DNS server to print a line). */
function dnsStatusLine(dns: DnsStatus | { off: string }): string {
  if ('off' in dns) return `\ncluster DNS: none (${dns.off})`;
  const s = dns.stats;
  const counts = s
    ? `: queries ${s.queries}, answers ${s.answers}, nodata ${s.nodata}, nxdomain ${s.nxdomain}, refused ${s.refused}, forwarded ${s.forwarded}, truncated ${s.truncated}, notimp ${s.notimp}, formerr ${s.formerr}, dropped ${s.dropped}, tcp connections ${s.tcpConnections}`
    : ' (served on another host)';
  return `\ncluster DNS ${dns.ip} (${dns.service}, ${dns.protocols.join('/')}) -> pod ${dns.pod.name} ${dns.pod.ip} on ${dns.pod.node}${dns.pod.netns ? ` (netns ${dns.pod.netns})` : ''}${counts}`;
}

const MiB = 1024 * 1024;
const mib = (b: number) => `${(b / MiB).toFixed(b < 10 * MiB ? 2 : 1)} MiB`;

/** The memory line (src/lab/memory-status.ts says what is counted). */
export function memoryLine(m: MemoryStatus): string {
  const regions = m.nodes.map((n) => n.regionBytes);
  // the first node's region holds the module's static data too: a few KiB more than the others'
  const [lo, hi] = [mib(Math.min(...regions)), mib(Math.max(...regions))];
  const region = regions.length === 0 ? '' : lo === hi ? `, ${lo} per node` : `, ${lo}–${hi} per node`;
  return `memory: RSS ${mib(m.rssBytes)} (process, all threads; JS heap ${mib(m.heapUsedBytes)}), wasm ${mib(m.wasmBytes)} shared by ${m.nodes.length} node(s)${region}`
    + `${m.rssPerPodBytes !== undefined ? `; ${m.pods} pods: RSS/pod ${mib(m.rssPerPodBytes)} (average, fixed costs included; kernel memory of namespaces and TAPs not in RSS)` : ''}`;
}
