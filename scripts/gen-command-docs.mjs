// Writes the "Every command and its flags" part of docs/commands.md from
// what the compiled CLI's --help prints (run `npm run build` first), so the
// reference cannot drift from the flags: `node scripts/gen-command-docs.mjs`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../', import.meta.url));
export const BEGIN = '<!-- gen-command-docs: begin (generated from --help by `node scripts/gen-command-docs.mjs`; do not edit by hand) -->';
export const END = '<!-- gen-command-docs: end -->';

/** What `podwire ...path --help` prints (80 columns: stdout is not a terminal). */
export function help(path) {
  return execFileSync(process.execPath, [join(root, 'bin', 'podwire.js'), ...path, '--help'], { encoding: 'utf8' });
}

/** The subcommand names listed under "Commands:" in a help text ("help" left out). */
export function subcommands(text) {
  const at = text.indexOf('\nCommands:\n');
  if (at < 0) return [];
  return text.slice(at + '\nCommands:\n'.length).split('\n')
    .filter((l) => /^  \S/.test(l)).map((l) => l.trim().split(/[\s|]+/)[0]) // "service|services": the name, not its alias
    .filter((n) => n !== 'help');
}

/** Every command path below the root, depth first, in the order --help lists them. */
export function commandPaths(path = []) {
  if (path.length > 3) throw new Error(`podwire ${path.join(' ')}: commands nested deeper than 3`);
  return subcommands(help(path)).flatMap((n) => [[...path, n], ...commandPaths([...path, n])]);
}

export function commandsMarkdown() {
  return commandPaths().map((p) => `### podwire ${p.join(' ')}\n\n\`\`\`text\n${help(p).trimEnd()}\n\`\`\``).join('\n\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = join(root, 'docs', 'commands.md');
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file}: no generated block (${BEGIN} ... ${END})`);
  writeFileSync(file, `${text.slice(0, a + BEGIN.length)}\n${commandsMarkdown()}\n${text.slice(b)}`);
  console.error(`wrote ${file}`);
}
