// podwire status's memory section from a plan and the worker's stats: what
// it counts, and the line the CLI prints.
import { describe, it, expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { planTopology } from '../../src/model/topology.ts';
import { memoryStatus } from '../../src/lab/memory-status.ts';
import { memoryLine } from '../../src/cli/status.ts';
import type { NodeStats } from '../../src/dataplane/engine-protocol.ts';

const MiB = 1024 * 1024;
const plan = planTopology(parseYaml('nodes:\n  - name: n1\n    pods: [a, b, c]\n  - name: n2\n    pods: [d]\n'));
const stats = [
  { name: 'n1', memory: { regionBytes: 3 * MiB, wasmBytes: 8 * MiB } },
  { name: 'n2', memory: { regionBytes: 2 * MiB, wasmBytes: 8 * MiB } },
] as unknown as NodeStats[];

describe('memory status', () => {
  it('process RSS, the shared wasm memory, each node\'s region and pods', () => {
    const m = memoryStatus(plan, stats, { rss: 100 * MiB, heapUsed: 20 * MiB });
    expect(m).toEqual({
      rssBytes: 100 * MiB, heapUsedBytes: 20 * MiB, wasmBytes: 8 * MiB, pods: 4, rssPerPodBytes: 25 * MiB,
      nodes: [{ name: 'n1', regionBytes: 3 * MiB, pods: 3 }, { name: 'n2', regionBytes: 2 * MiB, pods: 1 }],
    });
    expect(memoryLine(m)).toBe('memory: RSS 100.0 MiB (process, all threads; JS heap 20.0 MiB), wasm 8.00 MiB shared by 2 node(s), 2.00 MiB–3.00 MiB per node; '
      + '4 pods: RSS/pod 25.0 MiB (average, fixed costs included; kernel memory of namespaces and TAPs not in RSS)');
  });

  it('regions that differ by the static data only print as one size', () => {
    const m = memoryStatus(plan, [{ name: 'n1', memory: { regionBytes: 13 * MiB + 4096, wasmBytes: 27 * MiB } }, { name: 'n2', memory: { regionBytes: 13 * MiB, wasmBytes: 27 * MiB } }] as unknown as NodeStats[], { rss: MiB, heapUsed: MiB });
    expect(memoryLine(m)).toContain('shared by 2 node(s), 13.0 MiB per node;');
  });

  it('without a worker (restarting, or kernel nodes only): no regions, wasm 0', () => {
    const m = memoryStatus(plan, [], { rss: 50 * MiB, heapUsed: 10 * MiB });
    expect(m.wasmBytes).toBe(0);
    expect(m.nodes).toEqual([]);
    expect(memoryLine(m)).toContain('wasm 0.00 MiB shared by 0 node(s);');
  });
});
