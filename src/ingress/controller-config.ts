// From Kubernetes objects to what nginx needs: the Ingresses this controller
// serves (by IngressClass), each backend's ready endpoints (Service port ->
// "podIP:targetPort"), the TLS Secrets as files, and the rendered nginx.conf.
// Pure: the caller writes the files under nginx's prefix and runs nginx.
import {
  checkIngressReferences, ingressesForController, BUILTIN_INGRESS_CLASS,
  type IngressClassSpec, type IngressSpec, type Located, type TlsSecret,
} from '../model/ingress.ts';
import { endpointTargetPort } from '../model/pod-ports.ts';
import { renderNginxConfig, upstreamKey, type TlsFiles } from './nginx-config.ts';

/** What the controller needs of a Service: its ports and endpoints (a ServiceSpec or a ServicePlan). */
export interface BackendService {
  name: string;
  namespace: string;
  /** targetPort: a number, or a container port name resolved per endpoint (its targetPorts) */
  ports: { name?: string; port: number; targetPort: number | string; protocol?: string }[];
  endpoints?: { ip: string; ready: boolean; targetPorts?: Record<string, number> }[];
}

export interface ControllerInput {
  ingresses: Located<IngressSpec>[];
  /** IngressClasses besides podwire's own (BUILTIN_INGRESS_CLASS) */
  classes: IngressClassSpec[];
  secrets: TlsSecret[];
  services: BackendService[];
  httpPort?: number;
  httpsPort?: number;
}

/** A file nginx reads, relative to its prefix (the directory of nginx.conf). */
export interface PrefixFile { path: string; content: string; mode: number }

export interface ControllerConfig {
  config: string;
  /** the TLS Secrets' PEM, for nginx.conf's relative ssl_certificate paths */
  files: PrefixFile[];
  /** the Ingresses served (the others name another controller's class) */
  served: Located<IngressSpec>[];
}

/**
 * Check the references (a missing Service, port or Secret is an error
 * naming the document and field: `problems`), then render. Every Ingress's
 * references are checked, served or not, as the objects are one cluster.
 */
export function controllerConfig(input: ControllerInput, problems: string[]): ControllerConfig | undefined {
  const before = problems.length;
  checkIngressReferences(input.ingresses, input.services, input.secrets, problems);
  if (problems.length !== before) return undefined;

  const served = ingressesForController(input.ingresses.map((l) => ({ ...l, ingressClassName: l.value.ingressClassName })), [BUILTIN_INGRESS_CLASS, ...input.classes]);
  const upstreams = new Map<string, string[]>();
  const byName = new Map(input.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  for (const { value: ing } of served) {
    const backends = [...(ing.defaultBackend ? [ing.defaultBackend] : []), ...ing.rules.flatMap((r) => r.paths.map((p) => p.backend))];
    for (const b of backends) {
      const svc = byName.get(`${ing.namespace}/${b.service}`)!; // checked above
      const port = svc.ports.find((p) => (typeof b.port === 'number' ? p.port === b.port : p.name === b.port))!;
      const eps = (svc.endpoints ?? []).filter((e) => e.ready).flatMap((e) => {
        const target = endpointTargetPort({ targetPort: port.targetPort, protocol: port.protocol ?? 'TCP' }, e);
        return target === undefined ? [] : [`${e.ip}:${target}`];
      });
      upstreams.set(upstreamKey({ namespace: ing.namespace, service: b.service, port: b.port }), eps);
    }
  }
  const tls = new Map<string, TlsFiles>();
  const files: PrefixFile[] = [];
  for (const s of input.secrets) {
    const base = `tls/${s.namespace}-${s.name}`;
    tls.set(`${s.namespace}/${s.name}`, { cert: `${base}.crt`, key: `${base}.key` });
    files.push({ path: `${base}.crt`, content: s.cert, mode: 0o644 }, { path: `${base}.key`, content: s.key, mode: 0o600 });
  }
  const config = renderNginxConfig({ ingresses: served.map((l) => l.value), upstreams, tls, httpPort: input.httpPort, httpsPort: input.httpsPort });
  return { config, files, served };
}
