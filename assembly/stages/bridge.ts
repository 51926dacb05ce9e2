// The node's bridge (a real node's cni0): forward by learned MAC, flood
// broadcast, multicast and unknown unicast to every other port, never back
// out of the ingress port.
import { ethDst, isGroupMac } from "../wire/ethernet";
import { fdbLookup, NO_PORT } from "../tables/mac_table";
import { portLimit, portUp } from "../tables/ports";
import { nowMs } from "../clock";
import { output } from "./output";
import { Drop, Ev, countEv } from "../counters";

/** Forward a frame that is not for the gateway. Returns Drop.NONE or why nothing was sent. */
export function bridgeForward(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32): Drop {
  const dst = ethDst(frame);
  if (!isGroupMac(dst)) {
    const out = fdbLookup(dst, nowMs);
    if (out != NO_PORT) {
      if (<u32>out == inPort) return Drop.SAME_PORT;
      // a failed output counted its own drop (oversize)
      output(slot, <u32>out, frame, len, l2len);
      return Drop.NONE;
    }
    countEv(Ev.UNKNOWN_UNICAST);
  }
  return flood(slot, inPort, frame, len, l2len);
}

export function flood(slot: u32, inPort: u32, frame: usize, len: u32, l2len: u32): Drop {
  countEv(Ev.FLOODED);
  let tried: u32 = 0;
  const limit = portLimit;
  for (let p: u32 = 0; p < limit; p++) {
    if (p == inPort || !portUp(p)) continue;
    output(slot, p, frame, len, l2len);
    tried++;
  }
  return tried == 0 ? Drop.NO_DESTINATION : Drop.NONE;
}
