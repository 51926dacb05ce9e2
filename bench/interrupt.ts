// What a bench must undo when Ctrl-C or SIGTERM ends it mid-case, beyond the
// lab withLab has up (overlay.ts): namespaces and processes a case made by
// itself (the cross-host case's hosts, the kernel's pods). A case registers
// its cleanup while it runs; the signal handler (overlay.ts withSignals)
// runs every registered one before the process exits.
const cleanups = new Set<() => Promise<unknown>>();

/** Register `cleanup` to run on an interrupt; returns the function that unregisters it (call it once the case cleaned up by itself). */
export function onInterrupt(cleanup: () => Promise<unknown>): () => void {
  cleanups.add(cleanup);
  return () => { cleanups.delete(cleanup); };
}

/** Run (once) every cleanup registered now, side by side; failures are ignored: each removes what it can. */
export async function runInterruptCleanups(): Promise<void> {
  const all = [...cleanups];
  cleanups.clear();
  await Promise.allSettled(all.map((c) => c()));
}
