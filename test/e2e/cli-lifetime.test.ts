// End-to-end, as root: how long a lab lives (issue 18). A foreground
// `podwire up` ends its lab when the process that started it is killed —
// its direct parent, or a grandparent while the parent lives on (what
// `npx podwire up & kill $!` does: npm dies, the `sh -c` it ran stays);
// `podwire up -d` returns once the lab is ready (exit 0) or with the
// start-up error (exit 1), keeps running on its own, and `podwire down`
// stops it; two labs with different --name run side by side.
//
// A private state directory (set before the helpers read it): only this
// file's labs are ever seen or stopped.
import { describe, it, expect, afterAll, vi } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podwire, runProgram, isRoot, readStateFile, hostLeftovers, sleep, PODWIRE, REPO, type StatusJson } from '../helpers/lab.ts';

const STATE = vi.hoisted(() => {
  const dir = `/tmp/pw-cli-life-state-${process.pid}`;
  process.env.PODWIRE_STATE_DIR = dir;
  return dir;
});

if (!isRoot) console.warn('test/e2e/cli-lifetime.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const DIR = mkdtempSync(join(tmpdir(), 'pw-cli-life-'));
function topologyFile(name: string, pods: string[], cidr: string): string {
  const file = join(DIR, `${name}.yaml`);
  writeFileSync(file, ['cluster:', `  clusterCIDR: ${cidr}`, 'nodes:', '  - name: n1', `    pods: [${pods.join(', ')}]`, ''].join('\n'));
  return file;
}

const started: string[] = [];
const shells: ChildProcess[] = [];
afterAll(async () => {
  for (const s of shells) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  for (const lab of started) if (readStateFile(lab)) await podwire(['down', '--name', lab], { timeoutMs: 20_000 });
  rmSync(STATE, { recursive: true, force: true });
  rmSync(DIR, { recursive: true, force: true });
});

async function namespacesOf(prefixes: string[]): Promise<string[]> {
  return (await hostLeftovers(prefixes)).namespaces;
}

/** Poll until `ok()` or `ms` passed; returns how long it took (or undefined). */
async function within(ms: number, ok: () => Promise<boolean>): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await ok()) return performance.now() - t0;
    await sleep(50);
  }
  return undefined;
}

/** Run `script` (sh; $0 = node, $1 = bin/podwire.js) and resolve once its output has the lab's ready line. */
async function shellStartingLab(script: string): Promise<{ sh: ChildProcess; output: () => string }> {
  const sh = spawn('sh', ['-c', script, process.execPath, PODWIRE], { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO, detached: true });
  shells.push(sh);
  let out = '';
  sh.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  sh.stderr!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const ready = await within(30_000, async () => /^ready\b/m.test(out) || sh.exitCode !== null);
  if (!ready || !/^ready\b/m.test(out)) throw new Error(`the lab did not get ready; output:\n${out}`);
  return { sh, output: () => out };
}

describe.skipIf(!isRoot)('a foreground lab ends with whoever started it', () => {
  it('its parent shell killed (SIGKILL): the lab is torn down within 2 s', async () => {
    const file = topologyFile('life-a', ['lfa-1', 'lfa-2'], '10.241.0.0/16');
    started.push('life-a');
    // "; :" keeps sh waiting as the lab's parent instead of exec'ing it
    const { sh, output } = await shellStartingLab(`"$0" "$1" up ${file} --name life-a; :`);
    expect((await namespacesOf(['pw-lfa-'])).sort()).toEqual(['pw-lfa-1', 'pw-lfa-2']);
    process.kill(sh.pid!, 'SIGKILL');
    const took = await within(2000, async () => (await namespacesOf(['pw-lfa-'])).length === 0 && !readStateFile('life-a'));
    expect(took, `namespaces left: ${(await namespacesOf(['pw-lfa-'])).join(' ')}\n${output()}`).toBeDefined();
  });

  it('its grandparent killed while the parent lives on (as npx: npm dies, its sh -c stays): torn down within 2 s', async () => {
    const file = topologyFile('life-b', ['lfb-1'], '10.242.0.0/16');
    started.push('life-b');
    // outer sh (npm's place) -> inner sh -c (npm's script shell) -> podwire up
    const { sh } = await shellStartingLab(`sh -c '"$0" "$1" up ${file} --name life-b; :' "$0" "$1"; :`);
    const lab = readStateFile('life-b')!;
    expect(lab).toBeDefined();
    process.kill(sh.pid!, 'SIGKILL'); // only the outer shell: the inner one is still podwire's parent
    const took = await within(2000, async () => (await namespacesOf(['pw-lfb-'])).length === 0 && !readStateFile('life-b'));
    expect(took).toBeDefined();
    // the lab's process exited after its teardown
    expect(await within(2000, async () => !existsSync(`/proc/${lab.pid}`))).toBeDefined();
  });
});

