// A non-blocking eventfd: lets the main thread wake a worker that is blocked
// in poll(2) (postMessage alone cannot interrupt a blocking FFI call).
import { EAGAIN, EFD_CLOEXEC, EFD_NONBLOCK, bufferAddress, close, eventfd, readAt, sysError, writeAt } from './libc.ts';

export class EventFd {
  readonly fd: number;
  // One 8-byte counter slot, reused by every signal/drain.
  private readonly buf = new ArrayBuffer(8);
  private readonly addr = bufferAddress(this.buf);
  private readonly u64 = new BigUint64Array(this.buf);

  /** Wrap an existing eventfd (e.g. one created by another thread), or create one. */
  constructor(fd?: number) {
    if (fd === undefined) {
      const r = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (r < 0) throw sysError('eventfd', '', r);
      this.fd = r;
    } else {
      this.fd = fd;
    }
  }

  /** Add 1 to the counter, making the fd readable. Safe from any thread. */
  signal(): void {
    this.u64[0] = 1n;
    const r = writeAt(this.fd, this.addr, 8);
    // EAGAIN only when the counter would overflow: it is readable anyway.
    if (r < 0 && r !== -EAGAIN) throw sysError('write(eventfd)', String(this.fd), r);
  }

  /** Reset the counter; returns how many signals were pending (0 if none). */
  drain(): number {
    const r = readAt(this.fd, this.addr, 8);
    if (r === -EAGAIN) return 0;
    if (r < 0) throw sysError('read(eventfd)', String(this.fd), r);
    return Number(this.u64[0]);
  }

  close(): void {
    close(this.fd);
  }
}
