// podwire bench hotpath | e2e: run a suite, print what it measured, save the raw samples as JSON.
import { Command } from 'commander';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { requireRoot } from './root.ts';
import { table } from './table.ts';

function machine() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, kernel: os.release(),
    node: process.version, podwire: process.env.npm_package_version ?? '0.1.0', date: new Date().toISOString(),
  };
}

function save(dir: string, kind: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `podwire-${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ machine: machine(), ...(data as object) }, null, 2));
  return file;
}

export function benchCommand(): Command {
  const bench = new Command('bench').description('measure the data plane (figures, never pass/fail)');
  bench.command('hotpath')
    .description('in-memory hot-path suites (benchmark.js): bridge forwarding, routing + overlays, Service DNAT; Mpps and ns/frame')
    .option('--quick', 'short runs')
    .option('--suites <list>', 'comma-separated: bridge, overlay, service', 'bridge,overlay,service')
    .option('--out <dir>', 'where to write the JSON', '.')
    .action(async (opts: { quick?: boolean; suites: string; out: string }) => {
      const suites = new Set(opts.suites.split(',').map((s) => s.trim()).filter(Boolean));
      for (const s of suites) if (!['bridge', 'overlay', 'service'].includes(s)) throw new Error(`unknown suite "${s}" (bridge, overlay, service)`);
      const verdict = (x: number, t: number) => `${x.toFixed(1)} Mpps (${x >= t ? 'met' : 'NOT met'})`;
      const targets: string[] = [];
      const data: Record<string, unknown> = {};
      if (suites.has('bridge')) {
        const { runHotpath } = await import('../../bench/hotpath.ts');
        const results = await runHotpath({ quick: opts.quick });
        console.log('');
        data.results = results;
        const bridge64 = results.find((r) => r.suite === 'bridge' && r.frameBytes === 64 && r.batch === 256 && r.slotBytes < 65536);
        if (bridge64) targets.push(`target: bridge forwarding with learning, 64 B, one core >= 30 Mpps: ${verdict(bridge64.mpps, 30)}`);
      }
      if (suites.has('overlay')) {
        const { runOverlayHotpath } = await import('../../bench/overlay-hotpath.ts');
        const overlay = await runOverlayHotpath({ quick: opts.quick });
        console.log('');
        data.overlay = overlay;
        const best = (suite: string) => Math.max(...overlay.filter((r) => r.suite === suite && r.frameBytes === 64).map((r) => r.mpps));
        targets.push(`target: route + VXLAN encap, 64 B inner, >= 20 Mpps: ${verdict(best('route+vxlan encap'), 20)} (best batch, input restore included)`);
        targets.push(`target: VXLAN decap + bridge, 64 B inner, >= 20 Mpps: ${verdict(best('vxlan decap+bridge'), 20)} (best batch, input restore included)`);
      }
      if (suites.has('service')) {
        const { runServiceHotpath, serviceTargets } = await import('../../bench/service-hotpath.ts');
        const service = await runServiceHotpath({ quick: opts.quick });
        console.log('');
        data.service = service;
        targets.push(...serviceTargets(service));
      }
      for (const t of targets) console.log(t);
      console.log(`raw results: ${save(opts.out, 'hotpath', data)}`);
    });
  bench.command('e2e')
    .description('iperf3 TCP pod to pod through podwire vs the kernel veth+bridge and a C TAP forwarder (root)')
    .option('--duration <s>', 'seconds per iperf3 run', (v) => parseInt(v, 10), 5)
    .option('--repeat <n>', 'rounds (cases interleaved within each)', (v) => parseInt(v, 10), 3)
    .option('--offload-off', 'also compare with offloads off (MTU-sized frames)')
    .option('--overlays', 'also cross-node: podwire VXLAN / IP-in-IP / host-gw beside the kernel\'s (flannel-style nodes)')
    .option('--quick', 'one round of 2 s runs')
    .option('--out <dir>', 'where to write the JSON', '.')
    .action(async (opts: { duration: number; repeat: number; offloadOff?: boolean; overlays?: boolean; quick?: boolean; out: string }) => {
      requireRoot('podwire bench e2e');
      const { runE2e } = await import('../../bench/e2e.ts');
      const r = await runE2e({ seconds: opts.quick ? 2 : opts.duration, repeat: opts.quick ? 1 : opts.repeat, offloadOff: opts.offloadOff, overlays: opts.overlays });
      console.log('\n' + table(['CASE', 'MEDIAN Gbit/s', 'MIN', 'MAX', 'RUNS'],
        r.summary.map((s) => [s.case, s.median.toFixed(2), s.min.toFixed(2), s.max.toFixed(2), s.n])));
      for (const [k, v] of Object.entries(r.ratios)) console.log(`${k}: ${v.toFixed(2)}`);
      const pw = r.summary.find((s) => s.case === 'podwire (vnet hdr, TSO)')!.median;
      console.log(`target >= 12 Gbit/s, >= 0.9 x C forwarder, >= 0.75 x kernel: ${pw.toFixed(1)} Gbit/s, ${r.ratios['podwire / C TAP forwarder'].toFixed(2)} x, ${r.ratios['podwire / kernel veth+bridge'].toFixed(2)} x`);
      const vx = r.ratios['podwire VXLAN / kernel VXLAN (cross-node)'];
      if (vx !== undefined) {
        console.log(`target cross-node VXLAN >= 0.85 x kernel VXLAN, >= 0.95 x C forwarder: ${vx.toFixed(2)} x, ${r.ratios['podwire VXLAN / C TAP forwarder'].toFixed(2)} x`);
      }
      console.log(`up -> ready, 10 pods: ${r.upToReadyMs.map((m) => `${Math.round(m)} ms`).join(', ')} (target < 2000 ms)`);
      console.log(`raw results: ${save(opts.out, 'e2e', r)}`);
    });
  return bench;
}
