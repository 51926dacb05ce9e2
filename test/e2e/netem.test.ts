// End-to-end, as root: link impairment (`netem:` on a pod, `podwire netem
// set|clear`). The data plane holds, drops or duplicates the frames it sends
// to an impaired pod (src/dataplane/impairment.ts); ping, which nobody here
// wrote, measures it: a 20 ms delay on the pinging pod's link shows as
// +20 ms RTT (the echo reply is delayed), 1% loss on the pinged pod's link
// loses requests within binomial bounds, set and clear take effect live.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startLab, stopAllLabs, isRoot, podwire, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { execIn } from '../helpers/lab.ts';

if (!isRoot) console.warn('test/e2e/netem.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');

const LAB = 'pwne';
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.233.0.0/16',
  '  serviceCIDR: 10.87.0.0/16',
  '  dns: false',
  'nodes:',
  '  - name: n1',
  '    pods: [{ name: pwne-a1, netem: { delay: 20ms } }, pwne-a2, pwne-a3]',
  '',
].join('\n');

interface PingFigures { sent: number; received: number; duplicates: number; rtts: number[] }

/** ping -c COUNT -i INTERVAL from `ns` to `ip`; every reply's RTT (ms) and ping's summary counts. */
async function pingFigures(ns: string, ip: string, count: number, interval: string, extra: string[] = []): Promise<PingFigures> {
  const r = await execIn(ns, ['ping', '-n', '-c', String(count), '-i', interval, '-W', '1', ...extra, ip], { timeoutMs: 60_000 });
  const summary = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?/.exec(r.stdout);
  if (!summary) throw new Error(`ping printed no summary (exit ${r.code}): ${r.stdout}${r.stderr}`);
  const rtts = [...r.stdout.matchAll(/icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { sent: Number(summary[1]), received: Number(summary[2]), duplicates: Number(summary[3] ?? 0), rtts };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function cli(args: string[]): Promise<string> {
  const r = await podwire([...args, '--name', LAB], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`podwire ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot)('netem: delay and loss on pods\' links, measured with ping (root)', () => {
  let lab: RunningLab;
  let status: StatusJson;
  const ip = (name: string) => status.pods.find((p) => p.name === name)!.ip;
  let base = 0;

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    status = await lab.status();
    // the unimpaired RTT between two pods of the same node, the baseline every figure is against
    const b = await pingFigures('pw-pwne-a2', ip('pwne-a3'), 50, '0.01');
    expect(b.received).toBe(50);
    base = median(b.rtts);
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('a 20 ms delay from the topology: every RTT from the impaired pod is +20 ms (± 3 ms)', async () => {
    const f = await pingFigures('pw-pwne-a1', ip('pwne-a2'), 50, '0.01');
    expect(f.received).toBe(50);
    expect(Math.min(...f.rtts)).toBeGreaterThanOrEqual(20);
    expect(median(f.rtts) - base).toBeGreaterThan(20 - 3);
    expect(median(f.rtts) - base).toBeLessThan(20 + 3);
    console.log(`netem e2e: baseline median RTT ${base} ms; with delay 20ms ${median(f.rtts)} ms (min ${Math.min(...f.rtts)}, max ${Math.max(...f.rtts)})`);
  }, 30_000);

  it('status shows the impairment and what it did', async () => {
    const s = JSON.parse(await cli(['status', '--json'])) as { pods: { name: string; netem?: { text: string; stats?: { frames: number } } }[] };
    const a1 = s.pods.find((p) => p.name === 'pwne-a1')!;
    expect(a1.netem?.text).toBe('delay 20ms');
    expect(a1.netem?.stats?.frames).toBeGreaterThanOrEqual(50);
    expect(s.pods.find((p) => p.name === 'pwne-a2')!.netem).toBeUndefined();
    expect(await cli(['status'])).toMatch(/impaired links[^\n]*\n.*NETEM[\s\S]*pwne-a1\s+n1\s+delay 20ms/);
  }, 30_000);

  it('podwire graph of the running lab names every pod with its IP, and the impairment', async () => {
    const svg = await cli(['graph']);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const p of status.pods) expect(svg).toContain(`>${p.name}</text>`);
    expect(svg).toContain(`>${ip('pwne-a1')} · delay 20ms</text>`);
  }, 30_000);

  it('netem set a 40 ms delay live, then clear: the RTT follows', async () => {
    expect(await cli(['netem', 'set', 'pwne-a3', '--delay', '40ms'])).toMatch(/pwne-a3 \(node n1\): netem delay 40ms/);
    const on = await pingFigures('pw-pwne-a2', ip('pwne-a3'), 30, '0.01');
    expect(on.received).toBe(30);
    expect(median(on.rtts) - base).toBeGreaterThan(40 - 3);
    expect(median(on.rtts) - base).toBeLessThan(40 + 3);
    expect(await cli(['netem', 'clear', 'pwne-a3'])).toMatch(/netem none/);
    const off = await pingFigures('pw-pwne-a2', ip('pwne-a3'), 30, '0.01');
    expect(median(off.rtts)).toBeLessThan(base + 3);
    // clearing the topology's impairment too
    await cli(['netem', 'clear', 'pwne-a1']);
    const a1 = await pingFigures('pw-pwne-a1', ip('pwne-a2'), 20, '0.01');
    expect(median(a1.rtts)).toBeLessThan(base + 3);
  }, 30_000);

  it('1% loss over 4000 echo requests: the losses are within binomial bounds (mean 40, sd 6.3; ±3.5 sd)', async () => {
    await cli(['netem', 'set', 'pwne-a3', '--loss', '1%']);
    const f = await pingFigures('pw-pwne-a2', ip('pwne-a3'), 4000, '0.002', ['-q']);
    const lost = f.sent - f.received;
    console.log(`netem e2e: loss 1%: ${lost} of ${f.sent} echo requests lost (${(100 * lost / f.sent).toFixed(2)}%)`);
    expect(f.sent).toBe(4000);
    // binomial(4000, 0.01): mean 40, sd sqrt(4000 * 0.01 * 0.99) = 6.29; 3.5 sd either way: 18..62 (fails by chance about 1 in 2000)
    expect(lost).toBeGreaterThanOrEqual(18);
    expect(lost).toBeLessThanOrEqual(62);
    await cli(['netem', 'clear', 'pwne-a3']);
  }, 60_000);

  it('duplicate 20% over 500 requests: ping counts the duplicated requests\' extra replies (mean 100, ±3.5 sd)', async () => {
    await cli(['netem', 'set', 'pwne-a3', '--duplicate', '20%']);
    const f = await pingFigures('pw-pwne-a2', ip('pwne-a3'), 500, '0.002', ['-q']);
    await cli(['netem', 'clear', 'pwne-a3']);
    // binomial(500, 0.2): mean 100, sd 8.94
    expect(f.received).toBe(500);
    expect(f.duplicates).toBeGreaterThanOrEqual(100 - 32);
    expect(f.duplicates).toBeLessThanOrEqual(100 + 32);
  }, 30_000);

  it('a rate of 1mbit: a 1250-byte reply takes 10 ms to cross (+10 ms RTT, ± 3 ms)', async () => {
    await cli(['netem', 'set', 'pwne-a2', '--rate', '1mbit']);
    // -s 1208: 1208 + 8 ICMP + 20 IPv4 + 14 Ethernet = 1250 bytes = 10 ms at 1 Mbit/s
    const f = await pingFigures('pw-pwne-a2', ip('pwne-a3'), 20, '0.05', ['-s', '1208']);
    await cli(['netem', 'clear', 'pwne-a2']);
    expect(f.received).toBe(20);
    const big = await pingFigures('pw-pwne-a2', ip('pwne-a3'), 20, '0.05', ['-s', '1208']);
    expect(median(f.rtts) - median(big.rtts)).toBeGreaterThan(10 - 3);
    expect(median(f.rtts) - median(big.rtts)).toBeLessThan(10 + 3);
  }, 30_000);

  it('refuses a bad value naming the field, and a pod that does not exist', async () => {
    const bad = await podwire(['netem', 'set', 'pwne-a1', '--delay', '20', '--name', LAB]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/netem for pod pwne-a1\.delay: "20" is not a time/);
    const none = await podwire(['netem', 'set', 'nope', '--loss', '1%', '--name', LAB]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no pod "nope"/);
  }, 30_000);
});

const LINK_LAB = 'pwnl';
const LINK_TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.234.0.0/16',
  '  serviceCIDR: 10.86.0.0/16',
  '  underlayCIDR: 172.31.234.0/24',
  '  dns: false',
  'nodes:',
  '  - { name: n1, pods: [pwnl-a1] }',
  '  - { name: n2, pods: [pwnl-b1] }',
  'links:',
  '  - { between: [n1, n2], netem: { delay: 10ms } }',
  '',
].join('\n');

describe.skipIf(!isRoot)('netem on a node-to-node link (in-process underlay), measured with ping (root)', () => {
  let lab: RunningLab;
  let b1 = '';
  const linkCli = async (args: string[]) => {
    const r = await podwire([...args, '--name', LINK_LAB], { timeoutMs: 20_000 });
    if (r.code !== 0) throw new Error(`podwire ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  beforeAll(async () => {
    lab = await startLab(LINK_TOPOLOGY, { name: LINK_LAB });
    b1 = (await lab.status()).pods.find((p) => p.name === 'pwnl-b1')!.ip;
  }, 60_000);

  afterAll(async () => {
    await lab?.stop();
  });

  it('10 ms each way from the topology is +20 ms RTT across the nodes; set 25 ms live is +50 ms; clear is the baseline (± 3 ms)', async () => {
    const fromTopology = await pingFigures('pw-pwnl-a1', b1, 30, '0.01');
    const s = JSON.parse(await linkCli(['status', '--json'])) as { links: { between: string[]; netem?: { text: string }; directions: { from: string; stats: { frames: number } }[] }[] };
    expect(s.links[0]).toMatchObject({ between: ['n1', 'n2'], netem: { text: 'delay 10ms' } });
    expect(s.links[0].directions.map((d) => d.from).sort()).toEqual(['n1', 'n2']);
    for (const d of s.links[0].directions) expect(d.stats.frames).toBeGreaterThanOrEqual(30);
    expect(await linkCli(['status'])).toMatch(/impaired node-to-node links[\s\S]*n1\s+n2\s+delay 10ms[\s\S]*n2\s+n1\s+delay 10ms/);
    expect(await linkCli(['netem', 'set', 'n1:n2', '--delay', '25ms'])).toMatch(/^n1:n2: netem delay 25ms$/m);
    const live = await pingFigures('pw-pwnl-a1', b1, 30, '0.01');
    expect(await linkCli(['netem', 'clear', 'n2:n1'])).toMatch(/^n2:n1: netem none$/m);
    const base = await pingFigures('pw-pwnl-a1', b1, 30, '0.01');
    for (const f of [fromTopology, live, base]) expect(f.received).toBe(30);
    console.log(`netem e2e: across nodes baseline ${median(base.rtts)} ms; link delay 10ms ${median(fromTopology.rtts)} ms; 25ms ${median(live.rtts)} ms`);
    expect(median(fromTopology.rtts) - median(base.rtts)).toBeGreaterThan(20 - 3);
    expect(median(fromTopology.rtts) - median(base.rtts)).toBeLessThan(20 + 3);
    expect(median(live.rtts) - median(base.rtts)).toBeGreaterThan(50 - 3);
    expect(median(live.rtts) - median(base.rtts)).toBeLessThan(50 + 3);
  }, 60_000);
});
