// kube-proxy's nftables ruleset for kernel nodes (src/lab/kernel-services.ts):
// the script's text and structure, chain names as kube-proxy's own tests
// expect them, and (as root, with nft installed) that every script parses
// and loads: `nft -c -f` then `nft -f` twice in a throwaway pw- namespace.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { nftRules, hashAndTruncate, checkKernelServices, applyKernelServices, ensureBrNetfilter, haveNft, type KernelServiceNode } from '../../src/lab/kernel-services.ts';
import type { EngineServiceConfig } from '../../src/dataplane/engine-protocol.ts';
import { planTopology } from '../../src/model/topology.ts';
import { serviceFrontends } from '../../src/lab/service-frontends.ts';
import { netnsAdd, netnsList, netnsRun } from '../../src/io/netns.ts';
import { removeNamespaces } from '../../src/lab/underlay.ts';

const NODE: KernelServiceNode = { address: '172.31.255.2', clusterCIDR: '10.244.0.0/16', podCIDR: '10.244.1.0/24', serviceCIDR: '10.96.0.0/12' };
const WEB = [{ ip: '10.244.0.2', port: 8080 }, { ip: '10.244.1.2', port: 8080 }];
const F = {
  web: { vip: '10.96.0.1', port: 80, proto: 'tcp', service: 'default/web', backends: WEB },
  webNodePort: { vip: '172.31.255.2', port: 30080, proto: 'tcp', service: 'default/web', backends: WEB, masquerade: true },
  webExtLocal: { vip: '192.0.2.10', port: 80, proto: 'tcp', service: 'default/web', backends: [WEB[1]] },
  sticky: { vip: '10.96.0.2', port: 80, proto: 'tcp', service: 'default/sticky', backends: [WEB[0]], affinitySeconds: 600 },
  emptyTcp: { vip: '10.96.0.3', port: 80, proto: 'tcp', service: 'default/empty', backends: [] },
  emptyUdp: { vip: '10.96.0.3', port: 53, proto: 'udp', service: 'default/empty', backends: [] },
  localNone: { vip: '172.31.255.2', port: 30081, proto: 'tcp', service: 'default/loc', backends: [], dropWhenEmpty: true },
} satisfies Record<string, EngineServiceConfig>;
const ALL: EngineServiceConfig[] = Object.values(F);
const lines = (s: string) => s.split('\n');
const T = 'ip kube-proxy';

