// bench overlay's case names, apart from the runner so the CLI can check
// --cases before it loads anything that touches the host.
export const PATHS = ['same-node', 'host-gw', 'vxlan', 'ipip', 'clusterip', 'cross-host'] as const;
export type PathName = (typeof PATHS)[number];

/** Cases that are not one path podwire-vs-kernel: mixed = podwire on a real bridge underlay beside kernel nodes (overlay-mixed.ts). */
export const EXTRA_CASES = ['mixed'] as const;
export type ExtraCase = (typeof EXTRA_CASES)[number];
const KNOWN: readonly string[] = [...PATHS, ...EXTRA_CASES];

/** `--cases a,b,c` -> paths, in the order given; unknown names are an error naming the known ones. */
export function parseCases(list: string): PathName[] {
  return parseAllCases(list).paths;
}

/** `--cases` split into the podwire-vs-kernel paths and the extra cases (mixed). */
export function parseAllCases(list: string): { paths: PathName[]; extra: ExtraCase[] } {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !KNOWN.includes(n));
  if (bad.length) throw new Error(`unknown case${bad.length > 1 ? 's' : ''} ${bad.map((b) => `"${b}"`).join(', ')} (expected some of ${KNOWN.join(', ')})`);
  if (names.length === 0) throw new Error(`--cases: no case given (expected some of ${KNOWN.join(', ')})`);
  const unique = [...new Set(names)];
  return {
    paths: unique.filter((n): n is PathName => (PATHS as readonly string[]).includes(n)),
    extra: unique.filter((n): n is ExtraCase => (EXTRA_CASES as readonly string[]).includes(n)),
  };
}
