// Maglev consistent hashing (src/dataplane/maglev.ts fills the tables,
// assembly/tables/maglev.ts reads them): balanced tables, little disruption
// when a backend leaves, and in the data plane the same flow choosing the
// same backend on independent nodes (no shared state, different seeds).
import { describe, it, expect } from 'vitest';
import { maglevTable } from '../../src/dataplane/maglev.ts';
import { createNodes, type Dataplane } from '../../src/dataplane/dataplane.ts';
import { N1, POD, programNode, runNode, arpRequest } from './overlay-kit.ts';
import { VIP, TCP, clientSyn } from './service-kit.ts';

const M = 4093;
const names = (n: number) => Array.from({ length: n }, (_, i) => `10.244.${i >> 8}.${i & 255}:8080`);

describe('maglev table', () => {
  it('every slot names a backend; each backend holds M/N slots give or take one', () => {
    for (const n of [1, 3, 10, 64]) {
      const t = maglevTable(names(n), M);
      const count = new Array<number>(n).fill(0);
      for (const b of t) count[b]++;
      expect(Math.min(...count), `${n} backends`).toBeGreaterThanOrEqual(Math.floor(M / n));
      expect(Math.max(...count), `${n} backends`).toBeLessThanOrEqual(Math.ceil(M / n) + 1);
    }
  });

  it('a backend leaving moves its own slots and few others (the paper: minimal disruption)', () => {
    const all = names(10);
    const before = maglevTable(all, M);
    const gone = 3;
    const after = maglevTable(all.filter((_, i) => i !== gone), M);
    let kept = 0, others = 0;
    for (let s = 0; s < M; s++) {
      if (before[s] === gone) continue;
      others++;
      const was = all[before[s]];
      if (all.filter((_, i) => i !== gone)[after[s]] === was) kept++;
    }
    expect(kept / others).toBeGreaterThan(0.9);
  });

  it('deterministic: the same names give the same table', () => {
    expect(maglevTable(names(7), M)).toEqual(maglevTable(names(7), M));
  });
});

/** A node with the pod of N1 and a Maglev (or random) Service to five backends on its own subnet. */
function node(scheduler: 'maglev' | 'random', seed: number, backends = 5): Dataplane {
  const [dp] = createNodes(1, { slots: 8, maxPorts: 8, maglev: true });
  programNode(dp, N1, { ...N1, cidr: '10.99.0.0/24', ul: '172.31.255.9' }, 'vxlan');
  expect(runNode(dp, [{ port: POD, frame: arpRequest(N1.podMac, N1.pod, N1.gw) }]).tx).toHaveLength(1);
  for (let i = 0; i < backends; i++) dp.setNeighbor(`10.244.0.${10 + i}`, `0a:58:0a:f4:00:${(10 + i).toString(16).padStart(2, '0')}`);
  dp.setServiceSeed(seed);
  dp.addService(VIP, 80, 'tcp', Array.from({ length: backends }, (_, i) => ({ ip: `10.244.0.${10 + i}`, port: 8080 })), { scheduler });
  return dp;
}
/** The backend each client port's SYN went to. */
function choices(dp: Dataplane, ports: number[]): string[] {
  return ports.map((p) => {
    const r = runNode(dp, [{ port: POD, frame: clientSyn(p) }]);
    expect(r.drops).toEqual({});
    return dp.conntrack(0).find((e) => e.proto === TCP && e.orig.sport === p)!.reply.src;
  });
}

describe('maglev in the data plane', () => {
  const ports = Array.from({ length: 300 }, (_, i) => 20_000 + i);

  it('independent nodes with different seeds choose the same backend for each flow; random ones do not', () => {
    const a = choices(node('maglev', 1), ports);
    expect(choices(node('maglev', 99), ports)).toEqual(a);
    expect(new Set(a).size).toBe(5);
    expect(choices(node('random', 99), ports)).not.toEqual(choices(node('random', 1), ports));
  });

  it('a backend removed: flows of the other backends keep theirs (after a conntrack loss they choose again the same)', () => {
    const dp = node('maglev', 1);
    const first = choices(dp, ports);
    const gone = '10.244.0.12';
    const rest = Array.from({ length: 5 }, (_, i) => `10.244.0.${10 + i}`).filter((ip) => ip !== gone);
    dp.addService(VIP, 80, 'tcp', rest.map((ip) => ({ ip, port: 8080 })), { scheduler: 'maglev' });
    for (let e = 0; e < 1000; e++) dp.ctDelete(e); // as after a restart: every flow chooses again
    const again = choices(dp, ports);
    const moved = ports.filter((_, i) => first[i] !== gone && again[i] !== first[i]).length;
    expect(moved / ports.filter((_, i) => first[i] !== gone).length).toBeLessThan(0.1);
    expect(again).not.toContain(gone);
  });

  it('scheduler maglev on a data plane configured without the tables: a clear error', () => {
    const [dp] = createNodes(1, { slots: 8, maxPorts: 8 });
    expect(() => dp.addService(VIP, 80, 'tcp', [{ ip: '10.244.0.10', port: 8080 }], { scheduler: 'maglev' }))
      .toThrow('service 10.96.0.10:80/tcp: scheduler maglev needs a data plane configured with maglev: true');
  });
});
