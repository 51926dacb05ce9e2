// A node's tables start empty whatever its region held. createNodes carves
// the nodes from a fresh memory and skips the zero-fill (configure's
// `zeroed`): the pages stay untouched until used. A node configured in a
// memory someone already wrote fills its region first.
import { describe, it, expect } from 'vitest';
import { Dataplane, createNodes } from '../../src/dataplane/dataplane.ts';

const OPTS = { slots: 8, slotSize: 4096, maxPorts: 8 };

function looksEmpty(dp: Dataplane): void {
  expect(dp.ctCount()).toBe(0);
  expect(dp.fdb(0)).toEqual([]);
  const c = dp.counters();
  expect(Object.values(c.drops).every((v) => v === 0)).toBe(true);
  expect(c.ports.every((p) => Object.values(p).every((v) => v === 0))).toBe(true);
}

describe('node regions', () => {
  it('createNodes: every node starts empty, and its tables are not written (resident memory stays small)', () => {
    const nodes = createNodes(3, OPTS);
    for (const dp of nodes) looksEmpty(dp);
  });

  it('a node configured over bytes another one left: its region is zero-filled first', () => {
    const [first] = createNodes(1, OPTS);
    const base = first.regionEnd;
    // what a previous occupant might have left: every byte from the new node's base for its whole region
    const probe = new Dataplane({ ...OPTS, memory: first.memory, base, zeroed: true });
    const end = probe.regionEnd;
    new Uint8Array(first.memory.buffer).fill(0xa5, base, end);
    const dp = new Dataplane({ ...OPTS, memory: first.memory, base });
    looksEmpty(dp);
    expect(dp.regionEnd).toBe(end);
  });
});
