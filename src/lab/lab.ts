// Bringing a lab up and down: one namespace per pod (pw-<pod>) whose eth0 is
// a TAP held by the data plane worker. Every host object is pw- named and
// recorded in the state file before it is created, so a failure at any step,
// or a process that dies, can always be cleaned up.
//
// With plan.hostNode (`podwire up --node`) the process runs that node only:
// its pods, and an underlay socket bound to its address that carries VXLAN or
// IP-in-IP to the other nodes' hosts; VXLAN is sent through a TAP steered to
// the host's uplink instead where it can (host-tap-underlay.ts), the socket
// then receiving only batches of segments. The lab is then known on this host as
// `<lab>-<node>` (labId), so two such processes on one machine do not meet.
import { Tap } from '../io/tap.ts';
import { watchNamespaces } from './netns-watch.ts';
import { UnderlaySocket, udpOffloadsFromEnv } from '../io/socket.ts';
import { ipBatch, netnsList, linkList, netnsNamesArePrivate, netnsMarks, PW_PREFIX } from '../io/netns.ts';
import { EngineHost, type WorkerState } from '../dataplane/engine-host.ts';
import type { TraceResult, TraceHop } from '../dataplane/trace-walk.ts';
import { GSO_SLOT_SIZE, MTU_SLOT_SIZE } from '../dataplane/dataplane.ts';
import type { NodeStats, EngineConfig, EngineNodeConfig, EngineServiceConfig, EnginePortConfig, NodeConntrack, NodeTables } from '../dataplane/engine-protocol.ts';
import type { ServiceSyncResult } from '../dataplane/service-sync.ts';
import { DEFAULT_SERVICE_CAPACITY, DEFAULT_SERVICE_MAX_BACKENDS } from '../model/services.ts';
import { DEFAULT_POLICY_CAPACITY } from '../model/network-policy.ts';
import { labId, localNodes, hasUnderlay, nodePortCount, type LabPlan, type NodePlan, type PodPlan } from '../model/topology.ts';
import { announcements } from '../model/load-balancer.ts';
import { LoadBalancerAnnouncer } from './lb-announcer.ts';
import { nodeTables } from '../model/node-tables.ts';
import { serviceFrontends } from './service-frontends.ts';
export { serviceFrontends };
import { createUnderlay, attachVethNode, type Underlay } from './underlay.ts';
import { underlayPath, hostUnderlayPath, type UnderlayPath } from './underlay-path.ts';
import { setUpHostUnderlay, removeHostTapTable, type HostUnderlay } from './host-tap-underlay.ts';
import { buildKernelNode, type KernelNodeSpec } from './kernel-node.ts';
import { kernelServicesFor, type KernelServices } from './kernel-services.ts';
import { KernelPolicies } from './kernel-policies.ts';
import { compilePlanPolicies, type CompiledPolicies } from '../model/network-policy-compile.ts';
import { writeState, removeState, readState, listLabs, labProcessAlive, processAlive, currentProcessStart, socketPath, ownerMark, parseOwnerMark, STATE_DIR, type LabState } from './state.ts';
import { podLabel } from '../model/pod-refs.ts';
import type { NetemSpec } from '../model/netem.ts';
import { PhaseClock, type Phase } from './phases.ts';
import { setUpPodLink } from './pod-links.ts';
import { ClusterDns, withDnsPod, resolvConfNamespaces, removeEtcNetns } from './cluster-dns.ts';
import { IngressController, withIngressPod, ingressPod, ingressPrefix, checkIngressAvailable, removeIngressLeftovers } from './ingress.ts';

/** A worker that dies this often within the window takes the lab down instead of restarting again. */
const WORKER_MAX_RESTARTS = 3;
const WORKER_RESTART_WINDOW_MS = 60_000;

/** `podwire status`: dataplane — the forwarding worker ('none': every node is a kernel node). */
export interface DataplaneStatus { worker: WorkerState | 'none'; restarts: number; lastFailure?: string }

/** Tests only (PODWIRE_TEST_HOOKS=1): the control request that makes the forwarding worker crash. */
export const TEST_CRASH_WORKER = 'test-crash-worker';

export interface LabOptions {
  /**
   * Frames per batch (slots per node). Default: 16 with offloads (64 KiB
   * super-frames: a small batch keeps what was just read in cache for the
   * write, measured best by bench/e2e), 256 without (MTU-sized frames).
   */
  batch?: number;
  log?: (line: string) => void;
}

export class Lab {
  private constructor(
    readonly plan: LabPlan,
    private readonly taps: Tap[],
    private readonly sockets: UnderlaySocket[],
    /** the forwarding worker; none when every node is a kernel node */
    private readonly engine: EngineHost | undefined,
    readonly state: LabState,
  ) {}

