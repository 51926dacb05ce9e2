// Issue 11 item 6(b): an ICMP error is verified before the Service NAT
// translates it, as the kernel's conntrack does at PREROUTING
// (net/netfilter/nf_conntrack_proto_icmp.c nf_conntrack_icmpv4_error: a bad
// ICMP checksum -> "bad hw icmp checksum", -NF_ACCEPT; nf_conntrack_inet_error:
// a quote it cannot take a tuple from -> -NF_ACCEPT; ipv4_get_l4proto refuses
// a quoted non-first fragment and a header longer than what is there). Such a
// packet has no conntrack entry: ct state INVALID, which kube-proxy drops
// (`ct state invalid drop` / `-m conntrack --ctstate INVALID -j DROP`).
// podwire: not translated, dropped as icmp_error_invalid.
import { describe, it, expect } from 'vitest';
import { runNode, handOver, podFrame, udp, pattern, icmpMsg, ipAt4, N1, N2, POD } from './overlay-kit.ts';
import { VIP, UDP, setup } from './service-kit.ts';
import { refChecksum } from '../util.ts';

/** A client datagram to the VIP DNATed to a backend on node 2; the datagram as the backend got it. */
function dnated() {
  const [n1, n2] = setup();
  n1.addService(VIP, 53, 'udp', [{ ip: N2.pod, port: 5353 }]);
  const q = podFrame(N1, { dst: VIP, proto: UDP, payload: udp(N1.pod, VIP, 33100, 53, pattern(20)) });
  const sent = runNode(n1, [{ port: POD, frame: q }]);
  const seen = handOver(n2, sent.tx[0]).tx[0].frame.subarray(14);
  return { n1, n2, seen };
}
/** The backend's port unreachable quoting `quote`, through node 2 to node 1; `mangle` edits the ICMP message first. */
function errorBack(n1: ReturnType<typeof dnated>['n1'], n2: ReturnType<typeof dnated>['n2'], quote: Uint8Array, mangle?: (m: Uint8Array) => void) {
  const msg = icmpMsg(3, 3, 0, quote);
  mangle?.(msg);
  const back = runNode(n2, [{ port: POD, frame: podFrame(N2, { dst: N1.pod, proto: 1, payload: msg }) }]);
  expect(back.tx).toHaveLength(1);
  return handOver(n1, back.tx[0]);
}
const refill = (m: Uint8Array) => { m[2] = m[3] = 0; const c = refChecksum(m); m[2] = c >> 8; m[3] = c & 0xff; };

describe('ICMP errors are verified before they are translated', () => {
  it('a good error is translated (the baseline)', () => {
    const { n1, n2, seen } = dnated();
    const r = errorBack(n1, n2, seen.subarray(0, 28));
    expect(r.drops).toEqual({});
    expect(r.events).toMatchObject({ service_icmp_related: 1 });
    expect(ipAt4(r.tx[0].frame, 14).src).toBe(VIP);
  });

  it('a bad ICMP checksum: not translated, dropped (icmp_error_invalid)', () => {
    const { n1, n2, seen } = dnated();
    const r = errorBack(n1, n2, seen.subarray(0, 28), (m) => { m[3] ^= 0x40; });
    expect(r.events.service_icmp_related ?? 0).toBe(0);
    expect(r.drops).toEqual({ icmp_error_invalid: 1 });
    expect(r.tx).toEqual([]);
  });

  it('a quoted header longer than the quote (IHL 15, 28 bytes quoted): dropped, not forwarded as is', () => {
    const { n1, n2, seen } = dnated();
    const r = errorBack(n1, n2, seen.subarray(0, 28), (m) => { m[8] = 0x4f; refill(m); });
    expect(r.drops).toEqual({ icmp_error_invalid: 1 });
    expect(r.tx).toEqual([]);
  });

  it('a quote that is a non-first fragment: dropped', () => {
    const { n1, n2, seen } = dnated();
    const r = errorBack(n1, n2, seen.subarray(0, 28), (m) => { m[8 + 7] = 0x10; refill(m); });
    expect(r.drops).toEqual({ icmp_error_invalid: 1 });
  });

  it('a quote of 12 bytes (no IPv4 header): dropped', () => {
    const { n1, n2, seen } = dnated();
    const r = errorBack(n1, n2, seen.subarray(0, 12));
    expect(r.drops).toEqual({ icmp_error_invalid: 1 });
  });

  it('a good error about a flow nobody tracks passes untouched', () => {
    const { n1, n2 } = dnated();
    const other = podFrame(N1, { dst: N2.pod, proto: UDP, payload: udp(N1.pod, N2.pod, 1000, 2000, pattern(4)) }).subarray(14);
    const r = errorBack(n1, n2, other.subarray(0, 28));
    expect(r.drops).toEqual({});
    expect(r.tx).toHaveLength(1);
  });
});
