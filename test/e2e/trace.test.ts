// End-to-end, as root: `podwire trace` in a running two-node VXLAN lab. A
// synthetic SYN from pod tr-client (n1) to the Service web, whose only
// endpoint tr-web runs on n2, is followed through n1's Service DNAT, route
// and VXLAN encapsulation and n2's decapsulation to tr-web's port; a trace
// to an address nothing routes ends in the named drop; and a trace leaves
// the conntrack table (and every counter) as it was, with real flows in it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { startLab, stopAllLabs, isRoot, podwire, statusNode, PODWIRE, sleep, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { waitFor } from '../helpers/traffic.ts';
import { startPodServers, killAll } from '../helpers/pod-servers.ts';
import type { ChildProcess } from 'node:child_process';
import type { TraceReply } from '../../src/lab/trace-control.ts';

if (!isRoot) console.warn('test/e2e/trace.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'trc';
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.238.0.0/16',
  '  serviceCIDR: 10.94.0.0/16',
  '  underlayCIDR: 172.31.248.0/24',
  '  overlay: vxlan',
  'nodes:',
  '  - name: n1',
  '    pods: [tr-client]',
  '  - name: n2',
  '    pods:',
  '      - { name: tr-web, labels: { app: web } }',
  'services:',
  '  - name: web',
  '    selector: { app: web }',
  '    ports: [{ port: 80, targetPort: 8080, protocol: TCP }]',
  '',
].join('\n');

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('podwire trace in a two-node vxlan lab (root)', () => {
  let lab: RunningLab;
  let status: StatusJson;
  let servers: ChildProcess[] = [];
  const trace = (...args: string[]) => podwire(['trace', '--name', LAB, ...args], { timeoutMs: 20_000 });

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    status = await lab.status();
    servers = await startPodServers(['tr-web']);
  }, 60_000);

  afterAll(async () => {
    killAll(servers);
    await lab?.stop();
  });

  it('to a Service on another node: names the Service, the backend and the VXLAN encapsulation, hop by hop', async () => {
    const web = status.services.find((s) => s.name === 'web')!;
    const webIp = status.pods.find((p) => p.name === 'tr-web')!.ip;
    const r = await trace('--from', 'tr-client', '--to', 'web.default.svc.cluster.local', '--proto', 'tcp', '--port', '80');
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain(`to web.default.svc.cluster.local (Service default/web, ${web.clusterIP}) port 80`);
    expect(out).toContain(`service: ${web.clusterIP}:80/tcp is Service default/web, 1 backend(s)`);
    expect(out).toContain(`service: backend 1 of 1: ${webIp}:8080 (random)`);
    expect(out).toContain(`DNAT: destination ${web.clusterIP}:80 -> ${webIp}:8080`);
    expect(out).toMatch(/encap VXLAN: outer 172\.31\.248\.\d+:\d+ -> 172\.31\.248\.\d+:8472 udp, VNI 1, \+50 bytes/);
    expect(out).toMatch(/node n2:\n\s+received on n2\/underlay/);
    expect(out).toContain('decap VXLAN VNI 1');
    expect(out).toContain('=> delivered: out of tr-web (node n2)');
  });

  it('--json carries the same, structured', async () => {
    const r = await trace('--from', 'tr-client', '--to', 'web', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as TraceReply;
    expect(j.to).toMatchObject({ service: 'default/web', port: 80 });
    expect(j.hops.map((h) => h.node)).toEqual(['n1', 'n2']);
    const backend = j.hops[0].steps.find((s) => s.step === 'svc_backend')!;
    expect(backend.detail).toMatchObject({ why: 'random', of: 1 });
    expect(j.hops[0].steps.find((s) => s.step === 'encap')!.detail).toMatchObject({ kind: 'vxlan', vni: 1, bytesAdded: 50 });
    expect(j.outcomes).toEqual([{ node: 'n2', port: 'tr-web' }]);
  });

  it('to an address with no route: ends in the named drop', async () => {
    const r = await trace('--from', 'tr-client', '--to', '192.0.2.55', '--proto', 'udp', '--port', '9');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('route: no route to 192.0.2.55');
    expect(r.stdout).toContain('verdict: dropped (no_route)');
    expect(r.stdout).toContain('=> dropped on n1: no_route');
  });

  it('leaves the conntrack table and the counters as they were, with a real flow in the table', async () => {
    const web = status.services.find((s) => s.name === 'web')!;
    const curl = await lab.exec('pw-tr-client', ['curl', '-s', '--max-time', '3', `http://${web.clusterIP}/`], { timeoutMs: 10_000 });
    expect(curl.stdout.trim()).toBe('tr-web');
    const ct = async () => JSON.parse((await podwire(['conntrack', '--name', LAB, '--json'])).stdout).map((e: Record<string, unknown>) => ({ ...e, timeoutSeconds: 0 }));
    const counters = async () => {
      const s = await lab.status();
      return ['n1', 'n2'].map((n) => ({ drops: statusNode(s, n).drops, events: statusNode(s, n).events }));
    };
    const ctBefore = await ct();
    expect(ctBefore.length).toBeGreaterThan(0);
    const cBefore = await counters();
    for (const args of [['--to', 'web'], ['--to', '192.0.2.55', '--port', '9'], ['--to', 'tr-web', '--port', '8080']]) {
      const r = await trace('--from', 'tr-client', ...args);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await ct()).toEqual(ctBefore);
    expect(await counters()).toEqual(cBefore);
  });

  /** `podwire trace --live ...` in the background: its JSON lines as they come, and a way to stop it. */
  function liveTrace(args: string[]) {
    const child = spawn(process.execPath, [PODWIRE, 'trace', '--live', '--json', '--name', LAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      buf += c;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    });
    const stop = () => new Promise<number | null>((resolve) => { child.once('exit', (code) => resolve(code)); child.kill('SIGINT'); });
    return { lines, stop };
  }
  const frameText = (l: Record<string, unknown>) => ((l.steps ?? []) as { text: string }[]).map((s) => s.text).join('\n');

  it('--live shows the decisions real traffic of a pod meets, on both nodes', async () => {
    const web = status.services.find((s) => s.name === 'web')!;
    const live = liveTrace(['--pod', 'tr-client', '--rate', '1000']);
    try {
      await waitFor(() => live.lines.some((l) => l.tracing === 'tr-client'), 10_000, () => 'the live trace did not start');
      const curl = await lab.exec('pw-tr-client', ['curl', '-s', '--max-time', '3', `http://${web.clusterIP}/`], { timeoutMs: 10_000 });
      expect(curl.stdout.trim()).toBe('tr-web');
      await waitFor(() => live.lines.some((l) => l.node === 'n2' && frameText(l).includes('decap VXLAN')), 10_000, () => 'no n2 frames in the live trace: ' + JSON.stringify(live.lines).slice(0, 2000));
      const n1 = live.lines.filter((l) => l.node === 'n1').map(frameText);
      // the SYN: a new flow DNATed to the backend, and a reply translated back
      expect(n1.some((t) => t.includes('Service default/web') && t.includes(`DNAT: destination ${web.clusterIP}:80`))).toBe(true);
      expect(n1.some((t) => t.includes('conntrack: existing entry') && t.includes('reply direction') && t.includes(`un-DNAT: source`))).toBe(true);
    } finally {
      expect(await live.stop()).toBe(0);
    }
  });

  it('--live --drops shows only drops, each with its reason', async () => {
    const live = liveTrace(['--pod', 'tr-client', '--drops']);
    try {
      await waitFor(() => live.lines.some((l) => l.tracing === 'tr-client'), 10_000, () => 'the live trace did not start');
      await lab.exec('pw-tr-client', ['ping', '-c', '1', '-W', '1', '192.0.2.77'], { timeoutMs: 10_000 });
      const web = status.services.find((s) => s.name === 'web')!;
      await lab.exec('pw-tr-client', ['curl', '-s', '--max-time', '3', `http://${web.clusterIP}/`], { timeoutMs: 10_000 });
      await waitFor(() => live.lines.some((l) => frameText(l).includes('verdict: dropped (no_route)')), 10_000, () => 'no no_route drop: ' + JSON.stringify(live.lines).slice(0, 2000));
      await sleep(300);
      const frames = live.lines.filter((l) => l.steps);
      expect(frames.every((l) => /verdict: dropped|not sent out of/.test(frameText(l)))).toBe(true);
    } finally {
      expect(await live.stop()).toBe(0);
    }
  });

  it('names the problem when the request makes no sense', async () => {
    const noPod = await trace('--from', 'nobody', '--to', 'web');
    expect(noPod.code).toBe(1);
    expect(noPod.stderr).toContain('no pod "nobody"');
    const noPort = await trace('--from', 'tr-client', '--to', 'web', '--proto', 'udp');
    expect(noPort.code).toBe(1);
    expect(noPort.stderr).toContain('Service default/web has no UDP port');
  });
});
