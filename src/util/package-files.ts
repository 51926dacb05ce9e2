// Files that ship beside the code (build/*.wasm, package.json, bench/c/*.c),
// named from the package root: this file sits at src/util/ when run from
// source (tests, tsx) and at dist/src/util/ when compiled, so the root is
// found by walking up to package.json rather than by a fixed "../..".
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return (root = dir);
}

/** PATH (e.g. "build/release.wasm") inside the podwire package. */
export function packageFile(path: string): string {
  return join(packageRoot(), path);
}
