// The SVG bar chart: well-formed XML (parsed by python3's expat), one bar per
// value, whiskers for spread, "n/a" text where a bar does not apply.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { renderChart, escapeXml, type Chart } from '../../bench/svg.ts';

/** Parse with python3's xml.dom.minidom (expat): throws on anything not well-formed; returns element counts. */
function parseXml(xml: string): Record<string, number> {
  const py = 'import sys, json, xml.dom.minidom as m\nd = m.parseString(sys.stdin.buffer.read())\n'
    + 'c = {}\nfor e in d.getElementsByTagName("*"):\n    k = e.tagName + ("." + e.getAttribute("class") if e.getAttribute("class") else "")\n    c[k] = c.get(k, 0) + 1\nprint(json.dumps(c))';
  return JSON.parse(execFileSync('python3', ['-c', py], { input: xml }).toString());
}

const chart: Chart = {
  title: 'bench <overlay> & "friends"',
  subtitle: 'smoke',
  panels: [
    {
      title: 'TCP', unit: 'Gbit/s', groups: [
        { label: 'same-node', bars: [{ series: 'podwire', value: 12.5, min: 11, max: 13 }, { series: 'kernel', value: 30, min: 30, max: 30 }] },
        { label: 'ipip', bars: [{ series: 'podwire', value: 9 }, { series: 'kernel', note: 'n/a: no ipip module' }] },
      ],
    },
    { title: 'latency', unit: 'µs', hint: 'lower is better', groups: [{ label: 'vxlan', bars: [{ series: 'podwire', value: 40, min: 30, max: 60 }, { series: 'kernel', value: 0 }] }] },
  ],
};

describe('svg bar chart', () => {
  it('is well-formed XML with a bar per value, whiskers where min < max, and n/a text', () => {
    const svg = renderChart(chart);
    const counts = parseXml(svg);
    expect(counts.svg).toBe(1);
    expect(counts['rect.bar']).toBe(5);
    expect(counts['path.whisker']).toBe(2);
    expect(counts['text.na']).toBe(1);
    expect(svg).toContain('n/a: no ipip module');
    expect(svg).toContain('12.5 (11.0–13.0)');
    expect(svg).toContain('bench &lt;overlay&gt; &amp; &quot;friends&quot;');
  });

  it('bars are scaled to the panel maximum (whisker included)', () => {
    const svg = renderChart({ title: 't', panels: [{ title: 'p', unit: 'u', groups: [{ label: 'g', bars: [{ series: 'a', value: 5, min: 4, max: 10 }, { series: 'b', value: 10 }] }] }] });
    const widths = [...svg.matchAll(/class="bar"[^>]* width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(2);
    expect(widths[1]).toBeCloseTo(2 * widths[0], 0);
  });

  it('an empty chart still parses', () => {
    expect(parseXml(renderChart({ title: 'nothing', panels: [] })).svg).toBe(1);
    expect(escapeXml(`a<b>&'"`)).toBe('a&lt;b&gt;&amp;&apos;&quot;');
  });
});
