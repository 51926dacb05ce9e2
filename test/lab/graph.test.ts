// `podwire graph`: the picture of a lab from a topology file or a running
// lab's status. The SVG is parsed by Python's XML parser (a reader nobody
// here wrote); every pod is named in it; a 200-pod lab lays out with no two
// boxes overlapping (pods inside their node, nodes and Services apart).
import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planTopology } from '../../src/model/topology.ts';
import { graphFromPlan, graphFromStatus } from '../../src/lab/graph.ts';
import { renderGraph, type Box } from '../../src/lab/graph-svg.ts';
import { labStatus } from '../../src/lab/status.ts';
import { podwire } from '../helpers/lab.ts';

const dir = mkdtempSync(join(tmpdir(), 'pw-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parse `svg` with Python's ElementTree; returns the root tag and every <text>'s content. */
function parseXml(svg: string): { root: string; texts: string[]; titles: string[] } {
  const file = join(dir, `g${Math.random().toString(36).slice(2)}.svg`);
  writeFileSync(file, svg);
  const out = execFileSync('/usr/bin/python3', ['-c', [
    'import sys, json, xml.etree.ElementTree as E',
    'r = E.parse(sys.argv[1]).getroot()',
    'ns = "{http://www.w3.org/2000/svg}"',
    'print(json.dumps({"root": r.tag, "texts": [t.text for t in r.iter(ns + "text")], "titles": [t.text for t in r.iter(ns + "title")]}))',
  ].join('\n'), file], { encoding: 'utf8' });
  return JSON.parse(out);
}

const overlap = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const inside = (a: Box, b: Box) => a.x >= b.x && a.y >= b.y && a.x + a.w <= b.x + b.w && a.y + a.h <= b.y + b.h;

/** Every pair of boxes that must not meet: pods with pods, and nodes, Services and external hosts with each other. */
function overlaps(boxes: Box[]): string[] {
  const found: string[] = [];
  const pods = boxes.filter((b) => b.kind === 'pod');
  const big = boxes.filter((b) => b.kind !== 'pod');
  for (const set of [pods, big]) {
    for (let i = 0; i < set.length; i++) for (let j = i + 1; j < set.length; j++) if (overlap(set[i], set[j])) found.push(`${set[i].kind} ${set[i].label} / ${set[j].kind} ${set[j].label}`);
  }
  return found;
}

const SMALL = {
  cluster: { name: 'demo', underlay: 'bridge' },
  nodes: [
    { name: 'n1', pods: [{ name: 'web-1', labels: { app: 'web' } }, { name: 'client', netem: { delay: '20ms' } }] },
    { name: 'k1', dataplane: 'kernel', pods: [{ name: 'web-2', labels: { app: 'web' } }] },
  ],
  external: [{ name: 'laptop' }],
  services: [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }],
};

describe('podwire graph', () => {
  it('3 pods: valid SVG naming every pod with its IP, the nodes, the Service, the external host, the impairment', () => {
    const plan = planTopology(SMALL);
    const g = graphFromPlan(plan);
    const p = renderGraph(g);
    const x = parseXml(p.svg);
    expect(x.root).toBe('{http://www.w3.org/2000/svg}svg');
    for (const pod of plan.nodes.flatMap((n) => n.pods)) {
      expect(x.texts).toContain(pod.name);
      expect(x.texts.some((t) => t.startsWith(pod.ip))).toBe(true);
    }
    expect(x.texts).toContain('kube-system/coredns'); // the cluster DNS pod, as up runs it
    expect(x.texts).toContain('node n1 (podwire)');
    expect(x.texts).toContain('node k1 (kernel data plane)');
    expect(x.texts).toContain('web');
    expect(x.texts).toContain('external laptop');
    expect(x.texts.some((t) => /delay 20ms/.test(t))).toBe(true);
    expect(x.texts.some((t) => /^underlay 172\.31\.255\.0\/24 \(Linux bridge in pw-ul-demo\)$/.test(t))).toBe(true);
    expect(overlaps(p.boxes)).toEqual([]);
  });

  it('200 pods on 4 nodes with 20 Services: every pod named, no boxes overlapping, pods inside their node, all within the picture', () => {
    const nodes = Array.from({ length: 4 }, (_, n) => ({
      name: `n${n + 1}`, pods: Array.from({ length: 50 }, (_, i) => ({ name: `pod-${n + 1}-${String(i).padStart(2, '0')}`, labels: { app: `app${i % 20}` } })),
    }));
    const services = Array.from({ length: 20 }, (_, i) => ({ name: `svc-${i}`, selector: { app: `app${i}` }, ports: [{ port: 80 }] }));
    const plan = planTopology({ cluster: { dns: false }, nodes, services });
    const p = renderGraph(graphFromPlan(plan));
    const x = parseXml(p.svg);
    for (const n of nodes) for (const pod of n.pods) expect(x.texts).toContain(pod.name);
    expect(p.boxes.filter((b) => b.kind === 'pod')).toHaveLength(200);
    expect(overlaps(p.boxes)).toEqual([]);
    const nodeBoxes = p.boxes.filter((b) => b.kind === 'node');
    for (const b of p.boxes.filter((b) => b.kind === 'pod')) {
      const n = nodeBoxes.find((nb) => nb.label === `n${b.label.split('-')[1]}`)!;
      expect(inside(b, n), `${b.label} inside node ${n.label}`).toBe(true);
    }
    for (const b of p.boxes) expect(inside(b, { kind: 'node', label: 'picture', x: 0, y: 0, w: p.width, h: p.height }), b.label).toBe(true);
    // readable: pods at their drawn size (no shrinking to fit), the picture grows instead
    expect(p.boxes.find((b) => b.kind === 'pod')!.w).toBeGreaterThanOrEqual(150);
    writeFileSync(join(dir, 'big.svg'), p.svg);
  });

  it('an impaired node-to-node link is written under the underlay', () => {
    const plan = planTopology({ nodes: [{ name: 'n1', pods: ['a'] }, { name: 'n2', pods: ['b'] }], links: [{ between: ['n1', 'n2'], netem: { delay: '10ms' } }] });
    expect(parseXml(renderGraph(graphFromPlan(plan)).svg).texts).toContain('impaired links: n1:n2 delay 10ms');
  });

  it('from a running lab\'s status: the same nodes, pods and Services as from its plan', () => {
    const plan = planTopology({ ...SMALL, cluster: { ...SMALL.cluster, dns: false } });
    const fromPlan = graphFromPlan(plan);
    const fromStatus = graphFromStatus(JSON.parse(JSON.stringify(labStatus(plan, 1, 'now', []))));
    expect(fromStatus).toEqual(fromPlan);
  });

  it('the CLI: a topology file to .svg and .html without a lab; refuses another extension', async () => {
    const file = join(dir, 'lab.yaml');
    writeFileSync(file, JSON.stringify(SMALL)); // JSON is YAML
    const svg = join(dir, 'out.svg'), html = join(dir, 'out.html');
    const a = await podwire(['graph', file, '-o', svg]);
    expect(a.code, a.stderr).toBe(0);
    expect(parseXml(readFileSync(svg, 'utf8')).texts).toContain('web-1');
    const b = await podwire(['graph', file, '-o', html]);
    expect(b.code, b.stderr).toBe(0);
    expect(readFileSync(html, 'utf8')).toMatch(/^<!doctype html>[\s\S]*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/html>\n$/);
    const c = await podwire(['graph', file, '-o', join(dir, 'out.png')]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/expected a file name ending in \.svg or \.html/);
  }, 30_000);
});
