// Vitest reporter (vitest.config.ts), the backstop for skips setup.ts does not
// turn into failures (it.skip, describe.skip, ctx.skip(), todo): under CI any
// skipped test fails the run, listed by name. Outside CI it says nothing.
import type { Reporter, TestModule } from 'vitest/node';
import { skipsMustFail } from './guard.ts';

export default class CiSkipGuard implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        if (t.result().state === 'skipped') skipped.push(`${m.moduleId.replace(process.cwd() + '/', '')} > ${t.fullName}`);
      }
    }
    if (skipped.length === 0) return;
    if (skipsMustFail()) {
      process.exitCode = 1;
      console.error(`\nCI: FAIL: ${skipped.length} test(s) skipped; CI must run every test:\n${skipped.slice(0, 30).map((s) => `  ${s}`).join('\n')}${skipped.length > 30 ? `\n  ... and ${skipped.length - 30} more` : ''}\n`);
    } else if (process.env.PODWIRE_CI_ALLOW_NONROOT === '1') {
      console.error(`\nWARNING: ${skipped.length} test(s) SKIPPED (PODWIRE_CI_ALLOW_NONROOT=1): this run is not a CI result\n`);
    }
  }
}
