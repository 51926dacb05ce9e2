// assembly/wire/icmp.ts against ICMP messages scapy built (test/vectors/icmp.ts).
import { describe, it, expect } from 'vitest';
import { newKit, emitted, atEnd, POISON } from './kit.ts';
import { hex, toHex, refChecksum, rd16, prng } from '../util.ts';
import {
  ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST_ODD, ICMP_ECHO_REPLY_ODD,
  ICMP_PORT_UNREACH, ICMP_FRAG_NEEDED, ICMP_TRUNCATED,
} from '../vectors/icmp.ts';

const k = newKit();
const f = k.fn;
/** The ICMP message of an Ethernet/IPv4 vector (no IP options). */
const msg = (h: string) => hex(h).subarray(34);

describe('icmp: parse scapy messages', () => {
  for (const [name, v] of [['request', ICMP_ECHO_REQUEST], ['reply', ICMP_ECHO_REPLY], ['odd request', ICMP_ECHO_REQUEST_ODD], ['odd reply', ICMP_ECHO_REPLY_ODD]] as const) {
    it(`echo ${name}: type, code, checksum, id, seq; checksum verifies`, () => {
      const b = msg(v.hex);
      const p = atEnd(k, b);
      expect(f.icmpCheckLen(b.length)).toBe(true);
      expect(f.icmpType(p)).toBe(v.icmp.type);
      expect(f.icmpCode(p)).toBe(v.icmp.code);
      expect(f.icmpChecksum(p)).toBe(v.icmp.chksum);
      expect(f.icmpIdent(p)).toBe(v.icmp.id);
      expect(f.icmpSeq(p)).toBe(v.icmp.seq);
      expect(f.icmpChecksumOk(p, b.length)).toBe(true);
    });
  }

  for (const v of [ICMP_PORT_UNREACH, ICMP_FRAG_NEEDED]) {
    it(`error type ${v.icmp.type} code ${v.icmp.code}: fields and checksum`, () => {
      const b = hex(v.hex);
      const p = atEnd(k, b);
      expect(f.icmpType(p)).toBe(v.icmp.type);
      expect(f.icmpCode(p)).toBe(v.icmp.code);
      expect(f.icmpChecksum(p)).toBe(v.icmp.chksum);
      expect(f.be32(p + 4)).toBe(v.icmp.rest);
      expect(f.icmpChecksumOk(p, b.length)).toBe(true);
    });
  }
  it('frag-needed carries the next-hop MTU in its low 16 bits (RFC 1191)', () => {
    expect(f.be16(k.put(hex(ICMP_FRAG_NEEDED.hex)) + 6)).toBe(ICMP_FRAG_NEEDED.icmp.nexthopmtu);
  });

  it('a flipped bit anywhere in the message fails the checksum', () => {
    const b = msg(ICMP_ECHO_REQUEST.hex);
    for (let i = 0; i < b.length; i++) {
      const c = b.slice();
      c[i] ^= 1 << (i % 8);
      expect(f.icmpChecksumOk(k.put(c), c.length), `byte ${i}`).toBe(false);
    }
  });
});

describe('icmp: emit into 0xa5-filled memory', () => {
  for (const v of [ICMP_PORT_UNREACH, ICMP_FRAG_NEEDED]) {
    it(`icmpEmitError + icmpFillChecksum reproduce scapy's type ${v.icmp.type} code ${v.icmp.code}`, () => {
      const want = hex(v.hex);
      const pre = want.slice();
      pre.fill(POISON, 0, 8); // the header is the emitter's job; the quoted datagram is already there
      const got = emitted(k, want.length, (p) => {
        f.icmpEmitError(p, v.icmp.type, v.icmp.code, v.icmp.rest);
        f.icmpFillChecksum(p, want.length);
      }, pre);
      expect(toHex(got)).toBe(toHex(want));
    });
  }

  it('icmpFillChecksum over an odd-length echo matches scapy', () => {
    const want = msg(ICMP_ECHO_REQUEST_ODD.hex);
    const pre = want.slice();
    pre[2] = pre[3] = POISON;
    expect(toHex(emitted(k, want.length, (p) => f.icmpFillChecksum(p, want.length), pre))).toBe(toHex(want));
  });
});