  static async up(plan: LabPlan, opts: LabOptions = {}): Promise<Lab> {
    const id = labId(plan);
    const clock = new PhaseClock('up', opts.log);
    checkIngressAvailable(plan);
    // the cluster DNS pod (cluster-dns.ts) and the Ingress controller pod (ingress.ts) join their node's pods: namespace, TAP and port like theirs
    const net = withIngressPod(withDnsPod(plan));
    const here = localNodes(net);
    const wasmNodes = here.filter((n) => n.dataplane === 'podwire');
    const kernelNodes = here.filter((n) => n.dataplane === 'kernel');
    const pods = wasmNodes.flatMap((n) => n.pods); // pods on TAPs; kernel nodes' pods sit on veths
    // hosts outside the cluster need a real L2 segment to sit on: the bridge underlay, whatever cluster.underlay says
    const external = plan.external ?? [];
    const bridged = (plan.underlay === 'bridge' && plan.nodes.length > 1) || external.length > 0;
    const underlayNs = `pw-ul-${plan.name}`;
    const ulTapName = (i: number) => `pw-${process.pid}-u${i}`.slice(0, 15);
    const namespaces = [
      ...pods.map((p) => p.namespace),
      ...(bridged ? [underlayNs] : []),
      ...external.map((h) => h.netns),
      ...kernelNodes.flatMap((n) => [kernelNodeNs(plan, n), ...n.pods.map((p) => p.namespace)]),
    ];
    if (netnsNamesArePrivate()) {
      throw new Error('podwire is running in a private mount namespace (as `ip netns exec` gives it): the pod namespaces it '
        + 'would create could not be entered from outside. To run it inside a host namespace, use '
        + '`nsenter --net=/run/netns/<namespace> podwire ...`, which changes the network namespace only');
    }
    const prior = readState(id);
    if (prior && labProcessAlive(prior)) throw new Error(`lab "${id}" is already running (pid ${prior.pid})`);
    if (prior) {
      // a dead lab of this name: its state file is about to be replaced, so clean what it lists first
      const left = await removeHostObjects(prior, { checkMarks: true });
      const what = [...left.namespaces, ...left.links];
      if (what.length) opts.log?.(`podwire: a dead lab "${id}" (pid ${prior.pid}) left its state here; removed ${what.join(' ')}`);
      if (left.skipped.length) opts.log?.(`podwire: left alone ${left.skipped.join(' ')}: listed by the dead lab's state but marked as another lab's`);
      removeState(id);
    }
    const existing = new Set(await netnsList());
    const clash = namespaces.filter((ns) => existing.has(ns));
    if (clash.length) {
      throw new Error(`namespace(s) ${clash.join(', ')} already exist: a lab is running (podwire status) or one died (podwire down)`);
    }

    // everything this lab may create is on record before it exists, so any failure (or a kill) can be cleaned up
    const state: LabState = {
      name: id,
      pid: process.pid,
      pidStart: currentProcessStart(),
      startedAt: new Date().toISOString(),
      namespaces,
      // pods' TAPs are created inside their namespaces: only the underlay's pass through the root namespace
      links: bridged ? wasmNodes.map((_, i) => ulTapName(i)) : [],
      socket: socketPath(id),
      etcNetns: resolvConfNamespaces(plan),
      ...(ingressPod(plan) ? { ingress: { prefix: ingressPrefix(plan) } } : {}),
    };
    writeState(state);
    clock.mark('checks and state file');
    const taps: Tap[] = [];
    let dns: ClusterDns | undefined;
    let ingress: IngressController | undefined;
    let kernelServices: KernelServices | undefined;
    let kernelPolicies: KernelPolicies | undefined;
    let underlay: Underlay | undefined;
    const sockets = new Map<NodePlan, UnderlaySocket>();
    let host: HostUnderlay | undefined;
    try {
      // first, so a node address that is not this host's fails before anything exists
      if (plan.hostNode && plan.nodes.length > 1) {
        for (const n of wasmNodes) {
          const kind = plan.overlay === 'ipip' ? 'ipip' : 'vxlan'; // host-gw is refused by selectHostNode
          sockets.set(n, UnderlaySocket.open(kind, n.underlayIp, plan.vxlan.port, udpOffloadsFromEnv()));
        }
        const n = wasmNodes[0];
        host = await setUpHostUnderlay({
          labId: id, overlay: plan.overlay, offloads: plan.offloads, localIp: n.underlayIp, port: plan.vxlan.port,
          peers: plan.nodes.filter((o) => o.name !== n.name).map((o) => o.underlayIp),
          record: (link, table) => { state.links.push(link); state.nftTables = [table]; writeState(state); },
        });
        clock.mark(`host underlay (${host.mode})`);
      }
      const hostTap = host?.mode === 'tap' ? host : undefined;
      await ipBatch(pods.map((p) => `netns add ${p.namespace}`));
      clock.mark(`pod namespaces (${pods.length})`);
      // each pod's eth0 is born in its namespace (moving a device costs ~20 ms of RCU barrier under the rtnl lock)
      for (const p of pods) taps.push(Tap.openInNetns(p.namespace, 'eth0', { offloads: plan.offloads }));
      clock.mark('TAPs opened in the pod namespaces');
      const mark = ownerMark(id);
      // over netlink from this process: an `ip -n` process per pod costs a fork and a mount-table copy each
      for (const p of pods) setUpPodLink(p, mark);
      clock.mark('pod interfaces, addresses, routes');
      dns = ClusterDns.start(plan);
      ingress = await IngressController.start(plan, (s) => { state.ingress = s; writeState(state); });
      clock.mark('cluster DNS and ingress');
      const ulTaps = new Map<NodePlan, Tap>();
      if (bridged) {
        underlay = await createUnderlay(underlayNs, plan.underlayCIDR);
        for (const [i, n] of wasmNodes.entries()) {
          // VXLAN super-frames cross it whole when the kernel takes UDP-tunnel GSO (underlay-path.ts)
          const t = Tap.open(ulTapName(i), { offloads: plan.offloads, udpTunnel: plan.overlay === 'vxlan' });
          taps.push(t);
          ulTaps.set(n, t);
          await ipBatch([`link set ${t.name} netns ${underlayNs}`]);
          await ipBatch([`link set ${t.name} mtu ${plan.mtu} addrgenmode none master ${underlay.bridge}`, `link set ${t.name} up`], underlayNs);
        }
        await Promise.all(kernelNodes.map((n) => buildKernelNode(kernelNodeSpec(plan, n, underlay!))));
        // external hosts: the underlay's connected route only (no default route): pods and Services are unreachable from them
        if (external.length) await ipBatch(external.map((h) => `netns add ${h.netns}`));
        for (const h of external) await attachVethNode(underlay, h.netns, { ifname: 'eth0', ip: h.ip, mac: h.mac, mtu: plan.mtu });
        // kube-proxy's nftables rules in each kernel node (kernel-services.ts); plan.services is read at each sync
        kernelServices = kernelServicesFor({ ...net, get services() { return plan.services; } }, kernelNodes.map((n) => ({ node: n, ns: kernelNodeNs(plan, n) })));
        await kernelServices.sync();
        // NetworkPolicy in each kernel node: the same compiled tables as a podwire node's, as nftables (kernel-netpol.ts)
        kernelPolicies = new KernelPolicies(kernelNodes.map((n) => ({ node: n.name, ns: kernelNodeNs(plan, n) })), opts.log);
        await kernelPolicies.load(kernelPolicies.render((node) => compilePlanPolicies({ ...net, networkPolicies: plan.networkPolicies }, node)));
      }
      // every other namespace carries the mark too (pods' got it above): `down --all` proves strays by it
      const podNs = new Set(pods.map((p) => p.namespace));
      await Promise.all(namespaces.filter((ns) => !podNs.has(ns)).map((ns) => ipBatch([`link set lo alias ${mark}`], ns)));
      clock.mark('underlay, kernel nodes, marks');
      // the worker's whole configuration from the plan as it is now (a restart after `podwire apply` gets today's Services)
      const engineConfig = (): Omit<EngineConfig, 'wakeFd'> => ({
        batch: opts.batch ?? (plan.offloads ? 16 : 256),
        // without offloads every frame is at most pod MTU + a tagged Ethernet header; a slot too
        // small for that makes the TAP read cut frames short (silently: read returns the cut length)
        slotSize: plan.offloads ? GSO_SLOT_SIZE : Math.max(MTU_SLOT_SIZE, plan.mtu + 256),
        macAgingMs: plan.macAgingSeconds * 1000,
        // sized for what `podwire apply` may add later, not just the Services at up
        svcCapacity: plan.serviceCapacity ?? DEFAULT_SERVICE_CAPACITY,
        svcMaxBackends: plan.serviceMaxBackends ?? DEFAULT_SERVICE_MAX_BACKENDS,
        policyCapacity: plan.policyCapacity ?? DEFAULT_POLICY_CAPACITY,
        maglev: plan.serviceScheduler === 'maglev',
        // impaired links as they are now (`podwire netem set A:B` changes plan.links)
        links: (plan.links ?? []).flatMap((l) => (l.netem ? [{ between: l.between, netem: l.netem }] : [])),
        // today's pods: those a container runtime attached since (CNI, cni-control.ts) are in plan.nodes too
        nodes: wasmNodes.map((n) => {
          const live = withIngressPod(withDnsPod(plan));
          const now = live.nodes.find((x) => x.name === n.name)!;
          const net = { ...live, services: plan.services, networkPolicies: plan.networkPolicies, absentNodes: plan.absentNodes };
          return {
            // a --node host's TAP: sends through it, receives on it (wire packets, super-frames) and on the socket (batches of segments)
            ...engineNode(net, now, (p) => tapFd(p.ip), hostTap?.underlay.tap ?? ulTaps.get(n), sockets.get(n),
              hostTap && { mac: hostTap.underlay.uplink.mac, peerMacs: hostTap.neighbors.macs }),
            announced: announcements(plan.services, plan.nodes.map((o) => o.name)).get(n.name) ?? [],
          };
        }),
      });
      const tapByIp = new Map(pods.map((p, i) => [p.ip, taps[i]]));
      // a TAP closed since (its pod's namespace was deleted) is no port for a restarted worker: -1, reported gone
      const tapFd = (ip: string) => { const t = (tapByIp.get(ip) ?? lab.attached.get(ip)?.tap)!; return t.isClosed ? -1 : t.fd; };
      const engine = wasmNodes.length === 0 ? undefined : await EngineHost.start(engineConfig());
      clock.mark(`data plane worker (${wasmNodes.length} node(s))`);
      const lab = new Lab(plan, taps, [...sockets.values()], engine, state);
      if (hasUnderlay(plan) && !plan.hostNode) {
        for (const n of wasmNodes) lab.underlayPaths[n.name] = underlayPath(plan, ulTaps.get(n)?.offloads);
      }
      if (host) {
        const n = wasmNodes[0];
        lab.underlayPaths[n.name] = host.mode === 'tap'
          ? hostUnderlayPath({ tap: host.underlay.tap.offloads, name: host.underlay.tap.name, uplink: host.underlay.uplink.dev, uplinkMac: host.underlay.uplink.mac, table: host.underlay.table })
          : hostUnderlayPath({ socketWhy: host.why });
        if (host.mode === 'tap') {
          lab.hostTap = host;
          // a next hop's MAC that changes (or is learned late) reaches the data plane (host-neighbors.ts)
          host.neighbors.watch(5000, (changed) => engine!.neighbors(n.name,
            [...changed].flatMap(([ip, mac]) => (mac ? [{ ip, mac }] : [])),
            [...changed].flatMap(([ip, mac]) => (mac ? [] : [ip]))), (line) => lab.log(line));
        }
      }
      lab.upPhases = clock.phases;
      if (engine) engine.onDied = (reason) => void lab.workerDied(reason, engineConfig);
      if (underlay) {
        // LoadBalancer addresses: one node answers ARP for each; a gratuitous ARP when one takes an address (lb-announcer.ts)
        const announcer = new LoadBalancerAnnouncer({
          plan: () => plan,
          setPodwire: (node, addresses) => engine!.announce(node, addresses),
          kernel: kernelNodes.map((n) => ({ node: n, ns: kernelNodeNs(plan, n) })),
          underlay: { ns: underlay.ns, bridge: underlay.bridge },
        }, wasmNodes.map((n) => n.name));
        await announcer.sync();
        lab.onServicesChanged.push(() => void announcer.schedule(opts.log));
      }
      if (opts.log) lab.log = opts.log;
      clock.mark('announcer');
      // a pod namespace deleted by hand: its TAP's fd keeps it alive, so its name going is what tells (netns-watch.ts)
      lab.stopNamespaceWatch = watchNamespaces(() => pods.map((p) => p.namespace), (names) => void lab.podNamespacesGone(names, pods));
      if (kernelServices) lab.onServicesChanged.push(() => void kernelServices!.schedule(opts.log));
      lab.ingress = ingress;
      lab.kernelPolicies = kernelPolicies;
      if (dns) {
        lab.dns = dns;
        lab.onServicesChanged.push((p) => dns!.setRecords(p.services));
      }
      return lab;
    } catch (e) {
      await dns?.close().catch(() => {});
      await ingress?.stop().catch(() => {});
      if (host?.mode === 'tap') { host.neighbors.stop(); await host.underlay.close(); }
      for (const s of sockets.values()) s.close();
      await removeHostObjects(state);
      Tap.closeAll(taps);
      removeState(id);
      throw e;
    }
  }

