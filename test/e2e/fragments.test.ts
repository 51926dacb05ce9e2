// End-to-end, as root: UDP datagrams larger than the pod MTU to a ClusterIP
// (issue 11 item 2). The client's kernel sends them as IP fragments; n1
// reassembles them before its Service NAT (as nf_defrag_ipv4 does before
// kube-proxy's DNAT), translates, and sends them on as fragments; the
// backend's fragmented echo comes back un-DNATed. The client's socket is
// connected to the ClusterIP, so a reply that was not translated back would
// never reach it. One backend shares the client's node (bridged reply), one
// is across the VXLAN tunnel.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { startLab, stopAllLabs, statusNode, isRoot, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { PYTHON, startListening } from '../helpers/traffic.ts';
import { killAll } from '../helpers/pod-servers.ts';

if (!isRoot) console.warn('test/e2e/fragments.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'frg';
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.238.0.0/16',
  '  serviceCIDR: 10.94.0.0/16',
  '  underlayCIDR: 172.31.248.0/24',
  '  overlay: vxlan',
  'nodes:',
  '  - name: n1',
  '    pods:',
  '      - { name: frg-near, labels: { app: near } }',
  '      - frg-client',
  '  - name: n2',
  '    pods:',
  '      - { name: frg-far, labels: { app: far } }',
  'services:',
  '  - name: near',
  '    selector: { app: near }',
  '    ports: [{ port: 53, targetPort: 5353, protocol: UDP }]',
  '  - name: far',
  '    selector: { app: far }',
  '    ports: [{ port: 53, targetPort: 5353, protocol: UDP }]',
  '',
].join('\n');

/** Echo every datagram back, whole (up to 64 KiB): its reply is as big as the request. */
const ECHO_PY = String.raw`
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('0.0.0.0', 5353))
print('listening', flush=True)
while True:
    d, a = u.recvfrom(65535)
    u.sendto(d, a)
`;

/** N datagrams of SIZE bytes (distinct contents) to VIP:PORT from a socket connected to it; each echo must match. */
const CLIENT_PY = String.raw`
import json, os, socket, sys
vip, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok, fails = 0, []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((vip, port))
    msg = bytes([(i + k) % 251 for k in range(size)])
    try:
        s.send(msg)
        got = s.recv(65535)
        if got == msg: ok += 1
        else: fails.append('echo of %d bytes differs (%d bytes back)' % (size, len(got)))
    except Exception as e:
        fails.append(repr(e))
    s.close()
print(json.dumps({'ok': ok, 'fails': fails}))
`;

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('IP fragments through a ClusterIP (root)', () => {
  let lab: RunningLab;
  let before: StatusJson;
  const servers: ChildProcess[] = [];

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    before = await lab.status();
    for (const pod of ['frg-near', 'frg-far']) {
      const s = startListening(`pw-${pod}`, [PYTHON, '-c', ECHO_PY], `echo server in pw-${pod}`, 10_000);
      servers.push(s.proc);
      await s.listening;
    }
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
  });

  for (const [svc, where] of [['near', 'a backend on the client\'s node (its reply bridged back)'], ['far', 'a backend across the VXLAN tunnel']] as const) {
    it(`4000-byte datagrams to the ClusterIP of "${svc}", ${where}: every echo comes back whole from the ClusterIP`, async () => {
      const vip = before.services.find((s) => s.name === svc)!.clusterIP;
      const r = await lab.exec('pw-frg-client', [PYTHON, '-c', CLIENT_PY, vip, '53', '10', '4000'], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ok: 10, fails: [] });
    });
  }

  it('n1 reassembled both directions before translating, and dropped no fragment', async () => {
    const s = await lab.status();
    const n1 = statusNode(s, 'n1');
    const was = statusNode(before, 'n1');
    const moved = (k: string) => (n1.events[k] ?? 0) - (was.events[k] ?? 0);
    // 20 requests and their 20 echoes, each of 3 fragments at pod MTU 1450
    expect(moved('frags_reassembled')).toBeGreaterThanOrEqual(40);
    expect(moved('frags_queued')).toBeGreaterThanOrEqual(80);
    expect(moved('service_dnat')).toBeGreaterThanOrEqual(20);
    for (const d of ['frag_overlap', 'frag_too_big', 'frag_no_buffer', 'frag_inconsistent', 'no_route', 'oversize']) {
      expect(n1.drops[d] ?? 0, d).toBe(0);
    }
  });
});
