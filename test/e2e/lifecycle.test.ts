// End-to-end, as root: the lab lifecycle a demanding user expects (issue 11,
// items 8, 9, 11). A lab killed -9 whose PID now belongs to another process;
// `up` over a dead lab's state; an oversized control request; `down --all`
// next to a pw- namespace podwire did not create. (A worker that dies:
// worker-restart.test.ts.)
//
// Every lab here keeps its state in a private state directory (set before the
// helpers read it), so `down --all` only ever sees this file's labs, never
// another test's or another user's /run/podwire.
import { describe, it, expect, afterAll, vi } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { randomBytes } from 'node:crypto';
import { startLab, stopAllLabs, hostLeftovers, podwire, runProgram, isRoot, statePathOf, readStateFile, sleep, type RunningLab } from '../helpers/lab.ts';
import { ping } from '../helpers/traffic.ts';

const STATE = vi.hoisted(() => {
  const dir = `/tmp/pw-life-state-${process.pid}`;
  process.env.PODWIRE_STATE_DIR = dir;
  return dir;
});

if (!isRoot) console.warn('test/e2e/lifecycle.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

function topology(pods: string[], cidr: string, extra: string[] = [], cluster: string[] = []): string {
  return ['cluster:', `  clusterCIDR: ${cidr}`, ...cluster, 'nodes:', '  - name: n1', `    pods: [${pods.join(', ')}]`, ...extra, ''].join('\n');
}

const notOurs: string[] = [];
const sleepers: ChildProcess[] = [];
afterAll(async () => {
  await stopAllLabs();
  for (const s of sleepers) s.kill('SIGKILL');
  for (const ns of notOurs) await runProgram('ip', ['netns', 'del', ns]);
  rmSync(STATE, { recursive: true, force: true });
});

async function killHard(lab: RunningLab): Promise<number> {
  const pid = lab.proc.pid!;
  const exited = new Promise((r) => lab.proc.once('exit', r));
  process.kill(pid, 'SIGKILL');
  await exited;
  return pid;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/**
 * An unrelated process that now has `pid`, as after a crash and PID reuse:
 * the kernel is asked to hand out `pid` next (ns_last_pid); when another
 * process on the machine takes it first, the state file is pointed at the
 * unrelated process instead (the lab's recorded start time stays the dead one's).
 */
async function unrelatedWithPid(lab: string, pid: number): Promise<ChildProcess> {
  for (let i = 0; i < 30; i++) {
    try { writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1)); } catch { break; }
    const s = spawn('sleep', ['120'], { stdio: 'ignore' });
    sleepers.push(s);
    if (s.pid === pid) return s;
    s.kill('SIGKILL');
  }
  const s = spawn('sleep', ['120'], { stdio: 'ignore' });
  sleepers.push(s);
  const file = statePathOf(lab);
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), pid: s.pid }));
  return s;
}

async function nsExists(ns: string): Promise<boolean> {
  return (await hostLeftovers([ns])).namespaces.includes(ns);
}