  /** Lines for the user (up.ts: stderr). */
  log: (line: string) => void = () => {};
  /** how long each step of `up` took (status --json lifecycle; printed with PODWIRE_DEBUG) */
  upPhases: Phase[] = [];
  /**
   * Called when the lab cannot go on (its forwarding worker keeps dying, or
   * does not restart): up.ts prints `message` and takes the lab down.
   */
  onFatal: (message: string) => void = (message) => this.log(message);

  private worker: { state: WorkerState; restarts: number; lastFailure?: string; recent: number[] } = { state: 'running', restarts: 0, recent: [] };

  /** Each podwire node's underlay path (underlay-path.ts), as `podwire status` shows it; empty without an underlay or across hosts. */
  readonly underlayPaths: Record<string, UnderlayPath> = {};
  /** a `--node` host's TAP underlay (host-tap-underlay.ts), taken down with the lab */
  hostTap: Extract<HostUnderlay, { mode: 'tap' }> | undefined;

  /** The forwarding worker as `podwire status` shows it (dataplane). */
  get dataplaneStatus(): DataplaneStatus {
    if (!this.engine) return { worker: 'none', restarts: 0 };
    const w = this.worker;
    return { worker: w.state, restarts: w.restarts, ...(w.lastFailure ? { lastFailure: w.lastFailure } : {}) };
  }

