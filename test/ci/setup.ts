// Vitest setup file (vitest.config.ts): under CI, describe.skipIf / it.skipIf
// whose condition holds register a failing test in place of the skipped ones,
// so the run's closing line counts them as failed, not skipped. The suites
// themselves are unchanged: they still say why they would skip.
import { describe, it, test } from 'vitest';
import { skipsMustFail, skipFailureMessage } from './guard.ts';

if (skipsMustFail()) {
  type Fn = (...args: unknown[]) => unknown;
  const failing = (kind: string) => (name: string) =>
    it(`${name} [would be skipped]`, () => {
      throw new Error(skipFailureMessage(`${kind} "${name}"`));
    });
  const d = describe as unknown as { skipIf: Fn };
  const origDescribe = d.skipIf;
  d.skipIf = (cond: unknown) => (cond ? failing('suite') : origDescribe.call(describe, cond));
  for (const t of [it, test] as unknown as { skipIf: Fn }[]) {
    const orig = t.skipIf;
    t.skipIf = function (this: unknown, cond: unknown) {
      return cond ? failing('test') : orig.call(this ?? t, cond);
    };
  }
}
