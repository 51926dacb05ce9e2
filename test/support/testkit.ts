// Loader for build/testkit.wasm (assembly/testkit.ts): the wire modules'
// functions, callable on bytes a test places in the instance's memory.
// Test support only (lives under test/, never shipped); the data plane proper
// is loaded by src/dataplane/wasm.ts and src/dataplane/dataplane.ts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Ptr = number;

/** The testkit's exports, results normalised: u32 as a non-negative number, bool as boolean, u64 as bigint. */
export interface WireFns {
  scratch(): Ptr;
  scratchLen(): number;
  // checksum
  sum16(p: Ptr, len: number): number;
  fold16(s: number): number;
  checksum(p: Ptr, len: number, initial: number): number;
  csumUpdate16(hc: number, oldv: number, newv: number): number;
  csumUpdate32(hc: number, oldv: number, newv: number): number;
  be16(p: Ptr): number;
  be32(p: Ptr): number;
  setBe16(p: Ptr, v: number): void;
  setBe32(p: Ptr, v: number): void;
  // ethernet
  ethHeaderLen(p: Ptr, len: number): number;
  ethPayloadType(p: Ptr, hlen: number): number;
  ethVlanId(p: Ptr, hlen: number): number;
  ethEmit(p: Ptr, dst: bigint, src: bigint, type: number): void;
  loadMac(p: Ptr): bigint;
  storeMac(p: Ptr, mac: bigint): void;
  isGroupMac(mac: bigint): boolean;
  ethDst(p: Ptr): bigint;
  ethSrc(p: Ptr): bigint;
  ethType(p: Ptr): number;
  setEthDst(p: Ptr, mac: bigint): void;
  setEthSrc(p: Ptr, mac: bigint): void;
  setEthType(p: Ptr, t: number): void;
  // arp
  arpCheck(p: Ptr, len: number): boolean;
  arpOp(p: Ptr): number;
  arpSha(p: Ptr): bigint;
  arpSpa(p: Ptr): number;
  arpTha(p: Ptr): bigint;
  arpTpa(p: Ptr): number;
  arpEmit(p: Ptr, op: number, sha: bigint, spa: number, tha: bigint, tpa: number): void;
  // ipv4
  ipv4Check(p: Ptr, len: number): number;
  ipv4Version(p: Ptr): number;
  ipv4HeaderLen(p: Ptr): number;
  ipv4TotalLen(p: Ptr): number;
  ipv4Ident(p: Ptr): number;
  ipv4FlagsFrag(p: Ptr): number;
  ipv4Ttl(p: Ptr): number;
  ipv4Proto(p: Ptr): number;
  ipv4Checksum(p: Ptr): number;
  ipv4Src(p: Ptr): number;
  ipv4Dst(p: Ptr): number;
  setIpv4Src(p: Ptr, a: number): void;
  setIpv4Dst(p: Ptr, a: number): void;
  setIpv4Checksum(p: Ptr, c: number): void;
  ipv4FillChecksum(p: Ptr): void;
  ipv4DecTtl(p: Ptr): number;
  ipv4Emit(p: Ptr, totalLen: number, ident: number, flagsFrag: number, ttl: number, proto: number, src: number, dst: number): void;
  ipv4PseudoSum(src: number, dst: number, proto: number, l4len: number): number;
  // icmp
  icmpCheckLen(len: number): boolean;
  icmpType(p: Ptr): number;
  icmpCode(p: Ptr): number;
  icmpChecksum(p: Ptr): number;
  icmpIdent(p: Ptr): number;
  icmpSeq(p: Ptr): number;
  icmpChecksumOk(p: Ptr, len: number): boolean;
  icmpEchoToReply(p: Ptr, len: number): void;
  icmpEmitError(p: Ptr, type: number, code: number, rest: number): void;
  icmpFillChecksum(p: Ptr, len: number): void;
  // udp
  udpCheck(p: Ptr, len: number): boolean;
  udpSrcPort(p: Ptr): number;
  udpDstPort(p: Ptr): number;
  udpLength(p: Ptr): number;
  udpChecksum(p: Ptr): number;
  setUdpSrcPort(p: Ptr, v: number): void;
  setUdpDstPort(p: Ptr, v: number): void;
  setUdpChecksum(p: Ptr, v: number): void;
  udpEmit(p: Ptr, sport: number, dport: number, length: number): void;
  udpFillChecksum(p: Ptr, src: number, dst: number): void;
  // tcp
  tcpHeaderLen(p: Ptr, len: number): number;
  tcpSrcPort(p: Ptr): number;
  tcpDstPort(p: Ptr): number;
  tcpSeq(p: Ptr): number;
  tcpAck(p: Ptr): number;
  tcpFlags(p: Ptr): number;
  tcpWindow(p: Ptr): number;
  tcpChecksum(p: Ptr): number;
  setTcpSrcPort(p: Ptr, v: number): void;
  setTcpDstPort(p: Ptr, v: number): void;
  setTcpChecksum(p: Ptr, v: number): void;
  setTcpSeq(p: Ptr, v: number): void;
  setTcpFlags(p: Ptr, v: number): void;
  tcpFillChecksum(p: Ptr, len: number, src: number, dst: number): void;
  // virtio
  vnetFlags(h: Ptr): number;
  vnetGsoType(h: Ptr): number;
  vnetHdrLen(h: Ptr): number;
  vnetGsoSize(h: Ptr): number;
  vnetCsumStart(h: Ptr): number;
  vnetCsumOffset(h: Ptr): number;
  vnetClear(h: Ptr): void;
  vnetEmit(h: Ptr, flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number): void;
  vnetCheck(h: Ptr, frameLen: number): boolean;
  vnetFinishChecksum(h: Ptr, frame: Ptr, frameLen: number): void;
  // vxlan
  vxlanCheck(p: Ptr, len: number): boolean;
  vxlanFlags(p: Ptr): number;
  vxlanVni(p: Ptr): number;
  vxlanEmit(p: Ptr, vni: number): void;
  // ipv4Check result codes
  IPV4_OK(): number;
  IPV4_TRUNCATED(): number;
  IPV4_BAD_VERSION(): number;
  IPV4_BAD_IHL(): number;
  IPV4_BAD_TOTAL_LEN(): number;
  IPV4_BAD_CHECKSUM(): number;
  // protocol numbers and VXLAN constants, as the wire modules define them
  IPPROTO_IPIP(): number;
  IPPROTO_UDP(): number;
  VXLAN_HLEN(): number;
  VXLAN_FLAG_I(): number;
  VXLAN_PORT_IANA(): number;
  VXLAN_PORT_FLANNEL(): number;
  VXLAN_OVERHEAD(): number;
}

