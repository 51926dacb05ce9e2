// The node's bridge (a real node's cni0): forward by learned MAC, flood
// broadcast, multicast and unknown unicast to every other port, never back
// out of the ingress port.
import { ethDst, isGroupMac } from "../wire/ethernet";
import { fdbLookup, NO_PORT } from "../tables/mac_table";
import { portLimit, portBridged } from "../tables/ports";
import { nowMs } from "../clock";
import { output } from "./output";
import { Drop, Ev, countEv } from "../counters";
import { Step, tracing, trace, macHi, macLo } from "../trace";

/** Forward a frame that is not for the gateway. Returns Drop.NONE or why nothing was sent. */
export function bridgeForward(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32): Drop {
  const dst = ethDst(frame);
  if (!isGroupMac(dst)) {
    const out = fdbLookup(dst, nowMs);
    if (out != NO_PORT) {
      if (<u32>out == inPort) return Drop.SAME_PORT;
      return output(slot, <u32>out, frame, len, l2len);
    }
    countEv(Ev.UNKNOWN_UNICAST);
  }
  return flood(slot, inPort, frame, len, l2len);
}

export function flood(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32): Drop {
  countEv(Ev.FLOODED);
  let sent: u32 = 0;
  let refused = Drop.NO_DESTINATION;
  const limit = portLimit;
  for (let p: u32 = 0; p < limit; p++) {
    if (p == inPort || !portBridged(p)) continue;
    const r = output(slot, p, frame, len, l2len);
    if (r == Drop.NONE) sent++;
    else refused = r;
  }
  if (tracing()) { const dst = ethDst(frame); trace(Step.FLOOD, 0, sent, macHi(dst), macLo(dst), 0, 0, 0); }
  // forwarded if any port took it; otherwise one reason for the frame
  return sent > 0 ? Drop.NONE : refused;
}
