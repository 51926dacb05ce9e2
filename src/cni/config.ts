// Reading what a runtime hands the plugin: the network configuration on
// stdin and the CNI_* environment variables (SPEC "Parameters"). Every
// problem is a CniError naming the field or variable and what would be right.
import { CniError, CNI_ERR, isSupportedVersion, SUPPORTED_VERSIONS } from './spec.ts';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof COMMANDS)[number];

/** The network configuration keys podwire reads (others, such as capabilities or args, are the runtime's and left alone). */
export interface PodwireNetConf {
  cniVersion: string;
  name: string;
  type: string;
  /** the lab to join (`podwire up` names it after the topology's cluster name) */
  lab: string;
  /** the lab's node the pods go on (required for ADD) */
  node?: string;
  mtu?: number;
  /** labels every pod of this network gets (a runtime such as podman passes none of its own); runtimeConfig.labels add to them */
  labels?: Record<string, string>;
  /** absent or type "podwire": the lab's own allocation from the node's pod CIDR; any other type is a plugin run through delegation */
  ipam?: { type: string } & Record<string, unknown>;
  prevResult?: Record<string, unknown>;
  runtimeConfig?: { labels?: Record<string, string> } & Record<string, unknown>;
  /** GC (1.1): the attachments the runtime still uses */
  'cni.dev/valid-attachments'?: { containerID: string; ifname: string }[];
}

/** What the CNI_* variables say; CNI_ARGS split into its keys. */
export interface CniEnv {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifName?: string;
  path: string[];
  args: Record<string, string>;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function readEnv(env: Record<string, string | undefined>): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_COMMAND is not set: this is a CNI plugin, run by a container runtime with CNI_COMMAND=${COMMANDS.join('|')} and the network configuration on stdin`);
  if (!(COMMANDS as readonly string[]).includes(command)) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_COMMAND "${command}" is not one of ${COMMANDS.join(', ')}`);
  const c = command as CniCommand;
  const need = (v: string, why: string) => {
    const x = env[v];
    if (x === undefined || x === '') throw new CniError(CNI_ERR.INVALID_ENV, `${v} is not set (${c} needs it: ${why})`);
    return x;
  };
  const out: CniEnv = { command: c, path: (env.CNI_PATH ?? '').split(':').filter(Boolean), args: parseCniArgs(env.CNI_ARGS ?? '') };
  if (c === 'ADD' || c === 'DEL' || c === 'CHECK') {
    out.containerId = need('CNI_CONTAINERID', 'the container the interface belongs to');
    out.ifName = need('CNI_IFNAME', 'the interface name to create in the container');
    if (out.ifName.length > 15 || !/^[^\s/:]+$/.test(out.ifName)) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_IFNAME "${out.ifName}" is not an interface name (1-15 characters, no spaces, / or :)`);
    if (c !== 'DEL') out.netns = need('CNI_NETNS', 'the network namespace to put the interface in');
    else if (env.CNI_NETNS) out.netns = env.CNI_NETNS;
    if (out.netns !== undefined && !out.netns.startsWith('/')) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_NETNS "${out.netns}" is not an absolute path (e.g. /run/netns/NAME or /proc/PID/ns/net)`);
  }
  return out;
}

