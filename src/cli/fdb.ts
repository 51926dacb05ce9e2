// podwire fdb [--json]: each podwire node's bridge forwarding table as its
// data plane holds it, one line per MAC as `bridge fdb show` prints.
import type { Command } from 'commander';
import type { FdbEntryJson } from '../lab/table-control.ts';
import { perNodeTableCommand } from './node-option.ts';

export function fdbCommand(): Command {
  return perNodeTableCommand('fdb', "list each podwire node's MAC table (as bridge fdb show)", 'entries',
    (t) => t.fdb, (mine) => { for (const e of mine) console.log(fdbLine(e)); });
}

/** "0a:58:0a:f4:00:02 dev a1 port 0 permanent", or "... age 12s" for a learned MAC. */
export function fdbLine(e: FdbEntryJson): string {
  return `${e.mac} dev ${e.portName} port ${e.port} ${e.static ? 'permanent' : `age ${e.ageSeconds}s`}`;
}
