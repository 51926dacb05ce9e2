// The table readers (Dataplane.routes / neighbors / serviceTable): what the
// control plane programs is read back from WASM memory as the data plane
// holds it — after replacements and deletions (backward-shifted slots) too.
import { describe, it, expect } from 'vitest';
import { Dataplane } from '../../src/dataplane/dataplane.ts';

const small = () => new Dataplane({ slots: 4, slotSize: 4096, maxPorts: 8, ctCapacity: 256, svcCapacity: 16, svcMaxBackends: 4, maglev: true });

describe('Dataplane.routes', () => {
  it('lists every route with its kind, next hop and VTEP MAC, longest prefix first', () => {
    const dp = small();
    dp.addRoute('10.244.0.0/24', 'local');
    dp.addRoute('10.244.1.0/24', 'vxlan', '172.31.255.2', '0e:00:00:00:00:02');
    dp.addRoute('10.244.2.0/24', 'ipip', '172.31.255.3');
    dp.addRoute('10.244.3.0/24', 'host-gw', '172.31.255.4');
    dp.addRoute('0.0.0.0/0', 'host-gw', '172.31.255.9');
    dp.addRoute('10.244.1.7/32', 'local');
    expect(dp.routes()).toEqual([
      { cidr: '10.244.1.7/32', kind: 'local' },
      { cidr: '10.244.0.0/24', kind: 'local' },
      { cidr: '10.244.1.0/24', kind: 'vxlan', nextHop: '172.31.255.2', vtepMac: '0e:00:00:00:00:02' },
      { cidr: '10.244.2.0/24', kind: 'ipip', nextHop: '172.31.255.3' },
      { cidr: '10.244.3.0/24', kind: 'host-gw', nextHop: '172.31.255.4' },
      { cidr: '0.0.0.0/0', kind: 'host-gw', nextHop: '172.31.255.9' },
    ]);
  });

  it('a replaced route shows its new next hop; a deleted one is gone (host bits are masked as the table does)', () => {
    const dp = small();
    for (let i = 0; i < 40; i++) dp.addRoute(`10.${i}.0.0/16`, 'ipip', `172.31.0.${i + 1}`);
    dp.addRoute('10.3.0.0/16', 'vxlan', '172.31.9.9', '0e:00:00:00:00:09');
    for (let i = 10; i < 30; i++) expect(dp.delRoute(`10.${i}.0.0/16`)).toBe(true);
    dp.addRoute('10.200.1.5/24', 'local');
    const r = dp.routes();
    expect(r).toHaveLength(21);
    expect(r.find((x) => x.cidr === '10.3.0.0/16')).toEqual({ cidr: '10.3.0.0/16', kind: 'vxlan', nextHop: '172.31.9.9', vtepMac: '0e:00:00:00:00:09' });
    expect(r.some((x) => x.cidr === '10.15.0.0/16')).toBe(false);
    expect(r.find((x) => x.cidr === '10.200.1.0/24')).toEqual({ cidr: '10.200.1.0/24', kind: 'local' });
    expect(r.length).toBe(dp.ex.fibCount());
  });
});

describe('Dataplane.neighbors', () => {
  it('lists IPv4 -> MAC by address, after replacements and deletions', () => {
    const dp = small();
    for (let i = 1; i <= 50; i++) dp.setNeighbor(`10.244.0.${i}`, `0a:58:0a:f4:00:${i.toString(16).padStart(2, '0')}`);
    dp.setNeighbor('10.244.0.7', '02:00:00:00:00:07');
    for (let i = 20; i <= 50; i++) dp.delNeighbor(`10.244.0.${i}`);
    dp.setNeighbor('172.31.255.2', '0a:58:ac:1f:ff:02');
    const n = dp.neighbors();
    expect(n).toHaveLength(20);
    expect(n[0]).toEqual({ ip: '10.244.0.1', mac: '0a:58:0a:f4:00:01' });
    expect(n.find((x) => x.ip === '10.244.0.7')?.mac).toBe('02:00:00:00:00:07');
    expect(n.at(-1)).toEqual({ ip: '172.31.255.2', mac: '0a:58:ac:1f:ff:02' });
    for (const e of n) expect(dp.neighbor(e.ip)).toBe(e.mac);
  });
});

describe('Dataplane.serviceTable', () => {
  it('lists each frontend with its backends and options as programmed', () => {
    const dp = small();
    dp.addService('10.96.0.1', 80, 'tcp', [{ ip: '10.244.0.2', port: 8080 }, { ip: '10.244.1.2', port: 8080 }]);
    dp.addService('10.96.0.10', 53, 'udp', [{ ip: '10.244.0.5', port: 53 }], { affinitySeconds: 10800 });
    dp.addService('172.31.255.1', 30080, 'tcp', [], { masquerade: true, dropWhenEmpty: true });
    dp.addService('10.96.0.2', 443, 'tcp', [{ ip: '10.244.2.2', port: 8443 }], { scheduler: 'maglev' });
    const t = dp.serviceTable();
    expect(t.map((s) => `${s.vip}:${s.port}/${s.proto}`)).toEqual(['10.96.0.1:80/tcp', '10.96.0.2:443/tcp', '10.96.0.10:53/udp', '172.31.255.1:30080/tcp']);
    expect(t[0]).toMatchObject({ backends: [{ ip: '10.244.0.2', port: 8080 }, { ip: '10.244.1.2', port: 8080 }], masquerade: false, dropWhenEmpty: false, maglev: false, affinitySeconds: 0 });
    expect(t[1]).toMatchObject({ maglev: true, backends: [{ ip: '10.244.2.2', port: 8443 }] });
    expect(t[2]).toMatchObject({ affinitySeconds: 10800 });
    expect(t[3]).toMatchObject({ backends: [], masquerade: true, dropWhenEmpty: true });
  });

  it('shows replaced backends and forgets removed frontends', () => {
    const dp = small();
    for (let i = 0; i < 12; i++) dp.addService(`10.96.0.${i + 1}`, 80, 'tcp', [{ ip: '10.244.0.2', port: 80 }]);
    dp.addService('10.96.0.3', 80, 'tcp', [{ ip: '10.244.0.9', port: 9090 }]);
    for (let i = 4; i < 10; i++) dp.removeService(`10.96.0.${i + 1}`, 80, 'tcp');
    const t = dp.serviceTable();
    expect(t.map((s) => s.vip)).toEqual(['10.96.0.1', '10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.11', '10.96.0.12']);
    expect(t[2].backends).toEqual([{ ip: '10.244.0.9', port: 9090 }]);
    expect(t.length).toBe(dp.ex.svcFrontendCount());
  });
});
