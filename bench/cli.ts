// podwire bench cli: how long the CLI takes to answer, measured from outside
// (spawn to exit, wall clock): `--help`, `status` with no lab, and `status`,
// `status --json` with a lab of N pods (default 200) running. Each command is
// run by the compiled CLI (bin/podwire.js -> dist/) and, for comparison, the
// way the CLI started before it was compiled (`node --import tsx
// src/cli/main.ts`: TypeScript transpiled at every start), and beside them
// a bare `node -e 0` (the floor no Node.js CLI goes under). The variants run
// in turn, run by run, so a machine that slows down slows all of them alike.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from '../src/util/package-files.ts';
import { summarize, type Summary } from './stats.ts';

export interface CliBenchOptions { runs: number; pods: number }

export interface CliCase { command: string; lab: 'none' | 'running'; variant: string; ms: number[]; summary: Summary }

export interface CliBench { pods: number; runs: number; cases: CliCase[]; labUpMs: number }

const COMPILED = { name: 'compiled (bin/podwire.js)', argv: (args: string[]) => [packageFile('bin/podwire.js'), ...args] };
const TSX = { name: 'tsx (node --import tsx src/cli/main.ts)', argv: (args: string[]) => ['--import', 'tsx', packageFile('src/cli/main.ts'), ...args] };
/** tsx is a dev dependency: an install without it measures the compiled CLI alone. */
const VARIANTS = existsSync(packageFile('node_modules/tsx')) ? [COMPILED, TSX] : [COMPILED];
const FLOOR = 'node -e 0';

/** A topology of `pods` pods on two nodes (named bc-N: netns pw-bc-N). */
export function cliBenchTopology(pods: number): string {
  const half = Math.ceil(pods / 2);
  const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `bc-${from + i}`).join(', ');
  return ['cluster:', '  clusterCIDR: 10.249.0.0/16', '  underlayCIDR: 172.31.249.0/24', 'nodes:',
    '  - name: n1', `    pods: [${names(0, half)}]`, '  - name: n2', `    pods: [${names(half, pods)}]`, ''].join('\n');
}

function timeOnce(argv: string[], env: NodeJS.ProcessEnv, expectOk: boolean): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'], cwd: packageFile('.') });
  const ms = performance.now() - t0;
  if (expectOk && r.status !== 0) throw new Error(`node ${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

/** Every command `runs` times per variant, variants in turn; one warm-up run each first. */
function measure(commands: string[][], lab: CliCase['lab'], runs: number, env: NodeJS.ProcessEnv, log: (l: string) => void): CliCase[] {
  const cases: CliCase[] = [];
  for (const args of commands) {
    const ok = !(lab === 'none' && args[0] === 'status'); // status with no lab answers "no lab is running", exit 1
    const samples = new Map<string, number[]>([[FLOOR, []], ...VARIANTS.map((v) => [v.name, []] as [string, number[]])]);
    for (const v of VARIANTS) timeOnce(v.argv(args), env, ok);
    for (let i = 0; i < runs; i++) {
      samples.get(FLOOR)!.push(timeOnce(['-e', '0'], env, true));
      for (const v of VARIANTS) samples.get(v.name)!.push(timeOnce(v.argv(args), env, ok));
    }
    for (const [variant, ms] of samples) cases.push({ command: `podwire ${args.join(' ')}`, lab, variant, ms, summary: summarize(ms)! });
    log(`  ${args.join(' ')} (lab ${lab}): done`);
  }
  return cases;
}

export async function runCliBench(o: CliBenchOptions, log: (line: string) => void): Promise<CliBench> {
  if (!existsSync(packageFile('dist/src/cli/main.js'))) throw new Error('bench cli: the compiled CLI is missing: npm run build');
  // a state directory of our own: "no lab" means none, and the lab we start is the only one status sees
  const state = mkdtempSync(join(tmpdir(), 'pw-bench-cli-'));
  const env = { ...process.env, PODWIRE_STATE_DIR: join(state, 'state') };
  const podwire = (args: string[]) => spawnSync(process.execPath, [packageFile('bin/podwire.js'), ...args], { env, encoding: 'utf8' });
  try {
    log('without a lab:');
    const cases = measure([['--help'], ['status']], 'none', o.runs, env, log);
    const file = join(state, 'topology.yaml');
    writeFileSync(file, cliBenchTopology(o.pods));
    log(`starting a ${o.pods}-pod lab (podwire up -d) ...`);
    const t0 = performance.now();
    const up = podwire(['up', '-d', file, '--name', 'bench-cli']);
    const labUpMs = performance.now() - t0;
    if (up.status !== 0) throw new Error(`podwire up -d failed (exit ${up.status}):\n${up.stderr}${up.stdout}`);
    try {
      cases.push(...measure([['status'], ['status', '--json']], 'running', o.runs, env, log));
    } finally {
      const down = podwire(['down', '--name', 'bench-cli']);
      if (down.status !== 0) log(`podwire down --name bench-cli failed (exit ${down.status}): ${down.stderr}`);
    }
    return { pods: o.pods, runs: o.runs, cases, labUpMs };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
