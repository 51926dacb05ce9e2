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
    .description('in-memory hot-path suites (benchmark.js): parse and bridge forwarding, Mpps and ns/frame')
    .option('--quick', 'short runs')
    .option('--out <dir>', 'where to write the JSON', '.')
    .action(async (opts: { quick?: boolean; out: string }) => {
      const { runHotpath } = await import('../../bench/hotpath.ts');
      const { runOverlayHotpath } = await import('../../bench/overlay-hotpath.ts');
      const results = await runHotpath({ quick: opts.quick });
      console.log('');
      const overlay = await runOverlayHotpath({ quick: opts.quick });
      const bridge64 = results.find((r) => r.suite === 'bridge' && r.frameBytes === 64 && r.batch === 256 && r.slotBytes < 65536);
      const verdict = (x: number, t: number) => `${x.toFixed(1)} Mpps (${x >= t ? 'met' : 'NOT met'})`;
      console.log('');
      if (bridge64) console.log(`target: bridge forwarding with learning, 64 B, one core >= 30 Mpps: ${verdict(bridge64.mpps, 30)}`);
      const best = (suite: string) => Math.max(...overlay.filter((r) => r.suite === suite && r.frameBytes === 64).map((r) => r.mpps));
      console.log(`target: route + VXLAN encap, 64 B inner, >= 20 Mpps: ${verdict(best('route+vxlan encap'), 20)} (best batch, input restore included)`);
      console.log(`target: VXLAN decap + bridge, 64 B inner, >= 20 Mpps: ${verdict(best('vxlan decap+bridge'), 20)} (best batch, input restore included)`);
      console.log(`raw results: ${save(opts.out, 'hotpath', { results, overlay })}`);
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
