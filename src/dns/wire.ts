// A DNS response on the wire (RFC 1035 4.1), written here rather than by
// dns-packet, for two things dns-packet does not do: name compression (RFC
// 1035 4.1.4: every owner name after the question is a 2-byte pointer, so
// 40 A records take 16 bytes each, as from BIND or CoreDNS, and fit where
// theirs fit) and the question copied byte for byte from the query (its
// case, and any QTYPE, known or not). Reading stays with dns-packet.
//
// Compressed: owner names, CNAME/PTR targets, SOA names. Not: SRV targets
// (RFC 2782: "name compression is not to be used for this field").

/** A resource record as the responder builds it. */
export type WireRecord =
  | { type: 'A'; name: string; ttl: number; data: string }
  | { type: 'CNAME' | 'PTR'; name: string; ttl: number; data: string }
  | { type: 'TXT'; name: string; ttl: number; data: string[] }
  | { type: 'SRV'; name: string; ttl: number; data: { priority: number; weight: number; port: number; target: string } }
  | { type: 'SOA'; name: string; ttl: number; data: { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number } }
  | { type: 'OPT'; udpPayloadSize: number };

export interface WireResponse {
  id: number;
  /** the whole second 16-bit word: QR, opcode, AA, TC, RD, RA, rcode */
  flags: number;
  /** the query's question section as it came (empty: no question) */
  question: Uint8Array;
  /** the question's name, when `question` holds it uncompressed at offset 12 (a pointer target for the rest) */
  qname?: string;
  answers?: WireRecord[];
  authorities?: WireRecord[];
  additionals?: WireRecord[];
}

const TYPE_CODE = { A: 1, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, SRV: 33, OPT: 41 } as const;
const CLASS_IN = 1;
/** Offsets a pointer can reach: 14 bits. */
const MAX_POINTER = 0x3fff;

class Writer {
  buf = new Uint8Array(512);
  len = 0;
  private readonly names = new Map<string, number>();

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  u8(v: number): void { this.room(1); this.buf[this.len++] = v & 0xff; }
  u16(v: number): void { this.u8(v >> 8); this.u8(v); }
  u32(v: number): void { this.u16((v >>> 16) & 0xffff); this.u16(v & 0xffff); }
  bytes(b: Uint8Array): void { this.room(b.length); this.buf.set(b, this.len); this.len += b.length; }
  at(off: number, v: number): void { this.buf[off] = v >> 8; this.buf[off + 1] = v & 0xff; }

  /** Remember that `name` is written at `off` (and each of its suffixes after it). */
  remember(name: string, off: number): void {
    const labels = labelsOf(name);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      if (off <= MAX_POINTER && !this.names.has(suffix)) this.names.set(suffix, off);
      off += 1 + Buffer.byteLength(labels[i]);
    }
  }

  name(name: string, compress: boolean): void {
    const labels = labelsOf(name);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      const ptr = compress ? this.names.get(suffix) : undefined;
      if (ptr !== undefined) { this.u16(0xc000 | ptr); return; }
      if (compress && this.len <= MAX_POINTER) this.names.set(suffix, this.len);
      const label = Buffer.from(labels[i]);
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }
}

/** Whether `question` starts with `name` written label by label, no pointer (so its suffixes can be pointed at). */
function plainName(name: string, question: Uint8Array): boolean {
  let off = 0;
  for (const l of labelsOf(name)) {
    const b = Buffer.from(l);
    if (question[off] !== b.length || !b.every((x, i) => question[off + 1 + i] === x)) return false;
    off += 1 + b.length;
  }
  return question[off] === 0;
}

function labelsOf(name: string): string[] {
  return name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
}

function record(w: Writer, r: WireRecord): void {
  if (r.type === 'OPT') {
    // RFC 6891 6.1.2: root owner, CLASS = UDP payload size, TTL = extended rcode, version, flags; no options
    w.u8(0); w.u16(TYPE_CODE.OPT); w.u16(r.udpPayloadSize); w.u32(0); w.u16(0);
    return;
  }
  w.name(r.name, true);
  w.u16(TYPE_CODE[r.type]); w.u16(CLASS_IN); w.u32(r.ttl);
  const lenAt = w.len;
  w.u16(0);
  switch (r.type) {
    case 'A': for (const o of r.data.split('.')) w.u8(Number(o)); break;
    case 'CNAME': case 'PTR': w.name(r.data, true); break;
    case 'TXT': for (const s of r.data) { const b = Buffer.from(s); w.u8(b.length); w.bytes(b); } break;
    case 'SRV': w.u16(r.data.priority); w.u16(r.data.weight); w.u16(r.data.port); w.name(r.data.target, false); break;
    case 'SOA':
      w.name(r.data.mname, true); w.name(r.data.rname, true);
      for (const v of [r.data.serial, r.data.refresh, r.data.retry, r.data.expire, r.data.minimum]) w.u32(v);
      break;
  }
  w.at(lenAt, w.len - lenAt - 2);
}

/** The response's bytes. */
export function encodeResponse(p: WireResponse): Uint8Array {
  const w = new Writer();
  const an = p.answers ?? [], ns = p.authorities ?? [], ar = p.additionals ?? [];
  w.u16(p.id); w.u16(p.flags);
  w.u16(p.question.length ? 1 : 0); w.u16(an.length); w.u16(ns.length); w.u16(ar.length);
  if (p.question.length) {
    w.bytes(p.question);
    if (p.qname !== undefined && plainName(p.qname, p.question)) w.remember(p.qname, 12);
  }
  for (const r of [...an, ...ns, ...ar]) record(w, r);
  return w.buf.slice(0, w.len);
}
