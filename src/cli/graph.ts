// podwire graph [TOPOLOGY.yaml] [--name LAB] [-o FILE.svg|FILE.html]: the lab
// as a picture (src/lab/graph-svg.ts) — from a topology file, no lab needed,
// or from the running lab's status. SVG on stdout without -o.
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { requestControl } from '../lab/control.ts';
import type { LabStatus } from '../lab/status.ts';
import { runningLab } from './lab-target.ts';

export function graphCommand(): Command {
  return new Command('graph')
    .description('draw the lab (nodes, pods, bridge, underlay, tunnels, Services, external hosts) as SVG or HTML')
    .argument('[topology]', 'a topology file to draw without a lab (default: the running lab)')
    .option('--name <lab>', 'the running lab to draw (default: the only running lab)')
    .option('-o, --output <file>', 'write FILE.svg or FILE.html (default: SVG on stdout)')
    .action(async (file: string | undefined, opts: { name?: string; output?: string }) => {
      if (file && opts.name) throw new Error('give a topology file or --name, not both');
      // loaded when run, so `podwire --help` stays quick
      const { loadTopologyFile } = await import('../model/topology.ts');
      const { graphFromPlan, graphFromStatus } = await import('../lab/graph.ts');
      const { renderGraph, graphHtml } = await import('../lab/graph-svg.ts');
      const g = file
        ? graphFromPlan(loadTopologyFile(file))
        : graphFromStatus((await requestControl(runningLab(opts.name).socket, 'status', 10_000)) as LabStatus);
      const picture = renderGraph(g);
      if (!opts.output) { process.stdout.write(picture.svg); return; }
      if (!/\.(svg|html?)$/i.test(opts.output)) throw new Error(`-o ${opts.output}: expected a file name ending in .svg or .html`);
      writeFileSync(opts.output, /\.html?$/i.test(opts.output) ? graphHtml(g, picture) : picture.svg);
      console.error(`podwire: wrote ${opts.output} (${picture.width}x${picture.height}, ${g.nodes.length} node(s), ${g.nodes.reduce((a, n) => a + n.pods.length, 0)} pod(s))`);
    });
}
