// `podwire status`: what the lab costs in memory, as this process can see it.
import { localNodes, type LabPlan } from '../model/topology.ts';
import type { NodeStats } from '../dataplane/engine-protocol.ts';

export interface MemoryStatus {
  /** the lab process's resident set (every thread: the forwarding worker's too), bytes */
  rssBytes: number;
  /** the JavaScript heap in use on the main thread, bytes (part of rssBytes) */
  heapUsedBytes: number;
  /** the one WebAssembly memory every podwire node shares, bytes (0: no podwire node, or the worker is restarting) */
  wasmBytes: number;
  /** the topology's pods on this host's nodes */
  pods: number;
  /** rssBytes / pods: an average with the fixed costs in it; `podwire bench scale` measures the cost of one more pod */
  rssPerPodBytes?: number;
  /** each podwire node's region of the wasm memory: frame slots and tables, fixed at up (so independent of its pods but for the port tables) */
  nodes: { name: string; regionBytes: number; pods: number }[];
}

/** The memory section of `podwire status` from the worker's stats and this process's usage. */
export function memoryStatus(plan: LabPlan, stats: NodeStats[], usage: { rss: number; heapUsed: number } = process.memoryUsage()): MemoryStatus {
  const here = localNodes(plan);
  const pods = here.reduce((a, n) => a + n.pods.length, 0);
  return {
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    wasmBytes: stats.find((s) => s.memory)?.memory?.wasmBytes ?? 0,
    pods,
    ...(pods > 0 ? { rssPerPodBytes: Math.round(usage.rss / pods) } : {}),
    nodes: stats.filter((s) => s.memory).map((s) => ({
      name: s.name, regionBytes: s.memory!.regionBytes, pods: here.find((n) => n.name === s.name)?.pods.length ?? 0,
    })),
  };
}
