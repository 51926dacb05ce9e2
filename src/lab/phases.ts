// How long each step of bringing a lab up or down took: kept for `podwire
// status --json` (lifecycle) and printed as it goes with PODWIRE_DEBUG set,
// so a slow `up` or teardown of a big lab shows where its time went.

export interface Phase { phase: string; ms: number }

export class PhaseClock {
  readonly phases: Phase[] = [];
  private last = performance.now();
  private readonly started = this.last;

  /** `what`: "up" or "down", printed before each phase; `log`: where lines go when PODWIRE_DEBUG is set. */
  constructor(private readonly what: string, private readonly log?: (line: string) => void) {}

  /** The phase that just ended: its time since the previous mark. */
  mark(phase: string): void {
    const now = performance.now();
    const ms = Math.round((now - this.last) * 10) / 10;
    this.last = now;
    this.phases.push({ phase, ms });
    if (process.env.PODWIRE_DEBUG) this.log?.(`podwire: ${this.what} phase ${phase}: ${ms} ms`);
  }

  /** Milliseconds since the clock started. */
  get totalMs(): number {
    return Math.round((performance.now() - this.started) * 10) / 10;
  }
}
