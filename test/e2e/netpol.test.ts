// End-to-end, as root: the NetworkPolicy truth tables (test/helpers/netpol-cases.ts,
// in the style of the upstream netpol e2e tests) on running two-node VXLAN
// labs: namespaces x, y, z with pods a, b and c each serving TCP and UDP on
// 80 and 81; once on two podwire nodes (a on n1, b and c on n2), once in a
// mixed cluster where kernel node k1 holds x/a, y/a and y/b (its nftables
// table inet pw_netpol judges them, src/lab/kernel-netpol.ts) and podwire
// node n1 the rest. For each case the policies are applied
// live (the lab's applyPolicies request, what `podwire apply` sends), every
// pod probes every other pod on each port and protocol (real connections
// through the WebAssembly data plane and the kernel; a pod reaching itself is
// loopback and is not probed), the matrix is compared with the expected one
// (printed as grids on a difference), and the policies are deleted. Then,
// through the CLI (`podwire apply`, `delete networkpolicy`, `trace`,
// `policies`): trace naming the verdict (podwire's, or the kernel's); a
// Service's backend judged through its ClusterIP; an established connection
// surviving policy changes that still allow it; the denials counted.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startLab, stopAllLabs, isRoot, podwire, execIn, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { startListening, PYTHON, type ListeningProcess } from '../helpers/traffic.ts';
import type { PoliciesJson } from '../../src/lab/policy-control.ts';
import { requestControl } from '../../src/lab/control.ts';
import { socketPath } from '../../src/lab/state.ts';
import { parseApplyFile } from '../../src/model/apply.ts';
import { truthTopology, TRUTH_CASES, ipBlockCase, allPodRefs, PORTS, grid, podName, type PodRef, type Proto, type TruthCase, type TruthLayout } from '../helpers/netpol-cases.ts';

