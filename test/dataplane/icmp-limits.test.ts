// Issue 11 item 6(e): when podwire does not send an ICMP error, and how many
// it sends.
//  - never about a packet to an IP broadcast or multicast address, nor one
//    whose source is not a single host (zero, loopback, broadcast,
//    multicast, class E): RFC 1812 4.3.2.7; Linux __icmp_send: RTCF_BROADCAST
//    / RTCF_MULTICAST routes give no error;
//  - rate limited as Linux's global ICMP limit (net/ipv4/icmp.c
//    icmp_global_allow: net.ipv4.icmp_msgs_per_sec 1000, icmp_msgs_burst 50,
//    a token bucket), for the types in icmp_ratemask (dest unreachable,
//    source quench, time exceeded, parameter problem) except fragmentation
//    needed (icmpv4_mask_allow: "Don't limit PMTU discovery"); on the data
//    plane's clock; each error not sent counts icmp_errors_ratelimited.
import { describe, it, expect } from 'vitest';
import type { Dataplane } from '../../src/dataplane/dataplane.ts';
import { twoNodes, runNode, podFrame, udp, pattern, N1, N2, POD } from './overlay-kit.ts';
import type { In } from './frames.ts';

const expired = (o: { dst?: string; src?: string } = {}): In => ({
  port: POD,
  frame: podFrame(N1, { ...(o.src ? { src: o.src } : {}), dst: o.dst ?? N2.pod, proto: 17, ttl: 1, payload: udp(o.src ?? N1.pod, o.dst ?? N2.pod, 5000, 53, pattern(20)) }),
});
const node = (): Dataplane => {
  const [n1] = twoNodes('vxlan', { slots: 64, genSlots: 256 });
  n1.setClock(100_000);
  return n1;
};
/** `n` frames in batches of up to 64; totals of what moved. */
function many(dp: Dataplane, n: number, make: () => In) {
  let sent = 0, limited = 0, tx = 0, drops = 0;
  for (let done = 0; done < n; done += 64) {
    const r = runNode(dp, Array.from({ length: Math.min(64, n - done) }, make));
    sent += r.events.icmp_errors_sent ?? 0;
    limited += r.events.icmp_errors_ratelimited ?? 0;
    tx += r.tx.length;
    drops += r.dropTotal;
  }
  return { sent, limited, tx, drops };
}

describe('ICMP errors: rate limit (token bucket, 1000/s, burst 50)', () => {
  it('60 expired packets at one instant: 50 time exceeded sent, 10 counted as rate limited; each packet still one drop', () => {
    const dp = node();
    expect(many(dp, 60, () => expired())).toEqual({ sent: 50, limited: 10, tx: 50, drops: 60 });
  });

  it('the bucket refills with the clock: 10 ms later 10 more, a second later a full burst again', () => {
    const dp = node();
    many(dp, 60, () => expired());
    dp.setClock(100_010);
    expect(many(dp, 20, () => expired())).toMatchObject({ sent: 10, limited: 10 });
    dp.setClock(101_010);
    expect(many(dp, 60, () => expired())).toMatchObject({ sent: 50, limited: 10 });
  });

  it('fragmentation needed is not limited (PMTU discovery): 60 of 60', () => {
    const dp = node();
    const big = (): In => ({ port: POD, frame: podFrame(N1, { dst: N2.pod, proto: 17, df: true, payload: udp(N1.pod, N2.pod, 5000, 53, pattern(1500)) }) });
    expect(many(dp, 60, big)).toMatchObject({ sent: 60, limited: 0, drops: 60 });
  });
});

describe('ICMP errors: never about broadcast or multicast, nor from a source that is not one host', () => {
  it.each(['255.255.255.255', '224.0.0.5', '239.1.2.3'])('TTL expired on the way to %s: no error, counted as suppressed', (dst) => {
    const dp = node();
    const r = runNode(dp, [expired({ dst })]);
    expect(r.drops).toEqual({ ttl_exceeded: 1 });
    expect(r.tx).toEqual([]);
    expect(r.events).toMatchObject({ icmp_errors_suppressed: 1 });
  });

  it.each(['127.0.0.1', '240.0.0.1', '0.0.0.0'])('from %s (a default route exists): no error', (src) => {
    const dp = node();
    dp.addRoute('0.0.0.0/0', 'host-gw', N2.ul);
    const r = runNode(dp, [expired({ src })]);
    expect(r.drops).toEqual({ ttl_exceeded: 1 });
    expect(r.tx).toEqual([]);
  });

  it('from a unicast address behind the default route: the error is sent', () => {
    const dp = node();
    dp.addRoute('0.0.0.0/0', 'host-gw', N2.ul);
    const r = runNode(dp, [expired({ src: '192.0.2.7' })]);
    expect(r.events).toMatchObject({ icmp_errors_sent: 1 });
  });
});

describe('an ICMP error that cannot be sent is not a second drop', () => {
  it('TTL expired from a local address with no known MAC: one drop (ttl_exceeded), the error counted as generated_unsent', () => {
    const dp = node();
    const r = runNode(dp, [expired({ src: '10.244.0.77' })]);
    expect(r.drops).toEqual({ ttl_exceeded: 1 });
    expect(r.tx).toEqual([]);
    expect(r.events).toMatchObject({ generated_unsent: 1 });
  });
});
