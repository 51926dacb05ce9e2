// Print the reference throughputs: npx tsx bench/baseline-run.ts [seconds]
// (pods at MTU 1500; "no offloads" is the same setting for both: bench/plan.ts)
import { runCForwarder, runKernelBridge, type IperfResult } from './baseline.ts';

const seconds = Number(process.argv[2] ?? 5);
const show = (label: string, r: IperfResult) =>
  console.log(`${label.padEnd(32)} ${r.gbps.toFixed(2).padStart(7)} Gbit/s  retr ${r.retransmits}  MTU ${r.podMtu}${r.offloadsOff?.failed.length ? `  ethtool refused: ${r.offloadsOff.failed.join('; ')}` : ''}${r.forwarder ? `  (${r.forwarder})` : ''}`);

show('kernel veth+bridge', await runKernelBridge(seconds));
show('C tapfwd, offloads', await runCForwarder(seconds, { offloads: true }));
show('kernel veth+bridge, no offloads', await runKernelBridge(seconds, { offloads: false }));
show('C tapfwd, no offloads', await runCForwarder(seconds, { offloads: false }));
