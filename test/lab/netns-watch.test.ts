// watchNamespaces over a scratch directory standing in for /run/netns.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchNamespaces } from '../../src/lab/netns-watch.ts';

const until = async (ok: () => boolean, ms: number) => {
  for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() - t0 > ms) return false;
  return true;
};

describe('watchNamespaces', () => {
  it('names each watched namespace once when it goes, ignores others and new ones, stops when told', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-netns-watch-'));
    try {
      for (const n of ['pw-a', 'pw-b', 'pw-c', 'other']) writeFileSync(join(dir, n), '');
      const calls: string[][] = [];
      const stop = watchNamespaces(() => ['pw-a', 'pw-b', 'pw-c'], (names) => calls.push(names), dir);
      rmSync(join(dir, 'other'));
      writeFileSync(join(dir, 'pw-new'), '');
      await new Promise((r) => setTimeout(r, 200));
      expect(calls).toEqual([]);
      rmSync(join(dir, 'pw-a'));
      rmSync(join(dir, 'pw-b'));
      expect(await until(() => calls.flat().length === 2, 2000)).toBe(true);
      expect(calls.flat().sort()).toEqual(['pw-a', 'pw-b']);
      writeFileSync(join(dir, 'pw-x'), ''); // any later change: pw-a and pw-b are not named again
      await new Promise((r) => setTimeout(r, 200));
      expect(calls.flat()).toHaveLength(2);
      stop();
      rmSync(join(dir, 'pw-c'));
      await new Promise((r) => setTimeout(r, 200));
      expect(calls.flat()).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a directory that cannot be watched watches nothing and stops cleanly', () => {
    const stop = watchNamespaces(() => ['pw-a'], () => { throw new Error('called'); }, '/nonexistent/pw-netns');
    expect(() => stop()).not.toThrow();
  });
});
