// How the running lab's commands find a pod a user names (trace, capture):
// NAME in namespace default, NAMESPACE/NAME, NAME.NAMESPACE. No root needed.
import { describe, it, expect } from 'vitest';
import { planTopology } from '../../src/model/topology.ts';
import { resolveTarget } from '../../src/lab/trace-control.ts';
import { portTarget } from '../../src/lab/capture.ts';

const plan = planTopology({
  cluster: { dns: false },
  nodes: [
    { name: 'n1', pods: [{ name: 'web', namespace: 'a', labels: { app: 'web' } }, { name: 'web', labels: { app: 'web' } }] },
    { name: 'n2', pods: [{ name: 'web', namespace: 'b', labels: { app: 'web' } }, { name: 'api', namespace: 'a' }] },
  ],
  services: [{ name: 'api', namespace: 'a', selector: { app: 'web' }, ports: [{ port: 80 }] }],
});

describe('pod names on the command line', () => {
  it('trace --to: a pod by NAME, NAMESPACE/NAME, NAME.NAMESPACE; a Service keeps name.namespace', () => {
    expect(resolveTarget(plan, 'web', 'tcp', 80)).toEqual({ asked: 'web', ip: '10.244.0.3', pod: 'web', port: 80 });
    expect(resolveTarget(plan, 'a/web', 'tcp', 80)).toEqual({ asked: 'a/web', ip: '10.244.0.2', pod: 'a/web', port: 80 });
    expect(resolveTarget(plan, 'web.b', 'tcp', 80)).toEqual({ asked: 'web.b', ip: '10.244.1.2', pod: 'b/web', port: 80 });
    // api.a is a Service and a pod: the Service, as before pods had namespaces; a/api is the pod
    expect(resolveTarget(plan, 'api.a', 'tcp', 80).service).toBe('a/api');
    expect(resolveTarget(plan, 'a/api', 'tcp', 80).pod).toBe('a/api');
    expect(resolveTarget(plan, '10.244.1.2', 'tcp', 80).pod).toBe('b/web');
    expect(() => resolveTarget(plan, 'c/web', 'tcp', 80)).toThrow('"c/web": not a pod (NAME, NAMESPACE/NAME), a Service');
  });

  it('capture: a pod target becomes its port name (NAME in default, NAMESPACE/NAME elsewhere)', () => {
    expect(portTarget(plan, 'web')).toBe('web');
    expect(portTarget(plan, 'web.a')).toBe('a/web');
    expect(portTarget(plan, 'b/web')).toBe('b/web');
    expect(portTarget(plan, 'pod/web.b')).toBe('pod/b/web');
    expect(portTarget(plan, 'node/n1')).toBe('node/n1');
    expect(portTarget(plan, 'n1')).toBe('n1');
    expect(portTarget(plan, 'underlay')).toBe('underlay');
  });
});
