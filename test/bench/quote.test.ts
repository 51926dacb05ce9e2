// The figures docs/benchmarks.md and bench/RESULTS.md quote come from bench/data:
// medians of the latest run with their range and the machine and date, no
// best runs passed off as current, and old-harness runs carry their caveat.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadData, quoteMarkdown, quoteRows, fmtRange, replaceBlock, BEGIN, END } from '../../bench/quote.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const block = (text: string) => {
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  return a >= 0 && b > a ? text.slice(a + BEGIN.length, b).trim() : '(no generated block)';
};

describe('quoted figures', () => {
  const data = loadData(join(ROOT, 'bench', 'data'));

  it('docs/benchmarks.md and bench/RESULTS.md carry exactly what bench/quote.ts prints from bench/data', () => {
    const md = quoteMarkdown(data);
    expect(block(read('docs/benchmarks.md'))).toBe(md);
    expect(block(read('bench/RESULTS.md'))).toBe(md);
  });

  it('the hot-path figures cite the newest hot-path run in bench/data, with its machine and date', () => {
    const md = quoteMarkdown(data);
    const newest = data.filter((d) => d.file.startsWith('hotpath'))[0]; // loadData sorts newest first
    const line = md.split('\n').find((l) => l.includes('`bench/data/' + newest.file + '`: '));
    expect(line, newest.file).toBeDefined();
    expect(line).toContain(newest.machine.date.slice(0, 10));
    expect(md).toMatch(/bridge forwarding with learning.*\| [\d.]+ Mpps ±/);
  });

  it('on the 2026-11-21 runs alone: the latest full run\'s 24.2 / 19.0 / 18.5 Mpps, not the best runs', () => {
    const old = oldRuns();
    try {
      const md = quoteMarkdown(loadData(old));
      expect(md).toMatch(/bridge forwarding with learning.*\| 24\.2 Mpps ±/);
      expect(md).toMatch(/route \+ VXLAN encap.*\| 19\.0 Mpps ±/);
      expect(md).toMatch(/VXLAN decap \+ bridge.*\| 18\.5 Mpps ±/);
      expect(md).toContain('`bench/data/hotpath-all-2026-11-21-c.json`: 2-core VM (Intel(R) Xeon(R) Processor), Linux 6.18.44-fc-v595, Node v20.20.2, 2026-11-21');
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });

  it('README and docs/: the best-run figures appear only labelled historical', () => {
    const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => join('docs', f))];
    const paragraphs = pages.flatMap((f) => read(f).split(/\n\s*\n/));
    for (const fig of ['45–51 Mpps', '22.3 / 22.8']) {
      const where = paragraphs.filter((p) => p.includes(fig));
      for (const p of where) expect(p, fig).toMatch(/historical/);
    }
  });

  it('every e2e and overlay comparison from the old harness (2026-11-21) says what was unlike; like-for-like runs carry no caveat', () => {
    const old = oldRuns();
    try {
      const rows = quoteRows(loadData(old));
      for (const r of rows.filter((x) => x.command.includes('bench e2e') && !x.what.includes('ready'))) expect(r.compared, r.what).toMatch(/old harness: /);
      for (const r of rows.filter((x) => x.command.includes('bench overlay'))) {
        expect(r.compared, r.what).toMatch(r.what.includes('offloads off') ? /old harness: .*tx checksum/ : /old harness: podwire first in every round$/);
      }
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
    // the current runs are like for like (bench/plan.ts): no caveat
    for (const r of quoteRows(data).filter((x) => /bench (e2e|overlay)/.test(x.command))) expect(r.compared, r.what).not.toMatch(/old harness/);
  });
});

/** A temporary data directory holding only the 2026-11-21 runs (the old harness). */
function oldRuns(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-quote-old-'));
  for (const f of ['hotpath-all-2026-11-21-c.json', 'e2e-overlays-2026-11-21.json', 'e2e-2026-11-21.json', 'overlay-2026-11-21.json']) {
    writeFileSync(join(dir, f), read(join('bench', 'data', f)));
  }
  return dir;
}

describe('quote.ts on its own data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-quote-'));
  const machine = (date: string) => ({ cpu: 'cpu', cores: 2, kernel: '6.1', node: 'v20', date });
  const run = (date: string, podwire: number[], kernel: number, cases = true) => ({
    machine: machine(date),
    ...(cases ? { cases: [], rounds: [] } : {}),
    summary: [
      { case: 'podwire (vnet hdr, TSO)', median: podwire[1], min: podwire[0], max: podwire[2], n: 3 },
      { case: 'kernel veth+bridge', median: kernel, min: kernel, max: kernel, n: 3 },
    ],
    upToReadyMs: [400, 500, 600],
  });
  writeFileSync(join(dir, 'a.json'), JSON.stringify(run('2026-01-01T00:00:00Z', [1, 2, 3], 4, false)));
  writeFileSync(join(dir, 'b.json'), JSON.stringify(run('2026-02-01T00:00:00Z', [10, 20, 30], 40)));

  it('the newest run wins; median with min–max and runs; no caveat for a like-for-like run', () => {
    const rows = quoteRows(loadData(dir));
    const tcp = rows.find((r) => r.what.startsWith('iperf3 TCP pod to pod'))!;
    expect(tcp.value).toBe('20.0 (10.0–30.0, 3 runs) Gbit/s');
    expect(tcp.compared).toBe("0.50 × the kernel's veth+bridge (40.0)");
    expect(tcp.file.file).toBe('b.json');
    expect(rows.find((r) => r.what.includes('ready'))!.value).toBe('0.50 (0.40–0.60, 3 runs) s');
    rmSync(join(dir, 'b.json'));
    expect(quoteRows(loadData(dir)).find((r) => r.what.startsWith('iperf3 TCP pod to pod'))!.compared).toMatch(/old harness: podwire pods at MTU 1450/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('fmtRange and replaceBlock', () => {
    expect(fmtRange({ median: 1.234, min: 1.234, max: 1.234, n: 1 })).toBe('1.23 (1 run)');
    expect(fmtRange({ median: 123.4, min: 100, max: 150, n: 5 })).toBe('123 (100–150, 5 runs)');
    expect(replaceBlock(`x\n${BEGIN}\nold\n${END}\ny`, 'new', 'f')).toBe(`x\n${BEGIN}\nnew\n${END}\ny`);
    expect(() => replaceBlock('no markers', 'new', 'f.md')).toThrow(/f\.md: no generated block/);
  });
});
