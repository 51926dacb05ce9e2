// Under CI a suite that would skip fails instead (test/ci/setup.ts), and any
// other skip fails the run (test/ci/reporter.ts); outside CI skips stay skips.
// Runs vitest itself on fixture files with the project's own config.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { skipsMustFail } from './guard.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

function vitest(env: Record<string, string | undefined>, file?: string): { code: number | null; out: string } {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', PODWIRE_SUITE: undefined, CI: undefined, PODWIRE_CI_ALLOW_NONROOT: undefined, ...env };
  if (file) e.PW_FIXTURE_FILE = file;
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync(process.execPath, [VITEST, 'run', '--config', 'test/ci/fixture/config.ts'], { cwd: REPO, env: e, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}
const closing = (out: string) => out.split('\n').find((l) => /^\s*Tests\s/.test(l))?.trim() ?? `(no closing line in:\n${out})`;

describe('CI cannot pass with skipped suites', () => {
  it('skipsMustFail: CI=true / 1 yes; unset, empty, false, 0 no; PODWIRE_CI_ALLOW_NONROOT=1 opts out', () => {
    expect(skipsMustFail({ CI: 'true' })).toBe(true);
    expect(skipsMustFail({ CI: '1' })).toBe(true);
    for (const CI of [undefined, '', 'false', '0']) expect(skipsMustFail({ CI }), String(CI)).toBe(false);
    expect(skipsMustFail({ CI: 'true', PODWIRE_CI_ALLOW_NONROOT: '1' })).toBe(false);
  });

  it('CI=true: a suite and a test that would skip fail instead; the closing line shows no skip', () => {
    const r = vitest({ CI: 'true', PW_FIXTURE_SKIP: '1' }, 'test/ci/fixture/skips.fixture.ts');
    expect(r.code, r.out).not.toBe(0);
    expect(closing(r.out)).toMatch(/2 failed \| 1 passed/);
    expect(closing(r.out)).not.toMatch(/skipped/);
    expect(r.out).toContain('would be skipped, and CI must run it');
  }, 90_000);

  it('CI=true: a plain it.skip fails the run, named', () => {
    const r = vitest({ CI: 'true' }, 'test/ci/fixture/plain-skip.fixture.ts');
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain('CI: FAIL: 1 test(s) skipped');
    expect(r.out).toContain('skipped outright');
  }, 90_000);

  it('CI=true with nothing skipped passes', () => {
    const r = vitest({ CI: 'true', PW_FIXTURE_SKIP: '0' }, 'test/ci/fixture/skips.fixture.ts');
    expect(r.code, r.out).toBe(0);
    expect(closing(r.out)).toMatch(/3 passed/);
  }, 90_000);

  it('outside CI, and with PODWIRE_CI_ALLOW_NONROOT=1 (said loudly), skips stay skips', () => {
    const dev = vitest({ PW_FIXTURE_SKIP: '1' }, 'test/ci/fixture/skips.fixture.ts');
    expect(dev.code, dev.out).toBe(0);
    expect(closing(dev.out)).toMatch(/1 passed \| 2 skipped/);
    const opt = vitest({ CI: 'true', PODWIRE_CI_ALLOW_NONROOT: '1', PW_FIXTURE_SKIP: '1' }, 'test/ci/fixture/skips.fixture.ts');
    expect(opt.code, opt.out).toBe(0);
    expect(opt.out).toContain('WARNING: 2 test(s) SKIPPED (PODWIRE_CI_ALLOW_NONROOT=1)');
  }, 90_000);
});
