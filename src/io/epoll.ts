// Readiness over epoll(7). The kernel keeps the watched set, so one wait
// costs about the number of READY fds; poll(2) walks every watched fd on
// each call (and hooks a wait-queue entry on each one every time it
// blocks), which made a frame's cost grow with the number of pods.
//
// Level-triggered: an fd stays in the ready list while it has data, so a
// reader that stops at its budget finds it again on the next wait.
// Each fd carries a 32-bit token chosen by the caller (the kernel hands it
// back with the event); the ready events land in one preallocated
// `struct epoll_event[]`, so wait() allocates nothing.
import koffi from 'koffi';
import { EINTR, bufferAddress, close, errno, sysError } from './libc.ts';

const lib = koffi.load('libc.so.6');
const _create = lib.func('int epoll_create1(int flags)');
const _ctl = lib.func('int epoll_ctl(int epfd, int op, int fd, uintptr_t event)');
const _wait = lib.func('int epoll_wait(int epfd, uintptr_t events, int maxevents, int timeout)');

// <sys/epoll.h>
export const EPOLLIN = 0x001;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EEXIST = 17;

// struct epoll_event { uint32_t events; epoll_data_t data; } is packed on
// x86-64 (12 bytes, data at 4) and naturally aligned elsewhere (16, at 8).
const PACKED = process.arch === 'x64';
const EVENT_SIZE = PACKED ? 12 : 16;
const DATA_AT = PACKED ? 4 : 8;

export class Epoll {
  readonly fd: number;
  /** ready events of the last wait(), as 32-bit words */
  private readonly events: Uint32Array;
  private readonly eventsAddr: number;
  /** one struct epoll_event for epoll_ctl */
  private readonly one = new Uint32Array(4);
  private readonly oneAddr = bufferAddress(this.one);
  private ready = 0;

  /** `maxEvents`: ready fds one wait() reports at most; the kernel rotates the rest to later waits. */
  constructor(readonly maxEvents = 256) {
    const fd = _create(EPOLL_CLOEXEC) as number;
    if (fd < 0) throw sysError('epoll_create1', '', -errno());
    this.fd = fd;
    const buf = new ArrayBuffer(maxEvents * EVENT_SIZE);
    this.events = new Uint32Array(buf);
    this.eventsAddr = bufferAddress(buf);
  }

  /**
   * Watch `fd` for `events` (EPOLLERR and EPOLLHUP are always reported),
   * tagged `token`; an fd already watched is re-tagged. 0, or -errno (EBADF:
   * not an open fd; EPERM: a file that cannot be polled).
   */
  add(fd: number, token: number, events = EPOLLIN): number {
    const r = this.ctl(EPOLL_CTL_ADD, fd, token, events);
    return r === -EEXIST ? this.ctl(EPOLL_CTL_MOD, fd, token, events) : r;
  }

  /**
   * Stop watching `fd`: 0, or -errno when it was not watched (ENOENT) or is
   * closed already (EBADF) — the kernel forgot a closed fd by itself.
   */
  remove(fd: number): number {
    return this.ctl(EPOLL_CTL_DEL, fd, 0, 0);
  }

  private ctl(op: number, fd: number, token: number, events: number): number {
    const w = this.one;
    w[0] = events;
    w[DATA_AT / 4] = token >>> 0;
    w[DATA_AT / 4 + 1] = 0;
    const r = _ctl(this.fd, op, fd, this.oneAddr) as number;
    return r === 0 ? 0 : -errno();
  }

  /** Block up to timeoutMs (-1: until an fd is ready, 0: just look); returns how many events are ready (0 on timeout or EINTR). */
  wait(timeoutMs: number): number {
    const r = _wait(this.fd, this.eventsAddr, this.maxEvents, timeoutMs) as number;
    if (r >= 0) return (this.ready = r);
    this.ready = 0;
    const e = errno();
    if (e === EINTR) return 0;
    throw sysError('epoll_wait', `epoll fd ${this.fd}`, -e);
  }

  /** Events ready after the last wait(). */
  get readyCount(): number {
    return this.ready;
  }

  /** The token of ready event i (0 <= i < readyCount). */
  token(i: number): number {
    return this.events[(i * EVENT_SIZE + DATA_AT) >> 2];
  }

  /** The event bits of ready event i. */
  eventsOf(i: number): number {
    return this.events[(i * EVENT_SIZE) >> 2];
  }

  isReadable(i: number): boolean {
    return (this.eventsOf(i) & EPOLLIN) !== 0;
  }

  /** Error or hang-up on the fd of ready event i (for a TAP: its device is gone, reading will never help). */
  isBroken(i: number): boolean {
    return (this.eventsOf(i) & (EPOLLERR | EPOLLHUP)) !== 0;
  }

  close(): void {
    close(this.fd);
  }
}
