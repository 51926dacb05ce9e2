// `podwire graph`: lay a LabGraph (graph.ts) out and draw it as SVG, no
// dependency. Top to bottom: a title, the Services as a band (each with edges
// to its endpoints), the nodes side by side (wrapping into rows) with their
// bridge and pods in a grid, then under each row of nodes the underlay they
// share, the overlay tunnels over it, and the external hosts on it.
//
// Readable from 3 pods to hundreds: pods wrap into columns inside their
// node, nodes wrap into rows, Services into rows; a Service with many
// endpoints gets one edge per node ("×12") instead of one per pod. Every box
// is returned with its coordinates, so a test can check none overlap.
import type { LabGraph, GraphNode } from './graph.ts';

export interface Box { kind: 'service' | 'node' | 'pod' | 'external'; label: string; x: number; y: number; w: number; h: number }
export interface GraphPicture { svg: string; width: number; height: number; boxes: Box[] }

const MARGIN = 24;
const POD_W = 172, POD_H = 38, POD_GAP = 8;
const NODE_HEAD = 50, BRIDGE_H = 24, NODE_GAP = 28, NODE_MIN_W = 300;
const MAX_POD_COLS = 8;
/** nodes wrap into a new row past this width */
const MAX_ROW_W = 2400;
const SVC_W = 270, SVC_H = 48, SVC_GAP = 12;
/** a band between the Services and the nodes, where the edges fan out */
const SVC_EDGE_SPACE = 60;
/** under a row of nodes: the underlay line, its labels and the tunnel arcs */
const UNDERLAY_SPACE = 96;
const EXT_W = 190, EXT_H = 40;
/** a Service with more endpoints than this gets one edge per node */
const MAX_POD_EDGES = 24;
/** past this many Service-to-pod edges in all, every Service gets one edge per node */
const MAX_ALL_POD_EDGES = 60;
/** text that does not fit is cut (the full text is in the element's <title>) */
const CHAR_W = 6.6;

