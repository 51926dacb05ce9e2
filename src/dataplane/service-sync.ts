// Programming a node's Service frontends as a diff, as kube-proxy syncs its
// rules: frontends gone are removed, new or changed ones (re)programmed,
// unchanged ones not touched at all (a one-endpoint change costs one
// frontend, whatever the number of Services). For every UDP backend that left
// a frontend, conntrack entries answered by it are flushed, so the next
// datagram of the flow picks a remaining backend (kube-proxy's stale-UDP
// `conntrack -D`); TCP entries are left alone: flows to remaining backends go
// on untouched, and flows to removed ones end gracefully (or time out).
// Used at `up` (programNode: from nothing) and by the worker's 'services'
// request (`podwire apply`).
import type { Dataplane } from './dataplane.ts';
import type { EngineServiceConfig } from './engine-protocol.ts';

export interface ServiceSyncResult {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  /** UDP backends (ip:port) whose conntrack entries were flushed, and how many entries went */
  udpFlushed: { backend: string; entries: number }[];
}

export const frontendKey = (s: { vip: string; port: number; proto: string }) => `${s.vip}:${s.port}/${s.proto}`;

/**
 * Move `dp` from frontends `old` (what it has now, or the part of it being
 * replaced) to `next`. Everything is checked first (duplicates, table
 * capacity, backends per frontend): on a problem it throws before touching
 * the data plane.
 */
export function programServices(dp: Dataplane, old: readonly EngineServiceConfig[], next: readonly EngineServiceConfig[]): ServiceSyncResult {
  const before = new Map(old.map((s) => [frontendKey(s), s]));
  const after = new Map<string, EngineServiceConfig>();
  for (const s of next) {
    const k = frontendKey(s);
    if (after.has(k)) throw new Error(`frontend ${k} is given twice (${after.get(k)!.service ?? '?'} and ${s.service ?? '?'})`);
    after.set(k, s);
  }
  const maxBe = dp.ex.svcMaxBackends();
  for (const s of next) {
    if (s.backends.length > maxBe) throw new Error(`frontend ${frontendKey(s)}${s.service ? ` (${s.service})` : ''}: ${s.backends.length} backends, at most ${maxBe} (cluster.serviceMaxBackends)`);
  }
  let adding = 0;
  let removing = 0;
  for (const k of after.keys()) if (!before.has(k)) adding++;
  for (const k of before.keys()) if (!after.has(k)) removing++;
  const total = dp.ex.svcFrontendCount() - removing + adding;
  if (total > dp.ex.svcCapacity()) throw new Error(`${total} Service frontends, the table holds ${dp.ex.svcCapacity()} (cluster.serviceCapacity)`);

  const r: ServiceSyncResult = { added: 0, updated: 0, removed: 0, unchanged: 0, udpFlushed: [] };
  const stale = new Set<string>();
  const lost = (o: EngineServiceConfig, n?: EngineServiceConfig) => {
    if (o.proto !== 'udp') return;
    const keep = new Set(n?.backends.map((b) => `${b.ip}:${b.port}`));
    for (const b of o.backends) if (!keep.has(`${b.ip}:${b.port}`)) stale.add(`${b.ip}:${b.port}`);
  };
  // removals first: they free table indices for the additions
  for (const [k, o] of before) {
    if (after.has(k)) continue;
    dp.removeService(o.vip, o.port, o.proto);
    lost(o);
    r.removed++;
  }
  for (const [k, n] of after) {
    const o = before.get(k);
    if (o && sameFrontend(o, n)) { r.unchanged++; continue; }
    dp.addService(n.vip, n.port, n.proto, n.backends, n); // the config carries the frontend's options (masquerade, affinity, drop when empty)
    if (o) { lost(o, n); r.updated++; } else r.added++;
  }
  for (const b of stale) {
    const [ip, port] = b.split(':');
    r.udpFlushed.push({ backend: b, entries: dp.ctFlushBackend('udp', ip, Number(port)) });
  }
  return r;
}

/** Same backends in the same order and the same options: nothing to program. */
function sameFrontend(a: EngineServiceConfig, b: EngineServiceConfig): boolean {
  if (a.backends.length !== b.backends.length) return false;
  for (let i = 0; i < a.backends.length; i++) {
    if (a.backends[i].ip !== b.backends[i].ip || a.backends[i].port !== b.backends[i].port) return false;
  }
  return (a.masquerade ?? false) === (b.masquerade ?? false) && (a.affinitySeconds ?? 0) === (b.affinitySeconds ?? 0)
    && (a.dropWhenEmpty ?? false) === (b.dropWhenEmpty ?? false) && (a.scheduler ?? 'random') === (b.scheduler ?? 'random');
}

/**
 * A node's frontends as the worker last programmed them, so a 'services'
 * request can be applied as a diff: either the whole set (`only` absent), or
 * only the frontends of the Services named in `only` ("namespace/name",
 * EngineServiceConfig.service) — the rest stay as they are.
 */
export class NodeServices {
  private readonly current = new Map<string, EngineServiceConfig>();

  constructor(private readonly dp: Dataplane, programmed: readonly EngineServiceConfig[] = []) {
    for (const s of programmed) this.current.set(frontendKey(s), s);
  }

  get frontends(): EngineServiceConfig[] {
    return [...this.current.values()];
  }

  /** The Service ("namespace/name") a programmed frontend belongs to, when it was given one. */
  serviceOf(vip: string, port: number, proto: string): string | undefined {
    return this.current.get(frontendKey({ vip, port, proto }))?.service;
  }

  sync(next: readonly EngineServiceConfig[], only?: readonly string[]): ServiceSyncResult {
    let old: EngineServiceConfig[];
    if (only) {
      const names = new Set(only);
      const stray = next.find((s) => s.service === undefined || !names.has(s.service));
      if (stray) throw new Error(`frontend ${frontendKey(stray)} belongs to ${stray.service ?? 'no Service'}, not to one of the Services being replaced`);
      old = [...this.current.values()].filter((s) => s.service !== undefined && names.has(s.service));
      // a frontend of an untouched Service with the same key would be taken over: refuse
      const oldKeys = new Set(old.map(frontendKey));
      const clash = next.find((s) => this.current.has(frontendKey(s)) && !oldKeys.has(frontendKey(s)));
      if (clash) throw new Error(`frontend ${frontendKey(clash)} of ${clash.service} is ${this.current.get(frontendKey(clash))!.service ?? 'another frontend'}'s`);
    } else {
      old = [...this.current.values()];
    }
    const r = programServices(this.dp, old, next);
    for (const s of old) this.current.delete(frontendKey(s));
    for (const s of next) this.current.set(frontendKey(s), s);
    return r;
  }
}
