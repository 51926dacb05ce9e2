// podwire apply FILE / podwire delete service NAME: change a running lab's
// Services live, as kubectl apply / kubectl delete do. FILE is parsed and
// checked here; the lab process plans the change against its own plan and
// answers once every podwire node's data plane has it (src/lab/service-control.ts).
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { ServiceChangeReply } from '../lab/service-control.ts';
import type { PolicyChangeResult } from '../lab/policy-control.ts';
import { requestControl } from '../lab/control.ts';
import { runningLab } from './lab-target.ts';
import { withStoreOptions, storeOptions, type StoreFlags } from './store-options.ts';

/** Applying thousands of Services takes seconds, not the status request's 5. */
const CHANGE_TIMEOUT_MS = 120_000;

export function applyCommand(): Command {
  return withStoreOptions(new Command('apply'))
    .description("create or replace Services and Ingresses of the running lab (Kubernetes Service, EndpointSlice, Ingress, IngressClass, TLS Secret manifests, or a topology file's services: and ingresses:)")
    .argument('[file]', 'YAML file: Service, EndpointSlice, Ingress, IngressClass and Secret documents, or a mapping with services: / ingresses: (cluster: and nodes: ignored)')
    .option('-f, --filename <file>', 'the file (as kubectl apply -f)')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--timing', 'also print how long planning and programming the data plane took')
    .action(async (file: string | undefined, opts: { filename?: string; name?: string; timing?: boolean } & StoreFlags) => {
      const path = opts.filename ?? file;
      if (!path) throw new Error('apply: give the file (podwire apply FILE, or -f FILE)');
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        throw new Error(`cannot read ${path}: ${(e as Error).message}`);
      }
      // the model is loaded by the command that needs it, so `podwire --help` stays quick
      const { parseApplyFile, ingressObjectCount } = await import('../model/apply.ts');
      const { networkPolicies, ...input } = parseApplyFile(text, path);
      if (opts.store !== undefined) {
        if (ingressObjectCount(input)) throw new Error(`${path}: the shared store carries Services and NetworkPolicies (no Ingress, IngressClass or Secret yet): apply those on each host without --store`);
        if (networkPolicies?.length) {
          const { applyPoliciesToStore } = await import('../store/store-policies.ts'); // the etcd client: loaded only with --store
          for (const x of await applyPoliciesToStore(storeOptions(opts), opts.name, path, networkPolicies)) console.log(`networkpolicy.networking.k8s.io/${x.name} ${x.action}`);
          if (!input.services.length) return;
        }
        const { applyToStore } = await import('../store/store-apply.ts');
        for (const x of await applyToStore(storeOptions(opts), opts.name, input)) console.log(`service/${x.name} ${x.action}`);
        return;
      }
      const state = runningLab(opts.name);
      if (networkPolicies?.length) {
        const p = (await requestControl(state.socket, 'applyPolicies', CHANGE_TIMEOUT_MS, { policies: networkPolicies.map((x) => x.value) })) as { results: PolicyChangeResult[] };
        for (const x of p.results) console.log(`networkpolicy.networking.k8s.io/${x.name} ${x.action}`);
        if (!input.services.length && !ingressObjectCount(input)) return;
      }
      const r = (await requestControl(state.socket, 'apply', CHANGE_TIMEOUT_MS, { input })) as ServiceChangeReply;
      for (const x of r.results) console.log(`${x.kind ?? 'service'}/${x.name} ${x.action}`);
      if (opts.timing) console.log(`planned in ${r.planMs.toFixed(1)} ms, data plane programmed in ${r.programMs.toFixed(1)} ms`);
    });
}

export function deleteCommand(): Command {
  const del = new Command('delete').description('delete objects from the running lab (kubectl delete)');
  withStoreOptions(del.command('service'))
    .alias('services').alias('svc')
    .description('delete Services (their frontends leave every node; UDP flows to their backends are flushed)')
    .argument('<names...>', 'Service names')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .action(async (names: string[], opts: { namespace: string; name?: string } & StoreFlags) => {
      const { isNamespace, isServiceName } = await import('../model/services.ts');
      if (!isNamespace(opts.namespace)) throw new Error(`--namespace: "${opts.namespace}" is not a valid namespace`);
      for (const n of names) if (!isServiceName(n)) throw new Error(`"${n}" is not a valid Service name`);
      if (opts.store !== undefined) {
        const { deleteFromStore } = await import('../store/store-apply.ts');
        for (const n of await deleteFromStore(storeOptions(opts), opts.name, names.map((name) => ({ namespace: opts.namespace, name })))) console.log(`service "${n}" deleted`);
        return;
      }
      const state = runningLab(opts.name);
      const r = (await requestControl(state.socket, 'delete', CHANGE_TIMEOUT_MS, {
        services: names.map((name) => ({ namespace: opts.namespace, name })),
      })) as ServiceChangeReply;
      for (const x of r.results) console.log(`service "${x.name}" deleted`);
    });
  del.command('ingress')
    .alias('ingresses').alias('ing')
    .description("delete Ingresses (the controller's nginx reloads gracefully without them)")
    .argument('<names...>', 'Ingress names')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .action(async (names: string[], opts: { namespace: string; name?: string }) => {
      const { isNamespace } = await import('../model/services.ts');
      const { isSubdomain } = await import('../model/ingress.ts');
      if (!isNamespace(opts.namespace)) throw new Error(`--namespace: "${opts.namespace}" is not a valid namespace`);
      for (const n of names) if (!isSubdomain(n)) throw new Error(`"${n}" is not a valid Ingress name (a DNS-1123 subdomain)`);
      const state = runningLab(opts.name);
      const r = (await requestControl(state.socket, 'delete-ingress', CHANGE_TIMEOUT_MS, {
        ingresses: names.map((name) => ({ namespace: opts.namespace, name })),
      })) as ServiceChangeReply;
      for (const x of r.results) console.log(`ingress.networking.k8s.io "${x.name}" deleted`);
    });
  withStoreOptions(del.command('networkpolicy'))
    .alias('networkpolicies').alias('netpol')
    .description('delete NetworkPolicies (new connections are judged without them; established ones stay)')
    .argument('<names...>', 'NetworkPolicy names')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .action(async (names: string[], opts: { namespace: string; name?: string } & StoreFlags) => {
      const { isNamespace } = await import('../model/services.ts');
      const { isPolicyName } = await import('../model/network-policy.ts');
      if (!isNamespace(opts.namespace)) throw new Error(`--namespace: "${opts.namespace}" is not a valid namespace`);
      for (const n of names) if (!isPolicyName(n)) throw new Error(`"${n}" is not a valid NetworkPolicy name`);
      if (opts.store !== undefined) {
        const { deletePoliciesFromStore } = await import('../store/store-policies.ts');
        for (const n of await deletePoliciesFromStore(storeOptions(opts), opts.name, names.map((name) => ({ namespace: opts.namespace, name })))) console.log(`networkpolicy.networking.k8s.io "${n}" deleted`);
        return;
      }
      const state = runningLab(opts.name);
      const r = (await requestControl(state.socket, 'deletePolicies', CHANGE_TIMEOUT_MS, {
        refs: names.map((name) => ({ namespace: opts.namespace, name })),
      })) as { results: PolicyChangeResult[] };
      for (const x of r.results) console.log(`networkpolicy.networking.k8s.io "${x.name}" deleted`);
    });
  return del;
}