  /**
   * The worker died after ready: restart it from the plan as it is now
   * (tables reprogrammed), unless it died WORKER_MAX_RESTARTS times within
   * WORKER_RESTART_WINDOW_MS already (a crash loop forwards nothing either):
   * then the lab goes down (onFatal), saying why.
   */
  async workerDied(reason: string, config: () => Omit<EngineConfig, 'wakeFd'>): Promise<void> {
    const w = this.worker;
    const now = Date.now();
    w.lastFailure = `${new Date(now).toISOString()} ${reason}`;
    w.recent = w.recent.filter((t) => now - t < WORKER_RESTART_WINDOW_MS);
    if (w.recent.length >= WORKER_MAX_RESTARTS) {
      w.state = 'failed';
      this.onFatal(`podwire: data plane worker died (${reason}) ${w.recent.length + 1} times within ${WORKER_RESTART_WINDOW_MS / 1000} s: taking the lab down`);
      return;
    }
    w.state = 'restarting';
    try {
      await this.engine!.restart(config());
    } catch (e) {
      w.state = 'failed';
      this.onFatal(`podwire: data plane worker died (${reason}); restarting it failed (${(e as Error).message}): taking the lab down`);
      return;
    }
    w.recent.push(now);
    w.restarts++;
    w.state = 'running';
    this.log(`podwire: data plane worker died (${reason}); restarted with its tables reprogrammed (restart ${w.restarts}; `
      + `tracked connections, learned MACs and counters start afresh; ${WORKER_MAX_RESTARTS} restarts per ${WORKER_RESTART_WINDOW_MS / 1000} s, then the lab goes down)`);
  }

