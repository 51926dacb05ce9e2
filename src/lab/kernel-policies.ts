// The kernel nodes' NetworkPolicy enforcement at run time: each node's
// `inet pw_netpol` table (rendered by kernel-netpol.ts) checked with
// `nft -c -f` on every node before any is loaded, so a script the kernel
// refuses changes no node; then loaded with `nft -f` (one transaction per
// node: the old table stays until the new one is whole). Counters are read
// back with `nft -j list table` for `podwire policies`.
import { assertPwName, netnsRun } from '../io/netns.ts';
import type { CompiledPolicies } from '../model/network-policy-compile.ts';
import { ensureBrNetfilter, haveNft } from './kernel-services.ts';
import { netpolRules, NETPOL_TABLE } from './kernel-netpol.ts';

/** One kernel node: its name in the plan and its namespace (pw-node-...). */
export interface KernelPolicyTarget { node: string; ns: string }

/** Packets the deny rule of a pod's chain dropped, by chain (egress-ns/pod, ingress-ns/pod). */
export type DeniedCounters = Map<string, number>;

/** `nft -c -f -` (check only) then, separately, `nft -f -`, inside pw- namespace `ns`. */
export async function checkNetpolScript(ns: string, script: string): Promise<void> {
  assertPwName(ns);
  await netnsRun(ns, ['nft', '-c', '-f', '-'], { input: script });
}
export async function loadNetpolScript(ns: string, script: string): Promise<void> {
  assertPwName(ns);
  await netnsRun(ns, ['nft', '-f', '-'], { input: script });
}

/** The deny counters of the pw_netpol table in pw- namespace `ns` (empty when the table is missing). */
export async function readDeniedCounters(ns: string): Promise<DeniedCounters> {
  assertPwName(ns);
  const out: DeniedCounters = new Map();
  const r = await netnsRun(ns, ['nft', '-j', 'list', 'table', 'inet', NETPOL_TABLE]).catch(() => undefined);
  if (!r) return out;
  const items = (JSON.parse(r.stdout) as { nftables: { rule?: { chain: string; comment?: string; expr: Record<string, unknown>[] } }[] }).nftables;
  for (const { rule } of items) {
    if (!rule?.comment?.startsWith('denied:')) continue;
    const counter = rule.expr.find((e) => 'counter' in e)?.counter as { packets: number } | undefined;
    out.set(rule.chain, (out.get(rule.chain) ?? 0) + (counter?.packets ?? 0));
  }
  return out;
}

export class KernelPolicies {
  private ready = false;
  constructor(readonly targets: KernelPolicyTarget[], private readonly log: (line: string) => void = () => {}) {}

  /** Each node's script for the policies `compiled` gives it. */
  render(compiled: (node: string) => CompiledPolicies): Map<string, string> {
    return new Map(this.targets.map((t) => [t.node, netpolRules(compiled(t.node))]));
  }

  /** Refuse (throw, naming the node and nft's message) unless every node's script would load. */
  async check(scripts: Map<string, string>): Promise<void> {
    await this.prepare();
    await Promise.all(this.targets.map((t) => checkNetpolScript(t.ns, scripts.get(t.node)!).catch((e: Error) => {
      throw new Error(`kernel node ${t.node}: nft refused the NetworkPolicy rules: ${e.message}`);
    })));
  }

  /** Load every node's script (check first when the change should be all or nothing). */
  async load(scripts: Map<string, string>): Promise<void> {
    await this.prepare();
    await Promise.all(this.targets.map((t) => loadNetpolScript(t.ns, scripts.get(t.node)!).catch((e: Error) => {
      throw new Error(`kernel node ${t.node}: loading the NetworkPolicy rules failed: ${e.message}`);
    })));
  }

  /** Deny counters of node `node` (empty for a node that is not one of these). */
  denied(node: string): Promise<DeniedCounters> {
    const t = this.targets.find((x) => x.node === node);
    return t ? readDeniedCounters(t.ns) : Promise.resolve(new Map());
  }

  /**
   * Once: nft must exist, and bridged IPv4 must pass the forward hook
   * (br_netfilter) or same-node pod-to-pod traffic would go unjudged — said
   * once in the log when the kernel has no br_netfilter.
   */
  private async prepare(): Promise<void> {
    if (this.ready || !this.targets.length) return;
    if (!(await haveNft())) throw new Error('kernel nodes need the nft program to enforce NetworkPolicy (Debian: apt-get install nftables)');
    for (const t of this.targets) {
      if (!(await ensureBrNetfilter(t.ns))) {
        this.log(`podwire: kernel node ${t.node}: no br_netfilter in this kernel: NetworkPolicy is not enforced between pods of that node (only routed traffic is judged)`);
      }
    }
    this.ready = true;
  }
}
