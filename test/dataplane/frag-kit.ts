// Fragment builders and checks shared by frag.test.ts and route-mtu.test.ts.
import { expect } from 'vitest';
import { ip4, pseudo, rd16, type IpView } from './overlay-kit.ts';
import { refChecksum } from '../util.ts';

export const cat = (...parts: Uint8Array[]) => {
  const b = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { b.set(p, o); o += p.length; }
  return b;
};

export interface FragOpts { src: string; dst: string; id: number; df?: boolean; chunk: number; proto?: number }
/** Split an L4 payload into IPv4 fragments of `chunk` payload bytes (a multiple of 8), as the sender's kernel would. */
export function fragments(l4: Uint8Array, o: FragOpts): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < l4.length; off += o.chunk) {
    const part = l4.subarray(off, Math.min(off + o.chunk, l4.length));
    out.push(ip4({ src: o.src, dst: o.dst, proto: o.proto ?? 17, id: o.id, df: o.df, offset: off, mf: off + o.chunk < l4.length, payload: part }));
  }
  return out;
}

/** Reassemble IPv4 fragments (any order); checks each header checksum and that the pieces tile the datagram. */
export function reassemble(frags: IpView[]): { l4: Uint8Array; first: IpView } {
  expect(frags.length).toBeGreaterThan(0);
  const sorted = [...frags].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const f of sorted) {
    expect(f.headerOk, 'fragment header checksum').toBe(true);
    expect(f.offset, 'fragments tile the datagram').toBe(at);
    at += f.payload.length;
  }
  expect(sorted[sorted.length - 1].mf).toBe(false);
  for (const f of sorted.slice(0, -1)) expect(f.mf).toBe(true);
  return { l4: cat(...sorted.map((f) => f.payload)), first: sorted[0] };
}

/** The UDP datagram's ports, and whether its checksum verifies against src/dst. */
export function udpOk(l4: Uint8Array, src: string, dst: string) {
  return { sport: rd16(l4, 0), dport: rd16(l4, 2), len: rd16(l4, 4), csumOk: refChecksum(cat(pseudo(src, dst, 17, l4.length), l4)) === 0 };
}

