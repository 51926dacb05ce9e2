// bench overlay's case names, apart from the runner so the CLI can check
// --cases before it loads anything that touches the host.
export const PATHS = ['same-node', 'host-gw', 'vxlan', 'ipip', 'clusterip', 'cross-host'] as const;
export type PathName = (typeof PATHS)[number];

/** `--cases a,b,c` -> paths, in the order given; unknown names are an error naming the known ones. */
export function parseCases(list: string): PathName[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(PATHS as readonly string[]).includes(n));
  if (bad.length) throw new Error(`unknown case${bad.length > 1 ? 's' : ''} ${bad.map((b) => `"${b}"`).join(', ')} (expected some of ${PATHS.join(', ')})`);
  if (names.length === 0) throw new Error(`--cases: no case given (expected some of ${PATHS.join(', ')})`);
  return [...new Set(names)] as PathName[];
}
