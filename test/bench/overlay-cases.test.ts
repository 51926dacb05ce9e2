// bench overlay --cases: known paths only, with an error naming both sides; the CLI refuses before touching the host.
import { describe, it, expect } from 'vitest';
import { parseCases, parseAllCases, PATHS } from '../../bench/overlay-cases.ts';
import { podwire } from '../helpers/lab.ts';

describe('--cases', () => {
  it('accepts known paths, in the order given, without duplicates', () => {
    expect(parseCases('vxlan, same-node,vxlan')).toEqual(['vxlan', 'same-node']);
    expect(parseCases(PATHS.join(','))).toEqual([...PATHS]);
  });

  it('takes mixed apart from the podwire-vs-kernel paths (it is three labs of its own, bench/overlay-mixed.ts)', () => {
    expect(parseAllCases('vxlan,mixed')).toEqual({ paths: ['vxlan'], extra: ['mixed'] });
    expect(parseAllCases('mixed')).toEqual({ paths: [], extra: ['mixed'] });
    expect(parseCases('mixed,host-gw')).toEqual(['host-gw']);
  });

  it('names the unknown ones and the known ones', () => {
    expect(() => parseCases('same-node,geneve,wireguard')).toThrow(/unknown cases "geneve", "wireguard" \(expected some of same-node, host-gw, vxlan, ipip, clusterip, cross-host, mixed\)/);
    expect(() => parseCases(' , ')).toThrow(/no case given/);
  });

  it('podwire bench overlay --cases with an unknown name exits 1 with that message, as any user', async () => {
    const r = await podwire(['bench', 'overlay', '--cases', 'same-node,geneve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown case "geneve" (expected some of same-node, host-gw, vxlan, ipip, clusterip, cross-host, mixed)');
  });
});
