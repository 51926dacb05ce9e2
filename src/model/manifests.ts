// Kubernetes manifests (multi-document YAML) read into the model's
// ServiceSpec, for `podwire apply`: v1 Services, and
// discovery.k8s.io/v1 EndpointSlices giving a selector-less Service its
// endpoints; networking.k8s.io/v1 Ingresses and IngressClasses and
// kubernetes.io/tls Secrets are read by ingress.ts; networking.k8s.io/v1
// NetworkPolicies by network-policy.ts. Pure parsing and
// validation: nothing is applied.
import { parseAllDocuments } from 'yaml';
import { TopologyError } from './topology.ts';
import { readServiceSpec, isServiceName, isNamespace, isObject, type ServiceSpec, type EndpointSpec, PROTOCOLS, type Protocol } from './services.ts';
import { isIpv4 } from './addr.ts';
import { readNetworkPolicySpec, type NetworkPolicySpec } from './network-policy.ts';
import { readIngressSpec, readIngressClass, readTlsSecret, type IngressSpec, type IngressClassSpec, type TlsSecret, type Located } from './ingress.ts';

export const SUPPORTED_KINDS: Record<string, string> = {
  Service: 'v1', EndpointSlice: 'discovery.k8s.io/v1',
  Ingress: 'networking.k8s.io/v1', IngressClass: 'networking.k8s.io/v1', Secret: 'v1',
  NetworkPolicy: 'networking.k8s.io/v1',
};
/** The label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const OBJECT_KEYS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
const SLICE_KEYS = ['apiVersion', 'kind', 'metadata', 'addressType', 'endpoints', 'ports'];
const SECRET_KEYS = ['apiVersion', 'kind', 'metadata', 'type', 'data', 'stringData', 'immutable'];
const KIND_KEYS: Record<string, string[]> = { Service: OBJECT_KEYS, EndpointSlice: SLICE_KEYS, Ingress: OBJECT_KEYS, IngressClass: OBJECT_KEYS, Secret: SECRET_KEYS, NetworkPolicy: OBJECT_KEYS };
const ENDPOINT_KEYS = ['addresses', 'conditions', 'nodeName', 'targetRef', 'hostname', 'zone'];
const CONDITION_KEYS = ['ready', 'serving', 'terminating'];
const SLICE_PORT_KEYS = ['name', 'port', 'protocol', 'appProtocol'];

export interface Manifests {
  /** in document order; endpoints from EndpointSlices attached, targetPorts set from the slices' ports */
  services: ServiceSpec[];
  /** where each of `services` came from, as messages name it: "document 2 (Service api)" */
  origins: string[];
  /** Ingress documents, each with its origin ("document 3 (Ingress shop)") */
  ingresses: Located<IngressSpec>[];
  ingressClasses: IngressClassSpec[];
  /** kubernetes.io/tls Secrets, PEM checked */
  secrets: TlsSecret[];
  /** NetworkPolicy documents, each with its origin */
  networkPolicies: Located<NetworkPolicySpec>[];
}

/**
 * Parse a multi-document YAML of Services and EndpointSlices. Throws a
 * TopologyError listing every problem, each naming its document (1-based)
 * by index, kind and name.
 */
/** A parsed document as parseManifests reads it (yaml's Document, or a JSON object wrapped by `podwire apply`). */
export interface ManifestDoc { errors: { message: string }[]; toJS(): unknown }

