// podwire exec POD [-n NAMESPACE] [--name LAB] -- CMD [ARGS...]: run a
// command in a pod's network namespace, as `kubectl exec` feels: the
// terminal and stdin/stdout/stderr are the command's, its exit code is ours
// (killed by signal N: 128+N, as a shell reports it). The pod is looked up
// in the running lab's status; hosts of the topology's external: list too.
import { Command } from 'commander';
import { constants } from 'node:os';
import { requestControl } from '../lab/control.ts';
import type { LabStatus } from '../lab/status.ts';
import { runningLab } from './lab-target.ts';
import { requireRoot } from './root.ts';

export function execCommand(): Command {
  return new Command('exec')
    .description("run a command in a pod's network namespace (stdin, stdout, stderr and the terminal passed through; its exit code returned)")
    .usage('POD [-n NAMESPACE] [--name LAB] -- CMD [ARGS...]')
    .argument('<pod>', 'NAME, NAMESPACE/NAME or NAME.NAMESPACE; or a host of the external: list')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('-n, --namespace <ns>', "the pod's Kubernetes namespace (default: default)")
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('--lab <lab>', 'the same as --name')
    .action(async (pod: string, command: string[], opts: { namespace?: string; name?: string; lab?: string }) => {
      requireRoot('podwire exec'); // entering a network namespace needs CAP_SYS_ADMIN
      const state = runningLab(opts.name ?? opts.lab);
      const status = (await requestControl(state.socket, 'status')) as LabStatus;
      const netns = await podNetns(status, pod, opts.namespace);
      process.exitCode = await runIn(netns, command);
    });
}

/** The network namespace of the pod (or external host) `ref` names, or an error listing what there is. */
export async function podNetns(s: Pick<LabStatus, 'lab' | 'pods' | 'external'>, ref: string, namespace?: string): Promise<string> {
  const { parsePodRef, podLabel } = await import('../model/pod-refs.ts');
  const r = namespace !== undefined && !ref.includes('/') ? { namespace, name: ref } : parsePodRef(ref);
  const pod = s.pods.find((p) => p.name === r.name && p.namespace === r.namespace);
  if (pod) return pod.netns;
  const host = namespace === undefined ? (s.external ?? []).find((h) => h.name === ref) : undefined;
  if (host) return host.netns;
  const pods = s.pods.map((p) => podLabel({ name: p.name, k8sNamespace: p.namespace }));
  const external = (s.external ?? []).map((h) => `${h.name} (external)`);
  const all = [...pods, ...external];
  const shown = all.length > 20 ? [...all.slice(0, 20), `... ${all.length - 20} more (podwire status)`] : all;
  throw new Error(`no pod "${r.name}" in namespace "${r.namespace}" of lab "${s.lab}"; there are: ${shown.join(', ') || 'none'}`);
}

/**
 * `ip netns exec NETNS CMD...` (it also mounts the pod's /etc/netns resolv.conf,
 * as the lab's cluster DNS expects) with our stdio; resolves to its exit code.
 */
async function runIn(netns: string, command: string[]): Promise<number> {
  const { spawn } = await import('node:child_process'); // loaded when used: every command starts quicker
  const child = spawn('ip', ['netns', 'exec', netns, ...command], { stdio: 'inherit' });
  // Ctrl-C and Ctrl-\ reach the command from the terminal itself: we wait for its verdict
  const ignore = () => {};
  const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
  const handlers: [NodeJS.Signals, () => void][] = [['SIGINT', ignore], ['SIGQUIT', ignore], ['SIGTERM', forward('SIGTERM')], ['SIGHUP', forward('SIGHUP')]];
  for (const [sig, h] of handlers) process.on(sig, h);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`cannot run ip netns exec: ${e.message}`)));
    child.once('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(signal ? 128 + (constants.signals[signal] ?? 0) : code ?? 1);
    });
  });
}
