// The main thread's handle on the forwarding worker.
import { Worker } from 'node:worker_threads';
import type { CompiledPolicies } from '../model/network-policy-compile.ts';
import type { NetemSpec } from '../model/netem.ts';
import { EventFd } from '../io/eventfd.ts';
import type { EngineConfig, EngineReply, EngineRequest, NodeStats, NodeConntrack, NodeTables, EngineServiceConfig, EnginePortConfig, CapturePort, RouteConfig } from './engine-protocol.ts';
import type { ServiceSyncResult } from './service-sync.ts';
import type { TraceResult, TraceHop } from './trace-walk.ts';

/** What the lab reports about its forwarding worker (`podwire status`: dataplane). */
export type WorkerState = 'running' | 'restarting' | 'failed' | 'stopped';

type Reject = (e: Error) => void;

export class EngineHost {
  private worker!: Worker;
  private readonly wake: EventFd;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (nodes: NodeStats[]) => void; reject: Reject }>();
  /** replies to 'conntrack' and 'services' requests, by id */
  private readonly waiting = new Map<number, { resolve: (m: EngineReply) => void; reject: Reject }>();
  private stoppedResolve?: () => void;
  private exited = false;
  private stopping = false;
  /** a restart under way (stop waits for it) */
  private spawning?: Promise<void>;
  /** capture bytes the worker posted that this thread has not handled yet (the worker's bound: capture-tap.ts) */
  private captureBacklog = new Int32Array(new SharedArrayBuffer(4));
  /** each capture's receiver of the worker's 'captured' rounds, by capture id */
  private readonly captureSinks = new Map<number, (m: Extract<EngineReply, { type: 'captured' }>) => void>();
  /** each capture's target, to tap it again in a restarted worker */
  private readonly captureTargets = new Map<number, string>();
  /** live tracing is on (turned on again in a restarted worker) */
  private liveTrace = false;
  /** called when the worker notices a TAP vanished */
  onPortGone: (names: string[]) => void = () => {};
  /** while live tracing is on: each round's decisions */
  onTraceRecords: (hops: TraceHop[]) => void = () => {};
  /**
   * Called when the worker exits after "ready" without being told to stop
   * (an uncaught error, a trap): the lab restarts it (restart) or goes down.
   * Requests in flight have been rejected by then.
   */
  onDied: (reason: string) => void = () => {};

  private constructor(wake: EventFd) {
    this.wake = wake;
  }

  /** Start the worker and resolve once it is forwarding. */
  static async start(config: Omit<EngineConfig, 'wakeFd'>): Promise<EngineHost> {
    const host = new EngineHost(new EventFd());
    try {
      await host.spawn(config);
    } catch (e) {
      host.wake.close();
      throw e;
    }
    return host;
  }

  /** The worker is forwarding (false while it restarts, after it died or stopped). */
  get running(): boolean {
    return !this.exited;
  }

  /**
   * A fresh worker for `config` after the last one died: new WASM memory
   * programmed from config (the current tables), the same TAP and socket fds
   * (they belong to this thread). Connections tracked, learned MACs and
   * counters start afresh. Live tracing and captures are turned on again.
   */
  async restart(config: Omit<EngineConfig, 'wakeFd'>): Promise<void> {
    if (this.stopping) throw new Error('the data plane is stopping');
    if (!this.exited) throw new Error('the data plane worker is still running');
    this.spawning = this.spawn(config);
    try {
      await this.spawning;
    } finally {
      this.spawning = undefined;
    }
    if (this.liveTrace) this.send({ type: 'traceLive', id: this.nextId++, on: true });
    for (const [id, target] of this.captureTargets) this.send({ type: 'capture', id, on: true, target });
  }

  private spawn(config: Omit<EngineConfig, 'wakeFd'>): Promise<void> {
    const captureBacklog = new SharedArrayBuffer(4);
    // compiled (dist/, what the CLI runs): the worker is engine.js itself; from
    // source (tests), worker-boot.mjs registers the TypeScript loader first
    const fromSource = import.meta.url.endsWith('.ts');
    const workerConfig = { ...config, wakeFd: this.wake.fd, captureBacklog };
    const worker = fromSource
      ? new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: { entry: new URL('./engine.ts', import.meta.url).href, config: workerConfig } })
      : new Worker(new URL('./engine.js', import.meta.url), { workerData: { config: workerConfig } });
    this.worker = worker;
    this.captureBacklog = new Int32Array(captureBacklog);
    this.exited = false;
    return new Promise((resolve, reject) => {
      let ready = false;
      let lastError: Error | undefined;
      worker.on('error', (e) => { lastError = e; });
      worker.on('exit', (code) => {
        this.exited = true;
        this.stoppedResolve?.();
        this.failInFlight(new Error('data plane worker died'));
        // an exit before "ready" must fail the start, never leave it waiting forever
        if (!ready) reject(new Error(`data plane worker exited (code ${code}) before it was ready${lastError ? `: ${lastError.message}` : ''}`));
        else if (!this.stopping) this.onDied(lastError ? lastError.message : `exit code ${code}`);
      });
      worker.on('message', (m: EngineReply) => {
        if (worker !== this.worker) return; // a dead worker's last words
        if (m.type === 'ready') {
          ready = true;
          resolve();
        } else this.onReply(m);
      });
    });
  }

  private failInFlight(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    for (const w of this.waiting.values()) w.reject(e);
    this.pending.clear();
    this.waiting.clear();
  }

  /** Tests only (PODWIRE_TEST_HOOKS=1, checked by the worker too): make the worker throw in its loop. */
  crashForTest(): void {
    if (process.env.PODWIRE_TEST_HOOKS !== '1') throw new Error('test hooks are off (PODWIRE_TEST_HOOKS=1)');
    if (this.exited) throw new Error('data plane worker is not running');
    this.send({ type: 'crash' });
  }

  private onReply(m: EngineReply): void {
    if (m.type === 'stats') {
      this.pending.get(m.id)?.resolve(m.nodes);
      this.pending.delete(m.id);
    } else if (m.type === 'traceRecords') {
      this.onTraceRecords(m.hops);
    } else if (m.type === 'captured') {
      for (const sink of this.captureSinks.values()) sink(m);
      Atomics.sub(this.captureBacklog, 0, m.data.byteLength); // handled: the worker may stage that much again
    } else if (m.type === 'conntrack' || m.type === 'services' || m.type === 'announce' || m.type === 'peerRoutes' || m.type === 'neighbors' || m.type === 'policies' || m.type === 'trace' || m.type === 'traceLive' || m.type === 'tables' || m.type === 'capture' || m.type === 'netem'
      || m.type === 'attachPort' || m.type === 'detachPort' || m.type === 'dropPorts') {
      this.waiting.get(m.id)?.resolve(m);
      this.waiting.delete(m.id);
    } else if (m.type === 'portGone') {
      this.onPortGone(m.names);
    }
  }

  private send(req: EngineRequest): void {
    this.worker.postMessage(req);
    this.wake.signal();
  }

  stats(timeoutMs = 2000): Promise<NodeStats[]> {
    if (this.exited) return Promise.reject(new Error('data plane worker is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.pending.delete(id); reject(new Error('data plane did not answer')); }, timeoutMs);
      this.pending.set(id, { resolve: (nodes) => { clearTimeout(t); resolve(nodes); }, reject: (e) => { clearTimeout(t); reject(e); } });
      this.send({ type: 'stats', id });
    });
  }

  /** Every node's connection table, read by the worker on the data plane's clock. */
  async conntrack(timeoutMs = 5000): Promise<NodeConntrack[]> {
    const m = await this.ask({ type: 'conntrack', id: 0 }, timeoutMs);
    return m.type === 'conntrack' ? m.nodes : [];
  }

  /** Every node's FDB, routes, neighbours and Service table, read by the worker from the data plane's memory. */
  async tables(timeoutMs = 5000): Promise<NodeTables[]> {
    const m = await this.ask({ type: 'tables', id: 0 }, timeoutMs);
    return m.type === 'tables' ? m.nodes : [];
  }

  /**
   * Make node `node`'s Service frontends `services` (with `only`: just those
   * Services' frontends); resolves once the worker has programmed them.
   */
  async syncServices(node: string, services: EngineServiceConfig[], only?: string[], timeoutMs = 60_000): Promise<ServiceSyncResult> {
    const m = await this.ask({ type: 'services', id: 0, node, services, ...(only ? { only } : {}) }, timeoutMs);
    if (m.type !== 'services' || !m.result) throw new Error(`node ${node}: ${m.type === 'services' ? m.error : 'no answer'}`);
    return m.result;
  }

  /** Make `addresses` the LoadBalancer addresses node `node` answers ARP for on its underlay port. */
  /** Node `node`'s overlay routes to other nodes become `routes` (a diff in the worker: engine-requests.ts). */
  async peerRoutes(node: string, routes: RouteConfig[], timeoutMs = 5000): Promise<void> {
    const m = await this.ask({ type: 'peerRoutes', id: 0, node, routes }, timeoutMs);
    if (m.type !== 'peerRoutes' || m.error) throw new Error(`node ${node}: ${m.type === 'peerRoutes' ? m.error : 'no answer'}`);
  }

  /** Node `node`'s neighbour entries: `set` added or changed, `del` removed (host-neighbors.ts). */
  async neighbors(node: string, set: { ip: string; mac: string }[], del: string[], timeoutMs = 5000): Promise<void> {
    const m = await this.ask({ type: 'neighbors', id: 0, node, set, del }, timeoutMs);
    if (m.type !== 'neighbors' || m.error) throw new Error(`node ${node}: ${m.type === 'neighbors' ? m.error : 'no answer'}`);
  }

  async announce(node: string, addresses: string[], timeoutMs = 5000): Promise<void> {
    const m = await this.ask({ type: 'announce', id: 0, node, addresses }, timeoutMs);
    if (m.type !== 'announce' || m.error) throw new Error(`node ${node}: ${m.type === 'announce' ? m.error : 'no answer'}`);
  }

  /** Run a synthetic frame from `port` of `node` through the data plane, dry, and return every decision. */
  async trace(node: string, port: number, frame: Uint8Array, timeoutMs = 5000): Promise<TraceResult> {
    const m = await this.ask({ type: 'trace', id: 0, node, port, frame }, timeoutMs);
    if (m.type !== 'trace' || !m.result) throw new Error(m.type === 'trace' ? m.error : 'no answer');
    return m.result;
  }

  /** Record decisions on real traffic (delivered through onTraceRecords) or stop. */
  async traceLive(on: boolean, timeoutMs = 5000): Promise<void> {
    await this.ask({ type: 'traceLive', id: 0, on }, timeoutMs);
    this.liveTrace = on;
  }

  /**
   * Tap `target` (a pod, a node, "underlay": capture-tap.ts) until
   * stopCapture(id); every round of copies the worker posts goes to `sink`
   * (records for other captures' ports included: the sink picks its own).
   */
  async startCapture(target: string, sink: (m: Extract<EngineReply, { type: 'captured' }>) => void): Promise<{ id: number; ports: CapturePort[] }> {
    const id = this.nextId++;
    this.captureSinks.set(id, sink);
    this.captureTargets.set(id, target);
    try {
      const m = await this.ask({ type: 'capture', id, on: true, target }, 5000, id);
      if (m.type !== 'capture' || !m.ports) throw new Error(m.type === 'capture' ? m.error : 'no answer');
      return { id, ports: m.ports };
    } catch (e) {
      this.stopCapture(id);
      throw e;
    }
  }

  /** Turn capture `id` off (its ports stop being copied unless another capture taps them). */
  stopCapture(id: number): void {
    this.captureTargets.delete(id);
    if (!this.captureSinks.delete(id) || this.exited) return;
    this.send({ type: 'capture', id, on: false });
  }

  /** Make node `node`'s NetworkPolicy tables `policies` (rewritten whole between rounds). */
  async syncPolicies(node: string, policies: CompiledPolicies, timeoutMs = 60_000): Promise<void> {
    const m = await this.ask({ type: 'policies', id: 0, node, policies }, timeoutMs);
    if (m.type !== 'policies' || m.error) throw new Error(`node ${node}: ${m.type === 'policies' ? m.error : 'no answer'}`);
  }

  /** Impair frames to `port` of node `node` with `spec` (impairment.ts), or stop impairing them (null). */
  async setNetem(node: string, port: number, spec: NetemSpec | null, timeoutMs = 5000): Promise<void> {
    const m = await this.ask({ type: 'netem', id: 0, node, port, spec }, timeoutMs);
    if (m.type !== 'netem' || m.error) throw new Error(`node ${node}: ${m.type === 'netem' ? m.error : 'no answer'}`);
  }

  /** Impair both directions of the in-process underlay between two nodes with `spec`, or stop (null). */
  async setLinkNetem(between: [string, string], spec: NetemSpec | null, timeoutMs = 5000): Promise<void> {
    const m = await this.ask({ type: 'netemLink', id: 0, between, spec }, timeoutMs);
    if (m.type !== 'netem' || m.error) throw new Error(`link ${between.join(':')}: ${m.type === 'netem' ? m.error : 'no answer'}`);
  }

  /** Make `port` (a pod a container runtime attached: its TAP fd, MAC, address `ip`) a live port of node `node`. */
  async attachPort(node: string, port: EnginePortConfig & { mac: string }, ip: string, timeoutMs = 5000): Promise<void> {
    const m = await this.ask({ type: 'attachPort', id: 0, node, port, ip }, timeoutMs);
    if (m.type !== 'attachPort' || m.error) throw new Error(`node ${node}: ${m.type === 'attachPort' ? m.error : 'no answer'}`);
  }

  /** Undo attachPort: the port stops forwarding and polling, its MAC and neighbour entry go. */
  async detachPort(node: string, port: number, ip: string, timeoutMs = 5000): Promise<void> {
    const m = await this.ask({ type: 'detachPort', id: 0, node, port, ip }, timeoutMs);
    if (m.type !== 'detachPort' || m.error) throw new Error(`node ${node}: ${m.type === 'detachPort' ? m.error : 'no answer'}`);
  }

  /** Stop using the ports named (their pods' namespaces are gone); returns the names of those that were in use. */
  async dropPorts(names: string[], timeoutMs = 5000): Promise<string[]> {
    const m = await this.ask({ type: 'dropPorts', id: 0, names }, timeoutMs);
    return m.type === 'dropPorts' ? m.names : [];
  }

  private ask(req: Extract<EngineRequest, { type: 'conntrack' | 'services' | 'announce' | 'peerRoutes' | 'neighbors' | 'policies' | 'trace' | 'traceLive' | 'tables' | 'capture' | 'netem' | 'netemLink' | 'attachPort' | 'detachPort' | 'dropPorts' }>, timeoutMs: number, fixedId?: number): Promise<EngineReply> {
    if (this.exited) return Promise.reject(new Error('data plane worker is not running'));
    const id = fixedId ?? this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiting.delete(id); reject(new Error('data plane did not answer')); }, timeoutMs);
      this.waiting.set(id, { resolve: (m) => { clearTimeout(t); resolve(m); }, reject: (e) => { clearTimeout(t); reject(e); } });
      this.send({ ...req, id });
    });
  }

  /** Stop forwarding and wait for the worker to exit (terminated if it does not within 2 s). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.spawning?.catch(() => {});
    if (this.exited) { this.wake.close(); return; }
    const done = new Promise<void>((r) => { this.stoppedResolve = r; });
    this.send({ type: 'stop' });
    const t = setTimeout(() => void this.worker.terminate(), 2000);
    await done;
    clearTimeout(t);
    this.wake.close();
  }
}
