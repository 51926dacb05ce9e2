// The running lab's side of the CNI plugin (src/cni/): a container runtime's
// pod joins a node of the lab. ADD opens a TAP here (the lab holds it, as it
// holds every pod's), moves it into the runtime's network namespace under
// the name the runtime asked for, gives it the pod's MAC, MTU, address and
// default route there, makes it a live port of the node's data plane and a
// pod of the plan (status, capture, Services by labels). DEL undoes exactly
// that: closing the TAP removes the interface from the runtime's namespace
// with its address and route, and nothing else there is touched.
//
// podwire touches a namespace it did not create only here, and only for an
// ADD/CHECK/DEL that names it. Requests run one at a time.
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Tap } from '../io/tap.ts';
import { run } from '../io/netns.ts';
import { localNodes, nodePortCount } from '../model/topology.ts';
import { podLabel } from '../model/pod-refs.ts';
import type { PodPlan } from '../model/topology-types.ts';
import { macForIp } from '../model/addr.ts';
import { choosePodAddress, choosePodPort, AttachError } from '../model/attached-pods.ts';
import { isNamespace } from '../model/services.ts';
import { withDnsPod } from './cluster-dns.ts';
import { withIngressPod } from './ingress.ts';
import { podLinkSetup, type Lab } from './lab.ts';

/** What the plugin sends for an ADD (src/cni/plugin.ts). */
export interface CniAddRequest {
  containerId: string;
  ifName: string;
  /** the runtime's network namespace, a path (/proc/<pid>/ns/net, /run/netns/<name>) */
  netns: string;
  node: string;
  mtu?: number;
  /** the address a delegated IPAM plugin chose (else the lab chooses) */
  ip?: string;
  /** pod name and Kubernetes namespace (K8S_POD_NAME / K8S_POD_NAMESPACE), labels (runtimeConfig) */
  podName?: string;
  podNamespace?: string;
  labels?: Record<string, string>;
}

/** The lab's answer to ADD: what the plugin turns into a CNI result. */
export interface CniAttachment {
  containerId: string;
  ifName: string;
  netns: string;
  node: string;
  pod: string;
  k8sNamespace: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  mtu: number;
  /** the cluster DNS address, when the lab runs one */
  dns?: string;
}

/** An error whose `cniCode` the plugin puts in its CNI error (SPEC: 3 container unknown, 7 invalid config, 11 try again later; above 99 podwire's). */
export class CniLabError extends Error {
  constructor(readonly cniCode: number, message: string) {
    super(message);
  }
}

/** podwire's own CNI error codes (the SPEC leaves 100 and up to plugins). */
export const CNI_CODE_EXHAUSTED = 100;
export const CNI_CODE_ALREADY_ATTACHED = 101;
export const CNI_CODE_CHECK_FAILED = 102;

interface Attached { a: CniAttachment; tap: Tap; port: number; pod: PodPlan }

