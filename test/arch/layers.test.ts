// Layering of the control plane, read from the import statements themselves
// (static `import ... from`, `export ... from` and dynamic `import()`).
// Layers, lowest first: a file may import its own layer or any lower one.
//   util → model → io → dataplane, dns, ingress, store → lab → cli, bench
// model is pure planning and sits at the bottom (io and dataplane already take
// their config types from it); bench and the shipped CLI share the top, but
// no cycle may run between them, neither between files nor between folders. Run: npx vitest run test/arch/layers.test.ts
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';
import { importsOf } from './imports.ts';

const ROOT = resolve(__dirname, '../..');
const RANK: Record<string, number> = { util: 0, model: 1, io: 2, dataplane: 3, dns: 3, ingress: 3, store: 3, lab: 4, cli: 5, cni: 5, bench: 5 };

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (/\.(ts|mjs)$/.test(name)) out.push(rel);
  }
  return out;
}

function layerOf(file: string): string | undefined {
  const parts = file.split('/');
  if (parts[0] === 'bench') return 'bench';
  if (parts[0] === 'src') return parts.length > 2 ? parts[1] : undefined;
  return undefined;
}

function graph(runtimeOnly: boolean): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of [...files('src'), ...files('bench')]) {
    const deps = importsOf(readFileSync(join(ROOT, f), 'utf8'))
      .filter((i) => !(runtimeOnly && i.typeOnly))
      .map((i) => relative(ROOT, resolve(ROOT, dirname(f), i.spec)))
      .filter((d) => d.startsWith('src/') || d.startsWith('bench/'));
    g.set(f, deps);
  }
  return g;
}

/** The same graph with each file replaced by its layer (src/<layer>/ or bench/). */
function folders(g: Map<string, string[]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [f, deps] of g) {
    const from = layerOf(f)!;
    const set = new Set(out.get(from) ?? []);
    for (const d of deps) { const to = layerOf(d); if (to && to !== from) set.add(to); }
    out.set(from, [...set].sort());
  }
  return out;
}

/** Every elementary cycle found by DFS (one per back edge), as a path a→b→…→a. */
function cycles(g: Map<string, string[]>): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1); stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 1) found.push([...stack.slice(stack.indexOf(d)), d].join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop(); state.set(n, 2);
  };
  for (const n of [...g.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

/** Files reachable from the shipped entries (src/cli/main.ts, the CNI plugin's src/cni/main.ts), following imports and `new URL('./x', import.meta.url)` (worker files). */
function shipped(g: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const todo = ['src/cli/main.ts', 'src/cni/main.ts'];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f) || !g.has(f)) continue;
    seen.add(f);
    todo.push(...g.get(f)!);
    const urls = readFileSync(join(ROOT, f), 'utf8').matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]+\.(?:ts|mjs))['"]/g);
    for (const m of urls) todo.push(relative(ROOT, resolve(ROOT, dirname(f), m[1])));
  }
  return seen;
}

describe('import layering (src/ and bench/)', () => {
  const g = graph(false);

  it('parses static, re-export and dynamic imports, ignoring comments', () => {
    expect(importsOf(`import { a } from './a.ts';\nexport { b } from "../b.ts";\n// import x from './no.ts'\nconst c = await import('./c.ts');\nimport './d.ts';\nimport type { E } from './e.ts';\nimport {\n  f,\n  type G,\n} from './f.ts';`))
      .toEqual([
        { spec: './a.ts', typeOnly: false }, { spec: '../b.ts', typeOnly: false }, { spec: './c.ts', typeOnly: false },
        { spec: './d.ts', typeOnly: false }, { spec: './e.ts', typeOnly: true }, { spec: './f.ts', typeOnly: false },
      ]);
    expect(g.size).toBeGreaterThan(50);
  });

  it('every file lives in a known layer', () => {
    const unknown = [...g.keys()].filter((f) => { const l = layerOf(f); return l === undefined || RANK[l] === undefined; });
    expect(unknown).toEqual([]);
  });

  it('no import points from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const [f, deps] of g) for (const d of deps) {
      const from = layerOf(f)!, to = layerOf(d);
      if (to !== undefined && RANK[to] > RANK[from]) upward.push(`${f} (${from}) imports ${d} (${to})`);
    }
    expect(upward).toEqual([]);
  });

  it('src/ holds only shipped code: every file is reachable from the CLI (test-only helpers live in test/support/)', () => {
    const reach = shipped(g);
    expect(reach.has('src/dataplane/engine.ts')).toBe(true); // the worker, loaded by URL
    expect([...g.keys()].filter((f) => f.startsWith('src/') && !reach.has(f))).toEqual([]);
  });

  it('the CLI parses and prints: the lab daemon (Lab.up, control socket, metrics) lives in src/lab/daemon.ts', () => {
    // (client commands may still stop themselves on Ctrl-C: signal handlers are not checked)
    const daemonish = /\bLab\.up\(|\bserveControl\(|\bserveMetrics\(/;
    const offenders = files('src/cli').filter((f) => daemonish.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('no import cycle among src/ and bench/ files (runtime imports)', () => {
    expect(cycles(graph(true))).toEqual([]);
  });

  it('no cycle between layers (folders), type imports included', () => {
    expect(cycles(folders(g))).toEqual([]);
  });
});