describe('nftRules: kube-proxy nftables mode, compact', () => {
  it('names chains as kube-proxy does (hashAndTruncate: 8 base32 chars of sha256)', () => {
    // the names kube-proxy's own proxier_test.go expects
    expect(hashAndTruncate('ns1/svc1/tcp/p80')).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
    expect(hashAndTruncate('ns1/svc1/tcp/p80__10.180.0.1/80')).toBe('5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80');
    expect(hashAndTruncate('x'.repeat(300))).toHaveLength(240);
  });

  it('replaces the table atomically and hooks nat prerouting/output/postrouting and the filter checks', () => {
    const s = nftRules(ALL, NODE);
    const l = lines(s);
    expect(l.slice(0, 3)).toEqual([`add table ${T}`, `delete table ${T}`, `add table ${T} { comment "rules for kube-proxy" ; }`]);
    for (const want of [
      `add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; }`,
      `add chain ${T} nat-output { type nat hook output priority -100 ; }`,
      `add chain ${T} nat-postrouting { type nat hook postrouting priority 100 ; }`,
      `add rule ${T} nat-prerouting jump services`,
      `add rule ${T} nat-output jump services`,
      `add rule ${T} nat-postrouting jump masquerading`,
      `add rule ${T} services ip daddr . meta l4proto . th dport vmap @service-ips`,
      `add rule ${T} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`,
      `add rule ${T} mark-for-masquerade mark set mark or 0x4000`,
      `add rule ${T} masquerading mark and 0x4000 == 0 return`,
      `add rule ${T} masquerading masquerade fully-random`,
      `add rule ${T} filter-forward ct state new jump service-endpoints-check`,
      `add rule ${T} filter-input ct state new jump nodeport-endpoints-check`,
      `add rule ${T} cluster-ips-check ip daddr { 10.96.0.0/12 } drop comment "Drop traffic to unallocated ClusterIPs"`,
      `add element ${T} nodeport-ips { 172.31.255.2 }`,
    ]) expect(l).toContain(want);
    // a rule only ever refers to a chain declared above it
    const declared = new Set<string>();
    for (const x of l) {
      const chain = /^add chain ip kube-proxy (\S+)/.exec(x);
      if (chain) declared.add(chain[1]);
      for (const m of x.matchAll(/(?:goto|jump) ([A-Za-z][\w./-]*)/g)) expect(declared, x).toContain(m[1]);
    }
    expect(s.endsWith('\n')).toBe(true);
  });

  it('ClusterIP: masquerade off-cluster clients, numgen random over endpoint chains, hairpin mark, DNAT', () => {
    const s = nftRules([F.web], NODE);
    const svc = `service-${hashAndTruncate('default/web/tcp/80')}`;
    const ep = WEB.map((b) => `endpoint-${hashAndTruncate(`default/web/tcp/80__${b.ip}/${b.port}`)}`);
    const l = lines(s);
    expect(l).toContain(`add element ${T} cluster-ips { 10.96.0.1 }`);
    expect(l).toContain(`add element ${T} service-ips { 10.96.0.1 . tcp . 80 : goto ${svc} }`);
    expect(l).toContain(`add rule ${T} ${svc} ip daddr 10.96.0.1 ip saddr != 10.244.0.0/16 jump mark-for-masquerade`);
    expect(l).toContain(`add rule ${T} ${svc} numgen random mod 2 vmap { 0 : goto ${ep[0]} , 1 : goto ${ep[1]} }`);
    expect(l).toContain(`add rule ${T} ${ep[1]} ip saddr 10.244.1.2 jump mark-for-masquerade`);
    expect(l).toContain(`add rule ${T} ${ep[1]} meta l4proto tcp dnat to 10.244.1.2:8080`);
    expect(s).not.toContain('affinity');
    expect(s).not.toContain('ct status dnat'); // br_netfilter assumed
  });

  it('NodePort (Cluster policy): @service-nodeports -> external chain -> mark for masquerade, goto the shared service chain', () => {
    const l = lines(nftRules([F.web, F.webNodePort, F.webExtLocal], NODE));
    const base = hashAndTruncate('default/web/tcp/80');
    expect(l).toContain(`add element ${T} service-nodeports { tcp . 30080 : goto external-${base} }`);
    expect(l).toContain(`add rule ${T} external-${base} jump mark-for-masquerade`);
    expect(l).toContain(`add rule ${T} external-${base} goto service-${base}`);
    // the Local policy's endpoints get their own chain; its endpoint chain is the shared one, written once
    expect(l).toContain(`add element ${T} service-ips { 192.0.2.10 . tcp . 80 : goto local-${base} }`);
    const ep = `endpoint-${hashAndTruncate('default/web/tcp/80__10.244.1.2/8080')}`;
    expect(l.filter((x) => x === `add chain ${T} ${ep}`)).toHaveLength(1);
    expect(l).not.toContain(`add element ${T} cluster-ips { 192.0.2.10 }`);
  });

  it('sessionAffinity ClientIP: a timeout set per endpoint, looked up before the random choice, updated on DNAT', () => {
    const l = lines(nftRules([F.sticky], NODE));
    const svc = `service-${hashAndTruncate('default/sticky/tcp/80')}`;
    const epBase = hashAndTruncate('default/sticky/tcp/80__10.244.0.2/8080');
    expect(l).toContain(`add set ${T} affinity-${epBase} { type ipv4_addr ; flags dynamic,timeout ; timeout 600s ; }`);
    const lookup = l.indexOf(`add rule ${T} ${svc} ip saddr @affinity-${epBase} goto endpoint-${epBase}`);
    expect(lookup).toBeGreaterThan(0);
    expect(lookup).toBeLessThan(l.findIndex((x) => x.startsWith(`add rule ${T} ${svc} numgen`)));
    const update = l.indexOf(`add rule ${T} endpoint-${epBase} update @affinity-${epBase} { ip saddr }`);
    expect(update).toBeGreaterThan(0);
    expect(update).toBeLessThan(l.indexOf(`add rule ${T} endpoint-${epBase} meta l4proto tcp dnat to 10.244.0.2:8080`));
  });

  it('no endpoints: reject (TCP reset, ICMP port unreachable otherwise); dropWhenEmpty: drop; no service chain', () => {
    const s = nftRules([F.emptyTcp, F.emptyUdp, F.localNone], NODE);
    const l = lines(s);
    expect(l).toContain(`add element ${T} no-endpoint-services { 10.96.0.3 . tcp . 80 comment "default/empty:80" : goto reject-chain }`);
    expect(l).toContain(`add element ${T} no-endpoint-services { 10.96.0.3 . udp . 53 comment "default/empty:53" : goto reject-chain }`);
    expect(l).toContain(`add element ${T} no-endpoint-nodeports { tcp . 30081 comment "default/loc:30081" : drop }`);
    expect(l).toContain(`add rule ${T} reject-chain meta l4proto tcp reject with tcp reset`);
    expect(l).toContain(`add rule ${T} reject-chain reject`);
    expect(s).not.toContain('add element ip kube-proxy service-ips');
    expect(s).not.toMatch(/add chain ip kube-proxy (service|endpoint)-[A-Z2-7]{8}-/);
  });

  it('without br_netfilter: DNATed flows within the podCIDR are masqueraded so replies are routed back', () => {
    const l = lines(nftRules([F.web], { ...NODE, brNetfilter: false }));
    expect(l.find((x) => x.includes('ct status dnat'))).toMatch(/^add rule ip kube-proxy nat-postrouting ct status dnat ip saddr 10\.244\.1\.0\/24 ip daddr 10\.244\.1\.0\/24 masquerade/);
  });

  it('a single-node lab (no node address): no nodeport-ips element', () => {
    const s = nftRules([F.web], { ...NODE, address: undefined });
    expect(s).not.toContain('add element ip kube-proxy nodeport-ips');
  });

  it('a planned lab: every frontend serviceFrontends gives a kernel node is programmed', () => {
    const p = planTopology({
      cluster: { dns: false, underlay: 'bridge' },
      nodes: [{ name: 'n1', pods: [{ name: 'w1', labels: { app: 'web' } }] }, { name: 'k1', dataplane: 'kernel', pods: [{ name: 'w2', labels: { app: 'web' } }, 'c'] }],
      services: [
        { name: 'web', type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] },
        { name: 'none', selector: { app: 'x' }, ports: [{ port: 81 }] },
      ],
    });
    const k1 = p.nodes[1];
    const fe = serviceFrontends(p, k1);
    const s = nftRules(fe, { address: k1.underlayIp, clusterCIDR: p.clusterCIDR, podCIDR: k1.podCIDR, serviceCIDR: p.serviceCIDR });
    for (const f of fe) {
      if (f.backends.length === 0) expect(s).toContain(`${f.vip} . ${f.proto} . ${f.port} comment`);
      else if (f.vip === k1.underlayIp) expect(s).toContain(`service-nodeports { ${f.proto} . ${f.port} : goto external-`);
      else expect(s).toContain(`service-ips { ${f.vip} . ${f.proto} . ${f.port} : goto service-`);
    }
    expect(s).toContain('meta l4proto udp dnat to');
  });
});

