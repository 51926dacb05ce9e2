// NetworkPolicy as nftables for kernel nodes (src/lab/kernel-netpol.ts): the
// address-class sets agree with classOf (what the podwire data plane and
// decidePolicy use), and the script's shape: atomic replace, stateful first,
// one chain per isolated pod and direction, named ports and endPort resolved,
// ipBlock except carved out, a counted deny naming the isolating policies.
// The kernel's own verdicts are checked end to end in test/e2e/netpol.test.ts;
// `nft -c` on every script in test/lab/kernel-netpol-load.test.ts (netns).
import { describe, it, expect } from 'vitest';
import { planTopology } from '../../src/model/topology.ts';
import { compilePlanPolicies, classOf } from '../../src/model/network-policy-compile.ts';
import { ipv4ToInt } from '../../src/model/addr.ts';
import { netpolRules, classRanges, policyChain } from '../../src/lab/kernel-netpol.ts';
import { truthTopology, TRUTH_CASES, ipBlockCase } from '../helpers/netpol-cases.ts';

const T = 'inet pw_netpol';
const rulesFor = (policies: (typeof TRUTH_CASES)[number]['policies'], node = 'n1') =>
  netpolRules(compilePlanPolicies(planTopology(truthTopology({ networkPolicies: policies })), node)).split('\n');

describe('classRanges: the addresses whose longest prefix is the class', () => {
  const net = (s: string) => { const [a, l] = s.split('/'); return { net: ipv4ToInt(a), prefixLen: Number(l) }; };
  const classes = ['0.0.0.0/0', '10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.7/32', '10.200.0.0/16', '192.168.0.0/30'].map(net);

  it('carves the longer prefixes (nested ones too) out of the class', () => {
    const text = (k: number) => classRanges(classes, k).map(([lo, hi]) => `${lo}-${hi}`);
    expect(classRanges(classes, 4)).toEqual([[ipv4ToInt('10.1.2.7'), ipv4ToInt('10.1.2.7')]]);
    expect(classRanges(classes, 3)).toEqual([[ipv4ToInt('10.1.2.0'), ipv4ToInt('10.1.2.6')], [ipv4ToInt('10.1.2.8'), ipv4ToInt('10.1.2.255')]]);
    expect(classRanges(classes, 1)).toEqual([
      [ipv4ToInt('10.0.0.0'), ipv4ToInt('10.0.255.255')], [ipv4ToInt('10.2.0.0'), ipv4ToInt('10.199.255.255')], [ipv4ToInt('10.201.0.0'), ipv4ToInt('10.255.255.255')],
    ]);
    expect(text(0)).toHaveLength(3); // 0/0 minus 10/8 and 192.168.0.0/30
    // a class wholly covered by longer prefixes holds no address
    expect(classRanges(['0.0.0.0/0', '10.0.0.0/31', '10.0.0.0/32', '10.0.0.1/32'].map(net), 1)).toEqual([]);
  });

  it('agrees with classOf on addresses around every boundary and at random', () => {
    const probes: number[] = [];
    for (const c of classes) {
      const hi = c.net + 2 ** (32 - c.prefixLen) - 1;
      probes.push(c.net, hi, Math.max(0, c.net - 1), Math.min(2 ** 32 - 1, hi + 1));
    }
    let seed = 7;
    for (let i = 0; i < 2000; i++) { seed = (seed * 1103515245 + 12345) >>> 0; probes.push(i % 2 ? seed : ((10 << 24) | (seed & 0x1ffff)) >>> 0); }
    const sets = classes.map((_, k) => classRanges(classes, k));
    for (const a of probes) {
      const holders = sets.flatMap((rs, k) => (rs.some(([lo, hi]) => a >= lo && a <= hi) ? [k] : []));
      expect(holders, `address ${a}`).toEqual([classOf(classes, a)]);
    }
  });
});

