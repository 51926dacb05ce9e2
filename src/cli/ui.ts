// podwire ui [--listen [ADDR:]PORT] [--name LAB]: ask the running lab to
// serve its live web page (src/lab/ui-server.ts) and print the address. The
// lab's own process serves it, for as long as the lab runs.
import { Command } from 'commander';
import { requestControl } from '../lab/control.ts';
import type { UiReply } from '../lab/ui-control.ts';
import { runningLab } from './lab-target.ts';

export function uiCommand(): Command {
  return new Command('ui')
    .description('serve a live web page of the running lab (topology, rates, drops, Services, traces) on loopback and print its URL')
    .option('--listen <[addr:]port>', 'where to listen: a loopback address (default 127.0.0.1 and a free port; a bare port means 127.0.0.1)')
    .option('--force', 'allow a --listen address that is not loopback (anyone who reaches it sees the lab and can run traces)')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--lab <lab>', 'same as --name')
    .action(async (opts: { listen?: string; force?: boolean; name?: string; lab?: string }) => {
      // checked here too, so a typo is said before the lab is asked
      // (ui-server.ts loads node:http: only for this command, not at every start)
      if (opts.listen !== undefined) (await import('../lab/ui-server.ts')).parseUiListen(opts.listen, opts.force ?? false);
      const state = runningLab(opts.name ?? opts.lab);
      const r = (await requestControl(state.socket, 'ui', 10_000, { listen: opts.listen, force: opts.force ?? false })) as UiReply;
      console.log(r.url);
      console.error(`podwire: the lab "${state.name}" ${r.already ? 'already serves' : 'now serves'} its live page at ${r.url} (until the lab stops)`);
    });
}