const isRoot = process.getuid?.() === 0;
const nft = await haveNft();
if (!isRoot || !nft) console.warn('test/lab/kernel-services.test.ts: nft load checks skipped — need root and the nft program (apt-get install nftables)');

describe.skipIf(!isRoot || !nft)('nftRules scripts load into a namespace (root, nft)', () => {
  const NS = 'pw-ks-unit';
  beforeAll(async () => {
    await removeNamespaces([NS]).catch(() => {});
    await netnsAdd(NS);
  });
  afterAll(async () => {
    await removeNamespaces([NS]).catch(() => {});
    expect(await netnsList()).not.toContain(NS);
  });

  it('nft -c accepts every script; nft -f loads them, again and again (atomic replace), and the table shows', async () => {
    const scripts = [nftRules(ALL, NODE), nftRules(ALL, { ...NODE, brNetfilter: false }), nftRules([], NODE), nftRules([F.web], { ...NODE, address: undefined, serviceCIDR: undefined })];
    for (const s of scripts) await checkKernelServices(NS, s);
    for (const s of [...scripts, scripts[0]]) await applyKernelServices(NS, s);
    const { stdout } = await netnsRun(NS, ['nft', 'list', 'table', 'ip', 'kube-proxy']);
    expect(stdout).toContain('numgen random mod 2 vmap');
    expect(stdout).toContain('flags dynamic,timeout');
    expect(stdout).toContain('10.96.0.3 . tcp . 80 comment "default/empty:80" : goto reject-chain');
    // replaced, not appended: one services chain, one nat-prerouting jump
    expect(stdout.match(/chain services \{/g)).toHaveLength(1);
    expect(stdout.match(/jump services/g)).toHaveLength(2);
  });

  it('br_netfilter is per namespace here and on', async () => {
    expect(await ensureBrNetfilter(NS)).toBe(true);
  });

  it('a bad script is refused whole', async () => {
    await expect(checkKernelServices(NS, 'add rule ip kube-proxy nope drop\n')).rejects.toThrow(/nft/);
    await expect(applyKernelServices('eth0', '')).rejects.toThrow(/pw-/);
  });
});
