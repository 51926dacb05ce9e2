// The labs bench scale brings up: N pods spread evenly over M podwire nodes
// (VXLAN, in-process underlay, cluster DNS on), pods named sc-<i> (network
// namespaces pw-sc-<i>), so the generator is also the way to get such a
// topology file by hand (docs/topology.md describes the format).

export interface ScaleLabSize { pods: number; nodes: number }

/** Pods per node at most: a node's pod CIDR is a /24 (gateway, DNS pod and room left). */
export const MAX_PODS_PER_NODE = 200;

/** Why a size cannot be benched, or undefined when it can. */
export function scaleSizeProblem(s: ScaleLabSize): string | undefined {
  if (!Number.isInteger(s.pods) || !Number.isInteger(s.nodes)) return `${s.pods} pods on ${s.nodes} nodes: whole numbers expected`;
  if (s.nodes < 2) return `${s.pods} pods on ${s.nodes} node(s): at least 2 nodes (the probes cross nodes)`;
  if (s.nodes > 250) return `${s.pods} pods on ${s.nodes} nodes: at most 250 nodes (a /24 underlay)`;
  if (s.pods < s.nodes) return `${s.pods} pods on ${s.nodes} nodes: at least one pod per node`;
  if (Math.ceil(s.pods / s.nodes) > MAX_PODS_PER_NODE) return `${s.pods} pods on ${s.nodes} nodes: at most ${MAX_PODS_PER_NODE} pods per node`;
  return undefined;
}

/**
 * `--pods 3,100,1000 --nodes 2,10,50`: the sizes, pairwise; one --nodes
 * value applies to every --pods value. Throws naming the flag and the value.
 */
export function parseScaleSizes(pods: string, nodes: string): ScaleLabSize[] {
  const list = (v: string, flag: string) => v.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected whole numbers >= 1, got "${x}"`);
    return n;
  });
  const p = list(pods, '--pods');
  const n = list(nodes, '--nodes');
  if (p.length === 0) throw new Error('--pods: give at least one lab size');
  if (n.length !== 1 && n.length !== p.length) throw new Error(`--nodes: give one value or one per --pods value (${p.length}), got ${n.length}`);
  const sizes = p.map((pods, i) => ({ pods, nodes: n.length === 1 ? n[0] : n[i] }));
  for (const s of sizes) {
    const why = scaleSizeProblem(s);
    if (why) throw new Error(`--pods/--nodes: ${why}`);
  }
  return sizes;
}

/** The pod names of node `i` (0-based) of a lab of this size: contiguous runs, the first nodes one longer when it does not divide. */
export function scalePodsOfNode(s: ScaleLabSize, i: number): string[] {
  const base = Math.floor(s.pods / s.nodes);
  const extra = s.pods % s.nodes;
  const from = i * base + Math.min(i, extra);
  const count = base + (i < extra ? 1 : 0);
  return Array.from({ length: count }, (_, k) => `sc-${from + k}`);
}

/** The topology file (YAML) of a lab of this size. */
export function scaleTopology(s: ScaleLabSize, name: string): string {
  const why = scaleSizeProblem(s);
  if (why) throw new Error(why);
  const lines = ['cluster:', `  name: ${name}`, '  clusterCIDR: 10.250.0.0/16', '  underlayCIDR: 172.31.250.0/24', '  overlay: vxlan', 'nodes:'];
  for (let i = 0; i < s.nodes; i++) {
    lines.push(`  - name: n${i + 1}`, `    pods: [${scalePodsOfNode(s, i).join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}
