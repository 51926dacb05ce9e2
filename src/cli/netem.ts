// podwire netem set TARGET [--delay 20ms] [--jitter 5ms] [--loss 1%] [--rate 100mbit]
//   [--duplicate 0.5%] [--corrupt 0.1%] | podwire netem clear TARGET: impair,
// live, the frames the data plane sends to a pod (TARGET: the pod), or those
// two podwire nodes hand each other (TARGET: A:B) (src/lab/netem-control.ts).
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { NetemChange } from '../lab/netem-control.ts';
import { runningLab } from './lab-target.ts';

interface SetOptions { name?: string; delay?: string; jitter?: string; loss?: string; rate?: string; duplicate?: string; corrupt?: string }

export function netemCommand(): Command {
  const cmd = new Command('netem').description("impair a pod's link live (delay, jitter, loss, rate, duplicate, corrupt; units as tc netem takes them)");
  cmd.command('set')
    .description('impair the frames the data plane sends to a pod, or both directions of a node-to-node link (replaces its impairment)')
    .argument('<target>', 'a pod (NAME, NAMESPACE/NAME or NAME.NAMESPACE) or a link between podwire nodes (A:B)')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--delay <time>', 'added delay, e.g. 20ms')
    .option('--jitter <time>', 'the delay varies by up to this either way, e.g. 5ms (needs --delay)')
    .option('--loss <percent>', 'frames dropped, e.g. 1%')
    .option('--rate <rate>', 'link rate, e.g. 100mbit (bps forms are bytes per second, as in tc)')
    .option('--duplicate <percent>', 'frames sent twice, e.g. 0.5%')
    .option('--corrupt <percent>', 'frames with one bit flipped, e.g. 0.1%')
    .action(async (pod: string, opts: SetOptions) => {
      const netem = Object.fromEntries((['delay', 'jitter', 'loss', 'rate', 'duplicate', 'corrupt'] as const)
        .filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]));
      const r = (await requestControl(runningLab(opts.name).socket, 'netemSet', 5000, { pod, netem })) as NetemChange;
      console.log(changeLine(r));
    });
  cmd.command('clear')
    .description("remove a pod's or a link's impairment (frames held for a delay are sent at once)")
    .argument('<target>', 'a pod (NAME, NAMESPACE/NAME or NAME.NAMESPACE) or a link between podwire nodes (A:B)')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .action(async (pod: string, opts: { name?: string }) => {
      const r = (await requestControl(runningLab(opts.name).socket, 'netemClear', 5000, { pod })) as NetemChange;
      console.log(changeLine(r));
    });
  return cmd;
}

/** "a1 (node n1): netem delay 20ms", "n1:n2: netem none". */
function changeLine(r: NetemChange): string {
  return `${r.target}${r.node ? ` (node ${r.node})` : ''}: netem ${r.text}`;
}
