// A small grouped horizontal bar chart as SVG, no dependency: benchmarks
// write one beside their JSON so a person can see the result at a glance.
// Panels stack vertically, one per metric; each panel has groups (e.g. paths)
// of bars (e.g. podwire, kernel), a min..max whisker for the spread, the value
// written beside each bar, and "n/a" text where a bar does not apply.

export interface Bar {
  /** the series: the same series has the same colour in every panel */
  series: string;
  value?: number;
  min?: number;
  max?: number;
  /** shown instead of a bar when value is undefined (e.g. "n/a: no ipip module") */
  note?: string;
}
export interface Group { label: string; bars: Bar[] }
export interface Panel { title: string; unit: string; groups: Group[]; /** "lower is better" and the like */ hint?: string }
export interface Chart { title: string; /** one or more lines, '\n'-separated */ subtitle?: string; panels: Panel[] }

const COLORS = ['#2f6fb0', '#e08a2c', '#4a9e5c', '#b0413e', '#7b5ea7', '#8c6d31'];
const W = 860;
const LABEL_W = 190;
const VALUE_W = 150;
const BAR_H = 14;
const BAR_GAP = 3;
const GROUP_GAP = 10;
const PANEL_HEAD = 40;
const PANEL_GAP = 18;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** 3 significant figures, no exponent for the sizes benchmarks produce. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

export function renderChart(chart: Chart): string {
  const series = [...new Set(chart.panels.flatMap((p) => p.groups.flatMap((g) => g.bars.map((b) => b.series))))];
  const color = (s: string) => COLORS[series.indexOf(s) % COLORS.length];
  const plotW = W - LABEL_W - VALUE_W - 20;
  const out: string[] = [];
  let y = 30;
  out.push(`<text x="10" y="${y}" font-size="18" font-weight="bold">${escapeXml(chart.title)}</text>`);
  // subtitle lines: split at '\n' by the caller (SVG text does not wrap)
  for (const line of chart.subtitle?.split('\n') ?? []) {
    y += 16;
    out.push(`<text x="10" y="${y}" font-size="11" fill="#555">${escapeXml(line)}</text>`);
  }
  // legend
  y += 22;
  let lx = 10;
  for (const s of series) {
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${color(s)}"/>`);
    out.push(`<text x="${lx + 16}" y="${y}" font-size="12">${escapeXml(s)}</text>`);
    lx += 30 + s.length * 7;
  }
  y += 14;
  for (const p of chart.panels) {
    y += PANEL_GAP;
    const top = y;
    out.push(`<text x="10" y="${y + 16}" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`);
    out.push(`<text x="${W - 10}" y="${y + 16}" font-size="11" fill="#555" text-anchor="end">${escapeXml(p.unit + (p.hint ? ` (${p.hint})` : ''))}</text>`);
    y += PANEL_HEAD - 10;
    const vals = p.groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.max])).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const scaleMax = Math.max(0, ...vals) || 1;
    const sx = (v: number) => LABEL_W + (Math.max(0, v) / scaleMax) * plotW;
    for (const g of p.groups) {
      const gh = g.bars.length * (BAR_H + BAR_GAP) - BAR_GAP;
      out.push(`<text x="${LABEL_W - 8}" y="${y + gh / 2 + 4}" font-size="12" text-anchor="end">${escapeXml(g.label)}</text>`);
      for (const b of g.bars) {
        const cy = y + BAR_H / 2;
        if (typeof b.value === 'number' && Number.isFinite(b.value)) {
          const x1 = sx(b.value);
          out.push(`<rect class="bar" x="${LABEL_W}" y="${y}" width="${(x1 - LABEL_W).toFixed(1)}" height="${BAR_H}" fill="${color(b.series)}"><title>${escapeXml(`${g.label}, ${b.series}: ${fmt(b.value)} ${p.unit}`)}</title></rect>`);
          let right = x1;
          if (typeof b.min === 'number' && typeof b.max === 'number' && b.max > b.min) {
            const [a, c] = [sx(b.min), sx(b.max)];
            right = Math.max(right, c);
            out.push(`<path class="whisker" d="M${a.toFixed(1)} ${cy}H${c.toFixed(1)}M${a.toFixed(1)} ${cy - 4}V${cy + 4}M${c.toFixed(1)} ${cy - 4}V${cy + 4}" stroke="#222" stroke-width="1" fill="none"/>`);
          }
          const spread = typeof b.min === 'number' && typeof b.max === 'number' && b.max > b.min ? ` (${fmt(b.min)}–${fmt(b.max)})` : '';
          out.push(`<text x="${(right + 4).toFixed(1)}" y="${cy + 4}" font-size="11">${escapeXml(fmt(b.value) + spread)}</text>`);
        } else {
          out.push(`<text class="na" x="${LABEL_W + 4}" y="${cy + 4}" font-size="11" fill="#888" font-style="italic">${escapeXml(b.note ?? 'n/a')}</text>`);
        }
        y += BAR_H + BAR_GAP;
      }
      y += GROUP_GAP - BAR_GAP;
    }
    out.push(`<line x1="${LABEL_W}" y1="${top + PANEL_HEAD - 14}" x2="${LABEL_W}" y2="${y - GROUP_GAP + 4}" stroke="#999"/>`);
  }
  y += 20;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif">`,
    `<rect width="${W}" height="${y}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
