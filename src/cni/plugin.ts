// The podwire CNI plugin: one run per runtime call (SPEC "Execution
// protocol"). The lab does the work (src/lab/cni-control.ts) over its control
// socket; this file reads the call, delegates IPAM when asked, and writes the
// result or the CNI error JSON.
import { existsSync } from 'node:fs';
import { requestControl } from '../lab/control.ts';
import { socketPath } from '../lab/state.ts';
import type { CniAttachment } from '../lab/cni-control.ts';
import { CniError, CNI_ERR, SUPPORTED_VERSIONS, compareVersions, isSupportedVersion, type CniResult, type CniErrorJson, type CniInterface, type CniIp } from './spec.ts';
import { readEnv, parseStdin, readNetConf, delegatedIpam, type CniEnv, type PodwireNetConf } from './config.ts';
import { runIpam, ipamAddress, type IpamRunner } from './ipam.ts';

/** What the plugin talks to, replaceable in tests. */
export interface PluginDeps {
  /** one control request to lab `lab`: its reply, or undefined when no lab of that name runs here */
  ask(lab: string, cmd: string, body: Record<string, unknown>): Promise<unknown>;
  ipam: IpamRunner;
}

export interface PluginOutput { stdout: string; exitCode: number }

/** Control replies of the lab's CNI handler (cni-control.ts). */
type LabReply = { result: unknown } | { cniError: { code: number; msg: string } };

export const defaultDeps: PluginDeps = {
  async ask(lab, cmd, body) {
    const socket = socketPath(lab);
    if (!existsSync(socket)) return undefined;
    try {
      return await requestControl(socket, cmd, 60_000, body);
    } catch (e) {
      if (/cannot reach the lab/.test((e as Error).message)) return undefined; // a socket left by a lab that died
      throw e;
    }
  },
  ipam: runIpam,
};

/** Run one CNI call: `env` as the runtime set it, `stdin` the configuration. Never throws. */
export async function runPlugin(env: Record<string, string | undefined>, stdin: string, deps: PluginDeps = defaultDeps): Promise<PluginOutput> {
  let version = '1.0.0'; // the error's cniVersion until the configuration says which
  try {
    const e = readEnv(env);
    const raw = parseStdin(stdin);
    if (isSupportedVersion(raw.cniVersion)) version = raw.cniVersion;
    if (e.command === 'VERSION') {
      return ok({ cniVersion: version, supportedVersions: [...SUPPORTED_VERSIONS] });
    }
    const conf = readNetConf(raw);
    if ((e.command === 'STATUS' || e.command === 'GC') && compareVersions(conf.cniVersion, '1.1.0') < 0) {
      throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `${e.command} is a CNI 1.1.0 command; the configuration says cniVersion ${conf.cniVersion}`);
    }
    const out = await COMMAND[e.command](e, conf, env, stdin, deps);
    return out === undefined ? { stdout: '', exitCode: 0 } : ok(out);
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CNI_ERR.IO_FAILURE, (err as Error).message);
    const body: CniErrorJson = { cniVersion: version, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) };
    return { stdout: JSON.stringify(body) + '\n', exitCode: 1 };
  }
}

function ok(v: unknown): PluginOutput {
  return { stdout: JSON.stringify(v) + '\n', exitCode: 0 };
}

type Command = (e: CniEnv, conf: PodwireNetConf, env: Record<string, string | undefined>, stdin: string, deps: PluginDeps) => Promise<unknown>;

const noLab = (lab: string) => new CniError(CNI_ERR.TRY_AGAIN_LATER, `no podwire lab "${lab}" is running on this host (start it: sudo podwire up TOPOLOGY.yaml; the lab is named after cluster.name)`);

/** A lab reply's result, or its refusal as a CniError. */
function unwrap(reply: unknown): unknown {
  const r = reply as LabReply;
  if ('cniError' in r) throw new CniError(r.cniError.code, r.cniError.msg);
  return r.result;
}

