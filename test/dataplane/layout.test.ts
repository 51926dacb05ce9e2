// One memory layout: src/dataplane/layout.ts is generated from assembly/
// (scripts/gen-layout.ts), so the TypeScript side holds no hand-made copy of
// an offset or an enum. These tests fail when the checked-in file is stale,
// when what it says disagrees with what the compiled module reports, and
// when code outside memory-views.ts builds its own view over the memory.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderLayout, OUT } from '../../scripts/gen-layout.ts';
import { Frame, Virtio, Conntrack, Maglev, Trace, Step, Drop, TRACE_STEP_NAMES } from '../../src/dataplane/layout.ts';
import { Dataplane } from '../../src/dataplane/dataplane.ts';
import { readString } from '../../src/dataplane/memory-views.ts';
import { VNET_HDR_LEN, VNET_TNL_HDR_LEN } from '../../src/io/tap.ts';

const ROOT = resolve(__dirname, '../..');

describe('the memory layout shared by WASM and TypeScript', () => {
  it('src/dataplane/layout.ts is what assembly/ defines now (run "npm run build" to regenerate it)', () => {
    expect(readFileSync(join(ROOT, OUT), 'utf8')).toBe(renderLayout());
  });

  it('agrees with what the compiled module reports', () => {
    const dp = new Dataplane({ slots: 4, slotSize: 4096, maxPorts: 4, maglev: true, svcCapacity: 2 });
    const ex = dp.ex;
    expect(ex.headroom()).toBe(Frame.HEADROOM);
    expect(ex.vnetHeaderLen()).toBe(Virtio.VNET_HLEN);
    expect(ex.txEntryBytes()).toBe(Frame.TX_ENTRY);
    expect(ex.ctEntryBytes()).toBe(Conntrack.ENTRY);
    expect(ex.maglevSlots()).toBe(Maglev.MAGLEV_M);
    expect(ex.traceStepCount()).toBe(Step.COUNT);
    expect(Array.from({ length: ex.traceStepCount() }, (_, i) => readString(dp.memory, ex.traceStepName(i)))).toEqual([...TRACE_STEP_NAMES]);
    expect(ex.dropReasonCount()).toBe(Drop.COUNT);
    // each drop reason's number names the reason its enum member says
    for (const [member, n] of Object.entries(Drop)) {
      if (n < Drop.COUNT) expect(readString(dp.memory, ex.dropReasonName(n)), member).toBe(member.toLowerCase());
    }
  });

  it('the TAP is told the same virtio-net header length the data plane expects', () => {
    expect(VNET_HDR_LEN).toBe(Virtio.VNET_HLEN);
    // and the underlay TAP with UDP-tunnel GSO the header the data plane writes and reads for it
    expect(VNET_TNL_HDR_LEN).toBe(Virtio.VNET_TNL_HLEN);
  });

  it('a trace record\'s code is the u16 after its step (memory-views reads both from one word)', () => {
    expect(Trace.R_STEP % 4).toBe(0);
    expect(Trace.R_CODE).toBe(Trace.R_STEP + 2);
  });

  it('no file in src/ but memory-views.ts builds a view over the WebAssembly memory', () => {
    const files = (dir: string): string[] => readdirSync(join(ROOT, dir)).flatMap((name) => {
      const rel = join(dir, name);
      return statSync(join(ROOT, rel)).isDirectory() ? files(rel) : rel.endsWith('.ts') ? [rel] : [];
    });
    const view = /new (DataView|(Big)?(Uint|Int)(8|16|32|64)Array)\([^)]*\bmemory\b|memory\.buffer\.slice|\bstart \+ 10\b|\.drained << 2|\btx\[b \+ \d\]/;
    const offenders = files('src').filter((f) => f !== 'src/dataplane/memory-views.ts' && view.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
