// Readiness over poll(2) with a preallocated `struct pollfd[]`, so a worker
// can block in wait() in a loop without allocating anything per call.
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, EINTR, bufferAddress, pollAt, sysError } from './libc.ts';

const POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }

export class Poller {
  private buf = new ArrayBuffer(0);
  private addr = 0;
  private i32 = new Int32Array(0);
  private i16 = new Int16Array(0);
  private n = 0;

  constructor(fds: number[], private readonly events = POLLIN) {
    this.setFds(fds);
  }

  get size(): number {
    return this.n;
  }

  /** Replace the watched fds; only reallocates when the set outgrows the buffer. */
  setFds(fds: number[]): void {
    if (fds.length * POLLFD_SIZE > this.buf.byteLength) {
      // ArrayBuffer backing stores are off the V8 heap and never move.
      this.buf = new ArrayBuffer(Math.max(fds.length, 4) * POLLFD_SIZE);
      this.addr = bufferAddress(this.buf);
      this.i32 = new Int32Array(this.buf);
      this.i16 = new Int16Array(this.buf);
    }
    this.n = fds.length;
    for (let i = 0; i < fds.length; i++) {
      this.i32[i * 2] = fds[i];
      this.i16[i * 4 + 2] = this.events;
      this.i16[i * 4 + 3] = 0;
    }
  }

  /** Block up to timeoutMs (-1 = forever); returns how many fds are ready (0 on timeout or EINTR). */
  wait(timeoutMs: number): number {
    const r = pollAt(this.addr, this.n, timeoutMs);
    if (r >= 0) return r;
    if (r === -EINTR) return 0;
    throw sysError('poll', `${this.n} fds`, r);
  }

  /** revents of entry i from the last wait(). */
  revents(i: number): number {
    return this.i16[i * 4 + 3];
  }

  isReadable(i: number): boolean {
    return (this.i16[i * 4 + 3] & POLLIN) !== 0;
  }

  /** The fd is dead (error, hang-up, or not open): reading it will never help. */
  isBroken(i: number): boolean {
    return (this.i16[i * 4 + 3] & (POLLERR | POLLHUP | POLLNVAL)) !== 0;
  }
}