const COMMAND: Record<Exclude<CniEnv['command'], 'VERSION'>, Command> = {
  async ADD(e, conf, env, stdin, deps) {
    if (!conf.node) throw new CniError(CNI_ERR.INVALID_CONFIG, 'network configuration: node: missing (the lab node the pods go on, e.g. "n1")');
    const ipamType = delegatedIpam(conf);
    let ip: string | undefined;
    if (ipamType) ip = ipamAddress(ipamType, await deps.ipam(ipamType, 'ADD', env, stdin, e.path));
    const release = async () => { if (ipamType) await deps.ipam(ipamType, 'DEL', env, stdin, e.path).catch(() => {}); };
    let reply: unknown;
    try {
      reply = await deps.ask(conf.lab, 'cni-add', {
        containerId: e.containerId, ifName: e.ifName, netns: e.netns, node: conf.node,
        ...(conf.mtu ? { mtu: conf.mtu } : {}), ...(ip ? { ip } : {}),
        ...(e.args.K8S_POD_NAME ? { podName: e.args.K8S_POD_NAME } : {}),
        ...(e.args.K8S_POD_NAMESPACE ? { podNamespace: e.args.K8S_POD_NAMESPACE } : {}),
        labels: { ...conf.labels, ...conf.runtimeConfig?.labels },
      });
      if (reply === undefined) throw noLab(conf.lab);
      return result(conf, unwrap(reply) as CniAttachment);
    } catch (err) {
      await release(); // the address goes back to the IPAM plugin's pool
      throw err;
    }
  },

  async DEL(e, conf, env, stdin, deps) {
    // idempotent: no lab, an unknown container, a namespace already gone are all success
    const reply = await deps.ask(conf.lab, 'cni-del', { containerId: e.containerId, ifName: e.ifName });
    if (reply !== undefined) unwrap(reply);
    const ipamType = delegatedIpam(conf);
    if (ipamType) await deps.ipam(ipamType, 'DEL', env, stdin, e.path);
    return undefined;
  },

  async CHECK(e, conf, env, stdin, deps) {
    if (!conf.prevResult) throw new CniError(CNI_ERR.INVALID_CONFIG, 'network configuration: prevResult: missing (CHECK is given the result of ADD)');
    const reply = await deps.ask(conf.lab, 'cni-check', { containerId: e.containerId, ifName: e.ifName, netns: e.netns });
    if (reply === undefined) throw noLab(conf.lab);
    unwrap(reply);
    const ipamType = delegatedIpam(conf);
    if (ipamType) await deps.ipam(ipamType, 'CHECK', env, stdin, e.path);
    return undefined;
  },

  async STATUS(_e, conf, _env, _stdin, deps) {
    const reply = await deps.ask(conf.lab, 'cni-list', {});
    if (reply === undefined) throw new CniError(CNI_ERR.NOT_AVAILABLE, `no podwire lab "${conf.lab}" is running on this host: pods cannot be added`);
    return undefined;
  },

  async GC(_e, conf, _env, _stdin, deps) {
    const valid = (conf['cni.dev/valid-attachments'] ?? []).map((a) => ({ containerId: a.containerID, ifName: a.ifname }));
    const reply = await deps.ask(conf.lab, 'cni-gc', { valid });
    if (reply !== undefined) unwrap(reply);
    return undefined;
  },
};

/** The ADD result (SPEC "Success"): prevResult's interfaces and addresses first when chained, then ours. */
function result(conf: PodwireNetConf, a: CniAttachment): CniResult {
  const prev = (conf.prevResult ?? {}) as Partial<CniResult>;
  const interfaces: CniInterface[] = [...(prev.interfaces ?? []), { name: a.ifName, mac: a.mac, mtu: a.mtu, sandbox: a.netns }];
  const v4 = compareVersions(conf.cniVersion, '1.0.0') < 0 ? { version: '4' as const } : {};
  const ips: CniIp[] = [...(prev.ips ?? []), { ...v4, address: `${a.ip}/${a.prefixLen}`, gateway: a.gateway, interface: interfaces.length - 1 }];
  if (compareVersions(conf.cniVersion, '1.0.0') < 0) for (const i of interfaces) delete i.mtu; // mtu joined interfaces in 1.0.0
  return {
    cniVersion: conf.cniVersion,
    interfaces,
    ips,
    routes: [...(prev.routes ?? []), { dst: '0.0.0.0/0', gw: a.gateway }],
    dns: a.dns
      ? { nameservers: [a.dns], search: [`${a.k8sNamespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] }
      : (prev.dns ?? {}),
  };
}
