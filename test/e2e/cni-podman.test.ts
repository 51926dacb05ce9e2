// End-to-end, as root, with a real container runtime: Debian's podman with
// its CNI network backend runs the podwire plugin (installed by `podwire cni
// install` into a private CNI bin directory). The image is built offline: a
// rootfs of Debian's busybox-static, `podman import`ed. A pod of two
// containers sharing the infra container's network namespace (the
// pause-container model): one serves HTTP (busybox httpd), the other reaches
// it on localhost; a podwire pod reaches it by pod IP and through a Service
// selecting it by the network's labels; `podman pod rm` releases the address
// (a new pod gets it back).
//
// podman runs with a private storage root and configuration
// (CONTAINERS_CONF), so nothing of the host's podman is touched. The OCI
// runtime is runc: on a host whose cgroups are mixed v1/v2 (this machine)
// crun 1.8 refuses every container ("cgroups in hybrid mode not supported"),
// runc does not. The containers' rlimits are set below the host's: without
// CAP_SYS_RESOURCE podman's defaults (raised ones) fail in setrlimit.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, symlinkSync, chmodSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, stopAllLabs, isRoot, runProgram, podwire, type RunningLab, type ExecResult } from '../helpers/lab.ts';
import { httpRequests } from '../helpers/pod-servers.ts';

const TOOLS = ['/usr/bin/podman', '/usr/bin/busybox', '/usr/sbin/runc', '/usr/lib/cni/host-local'];
const missing = TOOLS.filter((t) => !existsSync(t));
const canRun = isRoot && missing.length === 0;
if (!isRoot) console.warn('test/e2e/cni-podman.test.ts: skipped — needs root (podman, network namespaces, TAP devices); run as root (CI is root)');
else if (missing.length) console.warn(`test/e2e/cni-podman.test.ts: skipped — missing ${missing.join(' ')} (apt-get install podman runc busybox-static containernetworking-plugins)`);

const LAB = 'cnipod';
const CLIENT = 'cnipod-client';
const IMAGE = 'localhost/pw-busybox';
const TOPOLOGY = `
cluster:
  clusterCIDR: 10.235.0.0/16
  serviceCIDR: 10.91.0.0/16
  underlayCIDR: 172.31.245.0/24
nodes:
  - name: n1
    pods: [${CLIENT}]
services:
  - name: shop
    selector: { app: shop }
    ports: [{ port: 80, targetPort: 8080 }]
`;

