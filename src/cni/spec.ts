// What the CNI specification (containernetworking/cni SPEC.md, 1.0.0 and
// 1.1.0) fixes for a plugin: the versions it speaks, the error codes, the
// environment a runtime passes, and the shapes of results and errors.

/** The versions this plugin speaks (VERSION lists them). Results of 0.4.0 carry "version": "4" per address. */
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;

/** SPEC "Error": codes 1-99 are the specification's, 100 and up the plugin's. */
export const CNI_ERR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  /** STATUS (1.1): the plugin cannot take ADDs now */
  NOT_AVAILABLE: 50,
} as const;

/** A failure the plugin reports as CNI error JSON on stdout (and a non-zero exit). */
export class CniError extends Error {
  constructor(readonly code: number, message: string, readonly details?: string) {
    super(message);
  }
}

export interface CniErrorJson { cniVersion: string; code: number; msg: string; details?: string }

export interface CniInterface { name: string; mac?: string; mtu?: number; sandbox?: string }
export interface CniIp { address: string; gateway?: string; interface?: number; version?: '4' }
export interface CniRoute { dst: string; gw?: string }
export interface CniDns { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] }
export interface CniResult { cniVersion: string; interfaces?: CniInterface[]; ips?: CniIp[]; routes?: CniRoute[]; dns?: CniDns }

/** Version strings compared numerically ("0.4.0" < "1.0.0" < "1.1.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export function isSupportedVersion(v: unknown): v is string {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}
