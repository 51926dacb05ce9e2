// `links:` in the topology: impairment of a node-to-node link,
//   links: [{ between: [n1, n2], netem: { delay: 20ms, loss: 1% } }]
// Read and checked here so a file that asks for it gets a clear answer; it is
// refused for now (checkLinks): podwire nodes hand underlay frames to each
// other in memory, and the impairment exists on pods' links only
// (pods[].netem, netem.ts).
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

/** The links against the nodes; every impaired link is refused, saying what is supported instead. */
export function checkLinks(links: LinkInput[], nodes: string[], problems: string[]): void {
  for (const l of links) {
    for (const n of l.between) if (!nodes.includes(n)) problems.push(`${l.where}.between: no node "${n}" (nodes: ${nodes.join(', ')})`);
    if (l.between[0] === l.between[1]) problems.push(`${l.where}.between: a link joins two different nodes, not ${l.between[0]} to itself`);
    if (l.netem) {
      problems.push(`${l.where}.netem: impairing a node-to-node link is not supported yet (the nodes' underlay frames are handed over in memory, `
        + 'and this project does not impair them); impair the pods\' links instead: pods[].netem in the topology, or `podwire netem set POD`');
    }
  }
}