  stats(): Promise<NodeStats[]> {
    return this.engine ? this.engine.stats() : Promise.resolve([]);
  }

  /** Called after `podwire apply` / `delete` changed plan.services and the data plane has them (e.g. for cluster DNS). */
  readonly onServicesChanged: ((plan: LabPlan) => void)[] = [];

  /** Every podwire node's connection table (`podwire conntrack`). */
  conntrack(): Promise<NodeConntrack[]> {
    return this.engine ? this.engine.conntrack() : Promise.resolve([]);
  }

  /** Every podwire node's FDB, routes, neighbours and Service table (`podwire fdb / routes / services`). */
  tables(): Promise<NodeTables[]> {
    return this.engine ? this.engine.tables() : Promise.resolve([]);
  }

  /** the kernel nodes' NetworkPolicy tables (kernel-policies.ts); undefined without kernel nodes */
  kernelPolicies?: KernelPolicies;

  /** Program podwire node `node`'s NetworkPolicy tables (src/lab/policy-control.ts). */
  syncPolicies(node: string, policies: CompiledPolicies): Promise<void> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.syncPolicies(node, policies);
  }

  /** Impair frames to pod port `port` of podwire node `node` (`podwire netem`), or stop (null). */
  setNetem(node: string, port: number, spec: NetemSpec | null): Promise<void> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.setNetem(node, port, spec);
  }

  /** Impair both directions of the in-process underlay between two podwire nodes (`links:`, `podwire netem`), or stop (null). */
  setLinkNetem(between: [string, string], spec: NetemSpec | null): Promise<void> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.setLinkNetem(between, spec);
  }

  /** Program podwire node `node`'s Service frontends as a diff (src/lab/service-control.ts). */
  /**
   * With a shared store: the nodes of the topology without a live lease
   * there. Every local podwire node drops its routes to them and their
   * endpoints, and gains those of nodes that came back; the plan keeps the
   * set, so a worker restart and later applies see it too.
   */
  async setAbsentNodes(names: string[]): Promise<void> {
    const plan = this.plan;
    plan.absentNodes = [...names].sort();
    if (!this.engine) return;
    for (const n of localNodes(plan).filter((x) => x.dataplane === 'podwire')) {
      await this.engine.peerRoutes(n.name, nodeTables(plan, n).routes.filter((r) => r.nextHop));
      await this.engine.syncServices(n.name, serviceFrontends(plan, n));
    }
  }

  syncServices(node: string, services: EngineServiceConfig[], only?: string[]): Promise<ServiceSyncResult> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.syncServices(node, services, only);
  }

  /** Pods a container runtime attached (CNI ADD: src/lab/cni-control.ts), by address: their TAP is held here. */
  readonly attached = new Map<string, { tap: Tap; node: string; port: number }>();

  /** Make `tap` a live port of podwire node `node` (a pod a container runtime attached): MAC pinned, address a neighbour. */
  attachPort(node: string, port: EnginePortConfig & { mac: string }, ip: string): Promise<void> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.attachPort(node, port, ip);
  }

  /** Undo attachPort. */
  detachPort(node: string, port: number, ip: string): Promise<void> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.detachPort(node, port, ip);
  }

  /** The forwarding worker, for `podwire capture`'s taps (src/lab/capture.ts); undefined when every node is a kernel node. */
  get captureEngine(): Pick<EngineHost, 'startCapture' | 'stopCapture'> | undefined {
    return this.engine;
  }

  /** the cluster DNS server, when the DNS pod runs here (cluster-dns.ts); `dns.setRecords` takes new Services */
  dns?: ClusterDns;

  /** the Ingress controller (nginx), when its pod runs here (ingress.ts); src/lab/service-control.ts hands it every change */
  ingress?: IngressController;

  /** Run a synthetic frame from `port` of podwire node `node` through the data plane, dry (`podwire trace`). */
  trace(node: string, port: number, frame: Uint8Array): Promise<TraceResult> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.trace(node, port, frame);
  }

  /** Record decisions on real traffic (delivered to onTraceRecords) or stop. */
  traceLive(on: boolean): Promise<void> {
    if (!this.engine) return Promise.reject(new Error('this lab has no podwire node'));
    return this.engine.traceLive(on);
  }

  set onTraceRecords(fn: (hops: TraceHop[]) => void) {
    if (this.engine) this.engine.onTraceRecords = fn;
  }

  set onPortGone(fn: (names: string[]) => void) {
    this.portGone = fn;
    if (this.engine) this.engine.onPortGone = fn;
  }

  private portGone: (names: string[]) => void = () => {};
  private stopNamespaceWatch: () => void = () => {};

  /**
   * Pods whose namespace was deleted under the lab: the worker stops using
   * their ports (listed as gone, as a vanished TAP's), then their TAPs are
   * closed, which removes the device and lets the kernel free the namespace.
   */
  private async podNamespacesGone(namespaces: string[], pods: PodPlan[]): Promise<void> {
    const gone = new Set(namespaces);
    const which = pods.flatMap((p, i) => (gone.has(p.namespace) ? [{ name: podLabel(p), tap: this.taps[i] }] : []));
    if (which.length === 0) return;
    try {
      await this.engine?.dropPorts(which.map((w) => w.name));
    } catch (e) {
      // the worker is not answering (restarting): closing the fds under it could hand their numbers to new files
      this.log(`podwire: namespace(s) ${namespaces.join(', ')} deleted, but the data plane did not answer: ${(e as Error).message}`);
      return;
    }
    for (const w of which) w.tap.close();
    this.portGone(which.map((w) => w.name));
  }

  /** Tests only (PODWIRE_TEST_HOOKS=1): make the forwarding worker throw, as an uncaught error in it would. */
  crashWorkerForTest(): void {
    if (!this.engine) throw new Error('this lab has no podwire node');
    this.engine.crashForTest();
  }

  /**
   * Stop forwarding, remove the namespaces' names, close the TAPs (the last
   * reference to each pod namespace: the kernel then removes the namespaces
   * and their devices) and underlay sockets, remove the state file.
   */
  async down(): Promise<void> {
    // teardown unnames every namespace itself: not pods gone
    this.stopNamespaceWatch();
    const clock = new PhaseClock('down', this.log);
    await this.engine?.stop().catch(() => {});
    clock.mark('data plane worker stopped');
    await this.dns?.close().catch(() => {});
    await this.ingress?.stop().catch(() => {});
    clock.mark('cluster DNS and ingress stopped');
    // pods a container runtime attached live in namespaces that are not ours: their TAPs are closed as they are
    for (const a of this.attached.values()) {
      try { a.tap.close(); } catch { /* already gone */ }
    }
    for (const s of this.sockets) {
      try { s.close(); } catch { /* already closed */ }
    }
    if (this.hostTap) {
      this.hostTap.neighbors.stop();
      await this.hostTap.underlay.close();
    }
    await removeHostObjects(this.state);
    clock.mark(`namespaces deleted (${this.state.namespaces.length})`);
    // a pod namespace lives on (unnamed) until its TAP's fd is closed; the TAPs are left to the kernel, which
    // removes them with their namespaces in batches (one by one, closing each would cost ~20 ms)
    Tap.closeAll(this.taps);
    clock.mark(`TAPs closed (${this.taps.length})`);
    removeState(this.state.name);
  }
}

