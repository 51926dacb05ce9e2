// Loading a compiled data-plane module. Each node gets its own instance
// (own memory, own tables); the module itself is compiled once per process.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Build = 'release' | 'debug';

/** The raw exports of assembly/index.ts. Pointers are byte offsets into `memory`. */
export interface DataplaneExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  configure(slots: number, slotSize: number, fdbCapacity: number, maxPorts: number): number;
  processBatch(n: number): number;
  parseBatch(n: number): number;
  headroom(): number;
  vnetHeaderLen(): number;
  slotBase(): number;
  rxLenPtr(): number;
  rxPortPtr(): number;
  txPtr(): number;
  txEntryBytes(): number;
  txCap(): number;
  dropCountersPtr(): number;
  eventCountersPtr(): number;
  portCountersPtr(): number;
  dropReasonCount(): number;
  eventCount(): number;
  portCounterCount(): number;
  dropReasonName(i: number): number;
  eventName(i: number): number;
  portCounterName(i: number): number;
  setClock(ms: number): void;
  setGateway(ip: number, mac: bigint): void;
  portAttach(port: number, mtu: number): number;
  portDetach(port: number): void;
  fdbExpire(now: number): number;
  fdbFlushPort(port: number): void;
  fdbSetAging(ms: number): void;
  fdbAging(): number;
  fdbCount(): number;
  fdbCapacity(): number;
  fdbBase(): number;
  fdbSlots(): number;
  fdbLookup(mac: bigint, now: number): number;
  fdbLearn(mac: bigint, port: number, now: number): void;
}

const modules = new Map<Build, WebAssembly.Module>();

export function wasmPath(build: Build): string {
  return fileURLToPath(new URL(`../../build/${build}.wasm`, import.meta.url));
}

export function instantiate(build: Build = 'release'): DataplaneExports {
  let mod = modules.get(build);
  if (!mod) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(wasmPath(build));
    } catch {
      throw new Error(`data plane not built: ${wasmPath(build)} is missing (run "npm run build")`);
    }
    mod = new WebAssembly.Module(new Uint8Array(bytes));
    modules.set(build, mod);
  }
  const inst = new WebAssembly.Instance(mod, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new Error(`data plane abort at ${line}:${col}`);
      },
    },
  });
  const ex = inst.exports as unknown as DataplaneExports;
  ex._initialize();
  return ex;
}

/** Read an AssemblyScript string (UTF-16, byte length stored just before it). */
export function readString(memory: WebAssembly.Memory, ptr: number): string {
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(memory.buffer, ptr, bytes).toString('utf16le');
}
