// A Service's endpoints, as the endpoint controller decides them: the pods
// of its own namespace its selector matches, or (a Service without a selector) the addresses its
// EndpointSlices list, each checked to be a pod of the lab. Pure.
import type { ServiceSpec, EndpointPlan } from './services.ts';
import type { PodPlan } from './topology-types.ts';
import type { Flag } from './service-allocation.ts';
import { resolveNamedPorts } from './pod-ports.ts';

/** A pod as endpoint selection sees it. */
export type EndpointPod = Pick<PodPlan, 'name' | 'labels' | 'ip' | 'k8sNamespace' | 'ports' | 'hostname' | 'subdomain'> & { node: string };

/** The endpoints of `s`, sorted by pod name; undefined when they are wrong (flagged). */
export function selectEndpoints(s: ServiceSpec, pods: EndpointPod[], podByIp: Map<string, EndpointPod>, flag: Flag): EndpointPlan[] | undefined {
  const sel = s.selector && Object.keys(s.selector).length ? s.selector : undefined;
  if (sel && s.endpoints) {
    flag(s, 'has a selector and explicit endpoints: endpoints of a Service with a selector come from its pods');
    return undefined;
  }
  let endpoints: EndpointPlan[] = [];
  if (sel) {
    endpoints = pods
      .filter((p) => p.k8sNamespace === s.namespace && Object.entries(sel).every(([k, v]) => Object.hasOwn(p.labels, k) && String(p.labels[k]) === v))
      .map((p) => withTargetPorts(s, p, { pod: p.name, node: p.node, ip: p.ip, ready: true }));
  } else if (s.endpoints) {
    let ok = true;
    const seen = new Set<string>();
    s.endpoints.forEach((e, j) => {
      const bad = (msg: string) => { flag(s, `endpoints[${j}]: ${msg}`); ok = false; };
      const pod = podByIp.get(e.ip);
      if (!pod) return bad(`${e.ip} is not the address of any pod in the lab`);
      if (e.pod !== undefined && e.pod !== pod.name) return bad(`${e.ip} is pod ${pod.name}, not ${e.pod}`);
      if (e.podNamespace !== undefined && e.podNamespace !== pod.k8sNamespace) return bad(`${e.ip} is pod ${pod.name} of namespace ${pod.k8sNamespace}, not of ${e.podNamespace}`);
      if (e.node !== undefined && e.node !== pod.node) return bad(`pod ${pod.name} (${e.ip}) runs on node ${pod.node}, not ${e.node}`);
      if (seen.has(e.ip)) return bad(`${e.ip} is listed twice`);
      seen.add(e.ip);
      const ep = withTargetPorts(s, pod, { pod: pod.name, node: pod.node, ip: e.ip, ready: e.ready });
      endpoints.push(e.hostname ? { ...ep, hostname: e.hostname } : ep);
    });
    if (!ok) return undefined;
  }
  return endpoints.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
}

/** The endpoint, with its ports for the Service's named targetPorts when it has any. */
function withTargetPorts(s: ServiceSpec, pod: EndpointPod, e: EndpointPlan): EndpointPlan {
  const targetPorts = resolveNamedPorts(s.ports, pod.ports);
  // the endpoint controller's hostname: the pod's spec.hostname when its spec.subdomain is this Service's name
  const hostname = pod.hostname && pod.subdomain === s.name ? pod.hostname : undefined;
  return { ...e, ...(hostname ? { hostname } : {}), ...(targetPorts ? { targetPorts } : {}) };
}
