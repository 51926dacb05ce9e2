// Root smoke run of `podwire bench scale` through the compiled CLI, as a user
// runs it: one lab of 3 pods on 2 nodes, --quick. Every figure of the lab is
// there and finite, its teardown left nothing, and the JSON and SVG are written.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, podwire, hostLeftovers } from '../helpers/lab.ts';
import type { ScaleReport } from '../../bench/scale-math.ts';

if (!isRoot) console.warn('test/bench/scale-e2e.test.ts: skipped — needs root (creates network namespaces and TAP devices)');

const out = mkdtempSync(join(tmpdir(), 'pw-scale-e2e-'));

describe.skipIf(!isRoot)('bench scale, smoke (root)', () => {
  afterAll(async () => {
    rmSync(out, { recursive: true, force: true });
    expect(await hostLeftovers(['pw-sc-'])).toEqual({ namespaces: [], links: [] });
  });

  it('--pods 3 --nodes 2 --quick: every figure, nothing left behind, JSON and SVG written', async () => {
    const r = await podwire(['bench', 'scale', '--pods', '3', '--nodes', '2', '--quick', '--out', out], { timeoutMs: 120_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\[lab 1\/1\] 3 pods on 2 nodes: ready in [\d.]+ s/);
    expect(r.stdout).toMatch(/\[lab 1\/1\] 3 pods on 2 nodes: down in [\d.]+ s/);
    const files = readdirSync(out);
    const json = files.find((f) => /^podwire-scale-.*\.json$/.test(f))!;
    expect(files).toContain(json.replace(/\.json$/, '.svg'));
    const report = JSON.parse(readFileSync(join(out, json), 'utf8')) as ScaleReport;
    const lab = report.labs[0];
    expect(lab.error).toBeUndefined();
    expect(lab.errors).toBeUndefined();
    expect(lab.leftovers).toEqual([]);
    for (const v of [lab.readyMs, lab.downMs, lab.rssBytes, lab.idleCpuPct, lab.tcpGbps, lab.pingP50Us, lab.pingP99Us]) expect(Number.isFinite(v)).toBe(true);
    expect(lab.tcpGbps).toBeGreaterThan(0);
    expect(lab.probe).toEqual({ client: 'sc-0', server: 'sc-2' });
    expect(lab.memory!.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(lab.upPhases!.map((p) => p.phase)).toContain('pod interfaces, addresses, routes');
    expect(lab.downPhases!.some((p) => p.phase.startsWith('TAPs closed'))).toBe(true);
  }, 150_000);
});
