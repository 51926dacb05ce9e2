// Programming Service frontends as a diff (src/dataplane/service-sync.ts), on
// a Dataplane in memory: unchanged frontends are not touched, removed UDP
// backends have their conntrack entries flushed (the next datagram picks a
// remaining backend), TCP entries stay, and a change that does not fit the
// tables is refused before anything is programmed.
import { describe, it, expect } from 'vitest';
import { Dataplane, MTU_SLOT_SIZE, CT_PROTO, type CtTuple } from '../../src/dataplane/dataplane.ts';
import { programServices, NodeServices } from '../../src/dataplane/service-sync.ts';
import type { EngineServiceConfig } from '../../src/dataplane/engine-protocol.ts';

const newDp = (svcCapacity = 16, svcMaxBackends = 4) =>
  new Dataplane({ slots: 4, slotSize: MTU_SLOT_SIZE, maxPorts: 2, ctCapacity: 1024, svcCapacity, svcMaxBackends });
const B1 = { ip: '10.244.0.3', port: 5353 }, B2 = { ip: '10.244.1.2', port: 5353 }, B3 = { ip: '10.244.1.3', port: 5353 };
const fe = (vip: string, proto: 'tcp' | 'udp', backends: { ip: string; port: number }[], service = 'default/web', port = 53): EngineServiceConfig =>
  ({ vip, port, proto, backends, service });
const CLIENT = '10.244.0.2';

/** A tracked flow from CLIENT to vip:port, DNATed to `b` (as the Service NAT stage would create it). */
function flow(dp: Dataplane, proto: 'tcp' | 'udp', vip: string, port: number, b: { ip: string; port: number }, sport: number, now = 1000): CtTuple {
  const orig = { src: CLIENT, dst: vip, sport, dport: port };
  expect(dp.ctCreate(CT_PROTO[proto], orig, now, { src: b.ip, dst: CLIENT, sport: b.port, dport: sport })).toBeGreaterThanOrEqual(0);
  return orig;
}
const flows = (dp: Dataplane) => dp.conntrack(1000).map((e) => `${e.proto === 6 ? 'tcp' : 'udp'} ${e.orig.sport} -> ${e.reply.src}:${e.reply.sport}`).sort();

