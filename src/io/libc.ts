// koffi bindings to the few libc calls the I/O layer needs.
//
// Hot-path calls (readAt/writeAt/writevAt) take absolute addresses as plain
// numbers (`uintptr_t`), so reading a TAP straight into WebAssembly memory
// needs no copy and no per-call JS object. They never throw: they return
// the byte count or -errno.
import koffi from 'koffi';

const lib = koffi.load('libc.so.6');

// Linux x86_64/aarch64 values (asm-generic), checked against <fcntl.h>.
export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = O_NONBLOCK;
export const EFD_CLOEXEC = O_CLOEXEC;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const EINTR = 4;
export const EBADF = 9;
export const EAGAIN = 11;

const _open = lib.func('int open(const char *path, int flags, uint32_t mode)');
const _close = lib.func('int close(int fd)');
const _readAt = lib.func('long read(int fd, uintptr_t buf, size_t len)');
const _writeAt = lib.func('long write(int fd, uintptr_t buf, size_t len)');
const _writevAt = lib.func('long writev(int fd, uintptr_t iov, int iovcnt)');
// ioctl is variadic in C; the variadic form keeps the ABI right everywhere.
const _ioctl = lib.func('int ioctl(int fd, unsigned long req, ...)');
const _eventfd = lib.func('int eventfd(unsigned int initval, int flags)');
const _strerror = lib.func('const char *strerror(int errnum)');
// sockets (src/io/socket.ts): addresses and option values are passed as absolute addresses too
const _socket = lib.func('int socket(int domain, int type, int protocol)');
const _bind = lib.func('int bind(int fd, uintptr_t addr, uint32_t addrlen)');
const _setsockopt = lib.func('int setsockopt(int fd, int level, int name, uintptr_t value, uint32_t len)');
const _getsockopt = lib.func('int getsockopt(int fd, int level, int name, uintptr_t value, uintptr_t len)');
const _sendto = lib.func('long sendto(int fd, uintptr_t buf, size_t len, int flags, uintptr_t addr, uint32_t addrlen)');
const _recvfrom = lib.func('long recvfrom(int fd, uintptr_t buf, size_t len, int flags, uintptr_t addr, uintptr_t addrlen)');
const _getsockname = lib.func('int getsockname(int fd, uintptr_t addr, uintptr_t addrlen)');
const _sendmsg = lib.func('long sendmsg(int fd, uintptr_t msg, int flags)');
const _sendmmsg = lib.func('int sendmmsg(int fd, uintptr_t msgvec, unsigned int vlen, int flags)');
const _recvmsg = lib.func('long recvmsg(int fd, uintptr_t msg, int flags)');
const _memcpy = lib.func('uintptr_t memcpy(uintptr_t dst, uintptr_t src, size_t n)');
const _errnoLocation = lib.func('int *__errno_location()');
const _ifNameToIndex = lib.func('unsigned int if_nametoindex(const char *ifname)');

// errno is thread-local; this module is evaluated once per thread (main or
// worker), so the view below always points at the calling thread's errno.
// Reading it through a view costs ~2 ns against ~35 ns for koffi.errno().
const errnoView = new Int32Array(koffi.view(_errnoLocation(), 4));

export function errno(): number {
  return errnoView[0];
}

export function strerror(e: number): string {
  return _strerror(e) as string;
}

/**
 * Absolute address of a buffer's first byte (of the view's first byte for a
 * view). For WebAssembly memory, V8 on 64-bit reserves the whole address
 * range up front, so the base did not move across memory.grow() in our
 * probes — but grow() detaches the old buffer: re-read the address after it.
 */
export function bufferAddress(buf: ArrayBuffer | SharedArrayBuffer | ArrayBufferView): number {
  // koffi.address rejects a bare SharedArrayBuffer but accepts a view on it.
  const target = buf instanceof ArrayBuffer || ArrayBuffer.isView(buf) ? buf : new Uint8Array(buf);
  // Userspace addresses fit in 47 bits, so a double holds them exactly.
  return Number(koffi.address(target));
}

