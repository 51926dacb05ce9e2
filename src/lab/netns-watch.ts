// A pod namespace deleted by hand (`ip netns del`) while the lab runs. A
// pod's TAP is created inside its namespace, and a TAP's fd holds the
// namespace it was opened in: deleting the name leaves the namespace (and
// the TAP) alive, unnamed, and the kernel tells nobody. So the lab watches
// the directory where iproute2 keeps the names and, when one of its pods'
// names goes, lets that pod's port go as a vanished TAP did before: the
// worker stops using it, its fd is closed (the device and the namespace go
// with it), and the user is told.
import { existsSync, watch, type FSWatcher } from 'node:fs';

/** Where `ip netns add` mounts each named namespace. */
export const NETNS_DIR = '/run/netns';

/**
 * Call `gone` with the names of `names()` no longer in `dir` (each name
 * once), checked shortly after anything in `dir` changes. Returns a stop
 * function; a directory that cannot be watched watches nothing.
 */
export function watchNamespaces(names: () => Iterable<string>, gone: (names: string[]) => void, dir = NETNS_DIR): () => void {
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { persistent: false });
  } catch {
    return () => {};
  }
  const reported = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    timer = undefined;
    const missing = [...names()].filter((n) => !reported.has(n) && !existsSync(`${dir}/${n}`));
    for (const n of missing) reported.add(n);
    if (missing.length) gone(missing);
  };
  // `ip netns del` of many pods at once: one check for the burst
  watcher.on('change', () => { timer ??= setTimeout(check, 50); });
  watcher.on('error', () => {});
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}
