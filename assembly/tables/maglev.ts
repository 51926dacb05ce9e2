// Maglev consistent hashing (Eisenbud et al., NSDI 2016), the backend choice
// IPVS offers kube-proxy as its "mh" scheduler: per Service a lookup table
// of MAGLEV_M slots, each naming a backend (its index in the Service's list),
// filled by the control plane (src/dataplane/maglev.ts) from the backends'
// names. A new flow takes slot hash(5-tuple) mod M, so the same flow picks
// the same backend on every node and after a restart, and a backend joining
// or leaving moves only about 1/N of the flows.
//
// One region of `capacity` Services x M u16 entries, present only when the
// data plane is configured for it (it is 8 KiB a Service).

/** Slots per Service table: a prime well above the backend counts labs use (the paper: M >> N). */
export const MAGLEV_M: u32 = 4093;

let base: usize = 0;
let capacity: u32 = 0;

export function maglevBytes(svcCapacity: u32, on: bool): usize { return on ? <usize>svcCapacity * MAGLEV_M * 2 : 0; }

export function maglevInit(at: usize, svcCapacity: u32, on: bool): void {
  base = on ? at : 0;
  capacity = on ? svcCapacity : 0;
  // the table's memory is zero: configure (index.ts) hands every table a zeroed region
}

/** Is the region there (configured with Maglev tables)? */
export function maglevEnabled(): bool { return base != 0; }
/** Where Service `svc`'s table lives (the control plane writes it), 0 when out of range or disabled. */
export function maglevTable(svc: u32): usize { return svc < capacity ? base + <usize>svc * MAGLEV_M * 2 : 0; }
export function maglevSlots(): u32 { return MAGLEV_M; }

/** The backend index slot `hash mod M` of Service `svc`'s table names. */
@inline export function maglevPick(svc: u32, hash: u32): u32 {
  return <u32>load<u16>(base + <usize>svc * MAGLEV_M * 2 + (<usize>(hash % MAGLEV_M) << 1));
}
