// A traced run from the control plane's side: switch tracing on, and for a
// dry run (`podwire trace`'s synthetic packet) put back afterwards what
// processing it changed anyway: counters, conntrack entries it created, the
// backend-choice RNG and the outer IP ID. The stages themselves skip
// learning and conntrack updates while dry (trace.ts dryRun).
import { traceSet, traceOff, traceOn, traceDry } from "./trace";
import { ctUndoBegin, ctUndoEnd } from "./tables/conntrack";
import { svcSeed, svcSetSeed } from "./tables/services";
import { ipId, setIpId } from "./node";

let snapFrom: usize = 0;
let snapTo: usize = 0;
let snapBytes: usize = 0;
let savedSeed: u32 = 0;
let savedIpId: u16 = 0;

/** Where counters live ([from, from + bytes)) and room for one copy of them. */
export function traceSnapshotLayout(from: usize, bytes: usize, to: usize): void {
  snapFrom = from;
  snapBytes = bytes;
  snapTo = to;
}

/** Start tracing the frames processed from now on; `dry`: leave no state behind (traceEnd restores). */
export function traceBegin(dry: bool): void {
  traceSet(true, dry);
  if (!dry) return;
  memory.copy(snapTo, snapFrom, snapBytes);
  savedSeed = svcSeed();
  savedIpId = ipId;
  ctUndoBegin();
}

/** Stop tracing; after a dry run, restore what it changed. The records stay readable until the next traceBegin. */
export function traceEnd(): void {
  if (traceOn && traceDry) {
    ctUndoEnd();
    memory.copy(snapFrom, snapTo, snapBytes);
    svcSetSeed(savedSeed);
    setIpId(savedIpId);
  }
  traceOff();
}
