// assembly/wire/ethernet.ts against frames scapy built (test/vectors/ethernet.ts).
import { describe, it, expect } from 'vitest';
import { newKit, emitted, prefixesAtEnd, atEnd, POISON } from './kit.ts';
import { hex, mac, toHex } from '../util.ts';
import { ETH_UNTAGGED, ETH_DOT1Q, ETH_QINQ, ETH_MULTICAST } from '../vectors/ethernet.ts';
import { ARP_REQUEST_FOR_GW } from '../vectors/arp.ts';

const k = newKit();
const f = k.fn;

describe('ethernet: parse scapy frames', () => {
  it('untagged: header length 14, addresses, type, no VLAN', () => {
    const v = ETH_UNTAGGED;
    const b = hex(v.hex);
    const p = atEnd(k, b);
    const hlen = f.ethHeaderLen(p, b.length);
    expect(hlen).toBe(14);
    expect(f.ethDst(p)).toBe(mac(v.eth.dst));
    expect(f.ethSrc(p)).toBe(mac(v.eth.src));
    expect(f.ethType(p)).toBe(v.eth.type);
    expect(f.ethPayloadType(p, hlen)).toBe(v.eth.type);
    expect(f.ethVlanId(p, hlen)).toBe(0);
    expect(f.isGroupMac(f.ethDst(p))).toBe(false);
  });

  it('802.1Q: header length 18, inner type, VLAN id without the priority bits', () => {
    const v = ETH_DOT1Q;
    const b = hex(v.hex);
    const p = atEnd(k, b);
    const hlen = f.ethHeaderLen(p, b.length);
    expect(hlen).toBe(18);
    expect(f.ethType(p)).toBe(v.eth.type); // 0x8100: the outer type
    expect(f.ethPayloadType(p, hlen)).toBe(v.dot1q.type);
    expect(v.dot1q.prio).toBe(5); // the TCI's top bits are set: the mask matters
    expect(f.ethVlanId(p, hlen)).toBe(v.dot1q.vlan);
    expect(f.ethDst(p)).toBe(mac(v.eth.dst));
    expect(f.ethSrc(p)).toBe(mac(v.eth.src));
  });

  it('802.1ad (QinQ S-tag) is tolerated like 802.1Q', () => {
    const v = ETH_QINQ;
    const b = hex(v.hex);
    const p = atEnd(k, b);
    const hlen = f.ethHeaderLen(p, b.length);
    expect(f.ethType(p)).toBe(0x88a8);
    expect(hlen).toBe(18);
    expect(f.ethPayloadType(p, hlen)).toBe(v.dot1q.type);
    expect(f.ethVlanId(p, hlen)).toBe(v.dot1q.vlan);
    expect(f.isGroupMac(f.ethDst(p))).toBe(true); // broadcast
  });

  it('group bit: multicast and broadcast destinations, unicast sources', () => {
    const p = k.put(hex(ETH_MULTICAST.hex));
    expect(f.ethDst(p)).toBe(mac(ETH_MULTICAST.eth.dst));
    expect(f.isGroupMac(f.ethDst(p))).toBe(true);
    expect(f.isGroupMac(f.ethSrc(p))).toBe(false);
    expect(f.isGroupMac(mac('ff:ff:ff:ff:ff:ff'))).toBe(true);
    expect(f.isGroupMac(mac('01:80:c2:00:00:00'))).toBe(true);
    expect(f.isGroupMac(mac('02:00:00:00:00:01'))).toBe(false); // locally administered, still unicast
  });

  it('MAC u64 form: byte 0 in the low bits, load/store round trip of 6 bytes only', () => {
    const bytes = hex('fffefdfcfbfa');
    const p = k.put(bytes);
    expect(f.loadMac(p)).toBe(0xfafbfcfdfeffn);
    expect(f.loadMac(p)).toBe(mac('ff:fe:fd:fc:fb:fa'));
    const out = emitted(k, 6, (q) => f.storeMac(q, 0x0605040302a1n));
    expect(toHex(out)).toBe('a10203040506');
  });
});

describe('ethernet: emit into 0xa5-filled memory', () => {
  it('ethEmit writes exactly the 14 header bytes scapy wrote', () => {
    for (const v of [ETH_UNTAGGED, ETH_MULTICAST, ARP_REQUEST_FOR_GW]) {
      const want = hex(v.hex).subarray(0, 14);
      const got = emitted(k, 14, (p) => f.ethEmit(p, mac(v.eth.dst), mac(v.eth.src), v.eth.type));
      expect(toHex(got)).toBe(toHex(want));
    }
  });

  it('setters write only their own field', () => {
    const base = new Uint8Array(14).fill(POISON);
    const dst = emitted(k, 14, (p) => f.setEthDst(p, mac(ETH_UNTAGGED.eth.dst)), base);
    expect(toHex(dst)).toBe('0a580af40003' + 'a5'.repeat(8));
    const src = emitted(k, 14, (p) => f.setEthSrc(p, mac(ETH_UNTAGGED.eth.src)), base);
    expect(toHex(src)).toBe('a5'.repeat(6) + '0a580af40002' + 'a5a5');
    const type = emitted(k, 14, (p) => f.setEthType(p, 0x86dd), base);
    expect(toHex(type)).toBe('a5'.repeat(12) + '86dd');
  });
});

describe('ethernet: truncated frames', () => {
  it('(harness) a read past the end of memory traps, so the prefix tests can see over-reads', () => {
    const p = atEnd(k, hex(ETH_UNTAGGED.hex).subarray(0, 13));
    expect(() => f.ethType(p)).toThrow(WebAssembly.RuntimeError);
    // and the same call on the 14-byte header does not
    expect(f.ethType(atEnd(k, hex(ETH_UNTAGGED.hex).subarray(0, 14)))).toBe(0x0800);
  });

  it('every prefix shorter than 14 bytes is refused (0), without reading past it', () => {
    for (const v of [ETH_UNTAGGED, ETH_DOT1Q, ETH_QINQ, ETH_MULTICAST]) {
      for (const { p, len } of prefixesAtEnd(k, hex(v.hex), 14)) {
        expect(f.ethHeaderLen(p, len), `${len} bytes`).toBe(0);
      }
    }
  });

  it('a tagged frame with 14..17 bytes is refused: the tag is incomplete', () => {
    for (const v of [ETH_DOT1Q, ETH_QINQ]) {
      const b = hex(v.hex);
      for (const { p, len } of prefixesAtEnd(k, b, 18)) {
        expect(f.ethHeaderLen(p, len), `${len} bytes`).toBe(0);
      }
      expect(f.ethHeaderLen(atEnd(k, b.subarray(0, 18)), 18)).toBe(18);
    }
  });

  it('an untagged header alone (14 bytes) is enough', () => {
    const p = atEnd(k, hex(ETH_UNTAGGED.hex).subarray(0, 14));
    expect(f.ethHeaderLen(p, 14)).toBe(14);
  });
});