describe.skipIf(!canRun)('podman (CNI backend) puts a pod of two containers on podwire (root)', () => {
  let dir: string;
  let lab: RunningLab;
  let env: NodeJS.ProcessEnv;
  const podman = (args: string[], timeoutMs = 120_000): Promise<ExecResult> => new Promise((resolve) => {
    void import('node:child_process').then(({ execFile }) => {
      execFile('podman', ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--runtime', '/usr/sbin/runc', ...args],
        { env, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 },
        (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0 }));
    });
  });
  const must = async (args: string[]) => {
    const r = await podman(args);
    if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const podIp = async (pod: string) => {
    const infra = await must(['pod', 'inspect', pod, '--format', '{{.InfraContainerID}}']);
    const pid = await must(['inspect', infra, '--format', '{{.State.Pid}}']);
    const r = await runProgram('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    const m = /inet (\d+\.\d+\.\d+\.\d+)\/24/.exec(r.stdout);
    if (!m) throw new Error(`no address on eth0 of pod ${pod}: ${r.stdout}${r.stderr}`);
    return m[1];
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-podman-'));
    // the image: busybox-static and its applets, a page to serve, an infra command that waits forever
    const rootfs = join(dir, 'rootfs');
    for (const d of ['bin', 'tmp', 'www']) mkdirSync(join(rootfs, d), { recursive: true });
    copyFileSync('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of ['sh', 'httpd', 'wget', 'sleep', 'cat']) symlinkSync('busybox', join(rootfs, 'bin', a));
    writeFileSync(join(rootfs, 'www', 'index.html'), 'hello from podman\n');
    writeFileSync(join(rootfs, 'pause'), '#!/bin/sh\nexec /bin/sleep 2147483647\n', { mode: 0o755 });
    const tar = await runProgram('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
    if (tar.code !== 0) throw new Error(`tar: ${tar.stderr}`);
    // podman's configuration: CNI backend, our plugin directory first, our network directory
    const bin = join(dir, 'cni-bin'), netd = join(dir, 'net.d');
    mkdirSync(netd);
    const inst = await podwire(['cni', 'install', bin]);
    if (inst.code !== 0) throw new Error(`podwire cni install: ${inst.stderr}`);
    writeFileSync(join(netd, 'podwire.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'podwire', plugins: [{ type: 'podwire', lab: LAB, node: 'n1', labels: { app: 'shop' } }],
    }));
    writeFileSync(join(dir, 'containers.conf'), [
      '[containers]', 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
      '[network]', 'network_backend = "cni"', `cni_plugin_dirs = ["${bin}", "/usr/lib/cni"]`, `network_config_dir = "${netd}"`,
      '[engine]', 'cgroup_manager = "cgroupfs"', '',
    ].join('\n'));
    env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
    await must(['import', join(dir, 'rootfs.tar'), IMAGE]);
    lab = await startLab(TOPOLOGY, { name: LAB });
  }, 180_000);

  afterAll(async () => {
    if (dir) {
      await podman(['pod', 'rm', '-a', '-f', '-t', '0']).catch(() => {});
      await podman(['rm', '-a', '-f', '-t', '0']).catch(() => {});
    }
    await stopAllLabs();
    if (dir) {
      await runProgram('umount', ['-R', join(dir, 'root', 'overlay')]).catch(() => {}); // storage mounts, if any are left
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('podman sees the podwire network through its CNI backend', async () => {
    expect(await must(['info', '--format', '{{.Host.NetworkBackend}}'])).toBe('cni');
    expect(await must(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])).toContain('podwire podwire');
  });

  let ip = '';
  it('a pod of two containers: httpd in one, the other reaches it on localhost; podwire status lists the pod', async () => {
    await must(['pod', 'create', '--name', 'shop', '--network', 'podwire', '--infra-image', IMAGE, '--infra-command', '/pause']);
    await must(['run', '-d', '--pod', 'shop', '--name', 'shop-web', IMAGE, '/bin/httpd', '-f', '-p', '8080', '-h', '/www']);
    const local = await must(['run', '--rm', '--pod', 'shop', IMAGE, '/bin/wget', '-q', '-O', '-', 'http://127.0.0.1:8080/']);
    expect(local).toBe('hello from podman');
    ip = await podIp('shop');
    const s = await lab.status();
    const pod = s.pods.find((p) => p.ip === ip);
    expect(pod, JSON.stringify(s.pods)).toMatchObject({ node: 'n1', namespace: 'default' });
  }, 180_000);

  it('a podwire pod reaches it by pod IP and through the Service selecting the network\'s labels', async () => {
    const direct = await httpRequests(`pw-${CLIENT}`, ip, 8080, 2);
    expect(direct).toEqual({ got: ['hello from podman', 'hello from podman'], fails: [] });
    const svc = (await lab.status()).services.find((x) => x.name === 'shop')!;
    expect(svc.endpoints.map((e) => e.ip)).toEqual([ip]);
    const viaSvc = await httpRequests(`pw-${CLIENT}`, svc.clusterIP, 80, 2);
    expect(viaSvc).toEqual({ got: ['hello from podman', 'hello from podman'], fails: [] });
  });

  it('podman pod rm releases the address: the pod leaves status and the Service; a new pod gets the address back', async () => {
    await must(['pod', 'rm', '-f', '-t', '0', 'shop']);
    const s = await lab.status();
    expect(s.pods.map((p) => p.ip)).not.toContain(ip);
    expect(s.services.find((x) => x.name === 'shop')!.endpoints).toEqual([]);
    await must(['pod', 'create', '--name', 'shop2', '--network', 'podwire', '--infra-image', IMAGE, '--infra-command', '/pause']);
    await must(['pod', 'start', 'shop2']);
    expect(await podIp('shop2')).toBe(ip);
    await must(['pod', 'rm', '-f', '-t', '0', 'shop2']);
  }, 180_000);
});
