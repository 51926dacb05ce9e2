// podwire down: stop a lab and remove what it created, also when its process died.
import { Command } from 'commander';
import { listLabs, STATE_DIR } from '../lab/state.ts';
import { PW_PREFIX } from '../io/netns.ts';
import { requireRoot } from './root.ts';
import { withStoreOptions, storeOptions, type StoreFlags } from './store-options.ts';

export function downCommand(): Command {
  return withStoreOptions(new Command('down'))
    .description('stop a lab and remove its namespaces and links (works after a crash too)')
    .option('--name <lab>', 'lab name', 'default')
    .option('--all', `every lab of the state directory (${STATE_DIR}), then the ${PW_PREFIX}* namespaces marked as its own that no state file lists`)
    .action(async (opts: { name: string; all?: boolean } & StoreFlags) => {
      if (opts.store !== undefined) return downStore(opts);
      requireRoot('podwire down');
      // the lab code is loaded by the commands that use it, so `podwire --help` stays quick
      const { downByState, removeStrays } = await import('../lab/lab.ts');
      const { ETC_NETNS } = await import('../lab/cluster-dns.ts');
      const labs = opts.all ? listLabs() : [opts.name];
      let found = false;
      for (const lab of labs) {
        const r = await downByState(lab);
        if (!r) continue;
        found = true;
        const what = [...r.removed.namespaces, ...r.removed.links];
        const how = r.wasRunning ? ' stopped;' : r.pidReused ? ' its process is gone (its pid is now another process\'s: not signalled);' : '';
        console.log(`podwire: lab "${lab}"${how} removed ${what.length ? what.join(' ') : 'nothing (already clean)'}`);
        if (r.removed.skipped.length) console.log(`podwire: lab "${lab}": left alone ${r.removed.skipped.join(' ')} (marked as another lab's)`);
      }
      if (opts.all) {
        const strays = await removeStrays();
        const what = [...strays.namespaces, ...strays.etcNetns.map((n) => `${ETC_NETNS}/${n}`)];
        if (what.length) console.log(`podwire: removed strays ${what.join(' ')}`);
        else if (!found) console.log('podwire: nothing to remove');
        if (strays.leftAlone.length) console.log(`podwire: left alone ${strays.leftAlone.join(' ')} (not provably this state directory's: see docs/safety.md, Cleaning up)`);
      } else if (!found) {
        console.log(`podwire: no lab named "${opts.name}" (nothing to remove; try --all)`);
      }
    });
}

/**
 * `down --store URL --name LAB`: remove the lab from the store (every key
 * under its prefix). Hosts still running it see every node's lease go and
 * drop their routes to the others; each host stops its podwire itself.
 */
async function downStore(opts: { name: string; all?: boolean } & StoreFlags): Promise<void> {
  if (opts.all) throw new Error('--store: name the lab to remove from the store (--name LAB), not --all');
  const { SharedStore } = await import('../store/etcd-store.ts'); // the etcd client: loaded only with --store
  const store = await SharedStore.connect(storeOptions(opts));
  try {
    const n = await store.deleteLab(opts.name);
    console.log(n ? `podwire: lab "${opts.name}" removed from the store at ${opts.store} (${n} keys)` : `podwire: no lab "${opts.name}" in the store at ${opts.store}`);
  } finally {
    await store.close();
  }
}
