// Who holds which ClusterIP and nodePort, as kube-apiserver's allocators
// keep it: explicit claims checked (inside the range, not reserved, not
// taken), the rest handed out in order. Also the stable allocation of
// `podwire apply`: what a Service already holds, it keeps. Pure.
import { nthAddress, type Cidr } from './cidr.ts';
import { ipv4ToInt, intToIpv4 } from './addr.ts';
import type { ServiceSpec, ServicePlan, Protocol } from './services.ts';

/** kube-apiserver's default --service-node-port-range */
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

/** Records a problem against a Service (and marks it bad). */
export type Flag = (s: ServiceSpec, msg: string) => void;
/** How messages name a Service ("service web", "service shop/web"). */
export type Label = (s: { name: string; namespace: string }) => string;

/** The allocation a spec keeps from its existing self: a ClusterIP, and nodePorts by port index. */
export interface Kept { clusterIP?: string; nodePorts: (number | undefined)[] }

export interface Inherited {
  /** the specs, each given what its existing self holds unless it asks for something else */
  specs: ServiceSpec[];
  kept: Map<ServiceSpec, Kept>;
  /** held by existing Services not among the specs: never handed out */
  reservedIp: Map<string, ServicePlan>;
  reservedPort: Map<number, ServicePlan>;
}

/**
 * Stable allocation: a spec naming an existing Service (same namespace and
 * name) keeps its ClusterIP and nodePorts (matched by port and protocol)
 * unless it gives others; what the other existing Services hold is reserved.
 */
export function inheritAllocations(specs: ServiceSpec[], existing: ServicePlan[]): Inherited {
  const key = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;
  const prior = new Map(existing.map((e) => [key(e), e]));
  const inSpecs = new Set(specs.map(key));
  const reservedIp = new Map<string, ServicePlan>();
  const reservedPort = new Map<number, ServicePlan>();
  for (const e of existing) {
    if (inSpecs.has(key(e))) continue;
    if (holdsAddress(e)) reservedIp.set(e.clusterIP, e);
    for (const pt of e.ports) if (pt.nodePort !== undefined) reservedPort.set(pt.nodePort, e);
  }
  const kept = new Map<ServiceSpec, Kept>();
  const out = specs.map((s) => {
    const e = prior.get(key(s));
    if (!e) return s;
    const clusterIP = s.clusterIP ?? (holdsAddress(e) && s.type !== 'ExternalName' ? e.clusterIP : undefined);
    const nodePorts = s.ports.map((pt) => {
      if (s.type === 'ClusterIP' || s.type === 'ExternalName') return undefined;
      const was = e.ports.find((q) => q.port === pt.port && q.protocol === pt.protocol)?.nodePort;
      return pt.nodePort === undefined || pt.nodePort === was ? was : undefined;
    });
    const spec: ServiceSpec = {
      ...s, clusterIP,
      ports: s.ports.map((pt, j) => (pt.nodePort === undefined && nodePorts[j] !== undefined ? { ...pt, nodePort: nodePorts[j] } : pt)),
    };
    kept.set(spec, { clusterIP: clusterIP === e.clusterIP ? clusterIP : undefined, nodePorts });
    return spec;
  });
  return { specs: out, kept, reservedIp, reservedPort };
}

/** Whether an existing Service holds an address of serviceCIDR (headless "None" and ExternalName "" hold none). */
function holdsAddress(e: ServicePlan): boolean {
  return e.clusterIP !== '' && e.clusterIP !== 'None';
}

/** ClusterIPs of serviceCIDR: explicit ones claimed first, the rest in address order (skipping network, DNS and broadcast addresses). */
export class ClusterIpAllocator {
  private readonly owner = new Map<string, ServiceSpec>();
  private readonly size: number;
  private readonly first: number;
  private nextOff = 1;