if (!isRoot) console.warn('test/e2e/netpol.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

/** The lab of each layout: its name and addresses (apart, so a leftover of one never meets the other). */
const LABS: Record<TruthLayout, { name: string; cluster: { clusterCIDR: string; serviceCIDR: string; underlayCIDR: string } }> = {
  podwire: { name: 'netpol', cluster: { clusterCIDR: '10.236.0.0/16', serviceCIDR: '10.92.0.0/16', underlayCIDR: '172.31.236.0/24' } },
  kernel: { name: 'netpolk', cluster: { clusterCIDR: '10.237.0.0/16', serviceCIDR: '10.93.0.0/16', underlayCIDR: '172.31.237.0/24' } },
};
const netns = (p: PodRef) => `pw-${p.pod}_${p.ns}`;

// TCP and UDP on 80 and 81: TCP sends "ok" then echoes until closed; UDP answers "ok"
const SERVER_PY = String.raw`
import socket, threading
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port)); s.listen(64)
    while True:
        c, _ = s.accept()
        def serve(c):
            try:
                c.sendall(b'ok')
                while True:
                    d = c.recv(64)
                    if not d: break
                    c.sendall(d)
            except OSError: pass
            c.close()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
def udp(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', port))
    while True:
        d, a = u.recvfrom(64); u.sendto(b'ok', a)
ts = [threading.Thread(target=f, args=(p,), daemon=True) for p in (80, 81) for f in (tcp, udp)]
for t in ts: t.start()
print('listening', flush=True)
for t in ts: t.join()
`;
// probe each "label ip port proto" argument in parallel; print "label 1|0" per line
const PROBE_PY = String.raw`
import socket, sys, threading
out = {}
def probe(label, ip, port, proto):
    ok = False
    try:
        if proto == 'TCP':
            c = socket.create_connection((ip, int(port)), timeout=1.5); ok = c.recv(2) == b'ok'; c.close()
        else:
            for _ in range(2):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(0.7)
                u.sendto(b'?', (ip, int(port)))
                try:
                    ok = u.recv(2) == b'ok'
                except OSError: pass
                u.close()
                if ok: break
    except OSError: pass
    out[label] = ok
ts = [threading.Thread(target=probe, args=a.split(' ')) for a in sys.argv[1:]]
for t in ts: t.start()
for t in ts: t.join()
for k, v in out.items(): print(k, 1 if v else 0)
`;

for (const layout of ['podwire', 'kernel'] as const) truthSuite(layout);

function truthSuite(layout: TruthLayout): void {
  const { name: LAB, cluster: CLUSTER } = LABS[layout];
  let lab: RunningLab;
  let status: StatusJson;
  let dir: string;
  const servers: ListeningProcess[] = [];
  const ipOf = (p: PodRef) => status.pods.find((x) => x.name === p.pod && x.namespace === p.ns)!.ip;
  const nodeOf = (p: PodRef) => status.pods.find((x) => x.name === p.pod && x.namespace === p.ns)!.node;

  /** Every probe of `protos` x PORTS from every pod to every other pod: label "from to proto port" -> reached. */
  async function probeAll(protos: Proto[]): Promise<Map<string, boolean>> {
    const got = new Map<string, boolean>();
    await Promise.all(allPodRefs.map(async (f) => {
      const args = allPodRefs.filter((t) => podName(t) !== podName(f)).flatMap((t) => protos.flatMap((proto) => PORTS.map((port) =>
        `${podName(f)}>${podName(t)}>${proto}>${port} ${ipOf(t)} ${port} ${proto}`)));
      const r = await execIn(netns(f), [PYTHON, '-c', PROBE_PY, ...args], { timeoutMs: 20_000 });
      expect(r.code, r.stderr).toBe(0);
      for (const line of r.stdout.trim().split('\n')) {
        const [label, v] = line.split(' ');
        got.set(label, v === '1');
      }
    }));
    return got;
  }

  function compare(tc: TruthCase, got: Map<string, boolean>): string[] {
    const diffs: string[] = [];
    for (const proto of tc.protocols ?? ['TCP', 'UDP']) for (const port of PORTS) {
      const self = (f: PodRef, t: PodRef) => podName(f) === podName(t);
      const have = (f: PodRef, t: PodRef) => self(f, t) || got.get(`${podName(f)}>${podName(t)}>${proto}>${port}`) === true;
      const want = (f: PodRef, t: PodRef) => self(f, t) || tc.allowed(f, t, proto, port);
      if (allPodRefs.some((f) => allPodRefs.some((t) => have(f, t) !== want(f, t)))) {
        diffs.push(`${tc.name}, ${proto} ${port}:\nexpected\n${grid(want)}\ngot\n${grid(have)}`);
      }
    }
    return diffs;
  }

  /** `podwire apply` of `policies` (the CLI, parsing a file as a user's would). */
  async function applyPolicies(policies: TruthCase['policies']): Promise<void> {
    const file = join(dir, 'policies.yaml');
    writeFileSync(file, stringify({ networkPolicies: policies }));
    const r = await podwire(['apply', file, '--name', LAB]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('networkpolicy.networking.k8s.io/');
  }
  async function deletePolicies(policies: TruthCase['policies']): Promise<void> {
    for (const p of policies) {
      const r = await podwire(['delete', 'networkpolicy', p.name, '-n', p.namespace, '--name', LAB]);
      expect(r.code, r.stderr).toBe(0);
    }
  }
  /**
   * The same changes straight over the lab's control socket, as the CLI sends
   * them (applyPolicies / deletePolicies): the truth-table cases skip two CLI
   * start-ups each, which keeps the file within its time.
   */
  async function applyPoliciesFast(policies: TruthCase['policies']): Promise<void> {
    const parsed = parseApplyFile(stringify({ networkPolicies: policies }), 'policies.yaml').networkPolicies ?? [];
    await requestControl(socketPath(LAB), 'applyPolicies', 60_000, { policies: parsed.map((x) => x.value) });
  }
  async function deletePoliciesFast(policies: TruthCase['policies']): Promise<void> {
    await requestControl(socketPath(LAB), 'deletePolicies', 60_000, { refs: policies.map((p) => ({ namespace: p.namespace, name: p.name })) });
  }

  const title = layout === 'podwire' ? 'two podwire nodes' : 'kernel node k1 (x/a, y/a, y/b: nftables) and podwire node n1';
  describe.skipIf(!isRoot)(`NetworkPolicy truth tables on a two-node VXLAN lab: ${title} (root)`, () => {
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'pw-netpol-'));
      const topo = truthTopology({
        services: [{ name: 'svc-a', namespace: 'x', selector: { pod: 'a' }, ports: [{ port: 80, targetPort: 80 }] }],
      }, CLUSTER, layout);
      lab = await startLab(stringify(topo), { name: LAB });
      status = await lab.status();
      for (const p of allPodRefs) servers.push(startListening(netns(p), [PYTHON, '-c', SERVER_PY], `server in ${netns(p)}`));
      await Promise.all(servers.map((s) => s.listening));
    }, 90_000);

    afterAll(async () => {
      for (const s of servers) s.kill();
      await stopAllLabs();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('no policy: every pod reaches every pod on TCP and UDP 80 and 81', async () => {
      const diffs = compare({ name: 'no policy', policies: [], allowed: () => true, protocols: ['TCP', 'UDP'] }, await probeAll(['TCP', 'UDP']));
      expect(diffs.join('\n\n')).toBe('');
    }, 60_000);

    for (const tc of [...TRUTH_CASES, 'ipBlock' as const]) {
      const name = tc === 'ipBlock' ? 'ipBlock with except' : tc.name;
      it(name, async () => {
        const c = tc === 'ipBlock' ? ipBlockCase(ipOf, CLUSTER.clusterCIDR) : tc;
        await applyPoliciesFast(c.policies);
        try {
          const diffs = compare(c, await probeAll(c.protocols ?? ['TCP', 'UDP']));
          expect(diffs.join('\n\n')).toBe('');
        } finally {
          await deletePoliciesFast(c.policies);
        }
      }, 60_000);
    }

    it(layout === 'podwire' ? 'podwire trace names the denying policy and the drop' : 'podwire trace into the kernel node says the verdict is the kernel\'s, and what its rules decide', async () => {
      const policy = TRUTH_CASES[0].policies;
      await applyPolicies(policy);
      try {
        if (layout === 'podwire') {
          const r = await podwire(['trace', '--from', 'y/b', '--to', 'x/a', '--port', '80', '--name', LAB]);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toContain(`ingress policy of ${ipOf({ ns: 'x', pod: 'a' })} (peer ${ipOf({ ns: 'y', pod: 'b' })}): denied (x/deny-all: no rule admits y{pod=b}`);
          expect(r.stdout).toContain('policy_denied_ingress');
        } else {
          // z/b (n1) -> x/a (k1): podwire forwards it into the overlay; the kernel decides. One real denied probe first, for the counter
          expect((await execIn(netns({ ns: 'z', pod: 'b' }), [PYTHON, '-c', PROBE_PY, `v ${ipOf({ ns: 'x', pod: 'a' })} 80 TCP`])).stdout.trim()).toBe('v 0');
          const r = await podwire(['trace', '--from', 'z/b', '--to', 'x/a', '--port', '80', '--name', LAB]);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toContain("=> then kernel node k1 (pod x/a): the verdict is the kernel's (nftables, table inet pw_netpol); podwire cannot see inside the kernel");
          expect(r.stdout).toMatch(/say: denied \(isolated by x\/deny-all; no rule admits it\); its deny rule has dropped [1-9]\d* packets/);
          // and to a pod the policy leaves alone: allowed, not isolated
          const ok = await podwire(['trace', '--from', 'z/b', '--to', 'y/b', '--port', '80', '--name', LAB]);
          expect(ok.stdout).toContain('say: allowed (no policy isolates the pod for ingress)');
        }
      } finally {
        await deletePolicies(policy);
      }
    }, 60_000);

    it("a Service's backend is judged through the ClusterIP (after DNAT): x/a admits namespace y only", async () => {
      const policy = TRUTH_CASES[1].policies;
      const vip = status.services.find((s) => s.name === 'svc-a')!.clusterIP;
      await applyPolicies(policy);
      try {
        const probe = async (from: PodRef) => (await execIn(netns(from), [PYTHON, '-c', PROBE_PY, `v ${vip} 80 TCP`])).stdout.trim();
        expect(await probe({ ns: 'y', pod: 'b' })).toBe('v 1');
        expect(await probe({ ns: 'y', pod: 'a' })).toBe('v 1'); // same node as the backend (bridged)
        expect(await probe({ ns: 'z', pod: 'c' })).toBe('v 0');
        expect(await probe({ ns: 'x', pod: 'b' })).toBe('v 0');
        // podwire policies: x/a isolated for ingress by x/from-y, admitting namespace y's pods, enforced by its node
        const pol = await podwire(['policies', '--json', '--name', LAB]);
        expect(pol.code, pol.stderr).toBe(0);
        const pods = (JSON.parse(pol.stdout) as PoliciesJson).pods;
        const by = layout === 'podwire' ? 'podwire' : 'nftables';
        expect(pods.map((p) => `${p.node} ${p.pod} ${p.enforced} ${p.enforcedBy} ${p.ingress?.isolatedBy.join(',')} ${p.egress ? 'egress' : '-'}`))
          .toEqual([`${nodeOf({ ns: 'x', pod: 'a' })} x/a true ${by} x/from-y -`]);
        expect(new Set(pods[0].ingress!.allow.map((a) => `${a.peer.split('{')[0]} ${a.protocol} ${a.ports} ${a.rule}`))).toEqual(new Set(['y any all x/from-y ingress[0]']));
      } finally {
        await deletePolicies(policy);
      }
    }, 60_000);

    it('ping: a rule without ports admits ICMP echo (x/a from namespace y), a deny-all does not', async () => {
      const ping = async (from: PodRef, to: PodRef) => (await execIn(netns(from), ['ping', '-c', '1', '-W', '2', ipOf(to)])).code;
      const a = { ns: 'x', pod: 'a' };
      await applyPolicies(TRUTH_CASES[1].policies); // from namespace y, no ports
      try {
        expect(await ping({ ns: 'y', pod: 'b' }, a)).toBe(0); // across VXLAN, the reply passes as the echo's
        expect(await ping({ ns: 'z', pod: 'c' }, a)).not.toBe(0);
      } finally {
        await deletePolicies(TRUTH_CASES[1].policies);
      }
      await applyPolicies(TRUTH_CASES[0].policies); // deny all ingress in x
      try {
        expect(await ping({ ns: 'y', pod: 'b' }, a)).not.toBe(0);
        expect(await ping(a, { ns: 'y', pod: 'b' })).toBe(0); // x/a's own echo: its reply is tracked, not judged
      } finally {
        await deletePolicies(TRUTH_CASES[0].policies);
      }
    }, 60_000);

    it('an established connection survives policies added and removed that still allow it; new connections follow the policies; denials are counted', async () => {
      // y/b holds a connection to x/a:80 and sends a line every 200 ms, for 6 s
      const CLIENT_PY = String.raw`
import socket, sys, time
c = socket.create_connection((sys.argv[1], 80), timeout=2)
assert c.recv(2) == b'ok'
print('listening', flush=True)
ok = 0
for i in range(30):
    c.sendall(b'x'); ok += c.recv(1) == b'x'; time.sleep(0.2)
print('echoed', ok, flush=True)
`;
      const client = startListening(netns({ ns: 'y', pod: 'b' }), [PYTHON, '-c', CLIENT_PY, ipOf({ ns: 'x', pod: 'a' })], 'long-lived client in y/b');
      await client.listening;
      const before = await lab.status();
      await applyPolicies(TRUTH_CASES[1].policies); // x/a from namespace y only: still allows y/b
      const probe = async (from: PodRef) => (await execIn(netns(from), [PYTHON, '-c', PROBE_PY, `v ${ipOf({ ns: 'x', pod: 'a' })} 80 TCP`])).stdout.trim();
      expect(await probe({ ns: 'z', pod: 'b' })).toBe('v 0');
      // the denial is counted: by podwire's drop counter, or by the kernel node's nft deny rule (podwire policies)
      if (layout === 'podwire') {
        const denied = (s: StatusJson) => s.nodes.find((n) => n.name === nodeOf({ ns: 'x', pod: 'a' }))!.drops.policy_denied_ingress ?? 0;
        expect(denied(await lab.status()) - denied(before)).toBeGreaterThan(0);
      } else {
        const pol = await podwire(['policies', '--json', '--name', LAB]);
        expect(pol.code, pol.stderr).toBe(0);
        const xa = (JSON.parse(pol.stdout) as PoliciesJson).pods.find((p) => p.pod === 'x/a')!;
        expect(xa.denied?.ingress).toBeGreaterThan(0);
      }
      expect(await probe({ ns: 'y', pod: 'c' })).toBe('v 1');
      await applyPolicies([...TRUTH_CASES[1].policies, ...TRUTH_CASES[3].policies]); // and a second, OR-ing policy
      expect(await probe({ ns: 'x', pod: 'b' })).toBe('v 1');
      await deletePolicies([...TRUTH_CASES[1].policies, ...TRUTH_CASES[3].policies]);
      expect(await probe({ ns: 'z', pod: 'b' })).toBe('v 1');
      expect(await client.exited).toBe(0);
      expect(client.stdout()).toContain('echoed 30');
    }, 60_000);
  });
}
