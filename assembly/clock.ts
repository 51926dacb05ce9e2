// The data plane's notion of time, in milliseconds, set by the control plane
// (never read from the host), so tests can fast-forward aging and timeouts.
// u32 arithmetic: ages are computed as `now - then`, which survives wrap-around.
export let nowMs: u32 = 0;
export function setClock(ms: u32): void { nowMs = ms; }