  constructor(private readonly cidr: Cidr, private readonly dnsIP: string | undefined, private readonly reserved: Map<string, ServicePlan>, private readonly label: Label) {
    this.size = 2 ** (32 - cidr.prefixLen);
    this.first = ipv4ToInt(nthAddress(cidr, 0));
  }

  /** An address a spec asks for; false (flagged) when it cannot have it. */
  claim(s: ServiceSpec, ip: string, flag: Flag): boolean {
    const holder = this.reserved.get(ip);
    if (holder) { flag(s, `clusterIP ${ip} is already the clusterIP of ${this.label(holder)}`); return false; }
    const off = ipv4ToInt(ip) - this.first;
    if (off < 0 || off >= this.size) { flag(s, `clusterIP ${ip} is outside cluster.serviceCIDR ${this.cidr.text}`); return false; }
    if (off === 0 || (off === this.size - 1 && this.size > 2)) { flag(s, `clusterIP ${ip} is the ${off === 0 ? 'network' : 'broadcast'} address of cluster.serviceCIDR ${this.cidr.text}`); return false; }
    if (ip === this.dnsIP) { flag(s, `clusterIP ${ip} is reserved for the cluster DNS Service`); return false; }
    const other = this.owner.get(ip);
    if (other) { flag(s, `clusterIP ${ip} is already the clusterIP of ${this.label(other)}`); return false; }
    this.owner.set(ip, s);
    return true;
  }

  /** The next free address, or undefined (flagged) when the range is full. */
  next(s: ServiceSpec, flag: Flag): string | undefined {
    // plain arithmetic: the CIDR library's calls cost microseconds each, which thousands of Services notice
    const nth = (off: number) => intToIpv4((this.first + off) >>> 0);
    while (this.nextOff < this.size - 1 && (nth(this.nextOff) === this.dnsIP || this.owner.has(nth(this.nextOff)) || this.reserved.has(nth(this.nextOff)))) this.nextOff++;
    if (this.nextOff >= this.size - 1) { flag(s, `cluster.serviceCIDR ${this.cidr.text} has no free address left`); return undefined; }
    const ip = nth(this.nextOff++);
    this.owner.set(ip, s);
    return ip;
  }
}

/** nodePorts: one Service per nodePort (it may reuse one across protocols, as Kubernetes allows); the rest from NODE_PORT_MIN up. */
export class NodePortAllocator {
  private readonly owner = new Map<number, { svc: ServiceSpec | ServicePlan; protocols: Set<Protocol> }>();
  private nextPort = NODE_PORT_MIN;

  constructor(reserved: Map<number, ServicePlan>, private readonly label: Label) {
    for (const [np, e] of reserved) this.owner.set(np, { svc: e, protocols: new Set(e.ports.filter((q) => q.nodePort === np).map((q) => q.protocol)) });
  }

  /** A nodePort ports[j] of `s` asks for (flagged when taken). */
  claim(s: ServiceSpec, j: number, nodePort: number, protocol: Protocol, flag: Flag): void {
    const o = this.owner.get(nodePort);
    if (o && o.svc !== s) flag(s, `ports[${j}].nodePort ${nodePort} is already used by ${this.label(o.svc)}`);
    else if (o && o.protocols.has(protocol)) flag(s, `ports[${j}].nodePort ${nodePort}/${protocol} is used twice`);
    else if (o) o.protocols.add(protocol);
    else this.owner.set(nodePort, { svc: s, protocols: new Set([protocol]) });
  }

  /** The next free nodePort, or undefined (flagged) when the range is used up. */
  next(s: ServiceSpec, protocol: Protocol, flag: Flag): number | undefined {
    while (this.nextPort <= NODE_PORT_MAX && this.owner.has(this.nextPort)) this.nextPort++;
    if (this.nextPort > NODE_PORT_MAX) { flag(s, `no free nodePort left in [${NODE_PORT_MIN}, ${NODE_PORT_MAX}]`); return undefined; }
    this.owner.set(this.nextPort, { svc: s, protocols: new Set([protocol]) });
    return this.nextPort;
  }
}
