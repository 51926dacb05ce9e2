// CI must not pass silently: a suite that skips (not root, a tool missing)
// hides exactly the tests CI exists to run. Under CI (CI=true, as .ci/run and
// CI services set it) a skipIf that holds becomes a failing test, and any
// other skip fails the run (reporter.ts). Developers: no CI variable, or
// PODWIRE_CI_ALLOW_NONROOT=1, and skips stay skips (with their warnings).

/** True when skips must fail: CI is set (not "false"/"0") and nobody opted out. */
export function skipsMustFail(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0' && env.PODWIRE_CI_ALLOW_NONROOT !== '1';
}

export function skipFailureMessage(what: string): string {
  return `CI=${process.env.CI}: ${what} would be skipped, and CI must run it (uid ${process.getuid?.()}). ` +
    'Run as root with every tool .ci/run installs (see the warning this file printed); ' +
    'developers: unset CI, or set PODWIRE_CI_ALLOW_NONROOT=1 to allow the skips.';
}