const COLORS = ['#2f6fb0', '#e08a2c', '#4a9e5c', '#b0413e', '#7b5ea7', '#8c6d31', '#1f8a8a', '#c2458c'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fit(s: string, width: number): string {
  const max = Math.max(3, Math.floor(width / CHAR_W));
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function text(x: number, y: number, s: string, opts: { size?: number; weight?: string; anchor?: string; fill?: string; width?: number; halo?: boolean } = {}): string {
  const shown = opts.width ? fit(s, opts.width) : s;
  // a halo: white outline under the letters, so a label stays readable where a line crosses it
  const halo = opts.halo ? ' stroke="#ffffff" stroke-width="3" paint-order="stroke"' : '';
  return `<text x="${x}" y="${y}" font-size="${opts.size ?? 11}"${opts.weight ? ` font-weight="${opts.weight}"` : ''}${opts.anchor ? ` text-anchor="${opts.anchor}"` : ''}${opts.fill ? ` fill="${opts.fill}"` : ''}${halo}>${escapeXml(shown)}</text>`;
}

/** Columns of pods in a node: a square-ish grid, narrowed so up to `nodes` nodes fit side by side in one row. */
function podColumns(n: number, nodes: number): number {
  const wanted = n <= 4 ? Math.max(1, n) : Math.min(MAX_POD_COLS, Math.max(4, Math.ceil(Math.sqrt(n * 1.5))));
  const fits = Math.floor((MAX_ROW_W / Math.max(1, nodes) - NODE_GAP - POD_GAP) / (POD_W + POD_GAP));
  return Math.max(1, Math.min(wanted, fits));
}

interface NodeLayout { node: GraphNode; x: number; y: number; w: number; h: number; pods: Box[] }

/** Lay out and draw `g`. */
export function renderGraph(g: LabGraph): GraphPicture {
  const boxes: Box[] = [];
  const out: string[] = [];
  const edges: string[] = [];

  // nodes: sizes first, then rows
  const sized = g.nodes.map((node) => {
    const cols = podColumns(node.pods.length, g.nodes.length);
    const rows = Math.ceil(node.pods.length / cols);
    return { node, cols, w: Math.max(NODE_MIN_W, cols * (POD_W + POD_GAP) + POD_GAP), h: NODE_HEAD + BRIDGE_H + POD_GAP + rows * (POD_H + POD_GAP) + POD_GAP };
  });
  const rows: (typeof sized)[] = [];
  let rowW = 0;
  for (const s of sized) {
    if (rows.length === 0 || (rowW + s.w > MAX_ROW_W && rows[rows.length - 1].length > 0)) { rows.push([]); rowW = 0; }
    rows[rows.length - 1].push(s);
    rowW += s.w + NODE_GAP;
  }
  const contentW = Math.max(900, ...rows.map((r) => r.reduce((a, s) => a + s.w + NODE_GAP, -NODE_GAP)));

  // Services: rows of boxes across the width
  const svcPerRow = Math.max(1, Math.floor((contentW + SVC_GAP) / (SVC_W + SVC_GAP)));
  const svcTop = MARGIN + 46;
  const svcRows = Math.ceil(g.services.length / svcPerRow);
  const svcBoxes = g.services.map((s, i): Box => ({
    kind: 'service', label: s.label,
    x: MARGIN + (i % svcPerRow) * (SVC_W + SVC_GAP), y: svcTop + Math.floor(i / svcPerRow) * (SVC_H + SVC_GAP), w: SVC_W, h: SVC_H,
  }));
  const nodesTop = svcTop + (svcRows ? svcRows * (SVC_H + SVC_GAP) - SVC_GAP + SVC_EDGE_SPACE : 0);

  // nodes and their pods
  const layouts: NodeLayout[] = [];
  const rowBottoms: number[] = [];
  let y = nodesTop;
  for (const row of rows) {
    let x = MARGIN;
    const h = Math.max(...row.map((s) => s.h));
    for (const s of row) {
      const pods = s.node.pods.map((p, i): Box => ({
        kind: 'pod', label: p.label,
        x: x + POD_GAP + (i % s.cols) * (POD_W + POD_GAP), y: y + NODE_HEAD + BRIDGE_H + POD_GAP + Math.floor(i / s.cols) * (POD_H + POD_GAP), w: POD_W, h: POD_H,
      }));
      layouts.push({ node: s.node, x, y, w: s.w, h, pods });
      x += s.w + NODE_GAP;
    }
    y += h;
    rowBottoms.push(y);
    y += UNDERLAY_SPACE;
  }
  const hasUnderlay = g.nodes.some((n) => n.underlayIp) || g.external.length > 0;
  const lastBottom = rowBottoms[rowBottoms.length - 1] ?? nodesTop;
  // external hosts: on the last underlay line, right of the last row's nodes (clear of the tunnel arcs between nodes)
  const lastRow = layouts.filter((l) => rows[rows.length - 1]?.some((s) => s.node === l.node));
  const extLeft = Math.max(MARGIN, ...lastRow.map((l) => l.x + l.w + NODE_GAP));
  const extBoxes = g.external.map((h, i): Box => ({ kind: 'external', label: h.name, x: extLeft + i * (EXT_W + POD_GAP), y: lastBottom + 30 + 26, w: EXT_W, h: EXT_H }));
  const height = Math.ceil(hasUnderlay ? lastBottom + Math.max(UNDERLAY_SPACE + 30, extBoxes.length ? 30 + 26 + EXT_H + MARGIN : 0) : lastBottom + MARGIN);
  const width = Math.ceil(Math.max(contentW + 2 * MARGIN, ...extBoxes.map((b) => b.x + b.w + MARGIN)));

  // Service -> endpoint edges (drawn first: boxes cover them)
  const podByIp = new Map<string, Box>();
  const nodeByName = new Map<string, NodeLayout>();
  for (const l of layouts) { nodeByName.set(l.node.name, l); l.node.pods.forEach((p, i) => podByIp.set(p.ip, l.pods[i])); }
  const podEdges = g.services.reduce((a, s) => a + (s.endpoints.length <= MAX_POD_EDGES ? s.endpoints.length : 0), 0);
  const perPod = podEdges <= MAX_ALL_POD_EDGES;
  const spread = (i: number, l: NodeLayout) => l.x + 24 + (g.services.length > 1 ? (i / (g.services.length - 1)) * (l.w - 64) : (l.w - 48) / 2);
  g.services.forEach((s, i) => {
    const from = svcBoxes[i];
    const color = COLORS[i % COLORS.length];
    const fx = from.x + from.w / 2, fy = from.y + from.h;
    const curve = (tx: number, ty: number) => `M${fx},${fy} C${fx},${fy + 40} ${tx},${ty - 40} ${tx},${ty}`;
    if (perPod && s.endpoints.length <= MAX_POD_EDGES) {
      for (const e of s.endpoints) {
        const to = podByIp.get(e.ip);
        if (to) edges.push(`<path d="${curve(to.x + to.w / 2, to.y)}" stroke="${color}" stroke-opacity="0.55" fill="none"/>`);
      }
    } else {
      const perNode = new Map<string, number>();
      for (const e of s.endpoints) perNode.set(e.node, (perNode.get(e.node) ?? 0) + 1);
      for (const [name, count] of perNode) {
        const to = nodeByName.get(name);
        if (!to) continue;
        const tx = spread(i, to);
        edges.push(`<path d="${curve(tx, to.y)}" stroke="${color}" stroke-width="1.5" stroke-opacity="0.6" fill="none"/>`);
        edges.push(text(tx + 2, to.y - 4 - (i % 2) * 10, `×${count}`, { size: 9, fill: color, halo: true }));
      }
    }
  });

  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  const podCount = g.nodes.reduce((a, n) => a + n.pods.length, 0);
  out.push(text(MARGIN, MARGIN + 8, `lab ${g.name}`, { size: 18, weight: 'bold' }));
  out.push(text(MARGIN, MARGIN + 28, `${g.nodes.length} node(s), ${podCount} pod(s), ${g.services.length} Service(s); overlay ${g.overlay} (${g.overlayDetail}); underlay ${g.underlayCIDR} (${g.underlay})`, { size: 12, fill: '#444' }));

  // node frames, then the Service edges over them, then the Service boxes and the nodes' text, bridges and pods over the edges
  for (const l of layouts) {
    const kernel = l.node.dataplane === 'kernel';
    out.push(`<rect x="${l.x}" y="${l.y}" width="${l.w}" height="${l.h}" rx="8" fill="${kernel ? '#eef3ea' : '#eef3fa'}" stroke="${kernel ? '#4a9e5c' : '#2f6fb0'}" stroke-width="2"/>`);
  }
  out.push(...edges);
  for (const [i, b] of svcBoxes.entries()) {
    const s = g.services[i];
    const color = COLORS[i % COLORS.length];
    out.push(`<g><title>${escapeXml(`Service ${s.label} ${s.type} ${s.clusterIP || 'None'}: ${s.endpoints.length} endpoint(s)`)}</title>`);
    out.push(`<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="6" fill="#fdf6e8" stroke="${color}" stroke-width="2"/>`);
    out.push(text(b.x + 8, b.y + 17, s.label, { weight: 'bold', width: b.w - 16 }));
    out.push(text(b.x + 8, b.y + 33, `${s.type} ${s.clusterIP || 'None'} · ${s.endpoints.length} endpoint${s.endpoints.length === 1 ? '' : 's'}`, { size: 10, fill: '#555', width: b.w - 16 }));
    out.push('</g>');
    boxes.push(b);
  }

  // underlay lines under each row, tunnels, external hosts
  rows.forEach((row, ri) => {
    if (!hasUnderlay) return;
    const lineY = rowBottoms[ri] + 30;
    const first = layouts.find((l) => l.node === row[0].node)!;
    const last = layouts.find((l) => l.node === row[row.length - 1].node)!;
    const right = ri === rows.length - 1 ? Math.max(last.x + last.w, ...extBoxes.map((b) => b.x + b.w)) : last.x + last.w;
    out.push(`<line x1="${first.x}" y1="${lineY}" x2="${right}" y2="${lineY}" stroke="#666" stroke-width="4"/>`);
    out.push(text(first.x, lineY + 16, `underlay ${g.underlayCIDR} (${g.underlay === 'bridge' ? 'Linux bridge in pw-ul-' + g.name : 'in-process: frames handed over in memory'})`, { size: 10, fill: '#444', halo: true }));
    if (ri > 0) out.push(`<line x1="${MARGIN / 2}" y1="${rowBottoms[ri - 1] + 30}" x2="${MARGIN / 2}" y2="${lineY}" stroke="#666" stroke-width="4"/><line x1="${MARGIN / 2}" y1="${lineY}" x2="${first.x}" y2="${lineY}" stroke="#666" stroke-width="4"/>`);
    for (const s of row) {
      const l = layouts.find((x) => x.node === s.node)!;
      if (!l.node.underlayIp) continue;
      const cx = l.x + l.w / 2;
      out.push(`<line x1="${cx}" y1="${l.y + l.h}" x2="${cx}" y2="${lineY}" stroke="#666" stroke-width="2"/>`);
      out.push(text(cx + 4, l.y + l.h + 14, l.node.underlayIp, { size: 10, fill: '#444' }));
    }
    // the overlay between the row's podwire/kernel nodes: arcs for a few nodes, one line of text for many
    const ends = row.map((s) => layouts.find((x) => x.node === s.node)!).filter((l) => l.node.underlayIp);
    if (ends.length >= 2 && rows.length === 1 && ends.length <= 5) {
      for (let a = 0; a < ends.length; a++) {
        for (let b = a + 1; b < ends.length; b++) {
          const ax = ends[a].x + ends[a].w / 2, bx = ends[b].x + ends[b].w / 2;
          const depth = 18 + (b - a) * 10;
          out.push(`<path d="M${ax},${lineY} C${ax},${lineY + depth * 2} ${bx},${lineY + depth * 2} ${bx},${lineY}" stroke="#b0413e" stroke-dasharray="6 4" stroke-width="1.5" fill="none"/>`);
        }
      }
      out.push(text(first.x, lineY + 30, `${g.overlay} tunnels (${g.overlayDetail}), dashed`, { size: 10, fill: '#b0413e', halo: true }));
    } else if (ends.length >= 2 || rows.length > 1) {
      out.push(text(first.x, lineY + 30, `${g.overlay} tunnels between every pair of nodes (${g.overlayDetail})`, { size: 10, fill: '#b0413e', halo: true }));
    }
  });
  if (g.impairedLinks.length && rowBottoms.length) {
    const lineY = rowBottoms[rowBottoms.length - 1] + 30;
    out.push(text(MARGIN, lineY + 44, `impaired links: ${g.impairedLinks.map((l) => `${l.between} ${l.netem}`).join('; ')}`, { size: 10, fill: '#b0413e', halo: true }));
  }
  for (const [i, b] of extBoxes.entries()) {
    const h = g.external[i];
    out.push(`<line x1="${b.x + b.w / 2}" y1="${b.y - 26}" x2="${b.x + b.w / 2}" y2="${b.y}" stroke="#666" stroke-width="2"/>`);
    out.push(`<g><title>${escapeXml(`external host ${h.name} (netns pw-${h.name}) ${h.ip}`)}</title><rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="4" fill="#f0f0f0" stroke="#777"/>`);
    out.push(text(b.x + 8, b.y + 16, `external ${h.name}`, { weight: 'bold', width: b.w - 16 }));
    out.push(text(b.x + 8, b.y + 31, h.ip, { size: 10, fill: '#555' }));
    out.push('</g>');
    boxes.push(b);
  }

  for (const l of layouts) {
    const kernel = l.node.dataplane === 'kernel';
    out.push(`<g><title>${escapeXml(`node ${l.node.name} (${l.node.dataplane}) podCIDR ${l.node.podCIDR}`)}</title>`);
    out.push(text(l.x + 10, l.y + 20, `node ${l.node.name}${kernel ? ' (kernel data plane)' : ' (podwire)'}`, { size: 13, weight: 'bold', width: l.w - 20 }));
    out.push(text(l.x + 10, l.y + 38, `podCIDR ${l.node.podCIDR} · ${l.node.pods.length} pod(s)`, { size: 10, fill: '#444', width: l.w - 20 }));
    out.push('</g>');
    boxes.push({ kind: 'node', label: l.node.name, x: l.x, y: l.y, w: l.w, h: l.h });
    const by = l.y + NODE_HEAD;
    out.push(`<rect x="${l.x + POD_GAP}" y="${by}" width="${l.w - 2 * POD_GAP}" height="${BRIDGE_H - 6}" rx="3" fill="${kernel ? '#cfe3c8' : '#cddcf0'}"/>`);
    out.push(text(l.x + POD_GAP + 6, by + 13, kernel ? `Linux bridge cni0 · gateway ${l.node.gateway}` : `bridge (WebAssembly) · gateway ${l.node.gateway}`, { size: 10, width: l.w - 2 * POD_GAP - 12 }));
    l.node.pods.forEach((p, i) => {
      const b = l.pods[i];
      out.push(`<g><title>${escapeXml(`pod ${p.label} ${p.ip}${p.netem ? ` netem ${p.netem}` : ''}`)}</title>`);
      out.push(`<line x1="${b.x + b.w / 2}" y1="${by + BRIDGE_H - 6}" x2="${b.x + b.w / 2}" y2="${b.y}" stroke="#99a" stroke-width="1"/>`);
      out.push(`<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="4" fill="#ffffff" stroke="${p.netem ? '#b0413e' : '#889'}"${p.netem ? ' stroke-dasharray="4 2"' : ''}/>`);
      out.push(text(b.x + 6, b.y + 15, p.label, { width: b.w - 12 }));
      out.push(text(b.x + 6, b.y + 30, p.netem ? `${p.ip} · ${p.netem}` : p.ip, { size: 10, fill: p.netem ? '#b0413e' : '#555', width: b.w - 12 }));
      out.push('</g>');
      boxes.push(b);
    });
  }
  out.push('</svg>');
  return { svg: out.join('\n') + '\n', width, height, boxes };
}

/** The picture in a page of its own (`-o FILE.html`): nothing loaded from elsewhere. */
export function graphHtml(g: LabGraph, p: GraphPicture): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>podwire lab ${escapeXml(g.name)}</title></head>\n<body style="margin:0">\n${p.svg}</body></html>\n`;
}
