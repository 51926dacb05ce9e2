// Print the reference throughputs: npx tsx bench/baseline-run.ts [seconds]
import { runCForwarder, runKernelBridge, type IperfResult } from './baseline.ts';

const seconds = Number(process.argv[2] ?? 5);
const show = (label: string, r: IperfResult) =>
  console.log(`${label.padEnd(28)} ${r.gbps.toFixed(2).padStart(7)} Gbit/s  retr ${r.retransmits}${r.forwarder ? `  (${r.forwarder})` : ''}`);

show('kernel veth+bridge', await runKernelBridge(seconds));
show('C tapfwd, offloads', await runCForwarder(seconds, { offloads: true }));
show('C tapfwd, no offloads', await runCForwarder(seconds, { offloads: false }));
