// Import structure of the hot path (assembly/), read from its import
// statements: the strongly connected components of the file graph (files that
// reach each other through imports) must be at most one, and none may join
// two stages. Stages hand frames on by returning a verdict or next step that
// the caller dispatches; they do not call back up the pipeline.
// Run: npx vitest run test/arch/assembly.test.ts
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';
import { importsOf } from './imports.ts';

const ROOT = resolve(__dirname, '../..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files('assembly')) {
    const deps = importsOf(readFileSync(join(ROOT, f), 'utf8'))
      .map((i) => relative(ROOT, resolve(ROOT, dirname(f), i.spec)) + '.ts')
      .filter((d) => d.startsWith('assembly/'));
    g.set(f, deps);
  }
  return g;
}

/** Tarjan's strongly connected components with more than one file, each sorted. */
export function components(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

const show = (sccs: string[][]) => sccs.map((s) => `{ ${s.join(', ')} }`).join('\n');

describe('assembly/ imports', () => {
  it('the SCC finder sees a cycle and ignores a chain', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(components(g)).toEqual([['a', 'b', 'c']]);
    expect(components(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('every import resolves to a file', () => {
    const g = graph();
    const missing = [...g].flatMap(([f, deps]) => deps.filter((d) => !g.has(d)).map((d) => `${f} -> ${d}`));
    expect(missing).toEqual([]);
  });

  it('at most one import cycle, and none between stages', () => {
    const sccs = components(graph());
    const msg = `import cycles in assembly/ (strongly connected components):\n${show(sccs)}`;
    expect(sccs.length, msg).toBeLessThanOrEqual(1);
    const amongStages = sccs.filter((s) => s.filter((f) => f.startsWith('assembly/stages/')).length > 1);
    expect(amongStages, msg).toEqual([]);
  });
});
