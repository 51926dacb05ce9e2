// Whether the forwarding loop may keep polling after traffic instead of
// blocking (engine-io-loop.ts SPIN_AFTER_TRAFFIC_MS). Polling saves the next
// frame a wake-up (tens of µs on this kind of VM), but a polling thread holds
// a CPU: when other threads are waiting for one — the pods' own processes on
// a small machine, the other host's podwire in a cross-host lab — the poll
// takes their time and throughput falls (bench overlay cross-host on 2 cores:
// 3.4 Gbit/s polling, 3.8 blocking). So poll only while no thread waits:
// the kernel's count of runnable threads (/proc/stat procs_running, which
// counts this one) no larger than the CPUs, sampled at most every
// RECHECK_MS while polling.
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const RECHECK_MS = 10;
const KEY = Buffer.from('procs_running ');

export class SpinPolicy {
  private fd = -1;
  private readonly buf = Buffer.alloc(8192);
  private checkedAt = -Infinity;
  private ok = true;
  /** samples that found a thread waiting for a CPU, of all samples (status: dataplane.loop) */
  crowded = 0;
  samples = 0;

  constructor(private readonly cpus = availableParallelism(), statPath = '/proc/stat') {
    try { this.fd = openSync(statPath, 'r'); } catch { this.fd = -1; } // no /proc: always allowed
  }

  /** Whether polling is allowed now (`now`: performance.now()). */
  allowed(now: number): boolean {
    if (this.fd < 0 || now - this.checkedAt < RECHECK_MS) return this.ok;
    this.checkedAt = now;
    const running = this.procsRunning();
    if (running < 0) return this.ok;
    this.samples++;
    this.ok = running <= this.cpus;
    if (!this.ok) this.crowded++;
    return this.ok;
  }

  /** procs_running from /proc/stat, -1 when it cannot be read. */
  private procsRunning(): number {
    let n: number;
    try { n = readSync(this.fd, this.buf, 0, this.buf.length, 0); } catch { return -1; }
    const at = this.buf.subarray(0, n).indexOf(KEY);
    if (at < 0) return -1;
    let v = 0;
    for (let i = at + KEY.length; i < n; i++) {
      const c = this.buf[i];
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    return v;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