export class CniControl {
  private readonly attached = new Map<string, Attached>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly lab: Lab,
    /** what selects pods by labels, told the plan's pods changed: Services (service-control.ts) and NetworkPolicies (policy-control.ts) */
    private readonly podsChanged: { services: () => Promise<unknown>; policies: () => Promise<unknown> },
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** The answer to a control request this handles ('cni-add', 'cni-del', 'cni-check', 'cni-gc', 'cni-list'): { result } or { cniError }; undefined for others. */
  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    const answer = this.answer(req);
    // the reply carries the CNI error code: a refusal is a result ({ cniError }), not a failed request
    return answer?.then((result) => ({ result }), (e: Error) => ({ cniError: { code: e instanceof CniLabError ? e.cniCode : 999, msg: e.message } }));
  }

  private answer(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'cni-add') return this.serialized(() => this.add(req as unknown as CniAddRequest));
    if (req.cmd === 'cni-del') return this.serialized(() => this.del(String(req.containerId), String(req.ifName)));
    if (req.cmd === 'cni-check') return this.serialized(() => this.check(String(req.containerId), String(req.ifName), String(req.netns)));
    if (req.cmd === 'cni-gc') return this.serialized(() => this.gc(req.valid as { containerId: string; ifName: string }[]));
    if (req.cmd === 'cni-list') return Promise.resolve([...this.attached.values()].map((x) => x.a));
    return undefined;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.queue.then(fn, fn);
    this.queue = r.catch(() => {});
    return r;
  }

  private async add(req: CniAddRequest): Promise<CniAttachment> {
    const plan = this.lab.plan;
    const key = attachmentKey(req.containerId, req.ifName);
    const had = this.attached.get(key);
    if (had) throw new CniLabError(CNI_CODE_ALREADY_ATTACHED, `container ${req.containerId} already has ${req.ifName} on podwire (pod ${had.a.pod}, ${had.a.ip}): DEL it first`);
    const node = localNodes(plan).find((n) => n.name === req.node);
    if (!node) throw new CniLabError(7, `node "${req.node}" is not a node of lab "${this.lab.state.name}" (its nodes: ${localNodes(plan).map((n) => n.name).join(', ')})`);
    if (node.dataplane !== 'podwire') throw new CniLabError(7, `node "${req.node}" is a kernel node: only podwire nodes take pods from a container runtime`);
    if (!existsSync(req.netns)) throw new CniLabError(3, `network namespace ${req.netns} does not exist (the container is gone?)`);
    const k8sNamespace = req.podNamespace ?? 'default';
    if (!isNamespace(k8sNamespace)) throw new CniLabError(7, `K8S_POD_NAMESPACE "${k8sNamespace}" is not a Kubernetes namespace name`);
    const name = req.podName ?? `cni-${req.containerId.slice(0, 12)}`;
    const all = localNodes(withIngressPod(withDnsPod(plan)));
    if (all.some((n) => n.pods.some((p) => p.name === name && p.k8sNamespace === k8sNamespace))) {
      throw new CniLabError(CNI_CODE_ALREADY_ATTACHED, `a pod named ${name} already exists in namespace ${k8sNamespace}`);
    }
    // the node as the data plane has it: its own pods, the lab's DNS and Ingress pods, those attached earlier
    const live = all.find((n) => n.name === node.name)!;
    let ip: string, port: number;
    try {
      ip = choosePodAddress(node, new Set(live.pods.map((p) => p.ip)), req.ip);
      // the ports the node came up with (its pods then, maxPods): attached pods do not add any
      const upPods = live.pods.filter((p) => ![...this.attached.values()].some((x) => x.pod === p));
      const podPorts = nodePortCount({ pods: upPods, maxPods: node.maxPods }) - 1;
      if (live.pods.length >= podPorts) {
        throw new CniLabError(CNI_CODE_EXHAUSTED, `node ${node.name} is full: ${live.pods.length} pods (maxPods ${node.maxPods ?? podPorts}; raise nodes[].maxPods in the topology and start the lab again)`);
      }
      port = choosePodPort(node, new Set(live.pods.map((p) => p.port)), podPorts + 1);
    } catch (e) {
      if (e instanceof AttachError) throw new CniLabError(e.kind === 'exhausted' ? CNI_CODE_EXHAUSTED : 7, e.message);
      throw e;
    }
    const prefixLen = Number(node.podCIDR.split('/')[1]);
    const mtu = req.mtu ?? live.pods[0]?.mtu ?? plan.mtu;
    const mac = macForIp(ip);
    const tapName = `pw-c${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
    const tap = Tap.open(tapName, { offloads: plan.offloads });
    const pod: PodPlan = {
      name, labels: { ...(req.labels ?? {}) }, namespace: req.netns, k8sNamespace, node: node.name,
      ip, prefixLen, mac, gateway: node.gateway, mtu, port,
    };
    let inEngine = false;
    try {
      await run('ip', ['link', 'set', tapName, 'netns', req.netns, 'name', req.ifName]);
      await run('nsenter', [`--net=${req.netns}`, 'ip', '-batch', '-'], { input: podLinkSetup(pod, req.ifName).join('\n') + '\n' });
      await this.lab.attachPort(node.name, { port, fd: tap.fd, mtu, name: podLabel(pod), mac }, ip);
      inEngine = true;
    } catch (e) {
      if (inEngine) await this.lab.detachPort(node.name, port, ip).catch(() => {});
      tap.close(); // the interface goes with it, wherever it is
      throw new CniLabError(e instanceof CniLabError ? e.cniCode : 5, `attaching ${req.ifName} in ${req.netns}: ${(e as Error).message}`);
    }
    const a: CniAttachment = {
      containerId: req.containerId, ifName: req.ifName, netns: req.netns, node: node.name, pod: name, k8sNamespace,
      ip, prefixLen, gateway: node.gateway, mac, mtu, ...(plan.dns ? { dns: plan.dns.ip } : {}),
    };
    this.attached.set(key, { a, tap, port, pod });
    this.lab.attached.set(ip, { tap, node: node.name, port });
    node.pods.push(pod);
    // the policies selecting the pod hold before ADD answers, so before the runtime starts anything in the pod;
    // a pod they could not be programmed for is not attached (it would run unisolated)
    try {
      await this.podsChanged.policies();
    } catch (e) {
      await this.del(req.containerId, req.ifName);
      throw new CniLabError(5, `NetworkPolicies could not take pod ${name}, so it was not attached: ${(e as Error).message}`);
    }
    await this.podsChanged.services().catch((e) => this.log(`podwire: Services did not take pod ${name}: ${(e as Error).message}`));
    this.log(`podwire: CNI ADD: pod ${podLabel(pod)} (${ip}) on node ${node.name}, ${req.ifName} in ${req.netns}`);
    return a;
  }

  /** Idempotent: an attachment podwire does not know (never made, or removed already) is no error. */
  private async del(containerId: string, ifName: string): Promise<{ removed: boolean }> {
    const key = attachmentKey(containerId, ifName);
    const x = this.attached.get(key);
    if (!x) return { removed: false };
    this.attached.delete(key);
    this.lab.attached.delete(x.a.ip);
    const node = this.lab.plan.nodes.find((n) => n.name === x.a.node);
    if (node) node.pods.splice(node.pods.indexOf(x.pod), 1);
    await this.podsChanged.services().catch((e) => this.log(`podwire: Services still had pod ${x.a.pod}: ${(e as Error).message}`));
    await this.podsChanged.policies().catch((e) => this.log(`podwire: NetworkPolicies still had pod ${x.a.pod}: ${(e as Error).message}`));
    await this.lab.detachPort(x.a.node, x.port, x.a.ip).catch((e) => this.log(`podwire: detaching pod ${x.a.pod}: ${(e as Error).message}`));
    try { x.tap.close(); } catch { /* gone with its namespace */ }
    this.log(`podwire: CNI DEL: pod ${podLabel(x.pod)} (${x.a.ip}) removed from node ${x.a.node}`);
    return { removed: true };
  }

  /** The interface, its address and default route are as ADD left them; throws naming what is not. */
  private async check(containerId: string, ifName: string, netns: string): Promise<CniAttachment> {
    const x = this.attached.get(attachmentKey(containerId, ifName));
    if (!x) throw new CniLabError(3, `podwire attached no ${ifName} to container ${containerId}`);
    if (netns !== x.a.netns) throw new CniLabError(CNI_CODE_CHECK_FAILED, `${ifName} of container ${containerId} was attached in ${x.a.netns}, not ${netns}`);
    if (!existsSync(netns)) throw new CniLabError(3, `network namespace ${netns} does not exist any more`);
    const ipj = async (args: string[]) => JSON.parse((await run('nsenter', [`--net=${netns}`, 'ip', '-j', ...args])).stdout || '[]') as Record<string, unknown>[];
    const links = await ipj(['addr', 'show', 'dev', ifName]).catch(() => []);
    const link = links[0] as { address?: string; mtu?: number; operstate?: string; addr_info?: { family: string; local: string; prefixlen: number }[] } | undefined;
    if (!link) throw new CniLabError(CNI_CODE_CHECK_FAILED, `${ifName} is missing from ${netns}`);
    if (link.address !== x.a.mac) throw new CniLabError(CNI_CODE_CHECK_FAILED, `${ifName} has MAC ${link.address}, podwire gave it ${x.a.mac}`);
    if (link.mtu !== x.a.mtu) throw new CniLabError(CNI_CODE_CHECK_FAILED, `${ifName} has MTU ${link.mtu}, podwire gave it ${x.a.mtu}`);
    if (!link.addr_info?.some((i) => i.family === 'inet' && i.local === x.a.ip && i.prefixlen === x.a.prefixLen)) {
      throw new CniLabError(CNI_CODE_CHECK_FAILED, `${ifName} lacks its address ${x.a.ip}/${x.a.prefixLen}`);
    }
    const routes = await ipj(['route', 'show', 'default']);
    if (!routes.some((r) => r.gateway === x.a.gateway && r.dev === ifName)) {
      throw new CniLabError(CNI_CODE_CHECK_FAILED, `the default route via ${x.a.gateway} dev ${ifName} is missing from ${netns}`);
    }
    return x.a;
  }

  /** CNI GC: every attachment not in `valid` is removed (as DEL would). */
  private async gc(valid: { containerId: string; ifName: string }[]): Promise<{ removed: string[] }> {
    if (!Array.isArray(valid)) throw new CniLabError(7, 'cni.dev/valid-attachments: expected a list');
    const keep = new Set(valid.map((v) => attachmentKey(String(v.containerId), String(v.ifName))));
    const removed: string[] = [];
    for (const [key, x] of [...this.attached]) {
      if (keep.has(key)) continue;
      await this.del(x.a.containerId, x.a.ifName);
      removed.push(x.a.pod);
    }
    return { removed };
  }
}

function attachmentKey(containerId: string, ifName: string): string {
  return `${containerId}/${ifName}`;
}
