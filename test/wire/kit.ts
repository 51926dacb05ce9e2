// Helpers for the wire tests: one testkit instance per test file, emitting
// into poisoned memory, and placing bytes where an over-read traps.
import { expect } from 'vitest';
import { Testkit } from '../support/testkit.ts';

export const POISON = 0xa5;
const GUARD = 16;

export function newKit(): Testkit {
  return new Testkit();
}

/**
 * Run `emit(p)` on `len` bytes of scratch memory pre-filled with 0xa5 (plus
 * 16 guard bytes each side), check nothing outside [p, p+len) was written,
 * and return the `len` bytes. A byte the emitter forgets reads back as a5.
 */
export function emitted(k: Testkit, len: number, emit: (p: number) => void, pre?: Uint8Array): Uint8Array {
  const p = k.scratch + GUARD;
  k.fill(k.scratch, len + 2 * GUARD, POISON);
  if (pre) k.put(pre, p);
  emit(p);
  const before = k.read(k.scratch, GUARD);
  const after = k.read(p + len, GUARD);
  expect(before.every((b) => b === POISON), 'emitter wrote before its buffer').toBe(true);
  expect(after.every((b) => b === POISON), 'emitter wrote past its buffer').toBe(true);
  return k.read(p, len);
}

/**
 * Every proper prefix of `bytes` shorter than `upTo`, each placed so that it
 * ends exactly at the end of wasm memory: a read past the prefix traps
 * (RuntimeError), so "never reads out of bounds" is checked, not assumed.
 */
export function* prefixesAtEnd(k: Testkit, bytes: Uint8Array, upTo: number): Generator<{ p: number; len: number }> {
  for (let len = 0; len < Math.min(upTo, bytes.length + 1); len++) {
    const p = k.putAtEnd(bytes.subarray(0, len));
    yield { p, len };
  }
}

/** Bytes placed so they end at the end of memory (an over-read traps). */
export function atEnd(k: Testkit, bytes: Uint8Array): number {
  return k.putAtEnd(bytes);
}
