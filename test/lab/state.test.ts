// The state directory and its files (src/lab/state.ts), in a temp directory:
// created 0700, a state file never written through a symlink, and the lab's
// process identified by PID plus start time, so a reused PID is not the lab.
import { describe, it, expect, afterAll, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { statSync, chmodSync, mkdirSync, symlinkSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const DIR = vi.hoisted(() => {
  const d = `/tmp/pw-state-unit-${process.pid}/run/podwire`;
  process.env.PODWIRE_STATE_DIR = d;
  return d;
});
import * as state from '../../src/lab/state.ts';
import type { LabState } from '../../src/lab/state.ts';

const ROOT = DIR.replace(/\/run\/podwire$/, '');
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

function labState(name: string): LabState {
  return { name, pid: process.pid, startedAt: new Date().toISOString(), namespaces: [], links: [], socket: state.socketPath(name) };
}

describe('state directory and files', () => {
  it('is created 0700 (whatever the umask), and an existing looser one is tightened', () => {
    const old = process.umask(0o022);
    try {
      state.writeState(labState('perm'));
      expect((statSync(DIR).mode & 0o777).toString(8)).toBe('700');
      chmodSync(DIR, 0o755);
      state.writeState(labState('perm'));
      expect((statSync(DIR).mode & 0o777).toString(8)).toBe('700');
      expect((statSync(state.statePath('perm')).mode & 0o777).toString(8)).toBe('600');
    } finally {
      process.umask(old);
    }
  });

  it('refuses to write a state file through a symlink and leaves its target alone', () => {
    mkdirSync(DIR, { recursive: true });
    const victim = join(ROOT, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, state.statePath('sym'));
    expect(() => state.writeState(labState('sym'))).toThrow(/symlink/);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    // no temp file left behind
    expect(readdirSync(DIR).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('replaces a state file whole (temp file + rename): a reader never sees half of one', () => {
    const s = labState('whole');
    state.writeState(s);
    state.writeState({ ...s, namespaces: ['pw-x'] });
    expect(state.readState('whole')?.namespaces).toEqual(['pw-x']);
    expect(readdirSync(DIR).filter((f) => f.startsWith('whole'))).toEqual(['whole.json']);
  });
});

describe('the lab\'s process: PID plus start time', () => {
  it('a live process is itself; another process with a recorded PID but another start time is not', async () => {
    const a = spawn('sleep', ['30'], { stdio: 'ignore' });
    const b = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const startA = state.processStartTime(a.pid!);
      const startB = state.processStartTime(b.pid!);
      expect(startA).toMatch(/^\d+$/);
      expect(state.labProcessAlive({ pid: a.pid!, pidStart: startA })).toBe(true);
      // what a state file looks like after the lab died and b got its PID: the pid is b's, the start time the lab's
      const startDead = String(Number(startB) - 1);
      expect(state.labProcessAlive({ pid: b.pid!, pidStart: startDead })).toBe(false);
      a.kill('SIGKILL');
      await new Promise((r) => a.once('exit', r));
      expect(state.labProcessAlive({ pid: a.pid!, pidStart: startA })).toBe(false);
      expect(state.processStartTime(a.pid!)).toBeUndefined();
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
    }
  });

  it('this process records its own start time in the state it writes', () => {
    expect(state.currentProcessStart()).toBe(state.processStartTime(process.pid));
  });
});

describe('the mark podwire leaves in its namespaces', () => {
  it('names the lab and this state directory, and reads back', () => {
    const mark = state.ownerMark('lab-1');
    expect(mark).toBe(`podwire:lab-1:${encodeURIComponent(DIR)}`);
    expect(mark).not.toMatch(/\s/); // one token in an `ip -batch` line
    expect(state.parseOwnerMark(mark)).toEqual({ lab: 'lab-1', stateDir: DIR });
  });

  it('anything else is no mark', () => {
    for (const alias of [undefined, '', 'podwire', 'podwire:lab-1', 'podwire:Bad_Name:%2Frun', 'podwire:lab:%E0%A4%A', 'someone else:lab:/run']) {
      expect(state.parseOwnerMark(alias), String(alias)).toBeUndefined();
    }
  });
});
