// The live page (src/ui/) in a real browser without a lab: Debian's chromium,
// headless, through playwright-core, against the page's server with a fake
// lab of 200 pods on 4 nodes and 20 Services. Every pod is named on the map
// inside its node's box, no two boxes overlap, and a trace that ends in a
// drop is drawn with its reason. The lab-backed browser test is
// test/e2e/ui.test.ts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { UiServer, type UiSource } from '../../src/lab/ui-server.ts';
import { labStatus } from '../../src/lab/status.ts';
import { statsSnapshot } from '../../src/lab/table-control.ts';
import { planTopology } from '../../src/model/topology.ts';
import type { TraceReply, TraceRequest } from '../../src/lab/trace-control.ts';

const CHROMIUM = process.env.PODWIRE_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/lab/ui-page.test.ts: skipped — no browser at ${CHROMIUM} (apt-get install chromium, or set PODWIRE_CHROMIUM)`);
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');

const NODES = 4, PODS_PER_NODE = 50, SERVICES = 20;
const plan = planTopology({
  cluster: { name: 'big', clusterCIDR: '10.240.0.0/16' },
  nodes: Array.from({ length: NODES }, (_, n) => ({
    name: `n${n + 1}`,
    pods: Array.from({ length: PODS_PER_NODE }, (_, i) => ({ name: `p${n + 1}-${i + 1}`, labels: { app: `app${(n * PODS_PER_NODE + i) % SERVICES}` } })),
  })),
  services: Array.from({ length: SERVICES }, (_, i) => ({ name: `svc${i}`, selector: { app: `app${i}` }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] })),
}, 'test');

const traceReply = (req: TraceRequest): TraceReply => ({
  hops: [{ node: 'n1', lost: 0, steps: [
    { frame: 0, step: 'route', detail: {}, text: 'route: no route to 192.0.2.55 (ICMP network unreachable sent to the source)' },
    { frame: 0, step: 'verdict', detail: { dropped: true, reason: 'no_route' }, text: 'verdict: dropped (no_route)' },
  ] }],
  outcomes: [{ node: 'n1', dropped: 'no_route' }],
  from: { pod: req.from, node: 'n1', ip: plan.nodes[0].pods[0].ip },
  to: { asked: req.to, ip: req.to, port: req.port },
  proto: req.proto ?? 'tcp',
});

const source: UiSource = {
  lab: async () => labStatus(plan, 1, '2030-01-01T00:00:00Z', []),
  stats: async () => statsSnapshot(plan, []),
  trace: async (req) => traceReply(req),
};

describe.skipIf(!hasChromium)('the live page with 200 pods, in chromium (no lab)', () => {
  let ui: UiServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ui = await UiServer.start({ host: '127.0.0.1', port: 0 }, source, { intervalMs: 200 });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    ui?.close();
  });

  it('names every pod on the map, inside its node, no two boxes overlapping', async () => {
    const t0 = performance.now();
    await page.goto(ui.url);
    await page.waitForFunction((n) => document.querySelectorAll('#map g.pod').length === n, NODES * PODS_PER_NODE, { timeout: 15_000 });
    console.log(`podwire ui: ${NODES * PODS_PER_NODE} pods and ${SERVICES} Services drawn ${Math.round(performance.now() - t0)} ms after the page was asked for`);
    const boxes = await page.evaluate(() => {
      const box = (r: Element) => { const b = (r as SVGGraphicsElement).getBBox(); return { x: b.x, y: b.y, width: b.width, height: b.height }; };
      return {
        pods: [...document.querySelectorAll('#map g.pod')].map((g) => ({ name: g.getAttribute('data-pod')!, node: g.getAttribute('data-node')!, text: g.textContent ?? '', ...box(g.querySelector('rect.pod-box')!) })),
        nodes: [...document.querySelectorAll('#map g.node')].map((g) => ({ name: g.getAttribute('data-node')!, ...box(g.querySelector('rect.node-box')!) })),
        services: [...document.querySelectorAll('#map g.service')].map((g) => ({ name: g.getAttribute('data-service')!, ...box(g.querySelector('rect')!) })),
      };
    }) as { pods: Box[]; nodes: Box[]; services: Box[] };
    type Box = { name: string; node?: string; text?: string; x: number; y: number; width: number; height: number };
    const podsOfPlan = plan.nodes.flatMap((n) => n.pods);
    expect(boxes.pods.map((p) => p.name).sort()).toEqual(podsOfPlan.map((p) => p.name).sort());
    for (const p of podsOfPlan) expect(boxes.pods.find((b) => b.name === p.name)!.text).toContain(p.ip);
    const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    const inside = (a: Box, b: Box) => a.x >= b.x && a.y >= b.y && a.x + a.width <= b.x + b.width && a.y + a.height <= b.y + b.height;
    for (const group of [boxes.pods, boxes.nodes, boxes.services]) {
      for (let i = 0; i < group.length; i++) for (let j = i + 1; j < group.length; j++) {
        expect(overlap(group[i], group[j]), `${group[i].name} overlaps ${group[j].name}`).toBe(false);
      }
    }
    for (const p of boxes.pods) expect(inside(p, boxes.nodes.find((n) => n.name === p.node)!), `${p.name} outside node ${p.node}`).toBe(true);
    for (const s of boxes.services) for (const n of boxes.nodes) expect(overlap(s, n), `${s.name} over node ${n.name}`).toBe(false);
    expect(boxes.services).toHaveLength(SERVICES + 1); // and the cluster DNS's kube-dns
    expect(boxes.pods.every((b) => b.width > 100 && b.height > 30)).toBe(true); // real boxes, not empty ones
  });

  it('a trace that ends in a drop is drawn with its reason and a cross where it happened', async () => {
    await page.selectOption('#trace-from', 'p1-1');
    await page.fill('#trace-to', '192.0.2.55');
    await page.fill('#trace-port', '9');
    await page.click('#trace-form button[type=submit]');
    await page.locator('#trace-layer .trace-drop').waitFor({ timeout: 10_000 });
    const labels = await page.locator('#trace-layer .trace-label').allTextContents();
    expect(labels.join('\n')).toContain('n1: dropped (no_route)');
    expect(await page.locator('#trace-result').textContent()).toContain('⇒ dropped on n1: no_route');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'ui-200.png'), fullPage: true });
    console.log(`podwire ui screenshot (200 pods): ${join(ARTIFACTS, 'ui-200.png')}`);
  });
});
