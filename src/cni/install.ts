// `podwire cni install [DIR]`: the plugin as a runtime finds it, an executable
// named after the configuration's "type" ("podwire") in a CNI bin directory.
// It is a small shell wrapper running this checkout's entry with this node,
// so the runtime needs neither npx nor a PATH that has node.
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { packageFile } from '../util/package-files.ts';

/** Where Debian's containernetworking-plugins put their plugins (podman and containerd look there too). */
export const DEFAULT_CNI_BIN_DIR = '/usr/lib/cni';
export const PLUGIN_TYPE = 'podwire';
const MARK = '# podwire CNI plugin wrapper';

/** The entry the wrapper runs: bin/podwire-cni.js of this checkout. */
export function pluginEntry(): string {
  return packageFile('bin/podwire-cni.js');
}

export function wrapperScript(node: string, entry: string, stateDir?: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    `${MARK} (written by podwire cni install: run it again after moving the checkout)`,
    ...(stateDir ? [`PODWIRE_STATE_DIR=${q(stateDir)}; export PODWIRE_STATE_DIR`] : []),
    `exec ${q(node)} ${q(entry)} "$@"`,
    '',
  ].join('\n');
}

/** Write DIR/podwire; refuses to replace a file that is not podwire's own wrapper. Returns its path. */
export function installPlugin(dir: string, opts: { node?: string; entry?: string; stateDir?: string } = {}): string {
  const path = join(dir, PLUGIN_TYPE);
  if (existsSync(path) && !readFileSync(path, 'utf8').includes(MARK)) {
    throw new Error(`${path} exists and is not podwire's wrapper: not replacing it`);
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.podwire-tmp`;
  writeFileSync(tmp, wrapperScript(opts.node ?? process.execPath, opts.entry ?? pluginEntry(), opts.stateDir ?? process.env.PODWIRE_STATE_DIR));
  chmodSync(tmp, 0o755);
  renameSync(tmp, path);
  return path;
}
