// What a running lab leaves on disk: enough for `podwire down` to clean up
// after a process that died, and for `status` to find the control socket.
import { mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isValidName } from '../model/topology.ts';
import type { ServicePlan } from '../model/services.ts';

export const STATE_DIR = process.env.PODWIRE_STATE_DIR ?? '/run/podwire';

export interface LabState {
  name: string;
  pid: number;
  startedAt: string;
  /** every namespace this lab creates (written before creating them) */
  namespaces: string[];
  /** root-namespace links this lab may create (TAPs before they move into their pod) */
  links: string[];
  socket: string;
  /** /etc/netns/<name> directories this lab writes (the pods' resolv.conf, src/lab/cluster-dns.ts) */
  etcNetns?: string[];
  /** after `podwire apply` / `delete service`: the lab's Services as they now are (as `status` shows them) */
  services?: ServicePlan[];
}

export function statePath(lab: string): string {
  return join(STATE_DIR, `${checkLab(lab)}.json`);
}
export function socketPath(lab: string): string {
  return join(STATE_DIR, `${checkLab(lab)}.sock`);
}

/** A lab name becomes a file name: a DNS label only, never a path ("../x"). */
function checkLab(lab: string): string {
  if (!isValidName(lab)) throw new Error(`"${lab}" is not a valid lab name (lowercase letters, digits, "-", at most 63)`);
  return lab;
}

export function writeState(s: LabState): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(statePath(s.name), JSON.stringify(s, null, 2));
}

export function readState(lab: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(lab), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function removeState(lab: string): void {
  rmSync(statePath(lab), { force: true });
  rmSync(socketPath(lab), { force: true });
}

export function listLabs(): string[] {
  try {
    return readdirSync(STATE_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter(isValidName);
  } catch {
    return [];
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
