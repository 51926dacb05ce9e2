// The topology file: every configuration podwire refuses, with its exact
// message, and how it decides addresses for what it accepts. No root needed
// (the CLI test at the bottom fails validation before anything is created).
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planTopology, nodePortCount, loadTopologyFile, allPods, selectHostNode, labId, localNodes, TopologyError, DEFAULT_TOPOLOGY, type LabPlan } from '../../src/model/topology.ts';
import { podwire, hostLeftovers, statePathOf } from '../helpers/lab.ts';
import { planProblems as problems } from '../helpers/problems.ts';

const CLUSTER_KEYS = 'name, clusterCIDR, serviceCIDR, nodeCIDRMaskSize, overlay, vxlan, underlay, underlayCIDR, mtu, offloads, macAgingSeconds, serviceCapacity, serviceMaxBackends, serviceScheduler, policyCapacity, dns, loadBalancerPool, ingress, ingressExternalTrafficPolicy, ingressLoadBalancerIP';

const node = (name: string, pods: unknown[] = [], extra: Record<string, unknown> = {}) => ({ name, pods, ...extra });
const doc = (cluster: Record<string, unknown>, nodes: unknown[] = [node('n1', ['a'])]) => ({ cluster, nodes });

describe('topology: refused configurations, each with its message', () => {
  it('a node podCIDR outside the cluster CIDR', () => {
    expect(problems(doc({ clusterCIDR: '10.244.0.0/16' }, [node('n1', ['a'], { podCIDR: '10.245.0.0/24' })])))
      .toEqual(['node n1: podCIDR 10.245.0.0/24 is outside cluster.clusterCIDR 10.244.0.0/16']);
    // partly inside is still outside
    expect(problems(doc({ clusterCIDR: '10.244.0.0/16' }, [node('n1', ['a'], { podCIDR: '10.244.0.0/15' })])))
      .toEqual(['node n1: podCIDR 10.244.0.0/15 is outside cluster.clusterCIDR 10.244.0.0/16']);
  });

  it("two nodes' pod CIDRs overlapping", () => {
    expect(problems(doc({}, [
      node('n1', ['a'], { podCIDR: '10.244.0.0/23' }),
      node('n2', ['b'], { podCIDR: '10.244.1.0/24' }),
    ]))).toEqual(['nodes n1 and n2: podCIDRs 10.244.0.0/23 and 10.244.1.0/24 overlap']);
    // identical ranges overlap too
    expect(problems(doc({}, [
      node('n1', ['a'], { podCIDR: '10.244.7.0/24' }),
      node('n2', ['b'], { podCIDR: '10.244.7.0/24' }),
    ]))).toEqual(['nodes n1 and n2: podCIDRs 10.244.7.0/24 and 10.244.7.0/24 overlap']);
  });

  it('the Service range overlapping the cluster CIDR', () => {
    expect(problems(doc({ clusterCIDR: '10.96.0.0/16' })))
      .toEqual(['cluster.serviceCIDR 10.96.0.0/12 overlaps cluster.clusterCIDR 10.96.0.0/16']);
    expect(problems(doc({ clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.244.128.0/20' })))
      .toEqual(['cluster.serviceCIDR 10.244.128.0/20 overlaps cluster.clusterCIDR 10.244.0.0/16']);
  });

  it('a node pool too small for its pods', () => {
    // a /24 holds 253 pods: .2 to .254 (network, gateway .1 and broadcast excluded)
    const pods = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
    expect(() => planTopology(doc({}, [node('n1', pods(253))]))).not.toThrow();
    expect(problems(doc({}, [node('n1', pods(254))]))).toEqual(['node n1: podCIDR 10.244.0.0/24 holds 253 pods, 254 asked for']);
    expect(problems(doc({}, [node('n1', ['a', 'b'], { podCIDR: '10.244.0.0/30' })])))
      .toEqual(['node n1: podCIDR 10.244.0.0/30 holds 1 pods, 2 asked for']);
    expect(problems(doc({ nodeCIDRMaskSize: 29 }, [node('n1', pods(6))])))
      .toEqual(['node n1: podCIDR 10.244.0.0/29 holds 5 pods, 6 asked for']);
  });

  it('a cluster CIDR with no node range left', () => {
    expect(problems(doc({ clusterCIDR: '10.244.0.0/24' }, [node('n1', ['a']), node('n2', ['b'])])))
      .toEqual(['cluster.clusterCIDR 10.244.0.0/24 has no free /24 left for node n2']);
    // the explicit podCIDR takes the only /24: none left for the node that needs one
    expect(problems(doc({ clusterCIDR: '10.244.0.0/24' }, [node('n1', ['a']), node('n2', ['b'], { podCIDR: '10.244.0.0/24' })])))
      .toEqual(['cluster.clusterCIDR 10.244.0.0/24 has no free /24 left for node n1']);
  });

  it('duplicate node names', () => {
    expect(problems(doc({}, [node('n1', ['a']), node('n2', ['b']), node('n1', ['c'])])))
      .toEqual(['duplicate node name "n1" (nodes[0] and nodes[2])']);
  });

  it('duplicate pod names, on one node or across nodes', () => {
    expect(problems(doc({}, [node('n1', ['a', 'b']), node('n2', ['a'])])))
      .toEqual(['duplicate pod name "a" in namespace default (on nodes n1 and n2): pod names are unique within a namespace']);
    expect(problems(doc({}, [node('n1', ['web', { name: 'web' }])])))
      .toEqual(['duplicate pod name "web" in namespace default (on nodes n1 and n1): pod names are unique within a namespace']);
  });

  it('an unknown overlay', () => {
    expect(problems(doc({ overlay: 'flannel' })))
      .toEqual(['cluster.overlay: unknown overlay "flannel" (expected one of vxlan, ipip, host-gw)']);
  });

  it('host bits set in a CIDR', () => {
    expect(problems(doc({ clusterCIDR: '10.244.1.0/16' })))
      .toEqual(['cluster.clusterCIDR: "10.244.1.0/16" has host bits set (did you mean 10.244.0.0/16?)']);
    expect(problems(doc({ serviceCIDR: '10.96.0.1/12' })))
      .toEqual(['cluster.serviceCIDR: "10.96.0.1/12" has host bits set (did you mean 10.96.0.0/12?)']);
    expect(problems(doc({}, [node('n1', ['a'], { podCIDR: '10.244.3.7/24' })])))
      .toEqual(['node n1: podCIDR: "10.244.3.7/24" has host bits set (did you mean 10.244.3.0/24?)']);
  });

  it('something that is not a CIDR', () => {
    expect(problems(doc({ clusterCIDR: '10.244.0.0' })))
      .toEqual(['cluster.clusterCIDR: "10.244.0.0" is not an IPv4 CIDR like 10.244.0.0/16']);
    expect(problems(doc({ clusterCIDR: '10.244.0.0/33' })))
      .toEqual(['cluster.clusterCIDR: "10.244.0.0/33" has a prefix length over 32']);
  });

  it('an underlay range overlapping the pods or Services', () => {
    expect(problems(doc({ underlayCIDR: '10.244.200.0/24' }))).toEqual([
      'cluster.underlayCIDR 10.244.200.0/24 overlaps cluster.clusterCIDR 10.244.0.0/16',
    ]);
    expect(problems(doc({ underlayCIDR: '10.96.0.0/24' }))).toEqual([
      'cluster.underlayCIDR 10.96.0.0/24 overlaps cluster.serviceCIDR 10.96.0.0/12',
    ]);
  });

  it('an underlay range too small for its nodes', () => {
    expect(problems(doc({ underlayCIDR: '172.31.255.0/30' }, [node('n1', ['a']), node('n2', ['b']), node('n3', ['c'])]))).toEqual([
      'cluster.underlayCIDR 172.31.255.0/30 has room for 2 nodes, 3 asked for',
    ]);
  });

  it('bad VXLAN settings', () => {
    expect(problems(doc({ vxlan: { vni: 1 << 24, port: 0, group: 'x' } }))).toEqual([
      'cluster.vxlan.group: unknown key (known: vni, port)',
      'cluster.vxlan.vni: 16777216 is not an integer in [0, 16777215]',
      'cluster.vxlan.port: 0 is not an integer in [1, 65535]',
    ]);
  });

  it('kernel nodes: no ipip here, and only on a real (bridge) underlay', () => {
    expect(problems(doc({ overlay: 'ipip' }, [node('n1', ['a']), node('k1', ['b'], { dataplane: 'kernel' })]))).toEqual([
      'node k1: dataplane kernel cannot use overlay ipip (the host kernel here has no ipip module; use vxlan or host-gw)',
    ]);
    expect(problems(doc({ underlay: 'in-process' }, [node('n1', ['a']), node('k1', ['b'], { dataplane: 'kernel' })]))).toEqual([
      'cluster.underlay: "in-process" cannot carry kernel nodes (k1): use "bridge"',
    ]);
    expect(problems(doc({ underlay: 'ethernet' }))).toEqual([
      'cluster.underlay: unknown underlay "ethernet" (expected one of in-process, bridge)',
    ]);
  });

  it('a kernel node picks the bridge underlay by itself', () => {
    const plan = planTopology(doc({}, [node('n1', ['a']), node('k1', ['b'], { dataplane: 'kernel' })]));
    expect(plan.underlay).toBe('bridge');
    expect(plan.nodes.map((n) => n.dataplane)).toEqual(['podwire', 'kernel']);
    expect(planTopology(doc({}, [node('n1', ['a']), node('n2', ['b'])])).underlay).toBe('in-process');
  });

  it('unknown keys, at every level', () => {
    expect(problems({ ...doc({}), extra: 1 })).toEqual(['extra: unknown key (known: cluster, namespaces, nodes, services, ingresses, external, networkPolicies, links)']);
    expect(problems(doc({ clusterCidr: '10.244.0.0/16' }))).toEqual([`cluster.clusterCidr: unknown key (known: ${CLUSTER_KEYS})`]);
    expect(problems(doc({}, [node('n1', ['a'], { podCidr: '10.244.0.0/24' })])))
      .toEqual(['nodes[0].podCidr: unknown key (known: name, podCIDR, pods, dataplane, address, maxPods)']);
    expect(problems(doc({}, [node('n1', [{ name: 'a', image: 'nginx' }])])))
      .toEqual(['node n1 pods[0].image: unknown key (known: name, namespace, labels, ports, hostname, subdomain, netem)']);
  });

  it('nodes[].maxPods: the pod ports a node comes up with (default 110, as the kubelet); a node listing more pods has one port each', () => {
    const n1 = (extra: Record<string, unknown>) => planTopology(doc({}, [node('n1', ['a', 'b'], extra)])).nodes[0];
    expect(n1({}).maxPods).toBe(110);
    expect(nodePortCount(n1({}))).toBe(111);
    expect(nodePortCount(n1({ maxPods: 3 }))).toBe(8); // never fewer than 8 ports
    expect(nodePortCount(n1({ maxPods: 40 }))).toBe(41);
    const many = planTopology(doc({}, [node('n1', Array.from({ length: 20 }, (_, i) => `p${i}`), { maxPods: 10 })])).nodes[0];
    expect(nodePortCount(many)).toBe(21);
    expect(problems(doc({}, [node('n1', ['a'], { maxPods: 0 })])).join()).toMatch(/nodes\[0\]\.maxPods/);
    expect(problems(doc({}, [node('n1', ['a'], { maxPods: 'many' })])).join()).toMatch(/nodes\[0\]\.maxPods/);
  });

  it('invalid names: cluster, node, pod', () => {
    expect(problems(doc({ name: 'My_Lab' }))).toEqual(['cluster.name: "My_Lab" must be lowercase letters, digits and "-"']);
    expect(problems(doc({}, [node('Node1', ['a'])])))
      .toEqual(['nodes[0].name: "Node1" is not a valid node name (lowercase letters, digits, "-")']);
    expect(problems(doc({}, [node('n1', ['web_1'])])))
      .toEqual(['node n1 pods[0]: "web_1" is not a valid pod name (lowercase letters, digits, "-", at most 63)']);
    expect(problems(doc({}, [node('n1', ['-a'])])))
      .toEqual(['node n1 pods[0]: "-a" is not a valid pod name (lowercase letters, digits, "-", at most 63)']);
    const long = 'a'.repeat(64);
    expect(problems(doc({}, [node('n1', [long])])))
      .toEqual([`node n1 pods[0]: "${long}" is not a valid pod name (lowercase letters, digits, "-", at most 63)`]);
    expect(() => planTopology(doc({}, [node('n1', ['a'.repeat(63)])]))).not.toThrow();
    expect(problems(doc({}, [{ pods: ['a'] }])))
      .toEqual(['nodes[0].name: "" is not a valid node name (lowercase letters, digits, "-")']);
  });

  it('nodeCIDRMaskSize larger than the cluster CIDR, or out of range', () => {
    expect(problems(doc({ clusterCIDR: '10.244.0.0/16', nodeCIDRMaskSize: 8 })))
      .toEqual(['cluster.nodeCIDRMaskSize /8 is larger than cluster.clusterCIDR 10.244.0.0/16']);
    expect(problems(doc({ nodeCIDRMaskSize: 31 }))).toEqual(['cluster.nodeCIDRMaskSize: 31 is not an integer in [1, 30]']);
    expect(problems(doc({ nodeCIDRMaskSize: '24' }))).toEqual(['cluster.nodeCIDRMaskSize: "24" is not an integer in [1, 30]']);
  });

  it('an MTU that leaves pods more than a TAP device takes', () => {
    // the kernel caps a TAP at 65521 (65535 - Ethernet header); vxlan/ipip overhead brings 65535 under it
    expect(problems(doc({ overlay: 'host-gw', mtu: 65535 })))
      .toEqual(['cluster.mtu: 65535 gives pods an MTU of 65535, above the 65521 a TAP device allows']);
    expect(planTopology(doc({ overlay: 'host-gw', mtu: 65521 })).podMtu).toBe(65521);
    expect(planTopology(doc({ overlay: 'ipip', mtu: 65535 })).podMtu).toBe(65515);
  });

  it('a node podCIDR with no room for a gateway', () => {
    expect(problems(doc({}, [node('n1', [], { podCIDR: '10.244.9.0/32' })])))
      .toEqual(['node n1: podCIDR 10.244.9.0/32 is too small (a node needs a /30 or larger: network, gateway, one pod, broadcast)']);
    expect(problems(doc({}, [node('n1', [], { podCIDR: '10.244.9.0/31' })])))
      .toEqual(['node n1: podCIDR 10.244.9.0/31 is too small (a node needs a /30 or larger: network, gateway, one pod, broadcast)']);
    expect(planTopology(doc({}, [node('n1', ['a'], { podCIDR: '10.244.9.0/30' })])).nodes[0]).toMatchObject({ gateway: '10.244.9.1', pods: [{ ip: '10.244.9.2' }] });
  });

  it('bad scalar fields and shapes', () => {
    expect(problems(doc({ mtu: 100 }))).toEqual(['cluster.mtu: 100 is not an integer in [576, 65535]']);
    expect(problems(doc({ offloads: 'yes' }))).toEqual(['cluster.offloads: expected true or false']);
    expect(problems({ cluster: {} })).toEqual(['nodes: expected a list with at least one node']);
    expect(problems({ cluster: {}, nodes: [] })).toEqual(['nodes: expected a list with at least one node']);
    expect(problems('just a string')).toEqual(['expected a mapping with "cluster" and "nodes"']);
    expect(problems(doc({}, [node('n1', ['a'], { dataplane: 'dpdk' })])))
      .toEqual(['nodes[0].dataplane: unknown dataplane "dpdk" (expected one of podwire, kernel)']);
  });

  it('reports every problem at once, in one message naming the source', () => {
    let err: TopologyError | undefined;
    try {
      planTopology(doc({ overlay: 'weave', bogus: true }, [node('n1', ['a']), node('n1', ['a'])]), 'lab.yaml');
    } catch (e) {
      err = e as TopologyError;
    }
    expect(err?.problems).toEqual([
      `cluster.bogus: unknown key (known: ${CLUSTER_KEYS})`,
      'cluster.overlay: unknown overlay "weave" (expected one of vxlan, ipip, host-gw)',
      'duplicate node name "n1" (nodes[0] and nodes[1])',
      'duplicate pod name "a" in namespace default (on nodes n1 and n1): pod names are unique within a namespace',
    ]);
    expect(err?.message).toBe(`lab.yaml is invalid:\n  - ${err!.problems.join('\n  - ')}`);
  });
});

describe('topology: node addresses (nodes[].address) and --node', () => {
  const addr = (name: string, address: unknown, pods: unknown[] = []) => node(name, pods, { address });
  /** The problems selectHostNode reports (fails the test if it accepts). */
  const hostProblems = (plan: LabPlan, name: string): string[] => {
    try {
      selectHostNode(plan, name);
    } catch (e) {
      expect(e).toBeInstanceOf(TopologyError);
      expect((e as Error).message).toBe(`cannot run --node ${name}:\n  - ${(e as TopologyError).problems.join('\n  - ')}`);
      return (e as TopologyError).problems;
    }
    throw new Error(`--node ${name} accepted`);
  };

  it('an address is the node\'s underlay address; nodes without one are numbered from cluster.underlayCIDR', () => {
    const plan = planTopology(doc({}, [addr('n1', '192.0.2.10', ['a']), node('n2', ['b']), addr('n3', '198.51.100.7')]));
    expect(plan.nodes.map((n) => [n.name, n.underlayIp, n.address, n.underlayMac, n.vtepMac])).toEqual([
      ['n1', '192.0.2.10', '192.0.2.10', '0a:58:c0:00:02:0a', '0e:58:c0:00:02:0a'],
      ['n2', '172.31.255.2', undefined, '0a:58:ac:1f:ff:02', '0e:58:ac:1f:ff:02'],
      ['n3', '198.51.100.7', '198.51.100.7', '0a:58:c6:33:64:07', '0e:58:c6:33:64:07'],
    ]);
  });

  it('refused addresses: not IPv4, not a host\'s, inside the pod or Service range, taken twice', () => {
    expect(problems(doc({}, [addr('n1', '10.98.0'), addr('n2', '10.98.0.1/24'), addr('n3', 7), addr('n4', '10.98.0.256')]))).toEqual([
      'node n1: address "10.98.0" is not an IPv4 address like 192.0.2.10',
      'node n2: address "10.98.0.1/24" is not an IPv4 address like 192.0.2.10',
      'node n3: address 7 is not an IPv4 address like 192.0.2.10',
      'node n4: address "10.98.0.256" is not an IPv4 address like 192.0.2.10',
    ]);
    expect(problems(doc({}, [addr('n1', '0.0.0.0'), addr('n2', '224.0.0.1'), addr('n3', '255.255.255.255')]))).toEqual([
      "node n1: address 0.0.0.0 cannot be a host's address (0.0.0.0/8, multicast and reserved ranges are not)",
      "node n2: address 224.0.0.1 cannot be a host's address (0.0.0.0/8, multicast and reserved ranges are not)",
      "node n3: address 255.255.255.255 cannot be a host's address (0.0.0.0/8, multicast and reserved ranges are not)",
    ]);
    // the default Service range 10.96.0.0/12 holds 10.98.0.0/24: a cross-host lab on it moves serviceCIDR
    expect(problems(doc({}, [addr('n1', '10.244.3.9'), addr('n2', '10.98.0.2')]))).toEqual([
      'node n1: address 10.244.3.9 is inside cluster.clusterCIDR 10.244.0.0/16',
      'node n2: address 10.98.0.2 is inside cluster.serviceCIDR 10.96.0.0/12',
    ]);
    expect(problems(doc({}, [addr('n1', '192.0.2.1'), addr('n2', '192.0.2.1')]))).toEqual([
      'nodes n1 and n2 have the same underlay address 192.0.2.1',
    ]);
    // an address that is another node's numbered underlay address
    expect(problems(doc({}, [node('n1', ['a']), addr('n2', '172.31.255.1')]))).toEqual([
      'nodes n1 and n2 have the same underlay address 172.31.255.1',
    ]);
    // on a bridge underlay every node sits on cluster.underlayCIDR
    expect(problems(doc({ underlay: 'bridge' }, [addr('n1', '192.0.2.1'), node('n2')]))).toEqual([
      'node n1: address 192.0.2.1 is outside cluster.underlayCIDR 172.31.255.0/24 (the bridge underlay\'s subnet)',
    ]);
    expect(planTopology(doc({ underlay: 'bridge' }, [addr('n1', '172.31.255.40'), node('n2')])).nodes.map((n) => n.underlayIp))
      .toEqual(['172.31.255.40', '172.31.255.2']);
  });

  const cross = (overlay: string, nodes = [addr('n1', '192.0.2.1', ['a']), addr('n2', '192.0.2.2', ['b'])], extra: Record<string, unknown> = {}) =>
    planTopology({ cluster: { name: 'xh', overlay, ...extra }, nodes });

  it('--node NAME: this host runs that node only, as lab <lab>-<node>', () => {
    const plan = cross('vxlan');
    const p2 = selectHostNode(plan, 'n2');
    expect(p2.hostNode).toBe('n2');
    expect(labId(p2)).toBe('xh-n2');
    expect(localNodes(p2).map((n) => n.name)).toEqual(['n2']);
    expect(p2.nodes.map((n) => n.name)).toEqual(['n1', 'n2']); // the others stay in the plan: they are the peers
    expect(plan.hostNode).toBeUndefined(); // the input plan is not changed
    expect(labId(plan)).toBe('xh');
    expect(localNodes(plan).map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(selectHostNode(cross('ipip'), 'n1').hostNode).toBe('n1');
  });

  it('--node refusals, each with its message', () => {
    expect(hostProblems(cross('vxlan'), 'n9')).toEqual(['no node "n9" in the topology (nodes: n1, n2)']);
    expect(hostProblems(cross('host-gw'), 'n1')).toEqual([
      "cluster.overlay host-gw: host-gw across hosts needs the hosts' own routing: use vxlan or ipip",
    ]);
    expect(hostProblems(cross('vxlan', [addr('n1', '192.0.2.1', ['a']), node('n2', ['b']), node('n3')]), 'n1')).toEqual([
      'node n2 has no address: across hosts every node needs nodes[].address, the IPv4 address its host is reached at',
      'node n3 has no address: across hosts every node needs nodes[].address, the IPv4 address its host is reached at',
    ]);
    expect(hostProblems(cross('vxlan', [node('n1', ['a']), node('k1', ['b'], { dataplane: 'kernel' })]), 'n1')).toEqual([
      'node k1 is a kernel node: kernel nodes need the single-host bridge underlay, they cannot run across hosts',
      'node n1 has no address: across hosts every node needs nodes[].address, the IPv4 address its host is reached at',
      'node k1 has no address: across hosts every node needs nodes[].address, the IPv4 address its host is reached at',
    ]);
    expect(hostProblems(cross('vxlan', [addr('n1', '172.31.255.1'), addr('n2', '172.31.255.2')], { underlay: 'bridge' }), 'n2')).toEqual([
      'cluster.underlay "bridge" is a bridge inside one host: across hosts the underlay is the hosts\' own network (leave cluster.underlay out)',
    ]);
    const long = planTopology({ cluster: { name: 'l'.repeat(60) }, nodes: [addr('node1', '192.0.2.1')] });
    expect(hostProblems(long, 'node1')).toEqual([
      `the lab's name on this host, "${'l'.repeat(60)}-node1" (cluster name-node), is longer than 63 characters`,
    ]);
  });
});

describe('topology: address allocation', () => {
  it('nodes without podCIDR get consecutive /24s, skipping explicitly assigned ones', () => {
    const plan = planTopology(doc({ clusterCIDR: '10.244.0.0/16' }, [
      node('n1', ['a']),
      node('n2', ['b'], { podCIDR: '10.244.1.0/24' }),
      node('n3', ['c']),
      node('n4', ['d'], { podCIDR: '10.244.4.0/23' }), // covers .4 and .5
      node('n5', ['e']),
      node('n6', ['f']),
    ]));
    expect(plan.nodes.map((n) => [n.name, n.podCIDR])).toEqual([
      ['n1', '10.244.0.0/24'],
      ['n2', '10.244.1.0/24'],
      ['n3', '10.244.2.0/24'],
      ['n4', '10.244.4.0/23'],
      ['n5', '10.244.3.0/24'],
      ['n6', '10.244.6.0/24'],
    ]);
  });

  it('nodeCIDRMaskSize sets the size of the allocated ranges', () => {
    const plan = planTopology(doc({ clusterCIDR: '10.10.0.0/16', nodeCIDRMaskSize: 26 }, [node('n1', ['a']), node('n2', ['b'])]));
    expect(plan.nodes.map((n) => n.podCIDR)).toEqual(['10.10.0.0/26', '10.10.0.64/26']);
    expect(plan.nodes[1].gateway).toBe('10.10.0.65');
    expect(plan.nodes[1].pods[0].ip).toBe('10.10.0.66');
    expect(plan.nodes[1].pods[0].prefixLen).toBe(26);
  });

  it('pod IPs start at .2 in file order, the gateway is .1, MACs are 0a:58:<ip bytes>', () => {
    const plan = planTopology(doc({ clusterCIDR: '10.244.0.0/16' }, [
      node('n1', ['a', 'b', { name: 'c', labels: { app: 'web' } }]),
      node('n2', ['d'], { podCIDR: '10.244.200.0/24' }),
    ]));
    const [n1, n2] = plan.nodes;
    expect(n1.gateway).toBe('10.244.0.1');
    expect(n1.gatewayMac).toBe('0a:58:0a:f4:00:01');
    expect(n1.pods.map((p) => [p.name, p.namespace, p.ip, p.prefixLen, p.mac, p.gateway, p.port, p.node])).toEqual([
      ['a', 'pw-a', '10.244.0.2', 24, '0a:58:0a:f4:00:02', '10.244.0.1', 0, 'n1'],
      ['b', 'pw-b', '10.244.0.3', 24, '0a:58:0a:f4:00:03', '10.244.0.1', 1, 'n1'],
      ['c', 'pw-c', '10.244.0.4', 24, '0a:58:0a:f4:00:04', '10.244.0.1', 2, 'n1'],
    ]);
    expect(n1.pods[2].labels).toEqual({ app: 'web' });
    expect(n2.gateway).toBe('10.244.200.1');
    expect(n2.gatewayMac).toBe('0a:58:0a:f4:c8:01');
    expect(n2.pods[0]).toMatchObject({ ip: '10.244.200.2', mac: '0a:58:0a:f4:c8:02', port: 0 });
    expect(allPods(plan).map((p) => p.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('MAC bytes are two hex digits each (0a:58:c0:a8:ff:fe style)', () => {
    const plan = planTopology(doc({ clusterCIDR: '192.168.0.0/16', serviceCIDR: '10.96.0.0/12' }, [node('n1', ['a'], { podCIDR: '192.168.255.0/24' })]));
    expect(plan.nodes[0].pods[0].mac).toBe('0a:58:c0:a8:ff:02');
    expect(plan.nodes[0].gatewayMac).toBe('0a:58:c0:a8:ff:01');
  });

  it('pod MTU = mtu - 50 (vxlan), - 20 (ipip), - 0 (host-gw)', () => {
    const mtuOf = (c: Record<string, unknown>) => planTopology(doc(c));
    const check = (p: LabPlan, overlay: string, mtu: number, podMtu: number) => {
      expect([p.overlay, p.mtu, p.podMtu]).toEqual([overlay, mtu, podMtu]);
      expect(p.nodes[0].pods[0].mtu).toBe(podMtu);
    };
    check(mtuOf({}), 'vxlan', 1500, 1450);
    check(mtuOf({ overlay: 'vxlan', mtu: 9000 }), 'vxlan', 9000, 8950);
    check(mtuOf({ overlay: 'ipip' }), 'ipip', 1500, 1480);
    check(mtuOf({ overlay: 'ipip', mtu: 1400 }), 'ipip', 1400, 1380);
    check(mtuOf({ overlay: 'host-gw' }), 'host-gw', 1500, 1500);
    check(mtuOf({ overlay: 'host-gw', mtu: 9000 }), 'host-gw', 9000, 9000);
  });

  it('defaults: the built-in lab, name "default", offloads on', () => {
    const plan = planTopology(DEFAULT_TOPOLOGY);
    expect(plan).toMatchObject({
      name: 'default', clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', overlay: 'vxlan',
      mtu: 1500, podMtu: 1450, offloads: true, macAgingSeconds: 300,
    });
    expect(allPods(plan).map((p) => [p.name, p.ip])).toEqual([['a1', '10.244.0.2'], ['a2', '10.244.0.3'], ['a3', '10.244.0.4']]);
  });
});

describe('topology files and `podwire up` on an invalid one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-topo-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('loadTopologyFile names the file in its errors', () => {
    expect(() => loadTopologyFile(join(dir, 'missing.yaml'))).toThrow(`cannot read topology file ${join(dir, 'missing.yaml')}: ENOENT`);
    const bad = write('notyaml.yaml', 'cluster: [unclosed\n');
    expect(() => loadTopologyFile(bad)).toThrow(`${bad}: not valid YAML:`);
    const f = write('overlay.yaml', 'cluster:\n  overlay: calico\nnodes:\n  - name: n1\n    pods: [a]\n');
    expect(() => loadTopologyFile(f)).toThrow(`${f} is invalid:\n  - cluster.overlay: unknown overlay "calico" (expected one of vxlan, ipip, host-gw)`);
  });

  it('exits 1 with the message and creates nothing', async () => {
    // everything valid but the overlay: had it not been checked first, these pods would exist now
    const pods = ['e2e-inv-a', 'e2e-inv-b'];
    const file = write('bad.yaml', [
      'cluster:',
      '  clusterCIDR: 10.247.0.0/16',
      '  overlay: flannel',
      'nodes:',
      '  - name: n1',
      `    pods: [${pods.join(', ')}]`,
      '',
    ].join('\n'));
    const r = await podwire(['up', file, '--name', 'e2e-inv'], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`podwire: ${file} is invalid:\n  - cluster.overlay: unknown overlay "flannel" (expected one of vxlan, ipip, host-gw)\n`);
    expect(r.stdout).not.toMatch(/ready/);
    expect(await hostLeftovers(pods.map((p) => `pw-${p}`))).toEqual({ namespaces: [], links: [] });
    expect(existsSync(statePathOf('e2e-inv'))).toBe(false);
  });

  it('exits 1 on several problems and lists them all', async () => {
    const file = write('many.yaml', 'cluster:\n  clusterCIDR: 10.247.0.0/16\n  serviceCIDR: 10.247.0.0/20\nnodes:\n  - name: n1\n    pods: [e2e-inv-c, e2e-inv-c]\n');
    const r = await podwire(['up', file, '--name', 'e2e-inv'], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe([
      `podwire: ${file} is invalid:`,
      '  - cluster.serviceCIDR 10.247.0.0/20 overlaps cluster.clusterCIDR 10.247.0.0/16',
      '  - duplicate pod name "e2e-inv-c" in namespace default (on nodes n1 and n1): pod names are unique within a namespace',
      '',
    ].join('\n'));
    expect(await hostLeftovers(['pw-e2e-inv-'])).toEqual({ namespaces: [], links: [] });
  });

  it('refuses a --name that is not a DNS label before creating anything', async () => {
    const file = write('good.yaml', 'cluster:\n  clusterCIDR: 10.247.0.0/16\nnodes:\n  - name: n1\n    pods: [e2e-inv-d]\n');
    for (const name of ['../escape', 'Upper', 'a_b', '-x']) {
      const r = await podwire(['up', file, '--name', name], { timeoutMs: 30_000 });
      expect(r.code, `--name ${name}`).toBe(1);
      expect(r.stderr).toBe(`podwire: --name: "${name}" is not a valid lab name (lowercase letters, digits, "-", at most 63)\n`);
    }
    expect(await hostLeftovers(['pw-e2e-inv-'])).toEqual({ namespaces: [], links: [] });
  });

  it('refuses a --node it cannot run, before creating anything', async () => {
    const file = write('cross.yaml', [
      'cluster:',
      '  clusterCIDR: 10.247.0.0/16',
      '  overlay: host-gw',
      'nodes:',
      '  - name: n1',
      '    address: 192.0.2.1',
      '    pods: [e2e-inv-f]',
      '  - name: n2',
      '    pods: [e2e-inv-g]',
      '',
    ].join('\n'));
    const r = await podwire(['up', file, '--name', 'e2e-inv', '--node', 'n3'], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('podwire: cannot run --node n3:\n  - no node "n3" in the topology (nodes: n1, n2)\n');
    const r2 = await podwire(['up', file, '--name', 'e2e-inv', '--node', 'n1'], { timeoutMs: 30_000 });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toBe([
      'podwire: cannot run --node n1:',
      "  - cluster.overlay host-gw: host-gw across hosts needs the hosts' own routing: use vxlan or ipip",
      '  - node n2 has no address: across hosts every node needs nodes[].address, the IPv4 address its host is reached at',
      '',
    ].join('\n'));
    expect(await hostLeftovers(['pw-e2e-inv-'])).toEqual({ namespaces: [], links: [] });
    expect(existsSync(statePathOf('e2e-inv-n1'))).toBe(false);
  });

  it('refuses a --batch that is not a positive integer (0 slots would forward nothing)', async () => {
    const file = write('good2.yaml', 'cluster:\n  clusterCIDR: 10.247.0.0/16\nnodes:\n  - name: n1\n    pods: [e2e-inv-e]\n');
    for (const batch of ['0', 'x', '-1', '1.5', '100000']) {
      const r = await podwire(['up', file, '--name', 'e2e-inv', '--batch', batch], { timeoutMs: 30_000 });
      expect(r.code, `--batch ${batch}`).toBe(1);
      expect(r.stderr).toBe(`error: option '--batch <n>' argument '${batch}' is invalid. expected an integer from 1 to 1024.\n`);
    }
    expect(await hostLeftovers(['pw-e2e-inv-'])).toEqual({ namespaces: [], links: [] });
  });
});

describe('cluster.policyCapacity', () => {
  it('sizes each podwire node\'s NetworkPolicy tables: 4096 unless given, 64 to 1048576', () => {
    expect(planTopology(doc({})).policyCapacity).toBe(4096);
    expect(planTopology(doc({ policyCapacity: 262144 })).policyCapacity).toBe(262144);
    expect(problems(doc({ policyCapacity: 10 })).join('\n')).toMatch(/cluster\.policyCapacity/);
    expect(problems(doc({ policyCapacity: 'lots' })).join('\n')).toMatch(/cluster\.policyCapacity/);
  });
});