/**
 * One node as the forwarding worker runs it. Pods are ports 0..n-1; with
 * more than one node, the last port is the underlay: a TAP on the underlay
 * bridge (`ulFd`), a host socket to nodes on other hosts (`sock`), or
 * carried in-process (neither).
 */
function engineNode(plan: LabPlan, n: NodePlan, tapFd: (p: PodPlan) => number, ulTap: Tap | undefined, sock?: UnderlaySocket,
  /** a `--node` host's TAP underlay: the frames carry the uplink's MAC and each peer's next hop's (host-tap-underlay.ts) */
  hostWire?: { mac: string; peerMacs: ReadonlyMap<string, string> }): EngineNodeConfig {
  const ulFd = ulTap?.fd ?? -1;
  // an underlay port with more than one node, or with hosts outside the cluster to meet
  const multi = hasUnderlay(plan);
  const maxPorts = nodePortCount(n);
  return {
    name: n.name,
    gatewayIp: n.gateway,
    gatewayMac: n.gatewayMac,
    fdbCapacity: 4096,
    maxPorts,
    // a port is named as users name its pod (NAME, or NAMESPACE/NAME outside default): capture and stats find it so
    ports: n.pods.map((p) => ({ port: p.port, fd: tapFd(p), mtu: p.mtu, name: podLabel(p), mac: p.mac, ...(p.netem ? { netem: p.netem } : {}) })),
    underlay: multi ? {
      port: maxPorts - 1, ip: n.underlayIp, mac: hostWire?.mac ?? n.underlayMac, mtu: plan.mtu, fd: ulFd,
      // a TAP on a real bridge cannot take a VXLAN/IP-in-IP-wrapped super-frame (the kernel would
      // segment the outer packet); host-gw super-frames are plain TCP, which it takes. A socket
      // sends one datagram per frame: every frame must be one wire packet
      segment: sock !== undefined || (ulFd >= 0 && plan.overlay !== 'host-gw'),
      // ...unless it takes VXLAN super-frames whole (UDP-tunnel GSO): then only those it cannot take are segmented
      tunnelGso: ulTap?.offloads.udpTunnelGso ?? false,
      // a --node host's TAP: outer UDP checksums, so the other host's GRO can take the segments together
      tunnelGsoCsum: hostWire !== undefined && (ulTap?.offloads.udpTunnelGsoCsum ?? false),
      ...(sock ? {
        socket: {
          kind: sock.kind, fd: sock.fd, localIp: sock.localIp, port: sock.port,
          txFds: sock.txFds, txPorts: sock.txPorts, gso: sock.offloads.gso, gro: sock.offloads.gro,
          // PODWIRE_TAP_GRO=0: write every received segment to its pod as it came (to compare)
          coalesce: process.env.PODWIRE_TAP_GRO !== '0',
          // the neighbour table's MACs for the other nodes (synthetic: they never reach the wire)
          peers: plan.nodes.filter((o) => o !== n).map((o) => ({ mac: o.underlayMac, ip: o.underlayIp })),
        },
      } : {}),
    } : undefined,
    overlay: { kind: plan.nodes.length > 1 ? plan.overlay : 'none', vni: plan.vxlan.vni, port: plan.vxlan.port, vtepMac: n.vtepMac },
    ...(hostWire ? hostWireTables(plan, n, hostWire.peerMacs) : nodeTables(plan, n)),
    services: serviceFrontends(plan, n),
    policies: compilePlanPolicies(plan, n.name),
  };
}

