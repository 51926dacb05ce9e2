// podwire down: stop a lab and remove what it created, also when its process died.
import { Command } from 'commander';
import { downByState } from '../lab/lab.ts';
import { listLabs } from '../lab/state.ts';
import { netnsList, linkList, ipBatch, PW_PREFIX } from '../io/netns.ts';
import { requireRoot } from './root.ts';
import { removeEtcNetns, etcNetnsEntries, ETC_NETNS } from '../lab/cluster-dns.ts';

export function downCommand(): Command {
  return new Command('down')
    .description('stop a lab and remove its namespaces and links (works after a crash too)')
    .option('--name <lab>', 'lab name', 'default')
    .option('--all', `every lab, then any remaining ${PW_PREFIX}* namespace or link`)
    .action(async (opts: { name: string; all?: boolean }) => {
      requireRoot('podwire down');
      const labs = opts.all ? listLabs() : [opts.name];
      let found = false;
      for (const lab of labs) {
        const r = await downByState(lab);
        if (!r) continue;
        found = true;
        const what = [...r.removed.namespaces, ...r.removed.links];
        console.log(`podwire: lab "${lab}"${r.wasRunning ? ' stopped;' : ''} removed ${what.length ? what.join(' ') : 'nothing (already clean)'}`);
      }
      if (opts.all) {
        const ns = (await netnsList()).filter((n) => n.startsWith(PW_PREFIX));
        const links = (await linkList()).filter((l) => l.startsWith(PW_PREFIX));
        if (links.length) await ipBatch(links.map((l) => `link del ${l}`), undefined, { force: true }).catch(() => {});
        if (ns.length) await ipBatch(ns.map((n) => `netns del ${n}`), undefined, { force: true }).catch(() => {});
        const etc = removeEtcNetns(etcNetnsEntries()).map((n) => `${ETC_NETNS}/${n}`); // pods' resolv.conf
        if (ns.length || links.length || etc.length) console.log(`podwire: removed strays ${[...ns, ...links, ...etc].join(' ')}`);
        else if (!found) console.log('podwire: nothing to remove');
      } else if (!found) {
        console.log(`podwire: no lab named "${opts.name}" (nothing to remove; try --all)`);
      }
    });
}
