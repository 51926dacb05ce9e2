// The drop reasons are one list: `enum Drop` in assembly/counters.ts. Their
// names (what the control plane prints and exports as metrics) are the enum
// members in lower case, written here into assembly/drop_names.ts before asc
// runs (npm run build), as VPP derives its error strings from one .def list.
// The generated file is not committed; test/dataplane/drops.test.ts checks the
// built module's names against the enum.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const ASSEMBLY = join(dirname(fileURLToPath(import.meta.url)), '..', 'assembly');

/** The members of `export const enum Drop` before COUNT, in order; throws naming the file and what is wrong. */
export function dropMembers(source) {
  const start = source.indexOf('export const enum Drop {');
  if (start < 0) throw new Error('assembly/counters.ts: no `export const enum Drop {`');
  const end = source.indexOf('\n  COUNT,', start);
  if (end < 0) throw new Error('assembly/counters.ts: enum Drop has no COUNT member');
  const body = source.slice(start, end).split('\n').slice(1).map((l) => l.replace(/\/\/.*$/, '').trim()).filter(Boolean);
  return body.map((l, i) => {
    const m = /^([A-Z][A-Z0-9_]*)\s*(=\s*(\d+))?\s*,$/.exec(l);
    if (!m) throw new Error(`assembly/counters.ts: enum Drop member ${i}: "${l}" is not NAME, (one a line)`);
    if (m[3] !== undefined && Number(m[3]) !== i) throw new Error(`assembly/counters.ts: enum Drop ${m[1]} = ${m[3]}: members are numbered in order from 0`);
    return m[1];
  });
}

export function dropNamesSource(members) {
  return '// Generated from `enum Drop` in counters.ts by scripts/drop-names.mjs (npm run build):\n'
    + '// do not edit, not committed. Each name is its member in lower case.\n'
    + 'export const DROP_NAMES: StaticArray<string> = [\n'
    + members.map((m) => `  "${m.toLowerCase()}",\n`).join('')
    + '];\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = join(ASSEMBLY, 'drop_names.ts');
  const text = dropNamesSource(dropMembers(readFileSync(join(ASSEMBLY, 'counters.ts'), 'utf8')));
  // rewritten only when it changes, so asc and editors see no churn
  if (!existsSync(out) || readFileSync(out, 'utf8') !== text) writeFileSync(out, text);
}