/** CNI_ARGS: "K=V;K=V" (the kubelet passes K8S_POD_NAME, K8S_POD_NAMESPACE, ...). */
export function parseCniArgs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CNI_ERR.INVALID_ENV, `CNI_ARGS: "${part}" is not KEY=VALUE (CNI_ARGS is KEY=VALUE pairs separated by ;)`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** The JSON on stdin, parsed (code 6 when it is not JSON, 7 when it is not an object). */
export function parseStdin(text: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) {
    throw new CniError(CNI_ERR.DECODE_FAILURE, `the network configuration on stdin is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CniError(CNI_ERR.INVALID_CONFIG, 'the network configuration on stdin must be a JSON object');
  return v as Record<string, unknown>;
}

/** The configuration checked field by field. */
export function readNetConf(raw: Record<string, unknown>): PodwireNetConf {
  const v = raw.cniVersion;
  if (!isSupportedVersion(v)) {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `cniVersion ${JSON.stringify(v)} is not one podwire speaks (${SUPPORTED_VERSIONS.join(', ')})`);
  }
  const bad = (field: string, msg: string) => new CniError(CNI_ERR.INVALID_CONFIG, `network configuration: ${field}: ${msg}`);
  if (typeof raw.name !== 'string' || raw.name === '') throw bad('name', 'missing (the network\'s name, a string)');
  if (typeof raw.type !== 'string' || raw.type === '') throw bad('type', 'missing (the plugin\'s name: "podwire")');
  const lab = raw.lab ?? 'default';
  if (typeof lab !== 'string' || !NAME_RE.test(lab)) throw bad('lab', `${JSON.stringify(lab)} is not a lab name (the cluster name \`podwire up\` ran, e.g. "default")`);
  const conf: PodwireNetConf = { cniVersion: v, name: raw.name, type: raw.type, lab };
  if (raw.node !== undefined) {
    if (typeof raw.node !== 'string' || !NAME_RE.test(raw.node)) throw bad('node', `${JSON.stringify(raw.node)} is not a node name`);
    conf.node = raw.node;
  }
  if (raw.mtu !== undefined) {
    if (typeof raw.mtu !== 'number' || !Number.isInteger(raw.mtu) || raw.mtu < 576 || raw.mtu > 65535) throw bad('mtu', `${JSON.stringify(raw.mtu)} is not an MTU (an integer 576..65535)`);
    conf.mtu = raw.mtu;
  }
  if (raw.labels !== undefined) {
    const l = raw.labels as Record<string, unknown>;
    if (typeof l !== 'object' || l === null || Array.isArray(l) || Object.values(l).some((x) => typeof x !== 'string')) throw bad('labels', 'expected an object of string values, e.g. {"app": "web"}');
    conf.labels = l as Record<string, string>;
  }
  if (raw.ipam !== undefined) {
    const ipam = raw.ipam as Record<string, unknown>;
    if (typeof ipam !== 'object' || ipam === null || Array.isArray(ipam)) throw bad('ipam', 'expected an object like {"type": "host-local", ...}');
    if (typeof ipam.type !== 'string' || !NAME_RE.test(ipam.type)) throw bad('ipam.type', `${JSON.stringify(ipam.type)} is not a plugin name ("podwire", or an IPAM plugin such as "host-local")`);
    conf.ipam = ipam as PodwireNetConf['ipam'];
  }
  if (raw.prevResult !== undefined) {
    if (typeof raw.prevResult !== 'object' || raw.prevResult === null) throw bad('prevResult', 'expected a result object');
    conf.prevResult = raw.prevResult as Record<string, unknown>;
  }
  if (raw.runtimeConfig !== undefined) {
    const rc = raw.runtimeConfig as Record<string, unknown>;
    if (typeof rc !== 'object' || rc === null) throw bad('runtimeConfig', 'expected an object');
    if (rc.labels !== undefined) {
      const l = rc.labels as Record<string, unknown>;
      if (typeof l !== 'object' || l === null || Array.isArray(l) || Object.values(l).some((x) => typeof x !== 'string')) throw bad('runtimeConfig.labels', 'expected an object of string values');
    }
    conf.runtimeConfig = rc as PodwireNetConf['runtimeConfig'];
  }
  const valid = raw['cni.dev/valid-attachments'];
  if (valid !== undefined) {
    if (!Array.isArray(valid) || valid.some((a) => typeof a?.containerID !== 'string' || typeof a?.ifname !== 'string')) throw bad('cni.dev/valid-attachments', 'expected a list of {containerID, ifname}');
    conf['cni.dev/valid-attachments'] = valid;
  }
  return conf;
}

/** Whether the configuration asks for a delegated IPAM plugin (not podwire's own allocation). */
export function delegatedIpam(conf: PodwireNetConf): string | undefined {
  return conf.ipam && conf.ipam.type !== 'podwire' ? conf.ipam.type : undefined;
}
