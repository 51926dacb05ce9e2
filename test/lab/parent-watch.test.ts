// watchAncestors: an ancestor that exits is seen, and so is a pid that now
// belongs to another process (its start time differs).
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { watchAncestors } from '../../src/lab/parent-watch.ts';
import { processStartTime } from '../../src/lab/state.ts';

const until = async (ok: () => boolean, ms: number) => {
  for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() - t0 > ms) return false;
  return true;
};

describe('watchAncestors', () => {
  it('calls gone once when a watched process exits, not before', async () => {
    const child = spawn('sleep', ['30']);
    await until(() => processStartTime(child.pid!) !== undefined, 2000);
    const seen: number[] = [];
    const stop = watchAncestors([{ pid: child.pid!, start: processStartTime(child.pid!)!, comm: 'sleep' }], (a) => seen.push(a.pid), 10);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await until(() => seen.length > 0, 1000)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([child.pid]);
    stop();
  });

  it('takes a live pid whose start time differs for the ancestor gone (the pid was reused)', async () => {
    const seen: number[] = [];
    const stop = watchAncestors([{ pid: process.pid, start: 'not-this-one', comm: 'node' }], (a) => seen.push(a.pid), 10);
    expect(await until(() => seen.length > 0, 1000)).toBe(true);
    stop();
  });
});