/**
 * Precomputed addresses base + i*stride, for passing to readAt/writeAt with
 * zero allocation. Addresses exceed the small-integer range, so a freshly
 * computed `base + off` is boxed (16 B of garbage per call); a number read
 * from a generic-elements array is already boxed and passed as is. (A
 * Float64Array or all-double array would re-box on every read.)
 */
export function addressTable(base: number, stride: number, count: number): number[] {
  const t: unknown[] = [null]; // forces generic elements, so numbers stay boxed
  t.pop();
  for (let i = 0; i < count; i++) t.push(base + i * stride);
  return t as number[];
}

/** read(2) into an absolute address: bytes read, 0 on EOF, or -errno. */
export function readAt(fd: number, addr: number, len: number): number {
  const n = _readAt(fd, addr, len) as number;
  return n >= 0 ? n : -errnoView[0];
}

/** write(2) from an absolute address: bytes written or -errno. */
export function writeAt(fd: number, addr: number, len: number): number {
  const n = _writeAt(fd, addr, len) as number;
  return n >= 0 ? n : -errnoView[0];
}

/** writev(2) of `iovcnt` `struct iovec` at `iov`: bytes written or -errno. */
export function writevAt(fd: number, iov: number, iovcnt: number): number {
  const n = _writevAt(fd, iov, iovcnt) as number;
  return n >= 0 ? n : -errnoView[0];
}


// two struct iovec (base, len: 8 bytes each), reused by every writev2At: no allocation per call.
// An ArrayBuffer of its own: its memory is off the JS heap, so its address never moves
const iov = new Uint32Array(new ArrayBuffer(32));
let iovAddr = 0;

/** writev(2) of two pieces at absolute addresses (a header kept apart from its frame): bytes written or -errno. */
export function writev2At(fd: number, a: number, alen: number, b: number, blen: number): number {
  if (iovAddr === 0) iovAddr = bufferAddress(iov);
  // addresses stay below 2^53: split into the little-endian u32 halves of each u64
  iov[0] = a % 0x100000000; iov[1] = Math.floor(a / 0x100000000); iov[2] = alen; iov[3] = 0;
  iov[4] = b % 0x100000000; iov[5] = Math.floor(b / 0x100000000); iov[6] = blen; iov[7] = 0;
  const n = _writevAt(fd, iovAddr, 2) as number;
  return n >= 0 ? n : -errnoView[0];
}

/** read(2) into a view (convenience for cold paths and tests). */
export function read(fd: number, buf: Uint8Array, len = buf.byteLength): number {
  if (len > buf.byteLength) throw new RangeError(`read: len ${len} > buffer ${buf.byteLength}`);
  return readAt(fd, bufferAddress(buf), len);
}

/** write(2) from a view (convenience for cold paths and tests). */
export function write(fd: number, buf: Uint8Array, len = buf.byteLength): number {
  if (len > buf.byteLength) throw new RangeError(`write: len ${len} > buffer ${buf.byteLength}`);
  return writeAt(fd, bufferAddress(buf), len);
}

/** open(2): fd or -errno. */
export function open(path: string, flags: number, mode = 0): number {
  const fd = _open(path, flags, mode) as number;
  return fd >= 0 ? fd : -errnoView[0];
}

/** if_nametoindex(3) in the calling thread's network namespace: the index, 0 when there is no such interface. */
export function ifNameToIndex(ifname: string): number {
  return _ifNameToIndex(ifname) as number;
}

/** close(2): 0 or -errno. */
export function close(fd: number): number {
  return _close(fd) === 0 ? 0 : -errnoView[0];
}

/** ioctl(2) whose argument is a pointer to `buf` (in/out): result or -errno. */
export function ioctlPtr(fd: number, req: number, buf: Uint8Array): number {
  const r = _ioctl(fd, req, 'uintptr_t', bufferAddress(buf)) as number;
  return r >= 0 ? r : -errnoView[0];
}

/** ioctl(2) whose argument is an integer passed by value: result or -errno. */
export function ioctlInt(fd: number, req: number, value: number): number {
  const r = _ioctl(fd, req, 'unsigned long', value) as number;
  return r >= 0 ? r : -errnoView[0];
}

