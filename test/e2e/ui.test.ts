// End-to-end, as root: the live web page (`podwire up --ui`, `podwire ui`) in
// a real browser. A two-node VXLAN lab with a Service; Debian's chromium,
// headless, driven by playwright-core (no browser downloaded: the system's
// /usr/bin/chromium, or $PODWIRE_CHROMIUM). The page lists the lab's nodes
// and pods with their IPs; the link rates it shows move while iperf3 runs
// between two pods; a trace from the form is drawn on the map naming the
// Service, its backend and the VXLAN hop; the page loads nothing from
// anywhere but the lab. A screenshot is written to test-artifacts/ui.png.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { startLab, stopAllLabs, isRoot, podwire, spawnIn, sleep, REPO, type RunningLab, type StatusJson } from '../helpers/lab.ts';
import { killAll } from '../helpers/pod-servers.ts';

const CHROMIUM = process.env.PODWIRE_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const hasIperf = spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).status === 0;
const canRun = isRoot && hasChromium && hasIperf;
if (!isRoot) console.warn('test/e2e/ui.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');
else if (!hasChromium) console.warn(`test/e2e/ui.test.ts: skipped — no browser at ${CHROMIUM} (apt-get install chromium, or set PODWIRE_CHROMIUM)`);
else if (!hasIperf) console.warn('test/e2e/ui.test.ts: skipped — iperf3 is not installed');