describe('programServices: a diff', () => {
  it('from nothing, then unchanged / updated / added / removed counted; backends as given', () => {
    const dp = newDp();
    const a = fe('10.96.0.1', 'tcp', [B1, B2]);
    const b = fe('10.96.0.2', 'udp', [B1], 'default/dns');
    expect(programServices(dp, [], [a, b])).toEqual({ added: 2, updated: 0, removed: 0, unchanged: 0, udpFlushed: [] });
    expect(dp.serviceBackendCount('10.96.0.1', 53, 'tcp')).toBe(2);
    const a2 = fe('10.96.0.1', 'tcp', [B1, B2, B3]);
    const c = fe('10.96.0.3', 'tcp', []);
    expect(programServices(dp, [a, b], [a2, c])).toMatchObject({ added: 1, updated: 1, removed: 1, unchanged: 0 });
    expect(dp.serviceBackendCount('10.96.0.1', 53, 'tcp')).toBe(3);
    expect(dp.serviceBackendCount('10.96.0.2', 53, 'udp')).toBe(0);
    expect(dp.ex.svcFrontendCount()).toBe(2);
    expect(programServices(dp, [a2, c], [{ ...a2, backends: [...a2.backends] }, c])).toMatchObject({ unchanged: 2, updated: 0 });
    // an option change alone reprograms the frontend
    expect(programServices(dp, [a2, c], [a2, { ...c, dropWhenEmpty: true }])).toMatchObject({ unchanged: 1, updated: 1 });
  });

  it('UDP: a removed backend loses its conntrack entries, the others keep theirs; TCP entries all stay', () => {
    const dp = newDp();
    const udp = fe('10.96.0.2', 'udp', [B1, B2]);
    const tcp = fe('10.96.0.1', 'tcp', [{ ...B1, port: 8080 }, { ...B2, port: 8080 }], 'default/web', 80);
    programServices(dp, [], [udp, tcp]);
    flow(dp, 'udp', '10.96.0.2', 53, B1, 40001);
    flow(dp, 'udp', '10.96.0.2', 53, B2, 40002);
    flow(dp, 'tcp', '10.96.0.1', 80, { ...B1, port: 8080 }, 40003);
    flow(dp, 'tcp', '10.96.0.1', 80, { ...B2, port: 8080 }, 40004);
    const r = programServices(dp, [udp, tcp], [{ ...udp, backends: [B2] }, { ...tcp, backends: [{ ...B2, port: 8080 }] }]);
    expect(r).toMatchObject({ updated: 2, udpFlushed: [{ backend: '10.244.0.3:5353', entries: 1 }] });
    expect(flows(dp)).toEqual([
      'tcp 40003 -> 10.244.0.3:8080', // to a removed backend: left to end gracefully
      'tcp 40004 -> 10.244.1.2:8080',
      'udp 40002 -> 10.244.1.2:5353',
    ]);
  });

  it('a removed UDP frontend flushes all its backends; a backend that stays is not flushed', () => {
    const dp = newDp();
    const udp = fe('10.96.0.2', 'udp', [B1, B2]);
    programServices(dp, [], [udp]);
    flow(dp, 'udp', '10.96.0.2', 53, B1, 40001);
    flow(dp, 'udp', '10.96.0.2', 53, B2, 40002);
    expect(programServices(dp, [udp], [{ ...udp, backends: [B2, B1] }]).udpFlushed).toEqual([]); // reordered: both stay
    expect(flows(dp)).toHaveLength(2);
    const r = programServices(dp, [{ ...udp, backends: [B2, B1] }], []);
    expect(r.removed).toBe(1);
    expect(r.udpFlushed.map((x) => x.backend).sort()).toEqual(['10.244.0.3:5353', '10.244.1.2:5353']);
    expect(flows(dp)).toEqual([]);
    expect(dp.ex.svcFrontendCount()).toBe(0);
  });

  it('refused before anything changes: too many frontends, too many backends, a frontend twice', () => {
    const dp = newDp(2, 2);
    const a = fe('10.96.0.1', 'tcp', [B1]);
    programServices(dp, [], [a]);
    const many = [a, fe('10.96.0.2', 'tcp', []), fe('10.96.0.3', 'tcp', [])];
    expect(() => programServices(dp, [a], many)).toThrow('3 Service frontends, the table holds 2 (cluster.serviceCapacity)');
    expect(() => programServices(dp, [a], [{ ...a, backends: [B1, B2, B3] }])).toThrow('frontend 10.96.0.1:53/tcp (default/web): 3 backends, at most 2 (cluster.serviceMaxBackends)');
    expect(() => programServices(dp, [a], [a, { ...a, service: 'default/other' }])).toThrow('frontend 10.96.0.1:53/tcp is given twice (default/web and default/other)');
    expect(dp.ex.svcFrontendCount()).toBe(1);
    expect(dp.serviceBackendCount('10.96.0.1', 53, 'tcp')).toBe(1);
    // removing one makes room for another in the same change
    expect(programServices(dp, [a], [fe('10.96.0.2', 'tcp', []), fe('10.96.0.3', 'tcp', [])])).toMatchObject({ added: 2, removed: 1 });
  });
});

describe('NodeServices: the worker\'s per-node state', () => {
  it('whole-set sync, and `only` replacing just the named Services\' frontends', () => {
    const dp = newDp();
    const web = fe('10.96.0.1', 'tcp', [B1], 'default/web', 80);
    const dns = fe('10.96.0.2', 'udp', [B1, B2], 'default/dns');
    programServices(dp, [], [web, dns]);
    const ns = new NodeServices(dp, [web, dns]);
    // only dns changes; web is neither sent nor touched
    expect(ns.sync([{ ...dns, backends: [B2] }], ['default/dns'])).toMatchObject({ updated: 1, unchanged: 0, removed: 0 });
    expect(ns.frontends.map((f) => `${f.service} ${f.backends.length}`)).toEqual(['default/web 1', 'default/dns 1']);
    // deleting a Service: named in `only`, no frontends sent
    expect(ns.sync([], ['default/web'])).toMatchObject({ removed: 1 });
    expect(dp.ex.svcFrontendCount()).toBe(1);
    // a frontend of a Service not named, or one taking over another Service's frontend: refused
    expect(() => ns.sync([web], ['default/dns'])).toThrow('belongs to default/web, not to one of the Services being replaced');
    expect(() => ns.sync([{ ...dns, service: 'default/x' }], ['default/x'])).toThrow("frontend 10.96.0.2:53/udp of default/x is default/dns's");
    // the whole set
    expect(ns.sync([web])).toMatchObject({ added: 1, removed: 1 });
    expect(ns.frontends).toEqual([web]);
  });
});
