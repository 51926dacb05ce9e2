// The Ingress controller in a running lab (see src/model/ingress-pod.ts for
// the plan): the controller pod's namespace and TAP are made like any pod's
// (Lab.up gets the pod through withIngressPod), and a real nginx runs inside
// it (src/ingress/nginx-process.ts) with the configuration rendered from the
// lab's Ingress objects and its Services' ready endpoints
// (src/ingress/controller-config.ts). nginx connects to the endpoints' pod
// addresses from the pod's eth0, so its requests cross podwire like any
// pod's. Every change (`podwire apply` of Ingress objects or Services,
// `podwire delete`) is rendered and checked first (prepare: nothing changes
// on a problem), then committed: TLS files written, nginx reloaded
// gracefully (SIGHUP: requests in flight finish on the old workers), and the
// plan's objects replaced. nginx's prefix directory and pid are in the state
// file, so a lab that died leaves nothing behind after `podwire down`.
import { mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { labId, localNodes, TopologyError, type LabPlan, type PodPlan } from '../model/topology.ts';
import {
  INGRESS_POD_LABELS, INGRESS_NAMESPACE, INGRESS_SERVICE_NAME, INGRESS_HTTP_PORT, INGRESS_HTTPS_PORT,
  isIngressControllerService, loadBalancerAddress, type IngressObjects,
} from '../model/ingress-pod.ts';
import { ingressLabel, BUILTIN_INGRESS_CLASS, ingressesForController, type IngressBackend, type IngressSpec } from '../model/ingress.ts';
import type { ApplyResult } from '../model/apply.ts';
import type { ServicePlan } from '../model/services.ts';
import { PW_PREFIX } from '../io/netns.ts';
import { controllerConfig, type ControllerConfig } from '../ingress/controller-config.ts';
import { NginxProcess, nginxAvailable } from '../ingress/nginx-process.ts';
import { processStartTime, type IngressState } from './state.ts';

const INGRESS_KIND = 'ingress.networking.k8s.io';
const CLASS_KIND = 'ingressclass.networking.k8s.io';
const SECRET_KIND = 'secret';

/** The controller pod's network namespace: pw-ingress.<lab> (the dot keeps it apart from every pod's pw-<pod>, as pw-dns.<lab>). */
export function ingressNetns(plan: LabPlan): string {
  return `${PW_PREFIX}ingress.${labId(plan)}`;
}

/** nginx's prefix directory (config, TLS files, logs, temp files): under the temp dir, where nginx's workers (nobody) can reach it. */
export function ingressPrefix(plan: LabPlan): string {
  return join(tmpdir(), `${PW_PREFIX}ingress-${labId(plan)}`);
}

/** The controller pod as a pod of its node, when this process runs that node. */
export function ingressPod(plan: LabPlan): PodPlan | undefined {
  const g = plan.ingress;
  if (!g || !localNodes(plan).some((n) => n.name === g.node)) return undefined;
  return {
    name: g.pod.name, labels: { ...INGRESS_POD_LABELS }, namespace: ingressNetns(plan), k8sNamespace: g.pod.k8sNamespace, node: g.node,
    ip: g.pod.ip, prefixLen: g.pod.prefixLen, mac: g.pod.mac, gateway: g.pod.gateway, mtu: g.pod.mtu, port: g.pod.port,
  };
}

/** The plan with the controller pod among its node's pods (after the DNS pod: withIngressPod(withDnsPod(plan))). */
export function withIngressPod(plan: LabPlan): LabPlan {
  const pod = ingressPod(plan);
  if (!pod) return plan;
  return { ...plan, nodes: plan.nodes.map((n) => (n.name === pod.node ? { ...n, pods: [...n.pods, pod] } : n)) };
}

/** `podwire up` refuses a lab with cluster.ingress when nginx is missing, naming the package. */
export function checkIngressAvailable(plan: LabPlan): void {
  if (!ingressPod(plan)) return;
  const a = nginxAvailable();
  if (!a.ok) throw new Error(`cluster.ingress: nginx: ${a.message}`);
}


/**
 * After a lab died: stop its nginx (only when the pid is still that nginx:
 * same start time, and its command line names the prefix) and remove the
 * prefix directory.
 */
export function removeIngressLeftovers(s: IngressState | undefined): void {
  if (!s || !s.prefix.startsWith(join(tmpdir(), PW_PREFIX))) return;
  if (s.pid !== undefined && s.pidStart !== undefined && processStartTime(s.pid) === s.pidStart) {
    let cmd = '';
    try { cmd = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8'); } catch { /* gone */ }
    if (cmd.includes('nginx') && cmd.includes(s.prefix)) {
      try { process.kill(s.pid, 'SIGTERM'); } catch { /* gone */ }
    }
  }
  rmSync(s.prefix, { recursive: true, force: true });
}

/** A change ready to commit: the objects and Services after it, the rendered configuration, and what `apply` prints. */
export interface IngressChange { objects: IngressObjects; config: ControllerConfig; results: ApplyResult[] }

const key = (o: { namespace: string; name: string }) => `${o.namespace}/${o.name}`;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Render for `objects` and `services`; every problem (a backend naming a missing Service or port, a missing Secret) throws, naming the object and field. */
function render(objects: IngressObjects, services: ServicePlan[], source: string): ControllerConfig {
  const problems: string[] = [];
  const out = controllerConfig({ ...objects, services, httpPort: INGRESS_HTTP_PORT, httpsPort: INGRESS_HTTPS_PORT }, problems);
  if (!out) throw new TopologyError(problems, source, `${source}: nothing applied`);
  return out;
}

/** The objects of `add` merged into `base` by (namespace, name) (classes by name), with kubectl's created / configured / unchanged. */
function merge(base: IngressObjects, add: IngressObjects): { objects: IngressObjects; results: ApplyResult[] } {
  const results: ApplyResult[] = [];
  const upsert = <T>(list: T[], items: T[], id: (t: T) => string, kind: string, ns: (t: T) => string, name: (t: T) => string, body: (t: T) => unknown): T[] => {
    const out = [...list];
    for (const it of items) {
      const at = out.findIndex((o) => id(o) === id(it));
      const action = at < 0 ? 'created' : same(body(out[at]), body(it)) ? 'unchanged' : 'configured';
      if (at < 0) out.push(it); else out[at] = it;
      results.push({ kind, namespace: ns(it), name: name(it), action });
    }
    return out;
  };
  const objects: IngressObjects = {
    secrets: upsert(base.secrets, add.secrets, key, SECRET_KIND, (s) => s.namespace, (s) => s.name, (s) => s),
    classes: upsert(base.classes, add.classes, (c) => c.name, CLASS_KIND, () => '', (c) => c.name, (c) => c),
    ingresses: upsert(base.ingresses, add.ingresses, (l) => key(l.value),
      INGRESS_KIND, (l) => l.value.namespace, (l) => l.value.name, (l) => l.value),
  };
  return { objects, results };
}

/** The running controller: nginx in the controller pod's namespace. */
export class IngressController {
  private constructor(private readonly plan: LabPlan, private readonly nginx: NginxProcess, private config: string) {}

  /**
   * Render the plan's Ingresses (their references checked against the
   * Services: a problem fails `up`, naming the Ingress and field), write
   * the TLS files and start nginx in the pod's namespace (which must exist,
   * eth0 up). `record` is called with the master's pid for the state file.
   * Undefined when the controller pod does not run here.
   */
  static async start(plan: LabPlan, record: (s: IngressState) => void): Promise<IngressController | undefined> {
    const pod = ingressPod(plan);
    if (!pod) return undefined;
    const objects = plan.ingressObjects ?? { ingresses: [], classes: [], secrets: [] };
    const out = render(objects, plan.services, 'ingresses');
    const prefix = ingressPrefix(plan);
    rmSync(prefix, { recursive: true, force: true });
    writeFiles(prefix, out);
    const nginx = await NginxProcess.start({ ns: pod.namespace, config: out.config, prefix });
    record({ prefix, pid: nginx.pid, pidStart: processStartTime(nginx.pid) });
    plan.ingressObjects = stored(objects);
    return new IngressController(plan, nginx, out.config);
  }

  get netns(): string { return this.nginx.ns; }
  get prefix(): string { return this.nginx.prefix; }
  get accessLogPath(): string { return this.nginx.accessLogPath; }

  /**
   * The change `podwire apply` / `delete` asks for, computed whole (no file,
   * no nginx touched): `add` merged in, `remove` (Ingress references) taken
   * out, rendered against `services` (the lab's Services after the same
   * request). Throws naming every problem; a missing Ingress to remove too.
   */
  prepare(services: ServicePlan[], source: string, add?: IngressObjects, remove?: { namespace: string; name: string }[]): IngressChange {
    let { objects, results } = add ? merge(this.objects, add) : { objects: this.objects, results: [] as ApplyResult[] };
    if (remove?.length) {
      const have = new Set(objects.ingresses.map((l) => key(l.value)));
      const missing = remove.filter((r) => !have.has(key(r)));
      if (missing.length) throw new Error(missing.map((r) => `ingresses.networking.k8s.io "${r.name}" not found${r.namespace === 'default' ? '' : ` in namespace ${r.namespace}`}`).join('; '));
      const gone = new Set(remove.map(key));
      objects = { ...objects, ingresses: objects.ingresses.filter((l) => !gone.has(key(l.value))) };
      results = [...results, ...remove.map((r): ApplyResult => ({ kind: INGRESS_KIND, namespace: r.namespace, name: r.name, action: 'deleted' }))];
    }
    return { objects, config: render(objects, services, source), results };
  }

  /** Write the TLS files, reload nginx when its configuration changed (nginx -t first; graceful), and keep the objects in the plan. */
  async commit(change: IngressChange): Promise<void> {
    writeFiles(this.nginx.prefix, change.config);
    if (change.config.config !== this.config) {
      await this.nginx.reload(change.config.config);
      this.config = change.config.config;
    }
    this.plan.ingressObjects = stored(change.objects);
  }

  stop(): Promise<void> {
    return this.nginx.stop().finally(() => rmSync(this.nginx.prefix, { recursive: true, force: true }));
  }

  private get objects(): IngressObjects {
    return this.plan.ingressObjects ?? { ingresses: [], classes: [], secrets: [] };
  }
}

/**
 * The objects as the lab keeps them: each Ingress named by itself and its
 * fields by their API path ("ingress shop: spec.rules[0]..."), so a later
 * refusal (a Service it routes to deleted) names the Ingress, not a
 * document of a file applied long ago.
 */
function stored(objects: IngressObjects): IngressObjects {
  return { ...objects, ingresses: objects.ingresses.map((l) => ({ value: l.value, origin: ingressLabel(l.value), root: 'spec.' })) };
}

function writeFiles(prefix: string, out: ControllerConfig): void {
  for (const f of out.files) {
    mkdirSync(join(prefix, dirname(f.path)), { recursive: true });
    writeFileSync(join(prefix, f.path), f.content, { mode: f.mode });
  }
}

/** One Ingress as `podwire status` lists it (kubectl get ingress, with the rules spelled out). */
export interface IngressStatus {
  namespace: string;
  name: string;
  /** spec.ingressClassName, or absent (then the default class, nginx, serves it) */
  class?: string;
  /** served by this lab's controller (its class is ours, or it has none and ours is the default) */
  served: boolean;
  hosts: string[];
  /** the controller Service's load-balancer address, or "pending" */
  address: string;
  /** 80, and 443 when it has tls */
  ports: number[];
  rules: { host: string; path: string; pathType: string; backend: string }[];
  defaultBackend?: string;
}

const backendText = (b: IngressBackend) => `${b.service}:${b.port}`;

/** The lab's Ingresses for `podwire status`. */
export function ingressStatus(plan: Pick<LabPlan, 'ingressObjects' | 'services'>): IngressStatus[] {
  const o = plan.ingressObjects;
  if (!o) return [];
  const svc = plan.services.find(isIngressControllerService);
  const address = loadBalancerAddress(svc) ?? 'pending';
  const served = new Set(ingressesForController(o.ingresses.map((l) => l.value), [BUILTIN_INGRESS_CLASS, ...o.classes]).map(key));
  return o.ingresses.map(({ value: i }: { value: IngressSpec }) => ({
    namespace: i.namespace, name: i.name, ...(i.ingressClassName ? { class: i.ingressClassName } : {}), served: served.has(key(i)),
    hosts: i.rules.length ? i.rules.map((r) => r.host ?? '*') : ['*'], address,
    ports: i.tls.length ? [INGRESS_HTTP_PORT, INGRESS_HTTPS_PORT] : [INGRESS_HTTP_PORT],
    rules: i.rules.flatMap((r) => r.paths.map((p) => ({ host: r.host ?? '*', path: p.path, pathType: p.pathType, backend: backendText(p.backend) }))),
    ...(i.defaultBackend ? { defaultBackend: backendText(i.defaultBackend) } : {}),
  }));
}

/** One line for `podwire up`: where the controller listens. */
export function ingressLine(plan: LabPlan, c: IngressController | undefined): string | undefined {
  const g = plan.ingress;
  if (!g) return undefined;
  const svc = plan.services.find(isIngressControllerService);
  const where = c ? `netns ${c.netns}, nginx prefix ${c.prefix}` : 'on another host';
  return `podwire: Ingress controller nginx: Service ${INGRESS_NAMESPACE}/${INGRESS_SERVICE_NAME} ${svc?.clusterIP ?? '?'} (LoadBalancer ${loadBalancerAddress(svc) ?? 'pending'}) -> pod ${g.pod.name} ${g.pod.ip} on ${g.node} (${where}); ${plan.ingressObjects?.ingresses.length ?? 0} Ingress(es)`;
}
