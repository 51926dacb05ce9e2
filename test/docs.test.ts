// The docs a user finds: the README's first lines are still the two
// commands, every relative link of README.md and docs/ leads to a file, and
// every command's --help names its entry in docs/commands.md (which exists)
// and a docs/ page that exists. Needs the compiled CLI (npm run build).
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain .mjs script without types
import { commandPaths, help } from '../scripts/gen-command-docs.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => join('docs', f))];

describe('docs', () => {
  it('the README still opens with the two commands', () => {
    const lines = read('README.md').split('\n');
    expect(lines[3]).toMatch(/^npm install && sudo npx podwire up\s+#/);
    expect(lines[4]).toMatch(/^npm test\s+#/);
  });

  it('every relative link in README.md and docs/ leads to an existing file', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const m of read(page).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(m[1])) continue; // http:, mailto:
        if (!existsSync(join(ROOT, dirname(page), m[1]))) broken.push(`${page}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("every command's --help ends with its docs: entry in docs/commands.md and a page that exists", () => {
    const commands = read('docs/commands.md');
    const paths: string[][] = commandPaths();
    expect(paths.map((p) => p.join(' '))).toEqual(expect.arrayContaining(['up', 'trace', 'bench hotpath', 'netem set', 'exec']));
    for (const p of paths) {
      const last = help(p).trimEnd().split('\n').pop()!;
      const m = /^docs: docs\/commands\.md#(\S+?)(?:, (docs\/\S+\.md))?$/.exec(last);
      expect(m, `podwire ${p.join(' ')} --help: ${last}`).not.toBeNull();
      expect(m![1]).toBe(['podwire', ...p].join('-'));
      expect(commands, `docs/commands.md: no "### podwire ${p.join(' ')}" (run node scripts/gen-command-docs.mjs)`).toContain(`\n### podwire ${p.join(' ')}\n`);
      if (m![2]) expect(existsSync(join(ROOT, m![2])), m![2]).toBe(true);
    }
  }, 120_000);
});
