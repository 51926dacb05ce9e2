// TAPs born inside pod namespaces (Tap.openInNetns: nothing passes through
// the root namespace) and closed many at once from threads (Tap.closeAll):
// iproute2 sees each eth0 in its namespace only, and none after the close.
import { describe, it, expect, afterAll } from 'vitest';
import { Tap } from '../../src/io/tap.ts';
import { ipBatch, linkList, netnsList } from '../../src/io/netns.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('tap-netns.test: skipped — needs root (creates TAP devices and network namespaces)');

const COUNT = 8;
const NS = (i: number) => `pw-tnt${process.pid}-${i}`;
const all = Array.from({ length: COUNT }, (_, i) => i);

describe.skipIf(!isRoot)('TAPs inside pod namespaces (root)', () => {
  const taps: Tap[] = [];
  afterAll(async () => {
    for (const t of taps) t.close();
    const have = new Set(await netnsList());
    await ipBatch(all.map(NS).filter((n) => have.has(n)).map((n) => `netns del ${n}`), undefined, { force: true });
  });

  it('eth0 exists in each namespace and not in the root one; closeAll removes every device', async () => {
    await ipBatch(all.map((i) => `netns add ${NS(i)}`));
    const rootBefore = await linkList();
    for (const i of all) taps.push(Tap.openInNetns(NS(i), 'eth0', { offloads: true }));
    for (const i of all) expect(await linkList(NS(i))).toEqual(['lo', 'eth0']);
    expect(await linkList()).toEqual(rootBefore);
    taps[0].close(); // one already closed: closeAll skips it
    await Tap.closeAll(taps);
    for (const i of all) expect(await linkList(NS(i))).toEqual(['lo']);
    await Tap.closeAll(taps); // again: nothing left to do
  });

  it('a namespace that is not pw- is refused before anything is created', () => {
    expect(() => Tap.openInNetns('default', 'eth0', { offloads: true })).toThrow(/podwire only manages host objects named pw-/);
  });
});