const LAB = 'uit';
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.239.0.0/16',
  '  serviceCIDR: 10.95.0.0/16',
  '  underlayCIDR: 172.31.247.0/24',
  '  overlay: vxlan',
  'nodes:',
  '  - name: n1',
  '    pods: [ui-client]',
  '  - name: n2',
  '    pods:',
  '      - { name: ui-web, labels: { app: web } }',
  'services:',
  '  - name: web',
  '    selector: { app: web }',
  '    ports: [{ port: 80, targetPort: 8080, protocol: TCP }]',
  '',
].join('\n');
const SCREENSHOT = join(REPO, 'test-artifacts', 'ui.png');

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!canRun)('podwire ui in a real browser (root, chromium)', () => {
  let lab: RunningLab;
  let status: StatusJson;
  let url: string;
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];
  let procs: ChildProcess[] = [];

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { name: LAB });
    status = await lab.status();
    mkdirSync(join(REPO, 'test-artifacts'), { recursive: true });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.on('request', (r) => requested.push(r.url()));
  }, 90_000);

  afterAll(async () => {
    killAll(procs);
    await browser?.close();
    await lab?.stop();
  });

  it('`podwire ui` asks the lab to serve the page and prints its URL; again: the same URL; a non-loopback address is refused', async () => {
    const wide = await podwire(['ui', '--name', LAB, '--listen', '0.0.0.0:0']);
    expect(wide.code).toBe(1);
    expect(wide.stderr).toMatch(/0\.0\.0\.0 is not a loopback address/);
    const r = await podwire(['ui', '--name', LAB, '--listen', '127.0.0.1:0']);
    expect(r.code, r.stderr).toBe(0);
    url = r.stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(r.stderr).toContain('now serves');
    const again = await podwire(['ui', '--lab', LAB]);
    expect(again.stdout.trim()).toBe(url);
    expect(again.stderr).toContain('already serves');
    // `up --ui` checks its address before anything is created
    const up = await podwire(['up', '--name', 'uit-x', '--ui', '0.0.0.0:8470']);
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/--ui.*0\.0\.0\.0 is not a loopback address/);
  });

  it('the page lists the nodes and the pods with their IPs, and the Service with its endpoint', async () => {
    await page.goto(url);
    await page.locator('#map [data-pod="ui-web"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#map g.node').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-node')))).toEqual(['n1', 'n2']);
    for (const p of status.pods) {
      const text = await page.locator(`#map [data-pod="${p.name}"]`).textContent();
      expect(text).toContain(p.ip);
      expect(await page.locator(`#map [data-pod="${p.name}"]`).getAttribute('data-node')).toBe(p.node);
    }
    const web = status.services.find((s) => s.name === 'web')!;
    const webIp = status.pods.find((p) => p.name === 'ui-web')!.ip;
    const svcRow = await page.locator('#services tbody tr').first().textContent();
    expect(svcRow).toContain('default/web');
    expect(svcRow).toContain(web.clusterIP);
    expect(svcRow).toContain(webIp);
    expect(await page.locator('#conntrack tbody tr').count()).toBe(2);
  });

  it('link rates move while iperf3 runs between the two pods, and settle after', async () => {
    const webIp = status.pods.find((p) => p.name === 'ui-web')!.ip;
    /** bytes/s the page shows on ui-client's link and on n1's underlay link, and how many ticks it has had */
    const shown = () => page.evaluate(() => {
      const row = (name: string) => Number(document.querySelector(`#links tr[data-port="n1:${name}"]`)?.getAttribute('data-bytes-per-second') ?? NaN);
      return { client: row('ui-client'), underlay: row('underlay'), ticks: Number(document.body.dataset.ticks ?? 0) };
    });
    await page.waitForFunction(() => Number(document.body.dataset.ticks ?? 0) >= 2, undefined, { timeout: 10_000 });
    const idle = await shown();
    expect(idle.client).toBeLessThan(100_000);
    const server = spawnIn('pw-ui-web', ['iperf3', '-s', '-1', '-p', '5201']);
    procs.push(server);
    await sleep(400);
    const client = lab.exec('pw-ui-client', ['iperf3', '-c', webIp, '-p', '5201', '-t', '6', '-J'], { timeoutMs: 40_000 });
    // two ticks seen during the transfer: both well above idle
    const during: { client: number; underlay: number; ticks: number }[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 5000 && during.filter((d) => d.client > 1e6).length < 2) {
      await sleep(1000);
      during.push(await shown());
    }
    const busy = during.filter((d) => d.client > 1e6);
    expect(busy.length, JSON.stringify(during)).toBeGreaterThanOrEqual(2);
    expect(busy[1].ticks).toBeGreaterThan(busy[0].ticks);
    // the transfer crosses n1's underlay port too (VXLAN to n2)
    expect(Math.max(...busy.map((d) => d.underlay))).toBeGreaterThan(1e6);
    // the link on the map got thicker and says so in words
    const port = status.pods.find((p) => p.name === 'ui-client')!.port;
    const width = Number(await page.locator(`#map [id="link-n1:${port}"]`).getAttribute('stroke-width'));
    expect(width).toBeGreaterThan(4);
    expect(await page.locator(`#map [id="rate-n1:${port}"]`).textContent()).toMatch(/[kMG]b\/s/);
    // the trace runs while the transfer goes on, for a screenshot with both
    await traceOnMap();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`podwire ui screenshot: ${SCREENSHOT}`);
    const res = await client;
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as { end: { sum_received: { bytes: number } } }).end.sum_received.bytes).toBeGreaterThan(1e6);
    await page.waitForFunction(() => Number(document.querySelector('#links tr[data-port="n1:ui-client"]')?.getAttribute('data-bytes-per-second')) < 100_000,
      undefined, { timeout: 10_000 });
  }, 60_000);

  /** Fill the trace form as a person would; the drawn path names the Service, the backend and the VXLAN hop. */
  async function traceOnMap() {
    const web = status.services.find((s) => s.name === 'web')!;
    const webIp = status.pods.find((p) => p.name === 'ui-web')!.ip;
    await page.selectOption('#trace-from', 'ui-client');
    await page.fill('#trace-to', 'web.default.svc.cluster.local');
    await page.selectOption('#trace-proto', 'tcp');
    await page.fill('#trace-port', '80');
    await page.click('#trace-form button[type=submit]');
    await page.locator('#trace-layer .trace-path').waitFor({ timeout: 15_000 });
    const labels = await page.locator('#trace-layer .trace-label').allTextContents();
    const stops = await page.locator('#trace-layer .trace-label').evaluateAll((ts) => ts.map((t) => Number(t.getAttribute('data-stop'))));
    const all = labels.join('\n');
    expect(all).toContain('Service default/web');
    expect(all).toContain(`backend ${webIp}:8080`);
    expect(all).toContain(`DNAT ${web.clusterIP}:80 → ${webIp}:8080`);
    expect(all).toMatch(/n1: encap VXLAN VNI 1, outer 172\.31\.247\.\d+ → 172\.31\.247\.\d+/);
    expect(all).toMatch(/n2: decap VXLAN VNI 1/);
    expect(labels.at(-1)).toContain('delivered: out of ui-web on n2');
    // the numbered stops are in the order the packet met them
    expect(stops).toEqual(labels.map((_, i) => i + 1));
    expect(await page.locator('#map circle.trace-dot').count()).toBe(2 * labels.length); // on the map and beside it
    expect(all.indexOf('Service default/web')).toBeLessThan(all.indexOf('encap VXLAN'));
    expect(all.indexOf('encap VXLAN')).toBeLessThan(all.indexOf('decap VXLAN'));
    // the step list beside the map is the lab's own words
    const listed = await page.locator('#trace-result').textContent();
    expect(listed).toContain(`service: ${web.clusterIP}:80/tcp is Service default/web, 1 backend(s)`);
    expect(listed).toContain('delivered out of ui-web (node n2)');
  }

  it('a trace the lab refuses says why, and clears the map', async () => {
    await page.fill('#trace-to', 'no-such-thing');
    await page.click('#trace-form button[type=submit]');
    await expect.poll(() => page.locator('#trace-result .error').textContent(), { timeout: 10_000 }).toMatch(/trace refused: "no-such-thing": not a pod/);
    expect(await page.locator('#trace-layer *').count()).toBe(0);
  });

  it('a Service applied while the page is open shows up on the map and in the table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-ui-'));
    try {
      const file = join(dir, 'api.yaml');
      writeFileSync(file, 'apiVersion: v1\nkind: Service\nmetadata: { name: api }\nspec:\n  selector: { app: web }\n  ports: [{ port: 8081, targetPort: 8080, protocol: TCP }]\n');
      const r = await podwire(['apply', file, '--name', LAB]);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await page.locator('#map [data-service="default/api"]').waitFor({ timeout: 10_000 });
    const webIp = status.pods.find((p) => p.name === 'ui-web')!.ip;
    await expect.poll(() => page.locator('#services tbody').textContent(), { timeout: 5000 }).toContain('default/api');
    expect(await page.locator('#services tbody tr', { hasText: 'default/api' }).textContent()).toContain(webIp);
  });

  it('the page loaded nothing from anywhere but the lab', () => {
    expect(requested.length).toBeGreaterThan(3);
    expect(requested.filter((u) => !u.startsWith(url))).toEqual([]);
  });
});