describe.skipIf(!isRoot)('lab lifecycle (root)', () => {
  it('the state directory is 0700', async () => {
    const lab = await startLab(topology(['lcm-a'], '10.231.0.0/16'), { name: 'lc-mode' });
    try {
      expect((statSync(STATE).mode & 0o777).toString(8)).toBe('700');
    } finally {
      await lab.stop();
    }
  });

  it('down after kill -9 and PID reuse: the unrelated process is not signalled, the lab is cleaned', async () => {
    const lab = await startLab(topology(['lcp-a'], '10.232.0.0/16'), { name: 'lc-pid' });
    const pid = await killHard(lab);
    const other = await unrelatedWithPid('lc-pid', pid);
    expect(readStateFile('lc-pid')?.pid).toBe(other.pid);
    const st = await podwire(['status', '--name', 'lc-pid']);
    expect.soft(st.code).toBe(1);
    expect.soft(st.stderr).toMatch(/its process died/);
    const down = await podwire(['down', '--name', 'lc-pid'], { timeoutMs: 30_000 });
    expect(down.code, down.stderr).toBe(0);
    await sleep(300);
    expect(alive(other.pid!), `down signalled pid ${other.pid}, which is not the lab: ${down.stdout}`).toBe(true);
    expect(other.exitCode).toBe(null);
    expect(down.stdout).not.toMatch(/stopped/);
    expect(down.stdout).toContain('pw-lcp-a');
    expect(await nsExists('pw-lcp-a')).toBe(false);
  });

  it('up is not refused because an unrelated process has the dead lab\'s PID', async () => {
    // no cluster DNS: its namespace (pw-dns.<lab>) would be the same in both topologies
    const first = await startLab(topology(['lcq-a'], '10.233.0.0/16', [], ['  dns: false']), { name: 'lc-pid2' });
    const pid = await killHard(first);
    await unrelatedWithPid('lc-pid2', pid);
    // another topology: no namespace clash, only the PID stands in the way
    const again = await startLab(topology(['lcq-b'], '10.233.0.0/16', [], ['  dns: false']), { name: 'lc-pid2' });
    try {
      expect(readStateFile('lc-pid2')?.pid).toBe(again.proc.pid);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });

  it('up over a dead lab\'s state file removes the dead lab\'s namespaces first, and says so', async () => {
    const dead = await startLab(topology(['lcd-a', 'lcd-b'], '10.234.0.0/16'), { name: 'lc-dead' });
    await killHard(dead);
    expect(await nsExists('pw-lcd-a')).toBe(true);
    const lab = await startLab(topology(['lcd-c'], '10.234.0.0/16'), { name: 'lc-dead' });
    try {
      expect(await nsExists('pw-lcd-a')).toBe(false);
      expect(await nsExists('pw-lcd-b')).toBe(false);
      expect(lab.output()).toMatch(/dead lab .*removed.*pw-lcd-a/);
      expect(readStateFile('lc-dead')?.namespaces).toEqual(['pw-lcd-c', 'pw-dns.lc-dead']);
    } finally {
      expect(await lab.stop()).toBe(0);
    }
    expect((await hostLeftovers(['pw-lcd-'])).namespaces).toEqual([]);
  });

  it('an oversized control request is refused and the lab stays up', async () => {
    const lab = await startLab(topology(['lco-a', 'lco-b'], '10.235.0.0/16'), { name: 'lc-big' });
    try {
      const sockPath = readStateFile('lc-big') as unknown as { socket: string };
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = createConnection(sockPath.socket);
        let buf = '';
        const t = setTimeout(() => { sock.destroy(); resolve(`(no answer) ${buf}`); }, 15_000);
        sock.setEncoding('utf8');
        sock.on('data', (c: string) => { buf += c; });
        sock.on('close', () => { clearTimeout(t); resolve(buf); });
        sock.on('error', (e) => { clearTimeout(t); if (buf) resolve(buf); else reject(e); });
        // 17 MiB and no end of line yet
        sock.on('connect', () => sock.write(`{"cmd":"status","pad":"${'x'.repeat(17 << 20)}`));
      });
      expect(reply).toMatch(/"ok":false.*too large/);
      const s = await lab.status();
      expect(s.pods.map((p) => p.name)).toEqual(['lco-a', 'lco-b']);
      expect((await ping('pw-lco-a', '10.235.0.3')).code).toBe(0);
    } finally {
      expect(await lab.stop()).toBe(0);
    }
  });

  it('down --all removes this state directory\'s labs and provable strays, leaves a pw- namespace it did not create, and says what it removed', async () => {
    const foreign = `pw-notours-${randomBytes(3).toString('hex')}`;
    expect((await runProgram('ip', ['netns', 'add', foreign])).code).toBe(0);
    notOurs.push(foreign);
    const lab = await startLab(topology(['lca-a'], '10.238.0.0/16'), { name: 'lc-all' });
    // a stray: a lab killed -9 whose state file is gone; its namespace carries podwire's marker
    const stray = await startLab(topology(['lcs-a'], '10.239.0.0/16'), { name: 'lc-stray' });
    await killHard(stray);
    rmSync(statePathOf('lc-stray'));
    const down = await podwire(['down', '--all'], { timeoutMs: 30_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(await nsExists(foreign), `down --all removed ${foreign}:\n${down.stdout}`).toBe(true);
    expect(down.stdout.split('\n').filter((l) => /removed/.test(l)).join('\n')).not.toContain(foreign);
    expect(down.stdout).toMatch(new RegExp(`left alone .*${foreign}`));
    expect(down.stdout).toMatch(/lab "lc-all" stopped; removed .*pw-lca-a/);
    expect(down.stdout).toMatch(/strays.*pw-lcs-a/);
    expect(await nsExists('pw-lca-a')).toBe(false);
    expect(await nsExists('pw-lcs-a')).toBe(false);
    expect(await lab.stop()).toBe(0);
  });
});
