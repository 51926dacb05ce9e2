// What `podwire --help` loads: the modules src/cli/main.ts reaches through
// static imports (type-only and dynamic `import()` excluded: they cost nothing
// at start-up). Commands load the model, the lab and native bindings inside
// their actions; one static import of the wrong file (a formatter living
// beside the lab code, say) pulls all of it into every start, which is how
// --help went from 0.17 s back to 0.3 s once. The list is of modules, not
// timings: a failure names the chain that reached the module.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
/** Heavy at start-up: native bindings, parsers, clients, the model and the lab. */
const NOT_AT_START = ['koffi', 'ip-num', 'yaml', 'etcd3', 'dns-packet', 'node:http', 'node:crypto',
  'src/model/topology.ts', 'src/lab/lab.ts', 'src/lab/daemon.ts', 'src/dataplane/engine-host.ts'];

/** Static value imports of a file: relative ones resolved to repo paths, packages by name. */
function staticImports(file: string): string[] {
  const code = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s+(type\s)?[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (let m; (m = re.exec(code)); ) {
    if (m[1]) continue; // import type: erased
    const spec = m[2] ?? m[3];
    out.push(spec.startsWith('.') ? join(dirname(file), spec) : spec);
  }
  return out;
}

describe('podwire start-up', () => {
  it('src/cli/main.ts reaches no heavy module through static imports', () => {
    const via = new Map<string, string>([['src/cli/main.ts', '']]);
    const queue = ['src/cli/main.ts'];
    while (queue.length) {
      const f = queue.shift()!;
      for (const dep of staticImports(f)) {
        if (via.has(dep)) continue;
        via.set(dep, f);
        if (dep.startsWith('src/') || dep.startsWith('bench/')) queue.push(dep);
      }
    }
    const chain = (m: string) => { const c = [m]; while (via.get(c[0])) c.unshift(via.get(c[0])!); return c.join(' -> '); };
    expect(NOT_AT_START.filter((m) => via.has(m)).map(chain)).toEqual([]);
    expect(via.size).toBeGreaterThan(10); // the walk did follow the commands
  });
});
