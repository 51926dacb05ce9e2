// The live page of a podwire lab (served by the lab itself: src/lab/ui-server.ts).
// Plain JavaScript, no build step, nothing loaded from the network: the lab's
// shape from /api/lab, counters every second from the event stream
// /api/events, traces from /api/trace. The map is SVG drawn here.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const POD_W = 178, POD_H = 54, GAP = 12, PAD = 16, NODE_GAP = 70, HEAD = 38;
const SVC_W = 220, SVC_H = 50;
/** the column right of the nodes where a trace's stops are explained */
const LEGEND_W = 500;

/** What the page knows: the lab (status JSON), where each thing sits on the map, the last counters. */
const state = { lab: null, geo: null, stats: null, rates: null, trace: null };

// ---- small helpers -------------------------------------------------------

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function html(name, attrs = {}, text) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
/** A pod as users name it: NAME in default, NAMESPACE/NAME elsewhere (as podwire's CLI does). */
const podLabel = (p) => (p.namespace === 'default' ? p.name : `${p.namespace}/${p.name}`);
/** The lab's pods and the cluster DNS pod (status lists it apart; its port is named, not numbered, here). */
const allPods = (lab) => [...lab.pods, ...(lab.dns && lab.dns.pod ? [{ ...lab.dns.pod, port: 'dns', mac: '', netns: lab.dns.pod.netns ?? '' }] : [])];
const svcKey = (s) => `${s.namespace}/${s.name}`;
const fmtBits = (bytesPerSec) => {
  const b = bytesPerSec * 8;
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} Gb/s`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} Mb/s`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kb/s`;
  return `${Math.round(b)} b/s`;
};
const fmtNum = (v) => (Number.isInteger(v) && v < 1e4 ? String(v) : v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : v >= 100 || v === 0 ? String(Math.round(v)) : v.toFixed(1));

// ---- the map ---------------------------------------------------------------

/** Where everything goes: node groups side by side, Services above, the underlay below. */
function layout(lab) {
  const pods = allPods(lab);
  const geo = { pods: new Map(), nodes: new Map(), services: new Map(), external: new Map(), width: 0, height: 0 };
  // each node's pod grid first: the row of nodes decides how many Services fit in a row above it
  const nodes = lab.nodes.map((n) => {
    const mine = pods.filter((p) => p.node === n.name);
    const cols = mine.length <= 3 ? Math.max(1, mine.length) : Math.min(6, Math.ceil(Math.sqrt(mine.length)));
    return { n, pods: mine, cols, rows: Math.max(1, Math.ceil(mine.length / cols)), w: Math.max(300, PAD * 2 + cols * POD_W + (cols - 1) * GAP) };
  });
  const rowW = Math.max(nodes.reduce((w, n) => w + n.w + NODE_GAP, 20) - NODE_GAP + 20, 600);
  const perRow = Math.max(1, Math.floor((rowW - 40 + GAP) / (SVC_W + GAP)));
  const svcRows = Math.ceil(lab.services.length / perRow);
  lab.services.forEach((s, i) => {
    const c = i % perRow, r = Math.floor(i / perRow);
    geo.services.set(svcKey(s), { x: 20 + c * (SVC_W + GAP), y: 20 + r * (SVC_H + GAP), s });
  });
  const top = svcRows ? 20 + svcRows * (SVC_H + GAP) + 50 : 20;
  let x = 20;
  let bottom = top;
  for (const { n, pods: mine, cols, rows, w } of nodes) {
    const bridgeY = top + HEAD + rows * (POD_H + GAP) + 18;
    const ulY = bridgeY + 48;
    const h = ulY + 40 - top + PAD;
    geo.nodes.set(n.name, { x, y: top, w, h, bridgeY, ulY, ulX: x + w / 2 });
    const gridW = cols * POD_W + (cols - 1) * GAP;
    mine.forEach((p, i) => {
      const c = i % cols, r = Math.floor(i / cols);
      geo.pods.set(`${p.node}:${p.port}`, { x: x + (w - gridW) / 2 + c * (POD_W + GAP), y: top + HEAD + r * (POD_H + GAP), p });
    });
    x += w + NODE_GAP;
    bottom = Math.max(bottom, top + h);
  }
  geo.underlayY = bottom + 36;
  (lab.external ?? []).forEach((h, i) => geo.external.set(h.name, { x: 20 + i * (POD_W + GAP), y: geo.underlayY + 90, h }));
  geo.legendX = rowW + 10;
  geo.legendY = top;
  geo.width = rowW + LEGEND_W;
  geo.height = geo.underlayY + ((lab.external ?? []).length ? 160 : 110);
  return geo;
}

function drawMap() {
  const lab = state.lab;
  const svg = document.getElementById('map');
  svg.replaceChildren();
  const geo = layout(lab);
  state.geo = geo;
  svg.setAttribute('width', geo.width);
  svg.setAttribute('height', geo.height);
  svg.setAttribute('viewBox', `0 0 ${geo.width} ${geo.height}`);
  const defs = el('defs');
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#e0457b' }));
  defs.append(marker);
  svg.append(defs);

  const edges = el('g', { id: 'svc-edges' });
  const body = el('g', { id: 'topology' });
  svg.append(edges, body);

  // the underlay: one segment joining every node's underlay port, and the overlay tunnels beneath it
  const multi = lab.nodes.length > 1;
  if (multi) {
    const xs = [...geo.nodes.values()].map((g) => g.ulX);
    const y = geo.underlayY;
    body.append(el('line', { class: 'underlay', x1: Math.min(...xs) - 40, y1: y, x2: Math.max(...xs) + 40, y2: y }));
    const c = lab.cluster;
    const how = c.overlay === 'vxlan' ? `VXLAN tunnel, VNI ${c.vxlan.vni}, UDP ${c.vxlan.port}` : c.overlay === 'ipip' ? 'IP-in-IP tunnel' : `${c.overlay}: no tunnel, routed on the underlay`;
    body.append(el('text', { x: Math.min(...xs) - 40, y: y - 8, class: 'small' }, `underlay ${c.underlayCIDR}`));
    const names = [...geo.nodes.keys()];
    const tunnels = el('g', { id: 'tunnels' });
    names.forEach((a, i) => names.slice(i + 1).forEach((b, k) => {
      if (names.length > 6 && k > 0) return; // many nodes: neighbours only, or the picture is all arcs
      const ga = geo.nodes.get(a), gb = geo.nodes.get(b);
      const depth = 26 + 14 * k;
      const path = el('path', { class: 'tunnel', id: `tunnel-${a}-${b}`, d: `M${ga.ulX},${y} C${ga.ulX},${y + depth * 1.6} ${gb.ulX},${y + depth * 1.6} ${gb.ulX},${y}` });
      path.append(el('title', {}, `${c.overlay} tunnel ${a} ⇄ ${b}`));
      tunnels.append(path);
      if (k === 0) tunnels.append(el('text', { x: (ga.ulX + gb.ulX) / 2, y: y + depth * 1.2 + 14, class: 'small', 'text-anchor': 'middle' }, how));
    }));
    body.append(tunnels);
  }

  for (const n of lab.nodes) {
    const g = geo.nodes.get(n.name);
    const group = el('g', { class: 'node', id: `node-${n.name}`, 'data-node': n.name });
    group.append(el('rect', { class: 'node-box', x: g.x, y: g.y, width: g.w, height: g.h, rx: 10 }));
    group.append(el('text', { class: 'node-title', x: g.x + 12, y: g.y + 22 }, `node ${n.name}`));
    group.append(el('text', { class: 'small', x: g.x + g.w - 12, y: g.y + 22, 'text-anchor': 'end' }, `pods ${n.podCIDR}`));
    // the bridge every pod hangs off, with the pods' gateway on it
    group.append(el('rect', { class: 'bridge', x: g.x + PAD, y: g.bridgeY, width: g.w - PAD * 2, height: 20, rx: 4 }));
    group.append(el('text', { class: 'small', x: g.x + PAD + 8, y: g.bridgeY + 14 }, `bridge · gateway ${n.gateway}`));
    if (n.underlay) {
      group.append(el('line', { class: 'link', id: `link-${n.name}:${n.underlay.port}`, x1: g.ulX, y1: g.bridgeY + 20, x2: g.ulX, y2: g.ulY, 'stroke-width': 2 }));
      group.append(el('rect', { class: 'ul-port', x: g.ulX - 85, y: g.ulY, width: 170, height: 26, rx: 4 }));
      group.append(el('text', { x: g.ulX, y: g.ulY + 17, 'text-anchor': 'middle', class: 'small' }, `underlay ${n.underlay.ip}`));
      group.append(el('text', { class: 'rate', id: `rate-${n.name}:${n.underlay.port}`, x: g.ulX + 6, y: g.bridgeY + 38 }, ''));
      if (multi) group.append(el('line', { x1: g.ulX, y1: g.ulY + 26, x2: g.ulX, y2: geo.underlayY, stroke: '#556', 'stroke-width': 2 }));
    }
    body.append(group);
  }

  for (const [key, { x, y, p }] of geo.pods) {
    const g = geo.nodes.get(p.node);
    const group = el('g', { class: 'pod', id: `pod-${p.node}-${p.port}`, 'data-pod': podLabel(p), 'data-node': p.node });
    group.append(el('line', { class: 'link', id: `link-${key}`, x1: x + POD_W / 2, y1: y + POD_H, x2: x + POD_W / 2, y2: g.bridgeY, 'stroke-width': 1.5 }));
    group.append(el('rect', { class: 'pod-box', x, y, width: POD_W, height: POD_H, rx: 6 }));
    group.append(el('text', { class: 'pod-name', x: x + 8, y: y + 16 }, podLabel(p)));
    group.append(el('text', { class: 'small', x: x + 8, y: y + 31 }, p.ip));
    group.append(el('text', { class: 'rate', id: `rate-${key}`, x: x + 8, y: y + 46 }, ''));
    group.append(el('title', {}, `pod ${podLabel(p)} · ${p.ip} · ${p.mac} · netns ${p.netns}`));
    body.append(group);
  }

  // Service → endpoint lines only while they can still be told apart; the table lists them all
  const edgeCount = lab.services.reduce((n, s) => n + s.endpoints.length, 0);
  const drawEdges = edgeCount <= 60;
  for (const [key, { x, y, s }] of geo.services) {
    const group = el('g', { class: 'service', id: `svc-${key.replace('/', '-')}`, 'data-service': key });
    group.append(el('rect', { class: 'svc-box', x, y, width: SVC_W, height: SVC_H, rx: 8 }));
    group.append(el('text', { class: 'pod-name', x: x + 8, y: y + 17 }, `Service ${s.namespace === 'default' ? s.name : key}`));
    const ports = s.ports.map((p) => `${p.port}/${p.protocol}`).join(', ');
    group.append(el('text', { class: 'small', x: x + 8, y: y + 33 }, `${s.clusterIP ?? s.type} ${ports}`.slice(0, 36)));
    group.append(el('text', { class: 'small', x: x + 8, y: y + 46 }, `${s.type} · ${s.endpoints.length} endpoint(s)`));
    body.append(group);
    for (const e of drawEdges ? s.endpoints : []) {
      const pod = podByIp(e.ip);
      const pg = pod && geo.pods.get(`${pod.node}:${pod.port}`);
      if (!pg) continue;
      edges.append(el('path', { class: 'svc-edge', d: `M${x + SVC_W / 2},${y + SVC_H} C${x + SVC_W / 2},${y + SVC_H + 40} ${pg.x + POD_W / 2},${pg.y - 40} ${pg.x + POD_W / 2},${pg.y}` }));
    }
  }

  for (const [name, { x, y, h }] of geo.external) {
    const group = el('g', { class: 'external', id: `ext-${name}` });
    group.append(el('line', { x1: x + POD_W / 2, y1: geo.underlayY, x2: x + POD_W / 2, y2: y, stroke: '#556', 'stroke-width': 2 }));
    group.append(el('rect', { class: 'ext-box', x, y, width: POD_W, height: 40, rx: 6 }));
    group.append(el('text', { class: 'pod-name', x: x + 8, y: y + 16 }, `external ${name}`));
    group.append(el('text', { class: 'small', x: x + 8, y: y + 32 }, h.ip));
    body.append(group);
  }

  svg.append(el('text', { class: 'small', x: geo.legendX, y: geo.legendY + 14 }, 'Trace a packet (form below): its path is drawn here, stop by stop'));
  svg.append(el('g', { id: 'trace-layer' }));
  if (state.trace) drawTrace(state.trace);
  if (state.rates) showRates();
}

function podByIp(ip) { return allPods(state.lab).find((p) => p.ip === ip); }
function podByLabel(label) { return allPods(state.lab).find((p) => podLabel(p) === label); }

/** Link thickness and the rate under each pod / on each underlay link. */
function showRates() {
  for (const n of state.rates.nodes) {
    for (const port of n.ports) {
      // the DNS pod is keyed by name (its port number is the data plane's business)
      const dns = podByLabel(port.name);
      const key = dns && dns.port === 'dns' ? `${n.name}:dns` : `${n.name}:${port.port}`;
      const bytes = Number(port.rx_bytes) + Number(port.tx_bytes);
      const pkts = Number(port.rx_packets) + Number(port.tx_packets);
      const line = document.getElementById(`link-${key}`);
      if (line) {
        line.setAttribute('stroke-width', (1.5 + Math.min(8, Math.log10(1 + bytes) * 1.1)).toFixed(1));
        line.setAttribute('data-bytes-per-second', bytes.toFixed(0));
      }
      const text = document.getElementById(`rate-${key}`);
      if (text) text.textContent = bytes || pkts ? `${fmtBits(bytes)} · ${fmtNum(pkts)} pkt/s` : 'idle';
    }
  }
}

// ---- the tables ------------------------------------------------------------

function row(cells, cls) {
  const tr = html('tr', cls ? { class: cls } : {});
  for (const c of cells) {
    const td = html('td', typeof c === 'number' ? { class: 'num' } : {}, typeof c === 'number' ? fmtNum(c) : c);
    tr.append(td);
  }
  return tr;
}

function fillTables() {
  const s = state.stats, r = state.rates;
  if (!s) return;
  const links = [], drops = [], ct = [];
  for (const n of s.nodes) {
    const rn = r?.nodes.find((x) => x.name === n.name);
    for (const p of n.ports) {
      const rp = rn?.ports.find((x) => x.port === p.port) ?? {};
      const rx = Number(rp.rx_bytes ?? 0), tx = Number(rp.tx_bytes ?? 0);
      const tr = row([n.name, p.name + (p.gone ? ' (gone)' : ''), Number(rp.rx_packets ?? 0), fmtBits(rx), Number(rp.tx_packets ?? 0), fmtBits(tx), p.rx_drops + p.tx_drops],
        rx + tx > 0 ? 'moving' : '');
      tr.dataset.port = `${n.name}:${p.name}`;
      tr.dataset.bytesPerSecond = String(rx + tx);
      links.push(tr);
    }
    for (const [reason, total] of Object.entries(n.drops)) {
      if (total > 0) drops.push(row([n.name, reason, total, Number(rn?.drops[reason] ?? 0)]));
    }
    ct.push(row([n.name, n.conntrackEntries, n.fdbEntries]));
  }
  if (drops.length === 0) drops.push(row(['—', 'no drops', 0, 0]));
  document.querySelector('#links tbody').replaceChildren(...links);
  document.querySelector('#drops tbody').replaceChildren(...drops);
  document.querySelector('#conntrack tbody').replaceChildren(...ct);
}

/** "pod ip (node), ..." — the first 8, then how many more (a Service of 200 pods stays one readable row). */
function endpointsText(eps) {
  const shown = eps.slice(0, 8).map((e) => `${podByIp(e.ip) ? podLabel(podByIp(e.ip)) : e.pod} ${e.ip} (${e.node})${e.ready ? '' : ' not ready'}`);
  return shown.join(', ') + (eps.length > 8 ? ` … and ${eps.length - 8} more` : '');
}

function fillServices() {
  const rows = state.lab.services.map((s) => row([
    svcKey(s), s.type, s.clusterIP ?? '—',
    s.ports.map((p) => `${p.port}→${p.targetPort}/${p.protocol}${p.nodePort ? ` (node ${p.nodePort})` : ''}`).join(', '),
    s.endpoints.length ? endpointsText(s.endpoints) : '<none>',
  ]));
  if (rows.length === 0) rows.push(row(['no Services', '', '', '', '']));
  document.querySelector('#services tbody').replaceChildren(...rows);
}

/** The trace form's choices: every pod (and external host) as a source; pods, Services and their DNS names as targets. */
function fillTraceChoices() {
  const lab = state.lab;
  const from = document.getElementById('trace-from');
  const keep = from.value;
  from.replaceChildren(...lab.pods.map((p) => html('option', { value: podLabel(p) }, `${podLabel(p)} (${p.ip}, ${p.node})`)),
    ...(lab.external ?? []).map((h) => html('option', { value: h.name }, `external ${h.name} (${h.ip})`)));
  if (keep) from.value = keep;
  const targets = [
    ...lab.pods.map((p) => [podLabel(p), `pod ${p.ip}`]),
    ...lab.services.flatMap((s) => [[s.namespace === 'default' ? s.name : `${s.name}.${s.namespace}`, `Service ${s.clusterIP ?? ''}`],
      [`${s.name}.${s.namespace}.svc.cluster.local`, 'Service DNS name']]),
  ];
  document.getElementById('trace-targets').replaceChildren(...targets.map(([v, l]) => html('option', { value: v }, l)));
}

// ---- traces ----------------------------------------------------------------

async function runTrace(ev) {
  ev.preventDefault();
  const q = new URLSearchParams({
    from: document.getElementById('trace-from').value,
    to: document.getElementById('trace-to').value,
    proto: document.getElementById('trace-proto').value,
  });
  const port = document.getElementById('trace-port').value;
  if (port) q.set('port', port);
  const out = document.getElementById('trace-result');
  out.replaceChildren(html('p', {}, 'tracing…'));
  const res = await fetch(`/api/trace?${q}`);
  const body = await res.json();
  if (!res.ok) {
    state.trace = null;
    document.getElementById('trace-layer')?.replaceChildren();
    out.replaceChildren(html('p', { class: 'error' }, `trace refused: ${body.error}`));
    return;
  }
  state.trace = body;
  drawTrace(body);
  listTrace(body);
}

function listTrace(t) {
  const out = document.getElementById('trace-result');
  const from = t.from.pod ?? `external ${t.from.external}`;
  const to = t.to.service ? `${t.to.asked} (Service ${t.to.service}, ${t.to.ip})` : `${t.to.asked} (${t.to.ip})`;
  const parts = [html('p', {}, `${t.proto} from ${from} (${t.from.ip}) to ${to}${t.to.port !== undefined ? ` port ${t.to.port}` : ''} — dry run, nothing left behind`)];
  for (const hop of t.hops) {
    const d = html('div', { class: 'hop' });
    d.append(html('strong', {}, `node ${hop.node}`));
    const ol = html('ol');
    for (const s of hop.steps) ol.append(html('li', {}, s.text));
    d.append(ol);
    parts.push(d);
  }
  for (const o of t.outcomes) {
    parts.push(html('p', { class: 'outcome' }, o.dropped ? `⇒ dropped on ${o.node}: ${o.dropped}` : o.generated ? `⇒ ${o.node} answered out of ${o.port}` : `⇒ delivered out of ${o.port} (node ${o.node})`));
  }
  if (t.outcomes.length === 0) parts.push(html('p', { class: 'outcome' }, '⇒ nothing was sent and nothing was counted as a drop'));
  out.replaceChildren(...parts);
}

/** A port name from a trace ("tr-web", "n2/underlay") -> a point on the map. */
function portPoint(node, port) {
  const g = state.geo.nodes.get(node);
  const pod = podByLabel(port) ?? state.lab.pods.find((p) => p.node === node && p.name === port);
  const pg = pod && state.geo.pods.get(`${pod.node}:${pod.port}`);
  // at the pod box's right edge, clear of its name and address
  if (pg) return { x: pg.x + POD_W - 12, y: pg.y + 14 };
  if (g && /underlay/.test(port)) return { x: g.ulX, y: g.ulY + 34 };
  return g ? { x: g.x + g.w / 2, y: g.bridgeY + 10 } : null;
}

/**
 * The packet's path on the map: from the source, along each node's decisions
 * (the Service it matched and the NAT, the route and encapsulation, the tunnel
 * to the next node, decapsulation) to where it was delivered or dropped;
 * numbered stops, each labelled with what was decided there.
 */
function drawTrace(t) {
  const layer = document.getElementById('trace-layer');
  if (!layer || !state.geo) return;
  layer.replaceChildren();
  const geo = state.geo;
  const pts = []; // { x, y, label? }
  const stop = (x, y, label) => pts.push({ x, y, label });
  if (t.from.pod) {
    const p = portPoint(t.from.node, t.from.pod);
    if (p) stop(p.x, p.y, `1 ${t.from.pod} sends to ${t.to.ip}${t.to.port !== undefined ? `:${t.to.port}` : ''}`);
  } else {
    const e = geo.external.get(t.from.external);
    if (e) stop(e.x + POD_W / 2, e.y + 20, `external ${t.from.external}`);
  }
  t.hops.forEach((hop, i) => {
    const g = geo.nodes.get(hop.node);
    if (!g) return;
    const steps = hop.steps;
    const by = (name) => steps.filter((s) => s.step === name);
    const decap = by('decap')[0];
    if (decap || i > 0) stop(g.ulX, g.ulY + 34, decap ? `${hop.node}: ${decap.text}` : `${hop.node}: from the underlay`);
    const match = by('svc_match')[0];
    const nats = by('nat').map((s) => `${s.detail.kind} ${s.detail.before} → ${s.detail.after}`);
    const lastX = pts.length ? pts[pts.length - 1].x : g.x + g.w / 2;
    stop(Math.min(Math.max(lastX, g.x + PAD + 10), g.x + g.w - PAD - 10), g.bridgeY + 10);
    if (match) {
      const sg = geo.services.get(match.detail.service);
      const backend = by('svc_backend')[0];
      const label = [`Service ${match.detail.service || match.detail.frontend}`, backend ? `→ backend ${backend.detail.backend} (${backend.detail.why})` : 'no backend', ...nats].join(' · ');
      if (sg) stop(sg.x + SVC_W / 2, sg.y + SVC_H, `${hop.node}: ${label}`);
      else pts[pts.length - 1].label = `${hop.node}: ${label}`;
      if (sg) stop(Math.min(Math.max(sg.x + SVC_W / 2, g.x + PAD + 10), g.x + g.w - PAD - 10), g.bridgeY + 10);
    } else if (nats.length) {
      pts[pts.length - 1].label = `${hop.node}: ${nats.join(' · ')}`;
    }
    const encap = by('encap')[0];
    if (encap) {
      const kind = encap.detail.kind === 'vxlan' ? `VXLAN VNI ${encap.detail.vni}` : encap.detail.kind === 'ipip' ? 'IP-in-IP' : 'host-gw';
      stop(g.ulX, g.ulY + 34, `${hop.node}: encap ${kind}, outer ${encap.detail.outerSrc ?? encap.detail.from} → ${encap.detail.outerDst ?? encap.detail.to}`);
      const next = t.hops[i + 1] && geo.nodes.get(t.hops[i + 1].node);
      if (next) {
        // along the tunnel under the underlay line
        const y = geo.underlayY;
        stop(g.ulX, y + 30);
        stop(next.ulX, y + 30);
      }
    }
    const verdict = by('verdict').at(-1);
    if (verdict?.detail.dropped) pts[pts.length - 1].drop = `${hop.node}: dropped (${verdict.detail.reason})`;
  });
  for (const o of t.outcomes) {
    if (o.dropped) continue;
    const p = portPoint(o.node, o.port);
    if (p) stop(p.x, p.y, `${o.generated ? 'answered' : 'delivered'}: out of ${o.port} on ${o.node}`);
  }
  if (pts.length === 0) return;
  layer.append(el('path', { class: 'trace-path', d: pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' '), 'marker-end': 'url(#arrow)' }));
  // numbered stops on the map; what was decided at each, in the column on the right
  let n = 0;
  let ly = geo.legendY + 40;
  layer.append(el('rect', { x: geo.legendX - 8, y: geo.legendY, width: LEGEND_W - 20, height: 24, fill: '#fff' }));
  layer.append(el('text', { class: 'node-title', x: geo.legendX, y: geo.legendY + 16 },
    `trace ${t.proto} ${t.from.pod ?? t.from.external} → ${t.to.asked}${t.to.port !== undefined ? ` port ${t.to.port}` : ''}`));
  for (const p of pts) {
    if (!p.label && !p.drop) continue;
    n++;
    layer.append(el('circle', { class: 'trace-dot', cx: p.x, cy: p.y, r: 9 }));
    layer.append(el('text', { class: 'trace-num', x: p.x, y: p.y + 4, 'text-anchor': 'middle' }, String(n)));
    layer.append(el('circle', { class: 'trace-dot', cx: geo.legendX + 9, cy: ly - 4, r: 9 }));
    layer.append(el('text', { class: 'trace-num', x: geo.legendX + 9, y: ly, 'text-anchor': 'middle' }, String(n)));
    // one line per decision: "n1: Service default/web → backend ...", then the NAT, ...
    const lines = (p.label ?? '').replace(/^\d+ /, '').split(' · ');
    if (p.drop) lines.push(`✖ ${p.drop}`);
    const text = el('text', { class: 'trace-label', x: geo.legendX + 24, y: ly, 'data-stop': n });
    lines.forEach((line, i) => {
      text.append(el('tspan', { x: geo.legendX + 24 + (i ? 14 : 0), dy: i ? 16 : 0 }, line));
    });
    layer.append(text);
    ly += 16 * lines.length + 10;
    if (p.drop) layer.append(el('path', { class: 'trace-drop', d: `M${p.x - 10},${p.y - 10} L${p.x + 10},${p.y + 10} M${p.x + 10},${p.y - 10} L${p.x - 10},${p.y + 10}` }));
  }
  if (ly > geo.height) {
    const svg = document.getElementById('map');
    svg.setAttribute('height', ly + 20);
    svg.setAttribute('viewBox', `0 0 ${geo.width} ${ly + 20}`);
  }
}

// ---- wiring ----------------------------------------------------------------

function setLab(lab) {
  state.lab = lab;
  document.getElementById('lab-name').textContent = `lab ${lab.lab}`;
  const c = lab.cluster;
  document.getElementById('lab-summary').textContent =
    `${lab.nodes.length} node(s), ${lab.pods.length} pod(s), ${lab.services.length} Service(s) · pods ${c.clusterCIDR} · Services ${c.serviceCIDR} · overlay ${c.overlay}`;
  drawMap();
  fillServices();
  fillTraceChoices();
  fillTables();
}

function connect() {
  const live = document.getElementById('live');
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => { live.textContent = 'live'; live.classList.remove('off'); });
  es.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.classList.add('off'); });
  es.addEventListener('lab', (m) => setLab(JSON.parse(m.data)));
  es.addEventListener('tick', (m) => {
    const d = JSON.parse(m.data);
    state.stats = d.stats;
    if (d.rates) state.rates = d.rates;
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? 0) + 1);
    if (state.lab) { fillTables(); if (state.rates) showRates(); }
  });
  es.addEventListener('problem', (m) => { live.textContent = JSON.parse(m.data).error; live.classList.add('off'); });
}

document.getElementById('trace-form').addEventListener('submit', (ev) => { runTrace(ev).catch((e) => {
  document.getElementById('trace-result').replaceChildren(html('p', { class: 'error' }, `trace failed: ${e.message}`));
}); });
document.getElementById('trace-clear').addEventListener('click', () => {
  state.trace = null;
  document.getElementById('trace-layer')?.replaceChildren();
  document.getElementById('trace-result').replaceChildren();
});
connect();
