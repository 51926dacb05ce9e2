// The forwarding loop polls after traffic only while no other thread waits
// for a CPU: procs_running (which counts the loop's own thread) no larger
// than the CPUs, read from a stat file like /proc/stat.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpinPolicy } from '../../src/dataplane/spin-policy.ts';

const dirs: string[] = [];
function statFile(running: number | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-spin-'));
  dirs.push(dir);
  const f = join(dir, 'stat');
  write(f, running);
  return f;
}
const write = (f: string, running: number | undefined) =>
  writeFileSync(f, `cpu  1 2 3 4\nctxt 99\n${running === undefined ? '' : `procs_running ${running}\n`}procs_blocked 0\n`);
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('spin policy', () => {
  it('allows polling while runnable threads fit the CPUs, not when one waits', () => {
    const f = statFile(2);
    const p = new SpinPolicy(2, f);
    expect(p.allowed(0)).toBe(true);
    write(f, 3);
    expect(p.allowed(5)).toBe(true); // not read again within 10 ms
    expect(p.allowed(20)).toBe(false);
    expect([p.samples, p.crowded]).toEqual([2, 1]);
    write(f, 1);
    expect(p.allowed(40)).toBe(true);
    p.close();
  });

  it('a file without the field, or none at all, leaves polling allowed', () => {
    const p = new SpinPolicy(2, statFile(undefined));
    expect(p.allowed(0)).toBe(true);
    expect(p.samples).toBe(0);
    p.close();
    const none = new SpinPolicy(2, '/nonexistent/pw-stat');
    expect(none.allowed(0)).toBe(true);
    none.close();
  });
});
