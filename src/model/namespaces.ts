// Kubernetes namespaces in the model. Pods and Services live in one
// (`namespace:`, default `default`); the topology's `namespaces:` list gives
// them labels. A namespace a pod or Service names without it being listed
// exists anyway, with only the label Kubernetes always sets
// (kubernetes.io/metadata.name), as `default` and `kube-system` do: podwire
// has no admission step that could refuse it, and a lab file stays short.
// Also: the Linux network namespace each pod gets, named from both.
import { NS_PREFIX } from './topology-types.ts';
import { isObject, unknownKeys } from './fields.ts';

export const DEFAULT_NAMESPACE = 'default';
/** The label the API server sets on every namespace to its name (Kubernetes >= 1.21). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const NAMESPACE_KEYS = ['name', 'labels'];
// DNS-1123 label, at most 63
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface NamespacePlan {
  name: string;
  /** always holds kubernetes.io/metadata.name: name */
  labels: Record<string, string>;
  /** listed in the topology's namespaces:, or only named by a pod or Service */
  implicit?: boolean;
}

export function isNamespaceName(s: string): boolean {
  return NAMESPACE_RE.test(s) && s.length <= 63;
}

/**
 * The Linux network namespace of pod NAME in Kubernetes namespace NS:
 * pw-NAME in `default` (the names podwire has always used), else
 * pw-NAME_NS. Neither pod nor namespace names may hold "_" (DNS-1123
 * labels), nor the DNS pod's pw-dns.<lab>: no two pods share one. At most
 * 3 + 63 + 1 + 63 characters: a namespace is a file under /run/netns (255
 * allowed); no interface is named after it (TAPs are pw-<pid>-<i>, kernel
 * nodes' veths a hash of it), so the 15-character interface limit does not
 * apply.
 */
export function podNetns(name: string, namespace: string): string {
  return namespace === DEFAULT_NAMESPACE ? `${NS_PREFIX}${name}` : `${NS_PREFIX}${name}_${namespace}`;
}

/** The topology's `namespaces:` entries (a name, or { name, labels }), each checked. */
export function parseNamespaceList(raw: unknown, problems: string[]): NamespacePlan[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) { problems.push('namespaces: expected a list like [{ name: shop, labels: { team: shop } }]'); return []; }
  const out: NamespacePlan[] = [];
  const seen = new Map<string, number>();
  raw.forEach((entry, i) => {
    const where = `namespaces[${i}]`;
    const ns = typeof entry === 'string' ? { name: entry } : isObject(entry) ? entry : undefined;
    if (!ns) { problems.push(`${where}: expected a name or { name, labels }`); return; }
    if (isObject(entry)) unknownKeys(entry, NAMESPACE_KEYS, `${where}.`, problems);
    const name = ns.name;
    if (typeof name !== 'string' || !isNamespaceName(name)) {
      problems.push(`${where}.name: ${JSON.stringify(name)} is not a valid namespace name (lowercase letters, digits, "-", at most 63)`);
      return;
    }
    if (seen.has(name)) { problems.push(`${where}.name: namespace "${name}" is already namespaces[${seen.get(name)}]`); return; }
    seen.set(name, i);
    const labels: Record<string, string> = {};
    if (ns.labels !== undefined) {
      if (!isObject(ns.labels)) problems.push(`${where}.labels: expected a mapping of label names to strings, like { team: shop }`);
      else for (const [k, v] of Object.entries(ns.labels)) {
        if (typeof v !== 'string') problems.push(`${where}.labels.${k}: ${JSON.stringify(v)} is not a string (quote it)`);
        else labels[k] = v;
      }
    }
    if (labels[NAMESPACE_NAME_LABEL] !== undefined && labels[NAMESPACE_NAME_LABEL] !== name) {
      problems.push(`${where}.labels.${NAMESPACE_NAME_LABEL}: "${labels[NAMESPACE_NAME_LABEL]}" differs from the namespace's name (Kubernetes sets this label to the name)`);
    }
    out.push({ name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } });
  });
  return out;
}

/** The listed namespaces, then every other one `used` names (in order, `default` first), implicit. */
export function allNamespaces(listed: NamespacePlan[], used: string[]): NamespacePlan[] {
  const out = [...listed];
  const have = new Set(listed.map((n) => n.name));
  for (const name of [DEFAULT_NAMESPACE, ...used]) {
    if (have.has(name)) continue;
    have.add(name);
    out.push({ name, labels: { [NAMESPACE_NAME_LABEL]: name }, implicit: true });
  }
  return out;
}