describe.skipIf(!isRoot)('podwire up -d', () => {
  it('returns once ready, runs on its own, logs to the state directory; podwire down stops it', async () => {
    const file = topologyFile('life-d', ['lfd-1', 'lfd-2'], '10.243.0.0/16');
    started.push('life-d');
    const up = await podwire(['up', '-d', file, '--name', 'life-d'], { timeoutMs: 60_000 });
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const log = join(STATE, 'life-d.log');
    expect(up.stdout).toContain(`log: ${log}`);
    expect(up.stdout).toMatch(/^ready: 2 pods/m);
    // ready means ready: the namespaces exist and status answers right away
    expect((await namespacesOf(['pw-lfd-'])).sort()).toEqual(['pw-lfd-1', 'pw-lfd-2']);
    const st = await podwire(['status', '--json', '--name', 'life-d']);
    expect(st.code, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout) as StatusJson;
    expect(status.pods.map((p) => p.name).sort()).toEqual(['lfd-1', 'lfd-2']);
    // detached: its own session, not our child
    const stat = readFileSync(`/proc/${status.pid}/stat`, 'utf8');
    const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    expect(sid).toBe(status.pid); // its own session (setsid)
    // still alive a moment later (nothing ties it to the command that started it)
    await sleep(500);
    expect(existsSync(`/proc/${status.pid}`)).toBe(true);

    const down = await podwire(['down', '--name', 'life-d'], { timeoutMs: 20_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('stopped');
    expect(await namespacesOf(['pw-lfd-'])).toEqual([]);
    expect(readFileSync(log, 'utf8')).toMatch(/lab "life-d" removed/);
  });

  it('two labs with different --name side by side, each stopped alone', async () => {
    const a = topologyFile('life-e', ['lfe-1'], '10.244.0.0/16');
    const b = topologyFile('life-f', ['lff-1'], '10.245.0.0/16');
    started.push('life-e', 'life-f');
    const [ua, ub] = await Promise.all([
      podwire(['up', '-d', a, '--name', 'life-e'], { timeoutMs: 60_000 }),
      podwire(['up', '-d', b, '--name', 'life-f'], { timeoutMs: 60_000 }),
    ]);
    expect([ua.code, ub.code], ua.stderr + ub.stderr).toEqual([0, 0]);
    const ping = await runProgram('ip', ['netns', 'exec', 'pw-lfe-1', 'ping', '-c', '1', '-W', '2', '10.244.0.1']);
    expect(ping.code, ping.stdout).toBe(0);
    expect((await podwire(['down', '--name', 'life-e'])).code).toBe(0);
    expect(await namespacesOf(['pw-lfe-', 'pw-lff-'])).toEqual(['pw-lff-1']);
    const st = await podwire(['status', '--name', 'life-f']);
    expect(st.code, st.stderr).toBe(0);
    expect((await podwire(['down', '--name', 'life-f'])).code).toBe(0);
    expect(await namespacesOf(['pw-lff-'])).toEqual([]);
  });

  it('a lab that cannot start: exit 1 with the error, nothing left behind', async () => {
    const file = join(DIR, 'bad.yaml');
    writeFileSync(file, 'cluster:\n  clusterCIDR: 10.246.0.0/16\nnodes:\n  - name: n1\n    pods: [lfg-1]\n');
    started.push('life-g');
    // the state directory's lab of the same name is running: the second start fails in the child
    const first = await podwire(['up', '-d', file, '--name', 'life-g'], { timeoutMs: 60_000 });
    expect(first.code, first.stderr).toBe(0);
    const second = await podwire(['up', '-d', file, '--name', 'life-g'], { timeoutMs: 60_000 });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/the lab did not start/);
    expect(second.stderr).toMatch(/life-g/);
    // the running lab's log keeps its own lines (the failed start appends)
    expect(readFileSync(join(STATE, 'life-g.log'), 'utf8')).toMatch(/^ready: 1 pods/m);
    expect((await podwire(['status', '--name', 'life-g'])).code).toBe(0);
    expect((await podwire(['down', '--name', 'life-g'])).code).toBe(0);
    expect(await namespacesOf(['pw-lfg-'])).toEqual([]);
  });
});
