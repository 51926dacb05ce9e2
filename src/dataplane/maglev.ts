// The Maglev lookup table for one Service (Eisenbud et al., "Maglev: A Fast
// and Reliable Software Network Load Balancer", NSDI 2016, section 3.4): each
// backend has a preference list (a permutation of the M slots given by an
// offset and a skip from two hashes of its name); backends take turns
// claiming their next preferred free slot until the table is full. Every
// backend ends up with M/N slots give or take one, and a backend leaving
// moves its own slots and few others. The data plane (assembly/tables/
// maglev.ts) reads the table; this fills it.
import { createHash } from 'node:crypto';

/** Two 32-bit hashes of a backend's name (its "ip:port"): offset and skip seeds. */
function hashes(name: string): [number, number] {
  const d = createHash('sha256').update(name).digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

/**
 * The table of `m` slots (m prime) for backends named `names`, each slot the
 * index of a backend in `names`. Empty names: every slot 0 (unused: the data
 * plane sees no backends).
 */
export function maglevTable(names: readonly string[], m: number): Uint16Array {
  const table = new Uint16Array(m);
  const n = names.length;
  if (n === 0) return table;
  if (n > 0xffff) throw new Error(`maglev: ${n} backends, at most 65535`);
  const offset = new Array<number>(n);
  const skip = new Array<number>(n);
  names.forEach((name, i) => {
    const [h1, h2] = hashes(name);
    offset[i] = h1 % m;
    skip[i] = (h2 % (m - 1)) + 1;
  });
  const next = new Array<number>(n).fill(0);
  const taken = new Uint8Array(m);
  let filled = 0;
  while (true) {
    for (let i = 0; i < n; i++) {
      let c = (offset[i] + next[i] * skip[i]) % m;
      while (taken[c]) {
        next[i]++;
        c = (offset[i] + next[i] * skip[i]) % m;
      }
      taken[c] = 1;
      table[c] = i;
      next[i]++;
      if (++filled === m) return table;
    }
  }
}
