// The worker's impairment queue (src/dataplane/impairment.ts) without a lab:
// frames are written to a file descriptor only when due, in order; loss,
// duplicate and the queue limit counted; rate paces frames one after another.
import { describe, it, expect, afterEach, afterAll } from 'vitest';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Impairments, IMPAIRMENT_QUEUE_LIMIT, tapSink } from '../../src/dataplane/impairment.ts';

const dir = mkdtempSync(join(tmpdir(), 'pw-impair-'));
let fd = -1;
afterEach(() => { if (fd >= 0) closeSync(fd); fd = -1; });
const written = (name: string) => readFileSync(join(dir, name));
const open = (name: string) => (fd = openSync(join(dir, name), 'w'));
const frame = (byte: number, len = 10) => new Uint8Array(len).fill(byte);

/** A seeded generator (mulberry32), so the counts are the same every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('impairment queue', () => {
  it('nothing impaired: any is false; a delay holds frames until due, then writes them in order', () => {
    const imp = new Impairments(1);
    expect(imp.any).toBe(false);
    imp.set(0, 3, tapSink(open('delay')), { delayMs: 20 });
    expect(imp.any).toBe(true);
    const p = imp.ports(0)[3]!;
    p.take(frame(1), 0, 1000);
    p.take(frame(2), 0, 1005);
    expect(imp.untilNext(1000)).toBe(20);
    imp.release(1019.9);
    expect(written('delay').length).toBe(0);
    imp.release(1020);
    expect([...written('delay')]).toEqual([...frame(1)]);
    imp.release(1025);
    expect([...written('delay')]).toEqual([...frame(1), ...frame(2)]);
    expect(p.stats).toMatchObject({ frames: 2, sent: 2, queued: 0 });
    expect(imp.untilNext(1025)).toBe(Infinity);
    imp.set(0, 3, tapSink(fd), undefined);
    expect(imp.any).toBe(false);
  });

  it('loss and duplicate are counted at their rates (seeded); the vnet header is never corrupted', () => {
    const imp = new Impairments(1, seeded(7));
    imp.set(0, 0, tapSink(open('loss')), { lossPercent: 10, duplicatePercent: 10, corruptPercent: 100 });
    const p = imp.ports(0)[0]!;
    for (let i = 0; i < 10_000; i++) { p.take(frame(0, 12), 2, 0); if (i % 500 === 0) imp.release(0); }
    imp.release(0);
    const s = p.stats;
    // binomial(10000, 0.1): sd 30; duplicates among the 90% kept
    expect(s.lost).toBeGreaterThan(1000 - 120);
    expect(s.lost).toBeLessThan(1000 + 120);
    expect(s.duplicated).toBeGreaterThan(900 - 120);
    expect(s.duplicated).toBeLessThan(900 + 120);
    expect(s.sent).toBe(10_000 - s.lost + s.duplicated);
    expect(s.corrupted).toBe(s.sent);
    const out = written('loss');
    for (let f = 0; f < out.length; f += 12) {
      expect(out[f] | out[f + 1]).toBe(0); // the 2 header bytes untouched
      let bits = 0;
      for (let b = 2; b < 12; b++) bits += out[f + b].toString(2).split('1').length - 1;
      expect(bits).toBe(1); // one bit flipped
    }
  });

  it('rate: frames leave one after another at the link rate; more than the limit held are dropped', () => {
    const imp = new Impairments(1);
    imp.set(0, 0, tapSink(open('rate')), { rateBitsPerSecond: 8000 }); // 1 byte per ms
    const p = imp.ports(0)[0]!;
    for (let i = 0; i < IMPAIRMENT_QUEUE_LIMIT + 5; i++) p.take(frame(i & 0xff, 100), 0, 0);
    expect(p.stats.overLimit).toBe(5);
    expect(imp.untilNext(0)).toBe(100);
    imp.release(250);
    expect(written('rate').length).toBe(200); // due at 100 and 200
    expect(p.stats.queued).toBe(IMPAIRMENT_QUEUE_LIMIT - 2);
    imp.set(0, 0, tapSink(fd), undefined); // clearing sends what is held at once
    expect(written('rate').length).toBe(IMPAIRMENT_QUEUE_LIMIT * 100);
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('impaired links', () => {
  it('each direction has its own queue, sent on by its own sink when due; clearing one leaves the other', () => {
    const imp = new Impairments(2);
    const got: string[] = [];
    imp.setLink(0, 1, (f) => { got.push(`to1:${f[0]}`); return true; }, { delayMs: 10 });
    imp.setLink(1, 0, (f) => { got.push(`to0:${f[0]}`); return true; }, { delayMs: 30 });
    expect([imp.any, imp.anyLink]).toEqual([true, true]);
    expect(imp.link(0, 0)).toBeUndefined();
    imp.link(0, 1)!.take(frame(1), 0, 0);
    imp.link(1, 0)!.take(frame(2), 0, 0);
    imp.release(10);
    expect(got).toEqual(['to1:1']);
    expect(imp.untilNext(10)).toBe(20);
    imp.setLink(0, 1, () => true, undefined);
    expect(imp.anyLink).toBe(true);
    imp.release(30);
    expect(got).toEqual(['to1:1', 'to0:2']);
    expect(imp.linkStats(1)).toMatchObject([{ to: 0, spec: { delayMs: 30 }, stats: { frames: 1, sent: 1 } }]);
    imp.setLink(1, 0, () => true, undefined);
    expect([imp.any, imp.anyLink]).toEqual([false, false]);
  });
});