/** nodeTables with the other nodes' neighbour entries at their next hops' real MACs; a peer not resolved yet has none. */
function hostWireTables(plan: LabPlan, n: NodePlan, peerMacs: ReadonlyMap<string, string>): ReturnType<typeof nodeTables> {
  const t = nodeTables(plan, n);
  const peers = new Set(plan.nodes.filter((o) => o.name !== n.name).map((o) => o.underlayIp));
  return {
    ...t,
    neighbors: [
      ...t.neighbors.filter((nb) => !peers.has(nb.ip)),
      ...[...peers].flatMap((ip) => { const mac = peerMacs.get(ip); return mac ? [{ ip, mac }] : []; }),
    ],
  };
}

/** A kernel node's namespace, named by lab and node: node names (n1, k1) repeat across labs. */
function kernelNodeNs(plan: LabPlan, n: NodePlan): string {
  return `pw-node-${plan.name}-${n.name}`;
}

/** A kernel node as flannel would build it, its peers being every other node of the lab. */
function kernelNodeSpec(plan: LabPlan, n: NodePlan, underlay: Underlay): KernelNodeSpec {
  return {
    name: n.name,
    nodeNs: kernelNodeNs(plan, n),
    underlay,
    underlayIp: n.underlayIp,
    underlayMac: n.underlayMac,
    podCIDR: n.podCIDR,
    gateway: n.gateway,
    gatewayMac: n.gatewayMac,
    mtu: plan.mtu,
    overlay: plan.overlay === 'host-gw' ? 'host-gw' : 'vxlan', // ipip is refused for kernel nodes by validation
    vxlan: plan.vxlan,
    vtepMac: n.vtepMac,
    pods: n.pods.map((p) => ({ name: p.name, namespace: p.namespace, ip: p.ip, mac: p.mac, prefixLen: p.prefixLen, mtu: p.mtu })),
    peers: plan.nodes.filter((o) => o !== n).map((o) => ({
      name: o.name, underlayIp: o.underlayIp, underlayMac: o.underlayMac, podCIDR: o.podCIDR, vtepMac: o.vtepMac,
    })),
  };
}

/**
 * Commands run inside the pod's namespace: loopback, its interface (MAC, MTU,
 * no IPv6 autoconf noise), address, default route. `ifName`: eth0 for the
 * lab's pods, what the runtime asked for a CNI ADD (cni-control.ts).
 */
export function podLinkSetup(p: Pick<PodPlan, 'mac' | 'mtu' | 'ip' | 'prefixLen' | 'gateway'>, ifName = 'eth0'): string[] {
  return [
    'link set lo up',
    `link set ${ifName} address ${p.mac} mtu ${p.mtu} addrgenmode none`,
    `link set ${ifName} up`,
    `addr add ${p.ip}/${p.prefixLen} dev ${ifName}`,
    `route add default via ${p.gateway} dev ${ifName}`,
  ];
}

