// TAPs born inside pod namespaces (Tap.openInNetns: nothing passes through
// the root namespace), and Tap.closeAll: such a TAP is left to its namespace
// (made persistent, so the close does not unregister it one by one: the
// kernel removes it with the namespace), any other TAP is removed by its close.
import { describe, it, expect, afterAll } from 'vitest';
import { Tap } from '../../src/io/tap.ts';
import { ipBatch, linkList, netnsList } from '../../src/io/netns.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('tap-netns.test: skipped — needs root (creates TAP devices and network namespaces)');

const COUNT = 4;
const NS = (i: number) => `pw-tnt${process.pid}-${i}`;
const ROOT_TAP = `pw-tnr${process.pid % 100000}`;
const all = Array.from({ length: COUNT }, (_, i) => i);

describe.skipIf(!isRoot)('TAPs inside pod namespaces (root)', () => {
  const taps: Tap[] = [];
  afterAll(async () => {
    for (const t of taps) t.close();
    const have = new Set(await netnsList());
    await ipBatch(all.map(NS).filter((n) => have.has(n)).map((n) => `netns del ${n}`), undefined, { force: true });
  });

  it('eth0 exists in each namespace and not in the root one', async () => {
    await ipBatch(all.map((i) => `netns add ${NS(i)}`));
    const rootBefore = await linkList();
    for (const i of all) taps.push(Tap.openInNetns(NS(i), 'eth0', { offloads: true }));
    for (const i of all) expect(await linkList(NS(i))).toEqual(['lo', 'eth0']);
    expect(await linkList()).toEqual(rootBefore);
  });

  it('closeAll leaves a pod TAP to its namespace, and removes a root-namespace TAP', async () => {
    const rootTap = Tap.open(ROOT_TAP, { offloads: true });
    expect(await linkList()).toContain(ROOT_TAP);
    taps[0].close(); // closed before: its device went with the fd, and closeAll skips it
    expect(await linkList(NS(0))).toEqual(['lo']);
    Tap.closeAll([...taps, rootTap]);
    // the namespaces are still named here (a lab unnames them first): their eth0 is visible, persistent
    for (const i of all.slice(1)) expect(await linkList(NS(i))).toEqual(['lo', 'eth0']);
    expect(await linkList()).not.toContain(ROOT_TAP);
    Tap.closeAll(taps); // again: nothing left to do
  });

  it('a namespace that is not pw- is refused before anything is created', () => {
    expect(() => Tap.openInNetns('default', 'eth0', { offloads: true })).toThrow(/podwire only manages host objects named pw-/);
  });
});
