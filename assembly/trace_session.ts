// A traced run from the control plane's side: switch tracing on, and for a
// dry run (`podwire trace`'s synthetic packet) put back afterwards what
// processing it changed: counters, the bridge's MAC table and the neighbour
// table (copied whole: they are small, and a copy keeps every check out of
// the learning paths), conntrack entries it created, the backend-choice RNG
// and the outer IP ID. Conntrack updates and ClientIP affinity, which live
// in big tables, are skipped by the stages instead (trace.ts dryRun).
import { traceSet, traceOff, traceOn, traceDry } from "./trace";
import { ctUndoBegin, ctUndoEnd } from "./tables/conntrack";
import { svcSeed, svcSetSeed } from "./tables/services";
import { fdbCount, fdbRestoreCount } from "./tables/mac_table";
import { neighCount, neighRestoreCount } from "./tables/neighbors";
import { ipId, setIpId } from "./node";

// what a dry run puts back, and where its copies are (configure reserves the room in the node's
// region): globals, not static data, since nodes share one memory
let ctrFrom: usize = 0, ctrTo: usize = 0, ctrBytes: usize = 0;
let fdbFrom: usize = 0, fdbTo: usize = 0, fdbSize: usize = 0;
let neighFrom: usize = 0, neighTo: usize = 0, neighSize: usize = 0;
let savedSeed: u32 = 0;
let savedIpId: u16 = 0;
let savedFdbCount: u32 = 0;
let savedNeighCount: u32 = 0;

/** The counters, the FDB and the neighbour table ([from, from + bytes) each) are copied to `to` for a dry run. */
export function traceSnapshotLayout(cFrom: usize, cBytes: usize, cTo: usize, fFrom: usize, fBytes: usize, fTo: usize,
  nFrom: usize, nBytes: usize, nTo: usize): void {
  ctrFrom = cFrom; ctrBytes = cBytes; ctrTo = cTo;
  fdbFrom = fFrom; fdbSize = fBytes; fdbTo = fTo;
  neighFrom = nFrom; neighSize = nBytes; neighTo = nTo;
}

function copyRegions(back: bool): void {
  if (back) {
    memory.copy(ctrFrom, ctrTo, ctrBytes);
    memory.copy(fdbFrom, fdbTo, fdbSize);
    memory.copy(neighFrom, neighTo, neighSize);
  } else {
    memory.copy(ctrTo, ctrFrom, ctrBytes);
    memory.copy(fdbTo, fdbFrom, fdbSize);
    memory.copy(neighTo, neighFrom, neighSize);
  }
}

/** Start tracing the frames processed from now on; `dry`: leave no state behind (traceEnd restores). */
export function traceBegin(dry: bool): void {
  traceSet(true, dry);
  if (!dry) return;
  copyRegions(false);
  savedFdbCount = fdbCount();
  savedNeighCount = neighCount();
  savedSeed = svcSeed();
  savedIpId = ipId;
  ctUndoBegin();
}

/** Stop tracing; after a dry run, restore what it changed. The records stay readable until the next traceBegin. */
export function traceEnd(): void {
  if (traceOn && traceDry) {
    ctUndoEnd();
    copyRegions(true);
    fdbRestoreCount(savedFdbCount);
    neighRestoreCount(savedNeighCount);
    svcSetSeed(savedSeed);
    setIpId(savedIpId);
  }
  traceOff();
}
