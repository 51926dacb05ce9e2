// Each command's --help ends with where its documentation lives: the
// command's entry in docs/commands.md and the page of its subject. Plain
// data, no imports: the CLI's start stays cheap.
import type { Command } from 'commander';

/** The docs/ page of each top-level command's subject (paths from the package root). */
export const SUBJECT_PAGE: Record<string, string> = {
  up: 'docs/topology.md',
  down: 'docs/safety.md',
  status: 'docs/counters-and-metrics.md',
  bench: 'docs/benchmarks.md',
  apply: 'docs/services.md',
  delete: 'docs/services.md',
  conntrack: 'docs/services.md',
  trace: 'docs/tracing-and-capture.md',
  stats: 'docs/counters-and-metrics.md',
  fdb: 'docs/counters-and-metrics.md',
  routes: 'docs/counters-and-metrics.md',
  services: 'docs/counters-and-metrics.md',
  policies: 'docs/network-policy.md',
  capture: 'docs/tracing-and-capture.md',
  ingress: 'docs/ingress-and-load-balancers.md',
  ui: 'docs/impairment-and-pictures.md',
  netem: 'docs/impairment-and-pictures.md',
  graph: 'docs/impairment-and-pictures.md',
  cni: 'docs/cni.md',
  exec: 'docs/commands.md',
};

/** The anchor of a command's entry in docs/commands.md: its heading "podwire bench hotpath" as GitHub spells it. */
export function commandAnchor(path: string[]): string {
  return ['podwire', ...path].join('-');
}

/** Appends "docs: ..." to the help of every command and subcommand under program. */
export function addDocsLinks(program: Command, path: string[] = []): void {
  for (const cmd of program.commands) {
    const here = [...path, cmd.name()];
    const subject = SUBJECT_PAGE[here[0]];
    const entry = `docs/commands.md#${commandAnchor(here)}`;
    cmd.addHelpText('after', `\ndocs: ${entry}${subject && subject !== 'docs/commands.md' ? `, ${subject}` : ''}`);
    addDocsLinks(cmd, here);
  }
}
