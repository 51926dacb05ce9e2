// Pods' named container ports, and a Service's targetPort given by name:
// resolved per backend pod, as the endpoint controller does (FindPort: the
// pod's container port with that name and the Service port's protocol; a
// pod without one is no endpoint for that Service port). Pure.
import { isObject, unknownKeys } from './fields.ts';

export const CONTAINER_PORT_KEYS = ['name', 'containerPort', 'protocol'];
/** The protocols a pod's port may name (SCTP is not modelled: podwire's Services are TCP and UDP). */
const CONTAINER_PROTOCOLS = ['TCP', 'UDP'];

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP';
}

/**
 * IANA_SVC_NAME, as Kubernetes validates a container port's name and a
 * named targetPort: 1-15 characters, lowercase letters, digits and "-", at
 * least one letter, no "-" at either end nor two in a row (RFC 6335 5.1).
 */
export function isIanaSvcName(s: string): boolean {
  return s.length >= 1 && s.length <= 15 && /^[a-z0-9-]+$/.test(s) && /[a-z]/.test(s) && !s.startsWith('-') && !s.endsWith('-') && !s.includes('--');
}

/** A pod's `ports:` list, each entry checked; `where` names the pod ("node n1 pods[0]"). */
export function parseContainerPorts(raw: unknown, where: string, problems: string[]): ContainerPort[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) { problems.push(`${where}.ports: expected a list like [{ name: http, containerPort: 8080 }]`); return []; }
  const out: ContainerPort[] = [];
  const names = new Map<string, number>();
  raw.forEach((p, j) => {
    const f = `${where}.ports[${j}]`;
    if (!isObject(p)) { problems.push(`${f}: expected a mapping like { name: http, containerPort: 8080 }`); return; }
    unknownKeys(p, CONTAINER_PORT_KEYS, `${f}.`, problems);
    const before = problems.length;
    const port = p.containerPort;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push(`${f}.containerPort: ${port === undefined ? 'required' : `${JSON.stringify(port)} is not an integer in [1, 65535]`}`);
    }
    const protocol = p.protocol ?? 'TCP';
    if (typeof protocol !== 'string' || !CONTAINER_PROTOCOLS.includes(protocol)) {
      problems.push(`${f}.protocol: unknown protocol ${JSON.stringify(protocol)} (expected one of ${CONTAINER_PROTOCOLS.join(', ')})`);
    }
    if (p.name !== undefined) {
      if (typeof p.name !== 'string' || !isIanaSvcName(p.name)) {
        problems.push(`${f}.name: ${JSON.stringify(p.name)} is not a valid port name (IANA_SVC_NAME: 1-15 lowercase letters, digits and "-", at least one letter, no "-" at either end or twice in a row)`);
      } else if (names.has(p.name)) {
        problems.push(`${f}.name: "${p.name}" is already the name of ports[${names.get(p.name)}]`);
      } else names.set(p.name, j);
    }
    if (problems.length === before) out.push({ ...(p.name !== undefined ? { name: p.name as string } : {}), containerPort: port as number, protocol: protocol as ContainerPort['protocol'] });
  });
  return out;
}

/** The key an endpoint's resolved named ports are kept under: "http/TCP". */
export function namedPortKey(name: string, protocol: string): string {
  return `${name}/${protocol}`;
}

/**
 * For a pod chosen as an endpoint: the container port of each named
 * targetPort the Service uses that the pod has, keyed by namedPortKey;
 * undefined when the Service names none.
 */
export function resolveNamedPorts(servicePorts: { targetPort: number | string; protocol: string }[], podPorts: ContainerPort[] | undefined): Record<string, number> | undefined {
  let out: Record<string, number> | undefined;
  for (const sp of servicePorts) {
    if (typeof sp.targetPort !== 'string') continue;
    out ??= {};
    const cp = podPorts?.find((c) => c.name === sp.targetPort && c.protocol === sp.protocol);
    if (cp) out[namedPortKey(sp.targetPort, sp.protocol)] = cp.containerPort;
  }
  return out;
}

/** Where a Service port sends an endpoint's traffic: the targetPort number, or the endpoint's port of that name (undefined: not an endpoint for this port). */
export function endpointTargetPort(sp: { targetPort: number | string; protocol: string }, e: { targetPorts?: Record<string, number> }): number | undefined {
  return typeof sp.targetPort === 'number' ? sp.targetPort : e.targetPorts?.[namedPortKey(sp.targetPort, sp.protocol)];
}
