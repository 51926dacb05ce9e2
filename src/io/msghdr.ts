// The C structures sendmsg/sendmmsg/recvmsg take, laid out by hand in
// preallocated buffers (Linux, LP64: x86_64 and aarch64): the hot path
// fills their fields through an Int32Array view, never allocating.
//
//   struct iovec   { void *iov_base; size_t iov_len; }                       16 bytes
//   struct msghdr  { void *msg_name; socklen_t msg_namelen; (pad)
//                    struct iovec *msg_iov; size_t msg_iovlen;
//                    void *msg_control; size_t msg_controllen; int msg_flags; (pad) }  56 bytes
//   struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; (pad) }      64 bytes
//   struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; data... } 16 bytes + data

export const IOVEC_LEN = 16;
export const MSGHDR_LEN = 56;
export const MMSGHDR_LEN = 64;
export const CMSGHDR_LEN = 16;

// byte offsets in struct msghdr
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_CONTROL = 32;
export const MSG_CONTROLLEN = 40;
export const MSG_FLAGS = 48;
/** in struct mmsghdr: bytes the kernel sent or received for this message */
export const MMSG_LEN = 56;

/** CMSG_LEN(n): a control message's cmsg_len for n data bytes */
export function cmsgLen(n: number): number {
  return CMSGHDR_LEN + n;
}

/** CMSG_SPACE(n): the room a control message of n data bytes takes (aligned to 8) */
export function cmsgSpace(n: number): number {
  return CMSGHDR_LEN + ((n + 7) & ~7);
}

/**
 * Store a 64-bit pointer or size (a non-negative integer below 2^53) at byte
 * offset `off` (8-aligned) of the buffer `w` views, little-endian as on
 * every architecture podwire runs on. Plain arithmetic: no BigInt per call.
 */
export function putU64(w: Int32Array, off: number, v: number): void {
  const i = off >> 2;
  w[i] = v % 4294967296;
  w[i + 1] = Math.floor(v / 4294967296);
}
