// End-to-end, as root: bulk TCP through a ClusterIP with conntrack's window
// tracking on (assembly/tables/conntrack.ts, issue 11 item 5). 20 MB from a
// pod on n1 to a backend on n2 (vxlan), and to one on n1 (the bridge), each
// through the Service: real kernel TCP (window scaling, SACK, GSO super-frames
// from the TAP, delayed ACKs) must not trip a single ct_invalid drop, and
// every byte arrives.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startLab, stopAllLabs, statusNode, isRoot, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { tcpTransfer } from '../helpers/traffic.ts';

if (!isRoot) console.warn('test/e2e/service-bulk.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.238.0.0/16',
  '  serviceCIDR: 10.94.0.0/16',
  '  underlayCIDR: 172.31.248.0/24',
  '  overlay: vxlan',
  'nodes:',
  '  - name: n1',
  '    pods:',
  '      - bulk-client',
  '      - { name: bulk-near, labels: { app: near } }',
  '  - name: n2',
  '    pods:',
  '      - { name: bulk-far, labels: { app: far } }',
  'services:',
  '  - name: far',
  '    selector: { app: far }',
  '    ports: [{ port: 5201, targetPort: 5201, protocol: TCP }]',
  '  - name: near',
  '    selector: { app: near }',
  '    ports: [{ port: 5202, targetPort: 5202, protocol: TCP }]',
  '',
].join('\n');
const MB20 = 20 * 1024 * 1024;

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('bulk TCP through a ClusterIP with window tracking (root)', () => {
  let lab: RunningLab;
  let svc: Record<string, StatusJson['services'][number]>;

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: 'bulk' });
    const s = await lab.status();
    svc = Object.fromEntries(s.services.map((x) => [x.name, x]));
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  for (const [name, pod, port] of [['far', 'bulk-far', 5201], ['near', 'bulk-near', 5202]] as const) {
    it(`20 MB to the ${name} backend through its ClusterIP: every byte, no ct_invalid`, async () => {
      const before = statusNode(await lab.status(), 'n1');
      const r = await tcpTransfer('pw-bulk-client', `pw-${pod}`, svc[name].clusterIP, MB20, port);
      expect(r.received).toEqual(r.sent);
      expect(r.received.bytes).toBe(MB20);
      const n1 = statusNode(await lab.status(), 'n1');
      expect((n1.drops.ct_invalid ?? 0) - (before.drops.ct_invalid ?? 0)).toBe(0);
      expect(n1.events.service_dnat - (before.events.service_dnat ?? 0)).toBeGreaterThan(100);
    }, 90_000);
  }
});