export function parseManifests(text: string | ManifestDoc[], source = 'manifests'): Manifests {
  const problems: string[] = [];
  const services: ServiceSpec[] = [];
  const origins: string[] = [];
  const ingresses: Located<IngressSpec>[] = [];
  const ingressClasses: IngressClassSpec[] = [];
  const secrets: TlsSecret[] = [];
  const networkPolicies: Located<NetworkPolicySpec>[] = [];
  type Slice = { label: string; service: string; namespace: string; endpoints: EndpointSpec[]; ports: { name: string; port: number; protocol: Protocol }[] };
  const slices: Slice[] = [];

  const docs: ManifestDoc[] = typeof text === 'string' ? parseAllDocuments(text) : text; // already parsed: `podwire apply` looks first
  docs.forEach((doc, i) => {
    const n = `document ${i + 1}`;
    if (doc.errors.length) { problems.push(`${n}: not valid YAML: ${doc.errors[0].message}`); return; }
    const obj: unknown = doc.toJS();
    if (obj === null || obj === undefined) return; // an empty document (a stray ---)
    if (!isObject(obj)) { problems.push(`${n}: expected a Kubernetes object (a mapping with apiVersion, kind, metadata)`); return; }
    const kind = obj.kind;
    if (typeof kind !== 'string') { problems.push(`${n}: kind: required (podwire reads ${Object.keys(SUPPORTED_KINDS).join(', ')})`); return; }
    const meta = isObject(obj.metadata) ? obj.metadata : {};
    const rawName = meta.name;
    const label = `${n} (${kind}${typeof rawName === 'string' ? ` ${rawName}` : ''}): `;
    if (!(kind in SUPPORTED_KINDS)) { problems.push(`${label}kind ${kind} is not supported (podwire reads ${Object.keys(SUPPORTED_KINDS).join(', ')})`); return; }
    const before = problems.length;
    const p = (field: string, msg: string) => problems.push(`${label}${field}: ${msg}`);
    if (obj.apiVersion !== SUPPORTED_KINDS[kind]) p('apiVersion', `${JSON.stringify(obj.apiVersion)} is not ${SUPPORTED_KINDS[kind]} (a ${kind} is apiVersion ${SUPPORTED_KINDS[kind]})`);
    for (const k of Object.keys(obj)) if (!KIND_KEYS[kind].includes(k)) p(k, `unknown key (known: ${KIND_KEYS[kind].join(', ')})`);
    if (!isObject(obj.metadata)) p('metadata', 'expected a mapping with name');
    else if (typeof rawName !== 'string' || (kind === 'Service' ? !isServiceName(rawName) : !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(rawName))) {
      p('metadata.name', rawName === undefined ? 'required' : `${JSON.stringify(rawName)} is not a valid ${kind} name`);
    }
    const namespace = meta.namespace === undefined ? 'default' : meta.namespace;
    if (typeof namespace !== 'string' || !isNamespace(namespace)) p('metadata.namespace', `${JSON.stringify(namespace)} is not a valid namespace`);

    if (kind === 'Service') {
      if (!isObject(obj.spec)) { p('spec', 'expected a mapping with ports'); return; }
      const spec = readServiceSpec(obj.spec, label, 'spec.', problems);
      if (spec && problems.length === before) {
        services.push({ name: rawName as string, namespace: namespace as string, ...spec });
        origins.push(label.slice(0, -2));
      }
      return;
    }
    if (kind === 'NetworkPolicy') {
      const spec = readNetworkPolicySpec(obj.spec, `${label}spec`, problems);
      if (spec && problems.length === before) networkPolicies.push({ value: { name: rawName as string, namespace: namespace as string, ...spec }, origin: label.slice(0, -2), root: 'spec.' });
      return;
    }
    if (kind === 'Ingress') {
      if (!isObject(obj.spec)) { p('spec', 'expected a mapping with rules or defaultBackend'); return; }
      const spec = readIngressSpec(obj.spec, label, 'spec.', problems);
      if (spec && problems.length === before) ingresses.push({ value: { name: rawName as string, namespace: namespace as string, ...spec }, origin: label.slice(0, -2), root: 'spec.' });
      return;
    }
    if (kind === 'IngressClass') {
      const c = problems.length === before ? readIngressClass(obj, rawName as string, label, problems) : undefined;
      if (c) ingressClasses.push(c);
      return;
    }
    if (kind === 'Secret') {
      const s = problems.length === before ? readTlsSecret(obj, rawName as string, namespace as string, label, problems) : undefined;
      if (s) secrets.push(s);
      return;
    }

    // EndpointSlice
    const labels = isObject(meta.labels) ? meta.labels : {};
    const service = labels[SERVICE_NAME_LABEL];
    if (typeof service !== 'string') p(`metadata.labels.${SERVICE_NAME_LABEL}`, 'required: the name of the Service this slice belongs to');
    if (obj.addressType !== 'IPv4') p('addressType', `${JSON.stringify(obj.addressType)}: podwire models IPv4 only (addressType: IPv4)`);
    const endpoints: EndpointSpec[] = [];
    if (!Array.isArray(obj.endpoints)) p('endpoints', 'expected a list');
    else obj.endpoints.forEach((e, j) => {
      const f = `endpoints[${j}]`;
      if (!isObject(e)) { p(f, 'expected a mapping with addresses'); return; }
      for (const k of Object.keys(e)) if (!ENDPOINT_KEYS.includes(k)) p(`${f}.${k}`, `unknown key (known: ${ENDPOINT_KEYS.join(', ')})`);
      if (!Array.isArray(e.addresses) || e.addresses.length !== 1) { p(`${f}.addresses`, 'expected a list of one IPv4 address'); return; }
      const ip = e.addresses[0];
      if (typeof ip !== 'string' || !isIpv4(ip)) { p(`${f}.addresses[0]`, `${JSON.stringify(ip)} is not an IPv4 address`); return; }
      let ready = true; // Kubernetes: an unset ready condition means ready
      if (e.conditions !== undefined) {
        if (!isObject(e.conditions)) p(`${f}.conditions`, 'expected a mapping like { ready: true }');
        else {
          for (const k of Object.keys(e.conditions)) if (!CONDITION_KEYS.includes(k)) p(`${f}.conditions.${k}`, `unknown key (known: ${CONDITION_KEYS.join(', ')})`);
          for (const k of CONDITION_KEYS) if (e.conditions[k] !== undefined && typeof e.conditions[k] !== 'boolean') p(`${f}.conditions.${k}`, 'expected true or false');
          if (e.conditions.ready === false) ready = false;
        }
      }
      const ep: EndpointSpec = { ip, ready };
      if (e.nodeName !== undefined) {
        if (typeof e.nodeName !== 'string') p(`${f}.nodeName`, 'expected a node name');
        else ep.node = e.nodeName;
      }
      if (e.targetRef !== undefined) {
        const t = e.targetRef;
        if (!isObject(t) || (t.kind !== undefined && t.kind !== 'Pod') || typeof t.name !== 'string') p(`${f}.targetRef`, 'expected { kind: Pod, name: POD }');
        else if (t.namespace !== undefined && (typeof t.namespace !== 'string' || !isNamespace(t.namespace))) p(`${f}.targetRef.namespace`, `${JSON.stringify(t.namespace)} is not a valid namespace`);
        else {
          ep.pod = t.name;
          if (t.namespace !== undefined) ep.podNamespace = t.namespace as string;
        }
      }
      if (e.hostname !== undefined) {
        // the cluster DNS name of a headless Service's endpoint: <hostname>.<service>.<ns>.svc (a DNS-1123 label)
        if (typeof e.hostname !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(e.hostname) || e.hostname.length > 63) p(`${f}.hostname`, `${JSON.stringify(e.hostname)} is not a DNS-1123 label`);
        else ep.hostname = e.hostname;
      }
      endpoints.push(ep);
    });
    const ports: Slice['ports'] = [];
    if (obj.ports !== undefined) {
      if (!Array.isArray(obj.ports)) p('ports', 'expected a list');
      else obj.ports.forEach((pt, j) => {
        const f = `ports[${j}]`;
        if (!isObject(pt)) { p(f, 'expected a mapping like { name: http, port: 8080 }'); return; }
        for (const k of Object.keys(pt)) if (!SLICE_PORT_KEYS.includes(k)) p(`${f}.${k}`, `unknown key (known: ${SLICE_PORT_KEYS.join(', ')})`);
        if (typeof pt.port !== 'number' || !Number.isInteger(pt.port) || pt.port < 1 || pt.port > 65535) { p(`${f}.port`, `${JSON.stringify(pt.port)} is not an integer in [1, 65535]`); return; }
        const protocol = pt.protocol ?? 'TCP';
        if (!PROTOCOLS.includes(protocol as Protocol)) { p(`${f}.protocol`, `unknown protocol ${JSON.stringify(protocol)} (expected one of ${PROTOCOLS.join(', ')})`); return; }
        if (pt.name !== undefined && typeof pt.name !== 'string') { p(`${f}.name`, 'expected a port name'); return; }
        ports.push({ name: (pt.name as string | undefined) ?? '', port: pt.port, protocol: protocol as Protocol });
      });
    }
    if (problems.length === before) slices.push({ label, service: service as string, namespace: namespace as string, endpoints, ports });
  });

  // link each slice to its Service: endpoints appended, the slice's port numbers become the targetPorts
  const sliced = new Set<object>();
  // by namespace/name, first of a name (a duplicate is reported by allocation): thousands of slices each find theirs at once
  const byName = new Map<string, (typeof services)[number]>();
  for (const v of services) if (!byName.has(`${v.namespace}/${v.name}`)) byName.set(`${v.namespace}/${v.name}`, v);
  for (const s of slices) {
    const svc = byName.get(`${s.namespace}/${s.service}`);
    const field = `metadata.labels.${SERVICE_NAME_LABEL}`;
    if (!svc) { problems.push(`${s.label}${field}: no Service "${s.service}" in namespace ${s.namespace} among the documents`); continue; }
    if (svc.selector && Object.keys(svc.selector).length) {
      problems.push(`${s.label}${field}: Service ${s.service} has a selector, so its endpoints come from its pods: an EndpointSlice is for a Service without one`);
      continue;
    }
    let ok = true;
    s.ports.forEach((pt, j) => {
      const sp = svc.ports.find((x) => (x.name ?? '') === pt.name && x.protocol === pt.protocol);
      if (!sp) { problems.push(`${s.label}ports[${j}]: Service ${s.service} has no ${pt.protocol} port named "${pt.name}"`); ok = false; return; }
      if (sliced.has(sp) && sp.targetPort !== pt.port) {
        problems.push(`${s.label}ports[${j}]: port ${pt.port} disagrees with another EndpointSlice of Service ${s.service}, which gives ${sp.targetPort}`);
        ok = false;
        return;
      }
      sp.targetPort = pt.port;
      sliced.add(sp);
    });
    if (ok) svc.endpoints = [...(svc.endpoints ?? []), ...s.endpoints];
  }
  if (problems.length) throw new TopologyError(problems, source);
  return { services, origins, ingresses, ingressClasses, secrets, networkPolicies };
}