const BOOL_RESULTS = new Set(['isGroupMac', 'arpCheck', 'icmpCheckLen', 'icmpChecksumOk', 'udpCheck', 'vnetCheck', 'vxlanCheck']);

let module: WebAssembly.Module | undefined;

export function testkitPath(): string {
  return fileURLToPath(new URL('../../build/testkit.wasm', import.meta.url));
}

/** One testkit instance: the wire functions plus byte helpers over its memory. */
export class Testkit {
  readonly fn: WireFns;
  readonly memory: WebAssembly.Memory;
  /** start of the 64 KiB scratch region */
  readonly scratch: number;
  readonly scratchLen: number;

  constructor() {
    if (!module) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(testkitPath());
      } catch {
        throw new Error(`testkit not built: ${testkitPath()} is missing (run "npx asc assembly/testkit.ts --target testkit")`);
      }
      module = new WebAssembly.Module(new Uint8Array(bytes));
    }
    const inst = new WebAssembly.Instance(module, {
      env: { abort(_m: number, _f: number, line: number, col: number) { throw new Error(`testkit abort at ${line}:${col}`); } },
    });
    const raw = inst.exports as Record<string, unknown>;
    (raw._initialize as () => void)();
    const fn: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(raw)) {
      if (typeof v !== 'function' || name === '_initialize') continue;
      const f = v as (...a: unknown[]) => unknown;
      fn[name] = BOOL_RESULTS.has(name)
        ? (...a: unknown[]) => f(...a) !== 0
        : (...a: unknown[]) => { const r = f(...a); return typeof r === 'number' ? r >>> 0 : r; };
    }
    this.fn = fn as unknown as WireFns;
    this.memory = raw.memory as WebAssembly.Memory;
    this.scratch = this.fn.scratch();
    this.scratchLen = this.fn.scratchLen();
  }

  /** A live view of the whole memory (memory never grows after start-up). */
  get mem(): Uint8Array { return new Uint8Array(this.memory.buffer); }
  /** Bytes of memory in total: a read at or past this traps. */
  get size(): number { return this.memory.buffer.byteLength; }

  /** Copy `bytes` to `at` (default: the scratch region); returns the pointer. */
  put(bytes: Uint8Array, at: number = this.scratch): number {
    this.mem.set(bytes, at);
    return at;
  }
  /** Fill `len` bytes at `at` with `v`. */
  fill(at: number, len: number, v: number): void {
    this.mem.fill(v, at, at + len);
  }
  /** A copy of `len` bytes at `at`. */
  read(at: number, len: number): Uint8Array {
    return this.mem.slice(at, at + len);
  }
  /**
   * Place `bytes` so they end exactly at the end of memory: any read past
   * them is out of bounds and traps (a RuntimeError in JS).
   */
  putAtEnd(bytes: Uint8Array): number {
    return this.put(bytes, this.size - bytes.length);
  }
}