/** eventfd(2): fd or -errno. */
export function eventfd(initval: number, flags: number): number {
  const fd = _eventfd(initval, flags) as number;
  return fd >= 0 ? fd : -errnoView[0];
}

/** socket(2): fd or -errno. */
export function socket(domain: number, type: number, protocol: number): number {
  const fd = _socket(domain, type, protocol) as number;
  return fd >= 0 ? fd : -errnoView[0];
}

/** bind(2) to the socket address at `addr` (e.g. a struct sockaddr_in): 0 or -errno. */
export function bindAt(fd: number, addr: number, addrlen: number): number {
  return _bind(fd, addr, addrlen) === 0 ? 0 : -errnoView[0];
}

/** setsockopt(2) with an int value: 0 or -errno. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): number {
  const v = new Int32Array([value]);
  return _setsockopt(fd, level, name, bufferAddress(v), 4) === 0 ? 0 : -errnoView[0];
}

/** getsockopt(2) of an int value: the value, or -errno. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  const v = new Int32Array([0, 4]); // value, then its socklen_t
  const r = _getsockopt(fd, level, name, bufferAddress(v), bufferAddress(v) + 4);
  return r === 0 ? v[0] : -errnoView[0];
}

/** sendto(2) of `len` bytes at `addr` to the socket address at `to`: bytes sent or -errno. Never throws. */
export function sendtoAt(fd: number, addr: number, len: number, flags: number, to: number, tolen: number): number {
  const n = _sendto(fd, addr, len, flags, to, tolen) as number;
  return n >= 0 ? n : -errnoView[0];
}

/**
 * recvfrom(2) into an absolute address; the sender's address lands at `from`
 * and its length at `fromlenAddr` (a socklen_t the caller sets to the room
 * at `from` before each call). Bytes received (with MSG_TRUNC: the
 * datagram's real length) or -errno. Never throws.
 */
export function recvfromAt(fd: number, addr: number, len: number, flags: number, from: number, fromlenAddr: number): number {
  const n = _recvfrom(fd, addr, len, flags, from, fromlenAddr) as number;
  return n >= 0 ? n : -errnoView[0];
}

/** getsockname(2) into the address at `addr` (its room at `addrlenAddr`, a socklen_t): 0 or -errno. */
export function getsocknameAt(fd: number, addr: number, addrlenAddr: number): number {
  return _getsockname(fd, addr, addrlenAddr) === 0 ? 0 : -errnoView[0];
}

/** sendmsg(2) of the `struct msghdr` at `msg`: bytes sent or -errno. Never throws. */
export function sendmsgAt(fd: number, msg: number, flags: number): number {
  const n = _sendmsg(fd, msg, flags) as number;
  return n >= 0 ? n : -errnoView[0];
}

/** sendmmsg(2) of `vlen` `struct mmsghdr` at `msgvec`: messages sent or -errno. Never throws. */
export function sendmmsgAt(fd: number, msgvec: number, vlen: number, flags: number): number {
  const n = _sendmmsg(fd, msgvec, vlen, flags) as number;
  return n >= 0 ? n : -errnoView[0];
}

/** recvmsg(2) into the `struct msghdr` at `msg`: bytes received or -errno. Never throws. */
export function recvmsgAt(fd: number, msg: number, flags: number): number {
  const n = _recvmsg(fd, msg, flags) as number;
  return n >= 0 ? n : -errnoView[0];
}

/** memcpy(3) between absolute addresses (non-overlapping): copies across two buffers without a view per call. */
export function memcpyAt(dst: number, src: number, n: number): void {
  _memcpy(dst, src, n);
}

/** An Error for a failed call: "ioctl(TUNSETIFF) pw-t0: Operation not permitted (errno 1)". */
export function sysError(call: string, subject: string, negErrno: number): Error {
  const e = -negErrno;
  const err = new Error(`${call} ${subject}: ${strerror(e)} (errno ${e})`) as Error & { errno: number };
  err.errno = e;
  return err;
}
