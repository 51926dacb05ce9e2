// The CNI plugin called exactly as a runtime calls it: bin/podwire-cni.js
// spawned with the CNI_* environment and the network configuration on stdin,
// its stdout checked against the shapes of the CNI specification 1.0.0
// (SPEC.md "Success", "Error", "Version") and its exit code. The lab is a
// stand-in on a real control socket in a private state directory
// (PODWIRE_STATE_DIR): it answers the lab's CNI commands the way
// src/lab/cni-control.ts does and records what it was asked. The real lab
// is exercised in test/e2e/cni-runtime.test.ts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { serveControl } from '../../src/lab/control.ts';
import type { CniAttachment } from '../../src/lab/cni-control.ts';
import { wrapperScript, installPlugin } from '../../src/cni/install.ts';
import { runPlugin } from '../../src/cni/plugin.ts';
import { REPO } from '../helpers/lab.ts';

const ENTRY = join(REPO, 'bin', 'podwire-cni.js');
const LAB = 'cnitest';

interface Call { stdout: string; code: number; json: Record<string, unknown> | undefined }

let stateDir: string;
let binDir: string;
let server: Server | undefined;
const asked: Record<string, unknown>[] = [];

/** Run the plugin as a runtime would. */
function cni(command: string | undefined, conf: unknown, env: Record<string, string> = {}): Promise<Call> {
  return new Promise((resolve, reject) => {
    const base: Record<string, string> = {
      PATH: process.env.PATH ?? '', PODWIRE_STATE_DIR: stateDir,
      CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/run/netns/pw-cni-fake', CNI_IFNAME: 'eth0', CNI_PATH: binDir,
      ...(command ? { CNI_COMMAND: command } : {}),
    };
    const p = spawn(process.execPath, [ENTRY], { env: { ...base, ...env } });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c) => { out += c; });
    p.on('error', reject);
    p.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try { json = out.trim() ? JSON.parse(out) : undefined; } catch { /* the test says */ }
      resolve({ stdout: out, code: code ?? -1, json });
    });
    p.stdin.end(typeof conf === 'string' ? conf : JSON.stringify(conf));
  });
}

/** The same call in this process (runPlugin: what main.ts runs), for the many refusals that never reach a lab. */
async function cniHere(command: string | undefined, conf: unknown, env: Record<string, string> = {}): Promise<Call> {
  const base: Record<string, string> = {
    CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/run/netns/pw-cni-fake', CNI_IFNAME: 'eth0', CNI_PATH: binDir,
    ...(command ? { CNI_COMMAND: command } : {}),
  };
  const out = await runPlugin({ ...base, ...env }, typeof conf === 'string' ? conf : JSON.stringify(conf));
  return { stdout: out.stdout, code: out.exitCode, json: out.stdout.trim() ? JSON.parse(out.stdout) : undefined };
}

const conf = (extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'podwire', type: 'podwire', lab: LAB, node: 'n1', ...extra });

const ATTACHMENT: CniAttachment = {
  containerId: 'c0ffee', ifName: 'eth0', netns: '/run/netns/pw-cni-fake', node: 'n1', pod: 'web-1', k8sNamespace: 'shop',
  ip: '10.244.0.7', prefixLen: 24, gateway: '10.244.0.1', mac: '0a:58:0a:f4:00:07', mtu: 1450, dns: '10.96.0.10',
};