/**
 * Delete what a state file lists and still exists. Never touches a non-pw-
 * name (ipBatch checks). With checkMarks (a state file of a lab that is not
 * this process: it may be stale), a namespace whose mark (ownerMark) names
 * another lab or another state directory is left alone and listed in skipped;
 * an unmarked one is the lab's (it died before marking it, or is older).
 */
export async function removeHostObjects(state: LabState, opts: { checkMarks?: boolean } = {}): Promise<{ namespaces: string[]; links: string[]; skipped: string[] }> {
  const nsNow = new Set(await netnsList());
  const linksNow = new Set(await linkList());
  let namespaces = state.namespaces.filter((n) => nsNow.has(n));
  const skipped: string[] = [];
  if (opts.checkMarks) {
    const marks = await netnsMarks(namespaces);
    namespaces = namespaces.filter((n) => {
      const m = parseOwnerMark(marks.get(n));
      const ours = !m || (m.lab === state.name && m.stateDir === STATE_DIR);
      if (!ours) skipped.push(n);
      return ours;
    });
  }
  const links = state.links.filter((l) => linksNow.has(l));
  for (const t of state.nftTables ?? []) await removeHostTapTable(t).catch(() => false); // a --node host's steering (host-tap-underlay.ts)
  if (links.length) await ipBatch(links.map((l) => `link del ${l}`), undefined, { force: true }).catch(() => {});
  if (namespaces.length) await ipBatch(namespaces.map((n) => `netns del ${n}`), undefined, { force: true }).catch(() => {});
  removeEtcNetns((state.etcNetns ?? []).filter((n) => !skipped.includes(n))); // the pods' resolv.conf (cluster-dns.ts)
  removeIngressLeftovers(state.ingress); // a dead lab's nginx and its prefix directory (ingress.ts)
  return { namespaces, links, skipped };
}

/**
 * `podwire down` for a lab whose process may have died. The process is
 * signalled only when it is provably the lab's (pid and start time,
 * labProcessAlive): after a crash the pid may be an unrelated process's.
 */
export async function downByState(lab: string): Promise<{ removed: { namespaces: string[]; links: string[]; skipped: string[] }; wasRunning: boolean; pidReused: boolean } | undefined> {
  const state = readState(lab);
  if (!state) return undefined;
  let wasRunning = false;
  let byLab: string[] = [];
  if (state.pid !== process.pid && labProcessAlive(state)) {
    // a live lab cleans up after itself on SIGTERM; give it a moment
    wasRunning = true;
    const before = new Set(await netnsList());
    process.kill(state.pid, 'SIGTERM');
    for (let i = 0; i < 50 && labProcessAlive(state); i++) await new Promise((r) => setTimeout(r, 100));
    const after = new Set(await netnsList());
    byLab = state.namespaces.filter((n) => before.has(n) && !after.has(n)); // what the lab removed itself, to report
  }
  const pidReused = !wasRunning && state.pid !== process.pid && processAlive(state.pid);
  const removed = await removeHostObjects(state, { checkMarks: state.pid !== process.pid });
  removed.namespaces = [...byLab, ...removed.namespaces];
  removeState(lab);
  return { removed, wasRunning, pidReused };
}

/**
 * `podwire down --all`, after every lab of the state directory went down:
 * the pw- namespaces that are provably this state directory's strays — their
 * mark (ownerMark) names this state directory, and no state file here lists
 * them (their lab's file is gone, or lists other namespaces now). Everything
 * else is left alone and returned as such: another state directory's labs,
 * namespaces podwire did not create, unmarked ones. Root-namespace pw- links
 * are never strays: TAPs vanish with the process holding them, so one that
 * exists belongs to a live process.
 */
export async function removeStrays(): Promise<{ namespaces: string[]; etcNetns: string[]; leftAlone: string[] }> {
  const pw = (await netnsList()).filter((n) => n.startsWith(PW_PREFIX) && n.length > PW_PREFIX.length);
  const marks = await netnsMarks(pw);
  const listed = new Map<string, Set<string>>();
  const listedBy = (lab: string) => {
    if (!listed.has(lab)) listed.set(lab, new Set(readState(lab)?.namespaces ?? []));
    return listed.get(lab)!;
  };
  const namespaces: string[] = [];
  const leftAlone: string[] = [];
  for (const n of pw) {
    const m = parseOwnerMark(marks.get(n));
    if (m && m.stateDir === STATE_DIR && !listedBy(m.lab).has(n)) namespaces.push(n);
    else leftAlone.push(n);
  }
  if (namespaces.length) await ipBatch(namespaces.map((n) => `netns del ${n}`), undefined, { force: true }).catch(() => {});
  const gone = new Set(await netnsList());
  const removed = namespaces.filter((n) => !gone.has(n));
  return { namespaces: removed, etcNetns: removeEtcNetns(removed), leftAlone };
}