describe('icmp: echo request -> reply (RFC 1624 incremental)', () => {
  for (const [req, rep] of [[ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY], [ICMP_ECHO_REQUEST_ODD, ICMP_ECHO_REPLY_ODD]] as const) {
    it(`turns scapy's request into scapy's reply message (id ${req.icmp.id})`, () => {
      const b = msg(req.hex);
      const got = emitted(k, b.length, (p) => f.icmpEchoToReply(p, b.length), b);
      expect(toHex(got)).toBe(toHex(msg(rep.hex)));
    });
  }

  /** Reply by eqn. 3 vs the reply with its checksum computed from scratch. */
  function replyBothWays(req: Uint8Array): { incr: Uint8Array; fresh: Uint8Array } {
    const p = k.put(req);
    f.icmpFillChecksum(p, req.length);
    f.icmpEchoToReply(p, req.length);
    const incr = k.read(p, req.length);
    const fresh = incr.slice();
    fresh[2] = fresh[3] = 0;
    const c = refChecksum(fresh);
    fresh[2] = c >> 8;
    fresh[3] = c & 0xff;
    return { incr, fresh };
  }

  it('10,000 random echo requests: the reply equals one checksummed from scratch', () => {
    const r = prng(792);
    for (let n = 0; n < 10_000; n++) {
      const req = r.bytes(8 + r.int(80));
      req[0] = 8;
      req[1] = 0;
      const { incr, fresh } = replyBothWays(req);
      if (toHex(incr) !== toHex(fresh)) expect(toHex(incr), `case ${n}`).toBe(toHex(fresh));
      expect(refChecksum(incr)).toBe(0);
    }
  });

  it('-0 corner: rest of the message sums to 0xffff -> 0x0000, as a recomputation gives', () => {
    // id 0xffff, seq 0, no payload: request checksum 0xf7ff; eqn. 3 gives 0x0000 and so does recomputing
    const { incr, fresh } = replyBothWays(hex('08000000ffff0000'));
    expect(rd16(incr, 2)).toBe(0x0000);
    expect(toHex(incr)).toBe(toHex(fresh));
    expect(refChecksum(incr)).toBe(0);
  });

  it('+0 corner: an all-zero reply (id 0, seq 0, zero payload) gets 0xffff, the only checksum that verifies', () => {
    for (const req of [hex('0800000000000000'), hex('08000000000000000000000000')]) {
      const { incr, fresh } = replyBothWays(req);
      expect(rd16(incr, 2)).toBe(0xffff);
      expect(toHex(incr)).toBe(toHex(fresh));
      expect(f.icmpChecksumOk(k.put(incr), incr.length)).toBe(true);
    }
  });
});

describe('icmp: truncated messages', () => {
  it('fewer than 8 bytes is refused; 8 is enough', () => {
    for (let len = 0; len < 8; len++) expect(f.icmpCheckLen(len), `${len} bytes`).toBe(false);
    expect(f.icmpCheckLen(8)).toBe(true);
  });

  it('scapy\'s 7-byte ICMP (IPv4 total length 27) is refused', () => {
    const icmpLen = ICMP_TRUNCATED.ip.len - ICMP_TRUNCATED.ip.ihl * 4;
    expect(icmpLen).toBe(7);
    expect(msg(ICMP_TRUNCATED.hex).length).toBe(7);
    expect(f.icmpCheckLen(icmpLen)).toBe(false);
  });

  it('checksum verification reads only the bytes it is given', () => {
    const b = msg(ICMP_ECHO_REQUEST.hex);
    for (let len = 0; len <= b.length; len++) {
      const p = atEnd(k, b.subarray(0, len));
      expect(f.icmpChecksumOk(p, len), `${len} bytes`).toBe(len === b.length);
    }
  });
});
