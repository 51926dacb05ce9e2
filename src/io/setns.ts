// Sockets inside a pod's network namespace, opened by this process: setns(2)
// moves only the calling thread, so the thread enters the namespace, opens
// and binds the socket, and returns to where it was. The socket stays in the
// namespace it was created in, whatever thread uses it afterwards.
import koffi from 'koffi';
import { O_CLOEXEC, O_NONBLOCK, bindAt, bufferAddress, close, errno, open, setsockoptInt, socket, sysError } from './libc.ts';
import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM, IPPROTO_UDP, SOCKADDR_IN_LEN, SOL_SOCKET, SO_REUSEADDR, sockaddrIn } from './socket.ts';
import { assertPwName } from './netns.ts';

const lib = koffi.load('libc.so.6');
const _setns = lib.func('int setns(int fd, int nstype)');
const _listen = lib.func('int listen(int fd, int backlog)');
const _connect = lib.func('int connect(int fd, uintptr_t addr, unsigned int addrlen)');
const SOCK_STREAM = 1;
const IPPROTO_TCP = 6;
const EINPROGRESS = 115;
/** Pending connections a listening socket queues (the kernel caps it at net.core.somaxconn). */
const LISTEN_BACKLOG = 128;

/** <sched.h> */
export const CLONE_NEWNET = 0x40000000;
export const SOCK_NONBLOCK = O_NONBLOCK;
const O_RDONLY = 0;

/** setns(2): 0 or -errno. */
export function setns(fd: number, nstype: number): number {
  return _setns(fd, nstype) === 0 ? 0 : -errno();
}

/**
 * Run `fn` with the calling thread inside pw- network namespace `ns`
 * (/run/netns/<ns>), then put the thread back into the namespace it was in.
 * `fn` must be synchronous. Throws if the thread cannot be put back (it
 * would then sit in the wrong namespace).
 */
export function inNetns<T>(ns: string, fn: () => T): T {
  assertPwName(ns);
  // the calling thread's own namespace (/proc/self would name the main thread's)
  const home = open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC);
  if (home < 0) throw sysError('open', '/proc/thread-self/ns/net', home);
  try {
    const target = open(`/run/netns/${ns}`, O_RDONLY | O_CLOEXEC);
    if (target < 0) throw sysError('open', `/run/netns/${ns}`, target);
    const r = setns(target, CLONE_NEWNET);
    close(target);
    if (r < 0) throw sysError('setns', ns, r);
    try {
      return fn();
    } finally {
      const back = setns(home, CLONE_NEWNET);
      if (back < 0) throw sysError('setns', 'back to the original network namespace', back);
    }
  } finally {
    close(home);
  }
}

/** A non-blocking UDP socket bound to 0.0.0.0:`port` inside pw- namespace `ns`. Returns its fd. */
export function udpSocketInNetns(ns: string, port: number): number {
  return inNetns(ns, () => {
    const fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
    if (fd < 0) throw sysError('socket', `UDP in ${ns}`, fd);
    const sa = sockaddrIn('0.0.0.0', port);
    const r = bindAt(fd, bufferAddress(sa), SOCKADDR_IN_LEN);
    if (r < 0) {
      close(fd);
      throw sysError('bind', `UDP 0.0.0.0:${port} in ${ns}`, r);
    }
    return fd;
  });
}

/**
 * A non-blocking TCP socket listening on 0.0.0.0:`port` inside pw- namespace
 * `ns` (SO_REUSEADDR, so a restarted lab binds again at once). Returns its
 * fd: hand it to net.Server#listen({ fd }); the connections it accepts are
 * in `ns` too.
 */
export function tcpListenerInNetns(ns: string, port: number): number {
  return inNetns(ns, () => {
    const fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
    if (fd < 0) throw sysError('socket', `TCP in ${ns}`, fd);
    const fail = (call: string, r: number): never => { close(fd); throw sysError(call, `TCP 0.0.0.0:${port} in ${ns}`, r); };
    let r = setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (r < 0) fail('setsockopt(SO_REUSEADDR)', r);
    const sa = sockaddrIn('0.0.0.0', port);
    r = bindAt(fd, bufferAddress(sa), SOCKADDR_IN_LEN);
    if (r < 0) fail('bind', r);
    if (_listen(fd, LISTEN_BACKLOG) !== 0) fail('listen', -errno());
    return fd;
  });
}

/**
 * A non-blocking TCP socket inside pw- namespace `ns`, connecting to
 * `ip`:`port` (the connection completes, or fails, after this returns).
 * Returns its fd: hand it to new net.Socket({ fd }).
 */
export function tcpConnectInNetns(ns: string, ip: string, port: number): number {
  return inNetns(ns, () => {
    const fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
    if (fd < 0) throw sysError('socket', `TCP in ${ns}`, fd);
    const sa = sockaddrIn(ip, port);
    if (_connect(fd, bufferAddress(sa), SOCKADDR_IN_LEN) !== 0) {
      const e = errno();
      if (e !== EINPROGRESS) { close(fd); throw sysError('connect', `${ip}:${port} from ${ns}`, -e); }
    }
    return fd;
  });
}
