// `links:` in the topology: impairment of a node-to-node link,
//   links: [{ between: [n1, n2], netem: { delay: 20ms, loss: 1% } }]
// Both directions of the link are impaired, in the forwarding worker, where
// one podwire node hands its underlay frames to the other in memory (the
// in-process underlay; dataplane/impairment.ts). Links through the bridge
// underlay, kernel nodes or across hosts are refused, saying why.
import { isObject, unknownKeys } from './fields.ts';
import { parseNetem, type NetemSpec } from './netem.ts';

const LINK_KEYS = ['between', 'netem'];

export interface LinkInput {
  between: [string, string];
  netem?: NetemSpec;
  /** links[i], for messages */
  where: string;
}

export function parseLinkList(raw: unknown, problems: string[]): LinkInput[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) { problems.push('links: expected a list like [{ between: [n1, n2], netem: { delay: 20ms } }]'); return []; }
  return raw.flatMap((l, i): LinkInput[] => {
    const where = `links[${i}]`;
    if (!isObject(l)) { problems.push(`${where}: expected a mapping with "between" and "netem"`); return []; }
    unknownKeys(l, LINK_KEYS, `${where}.`, problems);
    const b = l.between;
    if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'string')) {
      problems.push(`${where}.between: expected two node names, e.g. [n1, n2]`);
      return [];
    }
    const netem = parseNetem(l.netem, `${where}.netem`, problems);
    return [{ between: [b[0], b[1]], ...(netem ? { netem } : {}), where }];
  });
}

/**
 * The links against the nodes. An impaired link must join two podwire nodes
 * on the in-process underlay (`inProcess`: no bridge underlay, no external
 * hosts): that is where the data plane sees the frames they exchange.
 */
export function checkLinks(links: LinkInput[], nodes: { name: string; dataplane: string }[], inProcess: boolean, problems: string[]): void {
  const names = nodes.map((n) => n.name);
  const seen = new Set<string>();
  for (const l of links) {
    const known = l.between.filter((n) => names.includes(n));
    for (const n of l.between) if (!names.includes(n)) problems.push(`${l.where}.between: no node "${n}" (nodes: ${names.join(', ')})`);
    if (l.between[0] === l.between[1]) { problems.push(`${l.where}.between: a link joins two different nodes, not ${l.between[0]} to itself`); continue; }
    const key = [...l.between].sort().join(' ');
    if (seen.has(key)) problems.push(`${l.where}.between: the link between ${l.between.join(' and ')} is listed twice`);
    seen.add(key);
    if (!l.netem || known.length < 2) continue;
    for (const n of nodes) {
      if (l.between.includes(n.name) && n.dataplane === 'kernel') problems.push(`${l.where}.netem: node ${n.name} is a kernel node: only links between podwire nodes can be impaired (the data plane hands their frames over)`);
    }
    if (!inProcess) problems.push(`${l.where}.netem: impaired links need the in-process underlay (no cluster.underlay: bridge, no external hosts): there the data plane hands the nodes' frames over and can hold them`);
  }
}
