// Smoke test of the Service hot-path suites (bench/service-hotpath.ts) at
// tiny sizes: what each suite sets up really reaches the backends, DNATed
// (no timing asserted), and the runner's counter check catches frames that
// were not translated.
import { describe, it, expect } from 'vitest';
import { ServiceRig, verify, runServiceHotpath, serviceTargets } from '../../bench/service-hotpath.ts';

const tiny = { ctCapacity: 4096, templates: 2048, svcCapacity: 64 };

/** `batches` timed-style calls (restore + processBatch), checked with the runner's counter check. */
function run(rig: ServiceRig, kind: 'established' | 'new-conn', batch: number, batches: number) {
  const before = rig.dp.counters();
  for (let i = 0; i < batches; i++) {
    rig.restore();
    rig.dp.txClear();
    expect(rig.ex.processBatch(0, batch)).toBe(batch);
  }
  verify(kind, before, rig.dp.counters(), batch * batches, kind);
}

describe('Service hot-path suites, tiny', () => {
  it('established: prefilled flows are conntrack hits, DNATed to their own backend, 64 B and 1500 B, batches 1 / 32 / 256', () => {
    const rig = new ServiceRig(tiny);
    rig.setServices(1);
    rig.prefillEstablished(100, 1);
    expect(rig.ex.ctCount()).toBe(100);
    for (const frameBytes of [64, 1500]) {
      rig.loadEstablished(100, 1, frameBytes, 512);
      for (const batch of [1, 32, 256]) {
        rig.useBatch(batch);
        expect(rig.checkBatch()).toEqual([]);
        run(rig, 'established', batch, 8); // wraps the 512-template pool at batch 256
      }
    }
    expect(rig.ex.ctCount()).toBe(100);
    expect(rig.dp.conntrack(0).every((e) => e.state === 'established')).toBe(true);
  });

  it('new connections: every SYN a miss that creates an entry; emptied, the same SYNs are new again', () => {
    const rig = new ServiceRig(tiny);
    rig.setServices(1);
    rig.loadSyns(1, 1024);
    rig.useBatch(256);
    expect(rig.checkBatch()).toEqual([]);
    expect(rig.ex.ctCount()).toBe(256);
    run(rig, 'new-conn', 256, 3);
    expect(rig.ex.ctCount()).toBe(1024);
    rig.ctReset();
    expect(rig.ex.ctCount()).toBe(0);
    rig.rewind();
    run(rig, 'new-conn', 256, 4);
    expect(rig.ex.ctCount()).toBe(1024);
  });

  it('Service-count scaling: traffic spread over every Service, established and new', () => {
    const rig = new ServiceRig(tiny);
    rig.setServices(10);
    rig.setServices(50);
    expect(rig.ex.svcFrontendCount()).toBe(50);
    rig.prefillEstablished(1000, 50);
    rig.loadEstablished(1000, 50, 64, 1024);
    rig.useBatch(256);
    expect(rig.checkBatch()).toEqual([]);
    run(rig, 'established', 256, 4);
    rig.ctReset();
    rig.loadSyns(50, 1024);
    rig.useBatch(256);
    expect(rig.checkBatch()).toEqual([]);
    run(rig, 'new-conn', 256, 3);
  });

  it('the counter check throws when frames are not translated as the suite claims', () => {
    const rig = new ServiceRig(tiny);
    rig.setServices(1);
    rig.prefillEstablished(100, 1);
    rig.loadEstablished(100, 1, 64, 256);
    rig.useBatch(256);
    rig.ctReset(); // the flows are gone: these frames are new connections now
    expect(() => run(rig, 'established', 256, 1)).toThrow(/not every frame was translated/);
  });

  it('the runner end to end (benchmark.js, very short): every suite, its results and target lines', async () => {
    const lines: string[] = [];
    const r = await runServiceHotpath({
      maxTime: 0.01, minTime: 0.002, rounds: 1, warmupMs: 50, flowCounts: [100, 1000], serviceCounts: [10, 50], scalingFlows: 1000,
      rig: { ctCapacity: 1 << 16, templates: 1 << 16, svcCapacity: 64 }, log: (s) => lines.push(s),
    });
    expect(r.filter((x) => x.suite === 'established' && x.services === 1).map((x) => `${x.flows}/${x.frameBytes}/${x.batch}`))
      .toEqual(['100/64/256', '100/64/32', '100/64/1', '1000/64/256', '1000/64/32', '1000/64/1', '1000/1500/256']);
    expect(r.filter((x) => x.suite === 'new-conn').map((x) => x.services)).toEqual([1, 10, 50]);
    for (const x of r) {
      expect(x.mpps).toBeGreaterThan(0);
      expect(x.framesChecked).toBeGreaterThan(0);
    }
    const t = serviceTargets(r);
    expect(t.filter((l) => l.startsWith('target:'))).toHaveLength(3);
    expect(t.filter((l) => l.startsWith('info:'))).toHaveLength(3);
    expect(t.join('\n')).toMatch(/established DNAT, 1000 flows/);
    expect(t.join('\n')).toMatch(/new connections >= 2 M\/s/);
  }, 120_000);
});