/** SPEC 1.0.0 "Success": the fields and their types a runtime reads. */
function expectResultShape(r: Record<string, unknown>, version: string): void {
  expect(r.cniVersion).toBe(version);
  const interfaces = r.interfaces as { name: unknown; mac: unknown; sandbox: unknown }[];
  expect(Array.isArray(interfaces)).toBe(true);
  for (const i of interfaces) {
    expect(typeof i.name).toBe('string');
    expect(i.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  }
  const ips = r.ips as { address: string; gateway?: string; interface?: number }[];
  for (const ip of ips) {
    expect(ip.address).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    if (ip.gateway !== undefined) expect(ip.gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    if (ip.interface !== undefined) expect(interfaces[ip.interface]).toBeDefined();
  }
  for (const rt of r.routes as { dst: string; gw?: string }[]) expect(rt.dst).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
  const dns = r.dns as Record<string, unknown>;
  expect(typeof dns).toBe('object');
}

/** SPEC "Error": cniVersion, an integer code, a message. */
function expectError(c: Call, code: number, msg: RegExp): void {
  expect(c.code, c.stdout).not.toBe(0);
  expect(c.json, c.stdout).toBeDefined();
  expect(typeof c.json!.cniVersion).toBe('string');
  expect(c.json!.code, c.stdout).toBe(code);
  expect(c.json!.msg).toMatch(msg);
}

describe('podwire-cni as a runtime calls it (a stand-in lab on a control socket)', () => {
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'pw-cni-state-'));
    binDir = mkdtempSync(join(tmpdir(), 'pw-cni-bin-'));
    // an IPAM plugin of our own: prints a fixed address and logs what it was asked (the delegation protocol)
    writeFileSync(join(binDir, 'fake-ipam'), `#!/bin/sh\necho "$CNI_COMMAND $CNI_CONTAINERID" >> ${binDir}/ipam.log\ncat > /dev/null\n`
      + `if [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.0.0","ips":[{"address":"10.244.0.42/24","gateway":"10.244.0.1"}]}'; fi\n`);
    chmodSync(join(binDir, 'fake-ipam'), 0o755);
    mkdirSync(stateDir, { recursive: true });
    server = await serveControl(join(stateDir, `${LAB}.sock`), async (req) => {
      asked.push(req);
      if (req.cmd === 'cni-add') {
        if (req.node !== 'n1') return { cniError: { code: 7, msg: `node "${String(req.node)}" is not a node of lab "${LAB}" (its nodes: n1)` } };
        return { result: { ...ATTACHMENT, ...(req.ip ? { ip: req.ip } : {}) } };
      }
      if (req.cmd === 'cni-del') return { result: { removed: true } };
      if (req.cmd === 'cni-check') return { result: ATTACHMENT };
      if (req.cmd === 'cni-list') return { result: [] };
      if (req.cmd === 'cni-gc') return { result: { removed: [] } };
      throw new Error(`unknown command "${req.cmd}"`);
    });
  });

  afterAll(() => {
    server?.close();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(binDir, { recursive: true, force: true });
  });

  it('VERSION: the versions spoken, in the asked version', async () => {
    const v = await cni('VERSION', { cniVersion: '1.0.0' });
    expect(v.code).toBe(0);
    expect(v.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
  });

  it('ADD: a result of the SPEC shape (interface with sandbox, address, default route, cluster DNS with the pod namespace first), labels and pod from CNI_ARGS/runtimeConfig reach the lab', async () => {
    asked.length = 0;
    const r = await cni('ADD', conf({ mtu: 1400, runtimeConfig: { labels: { app: 'web' } } }), { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=c0ffee' });
    expect(r.code, r.stdout).toBe(0);
    expectResultShape(r.json!, '1.0.0');
    expect(r.json).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: '0a:58:0a:f4:00:07', mtu: 1450, sandbox: '/run/netns/pw-cni-fake' }],
      ips: [{ address: '10.244.0.7/24', gateway: '10.244.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.244.0.1' }],
      dns: { nameservers: ['10.96.0.10'], search: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] },
    });
    expect(asked).toEqual([{
      cmd: 'cni-add', containerId: 'c0ffee', ifName: 'eth0', netns: '/run/netns/pw-cni-fake', node: 'n1', mtu: 1400,
      podName: 'web-1', podNamespace: 'shop', labels: { app: 'web' },
    }]);
  });

  it('ADD chained after another plugin: its interfaces and addresses come first, ours index past them', async () => {
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'lo0', mac: '00:00:00:00:00:00', sandbox: '/run/netns/pw-cni-fake' }], ips: [{ address: '192.0.2.1/32', interface: 0 }] };
    const r = await cni('ADD', conf({ prevResult }));
    expect(r.code, r.stdout).toBe(0);
    expectResultShape(r.json!, '1.0.0');
    expect((r.json!.interfaces as unknown[]).length).toBe(2);
    expect(r.json!.ips).toEqual([{ address: '192.0.2.1/32', interface: 0 }, { address: '10.244.0.7/24', gateway: '10.244.0.1', interface: 1 }]);
  });

  it('ADD in CNI 0.4.0: addresses carry "version": "4", interfaces no mtu', async () => {
    const r = await cni('ADD', conf({ cniVersion: '0.4.0' }));
    expect(r.code, r.stdout).toBe(0);
    expectResultShape(r.json!, '0.4.0');
    expect(r.json!.ips).toEqual([{ version: '4', address: '10.244.0.7/24', gateway: '10.244.0.1', interface: 0 }]);
    expect(r.json!.interfaces).toEqual([{ name: 'eth0', mac: '0a:58:0a:f4:00:07', sandbox: '/run/netns/pw-cni-fake' }]);
  });

  it('ADD with a delegated IPAM plugin: its address goes to the lab; a refusal by the lab hands the address back (IPAM DEL)', async () => {
    asked.length = 0;
    const r = await cni('ADD', conf({ ipam: { type: 'fake-ipam' } }), { CNI_CONTAINERID: 'ipam1' });
    expect(r.code, r.stdout).toBe(0);
    expect(asked[0].ip).toBe('10.244.0.42');
    expect((r.json!.ips as { address: string }[])[0].address).toBe('10.244.0.42/24');
    const refused = await cni('ADD', conf({ node: 'n9', ipam: { type: 'fake-ipam' } }), { CNI_CONTAINERID: 'ipam2' });
    expectError(refused, 7, /node "n9" is not a node of lab "cnitest"/);
    const del = await cni('DEL', conf({ ipam: { type: 'fake-ipam' } }), { CNI_CONTAINERID: 'ipam1' });
    expect(del.code, del.stdout).toBe(0);
    expect(readFileSync(join(binDir, 'ipam.log'), 'utf8').trim().split('\n')).toEqual(['ADD ipam1', 'ADD ipam2', 'DEL ipam2', 'DEL ipam1']);
    expectError(await cni('ADD', conf({ ipam: { type: 'no-such-ipam' } })), 7, /ipam.type "no-such-ipam": no such plugin in CNI_PATH/);
  });

  it('CHECK and DEL succeed against the lab, with no output; STATUS and GC (1.1.0)', async () => {
    const check = await cni('CHECK', conf({ prevResult: { cniVersion: '1.0.0' } }));
    expect([check.code, check.stdout]).toEqual([0, '']);
    expectError(await cni('CHECK', conf()), 7, /prevResult: missing/);
    const del = await cni('DEL', conf(), { CNI_NETNS: '' });
    expect([del.code, del.stdout]).toEqual([0, '']);
    const status = await cni('STATUS', conf({ cniVersion: '1.1.0' }));
    expect([status.code, status.stdout]).toEqual([0, '']);
    asked.length = 0;
    const gc = await cni('GC', conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'c0ffee', ifname: 'eth0' }] }));
    expect([gc.code, gc.stdout]).toEqual([0, '']);
    expect(asked).toEqual([{ cmd: 'cni-gc', valid: [{ containerId: 'c0ffee', ifName: 'eth0' }] }]);
    expectError(await cni('GC', conf()), 1, /GC is a CNI 1.1.0 command/);
  });

  it('wrong versions, missing keys and variables, bad JSON: the SPEC error codes with a message naming the field', async () => {
    expectError(await cni('ADD', conf({ cniVersion: '0.2.0' })), 1, /cniVersion "0.2.0" is not one podwire speaks/); // the executable's exit code too
    const calls = await Promise.all([
      cniHere('ADD', conf({ cniVersion: '0.2.0' })),
      cniHere('ADD', conf({ cniVersion: undefined })),
      cniHere('ADD', conf({ node: undefined })),
      cniHere('ADD', conf({ name: undefined })),
      cniHere('ADD', conf({ mtu: 'big' })),
      cniHere('ADD', conf(), { CNI_NETNS: '' }),
      cniHere('ADD', conf(), { CNI_IFNAME: 'a/b' }),
      cniHere(undefined, conf()),
      cniHere('ADD', '{"cniVersion": '),
      cniHere('ADD', conf(), { CNI_ARGS: 'K8S_POD_NAME' }),
    ]);
    expectError(calls[0], 1, /cniVersion "0.2.0" is not one podwire speaks \(0.4.0, 1.0.0, 1.1.0\)/);
    expectError(calls[1], 1, /cniVersion undefined is not one podwire speaks/);
    expectError(calls[2], 7, /node: missing/);
    expectError(calls[3], 7, /name: missing/);
    expectError(calls[4], 7, /mtu: "big" is not an MTU/);
    expectError(calls[5], 4, /CNI_NETNS is not set/);
    expectError(calls[6], 4, /CNI_IFNAME "a\/b" is not an interface name/);
    expectError(calls[7], 4, /CNI_COMMAND is not set/);
    expectError(calls[8], 6, /not JSON/);
    expectError(calls[9], 4, /CNI_ARGS: "K8S_POD_NAME" is not KEY=VALUE/);
  });

  it('no lab of that name: ADD says try again later (11) naming the lab, DEL succeeds (idempotent), STATUS says not available (50)', async () => {
    const [add, del, status] = await Promise.all([
      cni('ADD', conf({ lab: 'nolab' })),
      cni('DEL', conf({ lab: 'nolab' })),
      cni('STATUS', conf({ lab: 'nolab', cniVersion: '1.1.0' })),
    ]);
    expectError(add, 11, /no podwire lab "nolab" is running on this host/);
    expect([del.code, del.stdout]).toEqual([0, '']);
    expectError(status, 50, /no podwire lab "nolab"/);
  });
});

describe('podwire cni install', () => {
  it('writes an executable wrapper running this checkout with this node, and replaces only its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-cni-inst-'));
    try {
      const path = installPlugin(dir, { node: '/usr/bin/node', entry: '/src/it\'s/bin/podwire-cni.js', stateDir: '/run/pw x' });
      expect(path).toBe(join(dir, 'podwire'));
      const text = readFileSync(path, 'utf8');
      expect(text).toBe(wrapperScript('/usr/bin/node', '/src/it\'s/bin/podwire-cni.js', '/run/pw x'));
      expect(text).toContain(`exec '/usr/bin/node' '/src/it'\\''s/bin/podwire-cni.js' "$@"`);
      installPlugin(dir, { node: '/usr/bin/node', entry: '/x.js' }); // its own: replaced
      writeFileSync(path, '#!/bin/sh\necho someone else\n');
      expect(() => installPlugin(dir)).toThrow(/is not podwire's wrapper: not replacing it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
