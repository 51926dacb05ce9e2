// libc bindings: absolute-address I/O straight into WebAssembly memory.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  O_RDWR, O_CLOEXEC, EAGAIN, addressTable, bufferAddress, close, errno, eventfd, EFD_NONBLOCK,
  open, read, readAt, strerror, sysError, write, writeAt,
} from '../../src/io/libc.ts';

describe('libc', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-libc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bufferAddress: views are offset from their buffer; shared memory works', () => {
    const mem = new WebAssembly.Memory({ initial: 1 });
    const base = bufferAddress(mem.buffer);
    expect(base).toBeGreaterThan(0);
    expect(Number.isSafeInteger(base)).toBe(true);
    expect(bufferAddress(new Uint8Array(mem.buffer, 100, 8))).toBe(base + 100);
    const shared = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    expect(bufferAddress(shared.buffer as unknown as SharedArrayBuffer)).toBeGreaterThan(0);
  });

  it('readAt/writeAt move bytes between a file and WebAssembly memory without copies', () => {
    const mem = new WebAssembly.Memory({ initial: 1 });
    const base = bufferAddress(mem.buffer);
    const src = join(dir, 'src');
    writeFileSync(src, Buffer.from('hello, wasm'));
    const fd = open(src, O_RDWR | O_CLOEXEC);
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      expect(readAt(fd, base + 4096, 64)).toBe(11);
      expect(Buffer.from(mem.buffer, 4096, 11).toString()).toBe('hello, wasm');
      expect(readAt(fd, base + 4096, 64)).toBe(0); // EOF
      new Uint8Array(mem.buffer).set(Buffer.from('!!'), 8000);
      expect(writeAt(fd, base + 8000, 2)).toBe(2);
    } finally {
      close(fd);
    }
    expect(readFileSync(src, 'utf8')).toBe('hello, wasm!!');
  });

  it('addressTable: one precomputed address per frame slot', () => {
    const mem = new WebAssembly.Memory({ initial: 1 });
    const base = bufferAddress(mem.buffer);
    const t = addressTable(base, 2048, 4);
    expect(t).toEqual([base, base + 2048, base + 4096, base + 6144]);
    const efd = eventfd(0, EFD_NONBLOCK);
    try {
      new DataView(mem.buffer).setBigUint64(2048, 5n, true);
      expect(writeAt(efd, t[1], 8)).toBe(8);
      expect(readAt(efd, t[3], 8)).toBe(8);
      expect(new DataView(mem.buffer).getBigUint64(6144, true)).toBe(5n);
    } finally {
      close(efd);
    }
  });

  it('errors come back as -errno, never thrown', () => {
    const buf = new Uint8Array(8);
    expect(readAt(-1, bufferAddress(buf), 8)).toBe(-9); // EBADF
    expect(errno()).toBe(9);
    expect(open(join(dir, 'missing'), O_RDWR)).toBe(-2); // ENOENT
    const efd = eventfd(0, EFD_NONBLOCK);
    try {
      expect(read(efd, buf)).toBe(-EAGAIN);
      expect(() => read(efd, buf, 9)).toThrow(RangeError);
      buf.set([1, 0, 0, 0, 0, 0, 0, 0]);
      expect(write(efd, buf)).toBe(8);
      expect(read(efd, buf)).toBe(8);
    } finally {
      close(efd);
    }
    expect(strerror(EAGAIN)).toBe('Resource temporarily unavailable');
    expect(sysError('ioctl(TUNSETIFF)', 'pw-x', -1).message).toBe('ioctl(TUNSETIFF) pw-x: Operation not permitted (errno 1)');
  });
});