describe('netpolRules: one kernel node\'s policies as nftables', () => {
  it('replaces its own table atomically; stateful before any verdict; pods reached by verdict maps', () => {
    const l = rulesFor([]);
    expect(l.slice(0, 3)).toEqual([`add table ${T}`, `delete table ${T}`, `add table ${T} { comment "NetworkPolicy of node n1 (podwire)" ; }`]);
    const forward = l.filter((x) => x.startsWith(`add rule ${T} forward `));
    expect(forward).toEqual([
      `add rule ${T} forward ct state established,related accept`,
      `add rule ${T} forward ip saddr vmap @egress-pods`,
      `add rule ${T} forward ip daddr vmap @ingress-pods`,
    ]);
    expect(l).toContain(`add chain ${T} forward { type filter hook forward priority 0 ; policy accept ; }`);
    expect(l.filter((x) => x.startsWith(`add element`))).toEqual([]);
  });

  it('deny all ingress in x: a counted drop for each x pod of the node, naming the policy', () => {
    const l = rulesFor(TRUTH_CASES[0].policies, 'n2');
    for (const pod of ['b', 'c']) {
      const chain = policyChain('ingress', { namespace: 'x', name: pod });
      expect(l.filter((x) => x.startsWith(`add rule ${T} ${chain} `))).toEqual([`add rule ${T} ${chain} counter drop comment "denied: isolated by x/deny-all"`]);
      expect(l.some((x) => x.startsWith(`add element ${T} ingress-pods {`) && x.endsWith(`: jump ${chain} }`))).toBe(true);
    }
    expect(l.filter((x) => x.startsWith(`add element ${T} egress-pods`))).toEqual([]);
  });

  it('a namespaceSelector compiles to sets of the pods\' addresses (every member of each identity)', () => {
    const plan = planTopology(truthTopology({ networkPolicies: TRUTH_CASES[1].policies }));
    const l = netpolRules(compilePlanPolicies(plan, 'n1')).split('\n');
    const yIps = plan.nodes.flatMap((n) => n.pods).filter((p) => p.k8sNamespace === 'y').map((p) => p.ip);
    const setLines = l.filter((x) => x.startsWith(`add set ${T} identity-`));
    expect(setLines.flatMap((x) => /elements = \{ ([^}]*) \}/.exec(x)![1].split(', ')).sort()).toEqual(yIps.sort());
    const rules = l.filter((x) => x.startsWith(`add rule ${T} ingress-x/a `));
    expect(rules.slice(0, -1).every((x) => / ip saddr @identity-\d+ counter accept comment "x\/from-y ingress\[0\]"$/.test(x))).toBe(true);
    expect(rules.at(-1)).toBe(`add rule ${T} ingress-x/a counter drop comment "denied: isolated by x/from-y"`);
  });

  it('named port resolved on the destination pod; endPort as a range; protocol-specific matches', () => {
    expect(rulesFor(TRUTH_CASES[5].policies)).toContain(`add rule ${T} ingress-x/a ip saddr @class-0 meta l4proto tcp th dport 80 counter accept comment "x/named ingress[0]"`);
    expect(rulesFor(TRUTH_CASES[6].policies)).toContain(`add rule ${T} ingress-x/a ip saddr @class-0 meta l4proto tcp th dport 81-90 counter accept comment "x/range ingress[0]"`);
    const dns = rulesFor(TRUTH_CASES[4].policies);
    expect(dns).toContain(`add rule ${T} egress-x/a ip daddr @class-0 meta l4proto udp th dport 53 counter return comment "x/deny-egress egress[0]"`);
    expect(dns).toContain(`add rule ${T} egress-x/a ip daddr @class-0 meta l4proto tcp th dport 53 counter return comment "x/deny-egress egress[0]"`);
  });

  it('ipBlock with except: the except is carved out of the cidr\'s interval set', () => {
    const l = rulesFor(ipBlockCase(() => '10.244.1.5', '10.244.0.0/16').policies);
    expect(l).toContain(`add set ${T} class-1 { type ipv4_addr ; flags interval ; comment "10.244.0.0/16 and no longer prefix" ; elements = { 10.244.0.0-10.244.1.4, 10.244.1.6-10.244.255.255 } ; }`);
    expect(l).toContain(`add rule ${T} egress-x/a ip daddr @class-1 counter return comment "x/cidr egress[0]"`);
    // the except's own class is not allowed: no rule names it
    expect(l.some((x) => x.includes('@class-2'))).toBe(false);
  });

  it('a rule only refers to sets and chains declared before it', () => {
    for (const tc of TRUTH_CASES) for (const node of ['n1', 'n2']) {
      const declared = new Set<string>();
      for (const x of rulesFor(tc.policies, node)) {
        const d = /^add (?:set|chain|map) inet pw_netpol (\S+)/.exec(x);
        if (d) declared.add(d[1]);
        for (const ref of x.matchAll(/(?:@|jump )([A-Za-z][\w./-]*)/g)) expect(declared.has(ref[1]), `${tc.name} ${node}: ${x}`).toBe(true);
      }
    }
  });
});
