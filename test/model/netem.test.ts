// `netem:` on a pod and `links:` between nodes: what is accepted (units as
// tc-netem(8) reads them) and every refusal, with the document and field named.
import { describe, it, expect } from 'vitest';
import { parseNetem, formatNetem, type NetemSpec } from '../../src/model/netem.ts';
import { planTopology, selectHostNode } from '../../src/model/topology.ts';
import { planProblems as problems } from '../helpers/problems.ts';

function read(raw: unknown): { spec?: NetemSpec; problems: string[] } {
  const problems: string[] = [];
  const spec = parseNetem(raw, 'p.netem', problems);
  return { ...(spec ? { spec } : {}), problems };
}

describe('netem: accepted values, in tc\'s units', () => {
  it('the issue\'s example, every key', () => {
    const r = read({ delay: '20ms', jitter: '5ms', loss: '1%', rate: '100mbit', duplicate: '0.5%', corrupt: '0.1%' });
    expect(r.problems).toEqual([]);
    expect(r.spec).toEqual({ delayMs: 20, jitterMs: 5, lossPercent: 1, rateBitsPerSecond: 100e6, duplicatePercent: 0.5, corruptPercent: 0.1 });
    expect(formatNetem(r.spec!)).toBe('delay 20ms 5ms loss 1% rate 100mbit duplicate 0.5% corrupt 0.1%');
  });

  it('times in s, ms, us (and their long forms); rates in bit forms and byte (bps) forms', () => {
    expect(read({ delay: '1.5s' }).spec).toEqual({ delayMs: 1500 });
    expect(read({ delay: '250us' }).spec).toEqual({ delayMs: 0.25 });
    expect(read({ delay: '3msec' }).spec).toEqual({ delayMs: 3 });
    expect(read({ rate: '1gbit' }).spec).toEqual({ rateBitsPerSecond: 1e9 });
    // tc: "bps" is bytes per second
    expect(read({ rate: '10kbps' }).spec).toEqual({ rateBitsPerSecond: 80e3 });
    expect(read({ loss: 2 }).spec).toEqual({ lossPercent: 2 });
  });

  it('nothing to impair (empty, all zero) is no impairment', () => {
    expect(read({})).toEqual({ problems: [] });
    expect(read({ delay: '0ms', loss: '0%' })).toEqual({ problems: [] });
  });
});

