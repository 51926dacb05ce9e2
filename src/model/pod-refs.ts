// How a user names a pod on the command line (trace, capture, status):
// NAME (in namespace default), NAMESPACE/NAME, or NAME.NAMESPACE (the way
// Service names are already accepted). And how podwire names a pod back:
// NAME in default, NAMESPACE/NAME elsewhere, as kubectl prints it.
import { DEFAULT_NAMESPACE } from './namespaces.ts';

export interface PodRef { namespace: string; name: string }

/** "web" -> default/web; "shop/web" and "web.shop" -> shop/web. */
export function parsePodRef(ref: string): PodRef {
  const slash = ref.indexOf('/');
  if (slash >= 0) return { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
  const dot = ref.indexOf('.');
  if (dot >= 0) return { namespace: ref.slice(dot + 1), name: ref.slice(0, dot) };
  return { namespace: DEFAULT_NAMESPACE, name: ref };
}

/** "web" for default/web, "shop/web" otherwise. */
export function podLabel(p: { name: string; k8sNamespace?: string }): string {
  const ns = p.k8sNamespace ?? DEFAULT_NAMESPACE;
  return ns === DEFAULT_NAMESPACE ? p.name : `${ns}/${p.name}`;
}

/** The pod `ref` names among `pods`, or undefined. */
export function findPod<P extends { name: string; k8sNamespace?: string }>(pods: P[], ref: string): P | undefined {
  const r = parsePodRef(ref);
  return pods.find((p) => p.name === r.name && (p.k8sNamespace ?? DEFAULT_NAMESPACE) === r.namespace);
}