describe('netem: refusals name the field', () => {
  it('a time without a unit, an unknown unit, a percentage out of range, a rate without a unit', () => {
    expect(read({ delay: 20 }).problems).toEqual(['p.netem.delay: 20 is not a time (a number and a unit: s, sec, secs, ms, msec, msecs, us, usec, usecs; e.g. 20ms)']);
    expect(read({ delay: '20 minutes' }).problems[0]).toMatch(/^p\.netem\.delay: "20 minutes" is not a time/);
    expect(read({ loss: '101%' }).problems).toEqual(['p.netem.loss: "101%" is not a percentage in [0%, 100%] (e.g. 1% or 0.5%)']);
    expect(read({ corrupt: '-1%' }).problems[0]).toMatch(/^p\.netem\.corrupt: "-1%" is not a percentage/);
    expect(read({ rate: '100' }).problems[0]).toMatch(/^p\.netem\.rate: "100" is not a rate \(a number and a unit: bit, kbit/);
    expect(read({ rate: '0mbit' }).problems).toEqual(['p.netem.rate: 0mbit is outside [1bps, 1tbit]']);
    expect(read({ delay: '2min' }).problems[0]).toMatch(/not a time/);
    expect(read({ delay: '61s' }).problems).toEqual(['p.netem.delay: 61s is more than 60s']);
  });

  it('jitter without a delay, or more than it; an unknown key; not a mapping', () => {
    expect(read({ jitter: '5ms' }).problems).toEqual(['p.netem.jitter: needs a delay (jitter varies the delay around it, as in tc netem)']);
    expect(read({ delay: '5ms', jitter: '6ms' }).problems).toEqual(['p.netem.jitter: 6ms is more than the delay 5ms (a frame cannot leave before it arrived)']);
    expect(read({ delay: '5ms', reorder: '25%' }).problems).toEqual(['p.netem.reorder: unknown key (known: delay, jitter, loss, rate, duplicate, corrupt)']);
    expect(read('20ms').problems[0]).toMatch(/^p\.netem: expected a mapping like \{ delay: 20ms/);
  });
});

describe('netem in the topology', () => {
  it('pods[].netem reaches the pod\'s plan', () => {
    const plan = planTopology({ nodes: [{ name: 'n1', pods: [{ name: 'a', netem: { delay: '20ms', loss: '1%' } }, 'b'] }] });
    expect(plan.nodes[0].pods[0].netem).toEqual({ delayMs: 20, lossPercent: 1 });
    expect(plan.nodes[0].pods[1].netem).toBeUndefined();
  });

  it('a bad pod netem is named by node and pod', () => {
    expect(problems({ nodes: [{ name: 'n1', pods: [{ name: 'a', netem: { loss: 'lots' } }] }] }))
      .toEqual(['node n1 pods[0].netem.loss: "lots" is not a percentage in [0%, 100%] (e.g. 1% or 0.5%)']);
  });

  it('pods of kernel nodes are refused: the data plane never sees their frames', () => {
    expect(problems({ cluster: { underlay: 'bridge' }, nodes: [{ name: 'n1', pods: ['a'] }, { name: 'k1', dataplane: 'kernel', pods: [{ name: 'b', netem: { delay: '1ms' } }] }] }))
      .toEqual(['node k1 pods[0].netem: node k1 is a kernel node: its pods sit on veths the data plane never sees, and podwire impairs frames in its data plane (pods of podwire nodes only)']);
  });

  it('links: checked against the nodes; listed twice; an impaired link reaches the plan', () => {
    const nodes = [{ name: 'n1', pods: ['a'] }, { name: 'n2', pods: ['b'] }];
    expect(problems({ nodes, links: [{ between: ['n1', 'n3'] }, { between: ['n1'] }, { between: ['n2', 'n2'], mtu: 1 }] })).toEqual([
      'links[1].between: expected two node names, e.g. [n1, n2]',
      'links[2].mtu: unknown key (known: between, netem)',
      'links[0].between: no node "n3" (nodes: n1, n2)',
      'links[2].between: a link joins two different nodes, not n2 to itself',
    ]);
    expect(problems({ nodes, links: [{ between: ['n1', 'n2'] }, { between: ['n2', 'n1'] }] }))
      .toEqual(['links[1].between: the link between n2 and n1 is listed twice']);
    const plan = planTopology({ nodes, links: [{ between: ['n1', 'n2'], netem: { delay: '20ms', loss: '1%' } }] });
    expect(plan.links).toEqual([{ between: ['n1', 'n2'], netem: { delayMs: 20, lossPercent: 1 } }]);
  });

  it('an impaired link is refused off the in-process underlay, with a kernel node, and across hosts', () => {
    const netem = { delay: '20ms' };
    expect(problems({ cluster: { underlay: 'bridge' }, nodes: [{ name: 'n1', pods: ['a'] }, { name: 'n2', pods: ['b'] }], links: [{ between: ['n1', 'n2'], netem }] }))
      .toEqual(['links[0].netem: impaired links need the in-process underlay (no cluster.underlay: bridge, no external hosts): there the data plane hands the nodes\' frames over and can hold them']);
    expect(problems({ nodes: [{ name: 'n1', pods: ['a'] }, { name: 'k1', dataplane: 'kernel', pods: ['b'] }], links: [{ between: ['n1', 'k1'], netem }] })).toContain(
      'links[0].netem: node k1 is a kernel node: only links between podwire nodes can be impaired (the data plane hands their frames over)');
    const plan = planTopology({ nodes: [{ name: 'n1', address: '192.0.2.1', pods: ['a'] }, { name: 'n2', address: '192.0.2.2', pods: ['b'] }], links: [{ between: ['n1', 'n2'], netem }] });
    expect(() => selectHostNode(plan, 'n1')).toThrow(/the impaired link between n1 and n2 is on the in-process underlay: across hosts it is the hosts' own network/);
  });
});
