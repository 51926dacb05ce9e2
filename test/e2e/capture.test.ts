// End-to-end, as root: `podwire capture` on a two-node VXLAN lab, decoded by
// tshark. A pod's capture holds exactly the pings and marked UDP datagrams
// sent, both directions, on the interface named after the pod, IPv4
// checksums good; the underlay capture holds them VXLAN-encapsulated on
// both nodes' underlay ports; `-w -` piped into tshark decodes; a capture
// stops by itself after -c packets.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, stopAllLabs, isRoot, execIn, podwire, PODWIRE, REPO, sleep, type RunningLab } from '../helpers/lab.ts';
import { waitFor, PYTHON } from '../helpers/traffic.ts';
import { checksumGood } from '../helpers/capture.ts';

const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
if (!isRoot) console.warn('test/e2e/capture.test.ts: skipped — needs root (creates network namespaces and TAP devices); run as root (CI is root)');
else if (!hasTshark) console.warn('test/e2e/capture.test.ts: skipped — tshark is not installed (apt-get install tshark)');

const LAB = 'pwcap-e2e';
const A1 = 'pwcap-a1', A2 = 'pwcap-a2', B1 = 'pwcap-b1';
const IP = { [A1]: '10.243.0.2', [B1]: '10.243.1.2' };
const UL = { n1: '172.31.255.1', n2: '172.31.255.2' }; // the nodes' underlay addresses, in node order
const TOPOLOGY = [
  'cluster:',
  '  clusterCIDR: 10.243.0.0/16',
  '  overlay: vxlan',
  '  vxlan: { vni: 7, port: 8472 }',
  '  dns: false',
  'nodes:',
  '  - name: n1',
  `    pods: [${A1}, ${A2}]`,
  '  - name: n2',
  `    pods: [${B1}]`,
  '',
].join('\n');

/** `podwire capture ARGS` running; ready once it printed "capturing on" (the tap is on by then). */
interface Capture { proc: ChildProcess; stderr(): string; exited: Promise<number>; stop(): Promise<number> }

async function startCapture(args: string[], shell?: string): Promise<Capture> {
  // with `shell`, the capture's stdout is piped into that command (its output is the shell's stdout)
  const proc = shell
    ? spawn('sh', ['-c', `"$0" "$1" capture ${args.join(' ')} | ${shell}`, process.execPath, PODWIRE], { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO })
    : spawn(process.execPath, [PODWIRE, 'capture', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const exited = new Promise<number>((resolve) => proc.once('exit', (code) => resolve(code ?? -1)));
  await waitFor(() => /capturing on/.test(err), 15_000, () => `podwire capture ${args.join(' ')} did not start: ${err}`, proc);
  return {
    proc, exited, stderr: () => err,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
      return Promise.race([exited, sleep(10_000).then(() => { proc.kill('SIGKILL'); return -9; })]);
    },
  };
}

/** tshark -r FILE with IPv4 checksum checks on: one array of fields per packet matching `filter`. */
function decode(file: string, filter: string, fields: string[], extra: string[] = []): string[][] {
  const out = execFileSync('tshark', ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', ...extra, '-Y', filter,
    '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/** `count` UDP datagrams to ip:9999 whose payload is "<marker> <i>". */
function sendMarked(ns: string, ip: string, count: number, marker: string) {
  const py = `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(${count}): s.sendto(b'${marker} %d' % i, ('${ip}', 9999))`;
  return execIn(ns, [PYTHON, '-c', py], { timeoutMs: 10_000 });
}

const hex = (s: string) => Buffer.from(s).toString('hex');

afterAll(async () => {
  await stopAllLabs();
});

describe.skipIf(!isRoot || !hasTshark)('podwire capture (root)', () => {
  let lab: RunningLab;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-capture-'));
    lab = await startLab(TOPOLOGY, { name: LAB });
  });
  afterAll(async () => {
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a pod's capture holds the pings and marked UDP datagrams sent, both ways, named after the pod, IPv4 checksums good", async () => {
    const file = join(dir, 'a1.pcapng');
    const cap = await startCapture([A1, '-w', file, '--name', LAB]);
    const marker = 'PWCAP-MARK';
    const ping = await execIn(`pw-${A1}`, ['ping', '-n', '-c', '5', '-i', '0.2', '-W', '2', '-p', hex(marker), IP[B1]], { timeoutMs: 20_000 });
    expect(ping.stdout).toMatch(/5 received/);
    expect((await sendMarked(`pw-${A1}`, IP[B1], 7, marker)).code).toBe(0);
    await sleep(300);
    expect(await cap.stop()).toBe(0);
    expect(cap.stderr()).toMatch(`capturing on n1/${A1} to ${file}`);
    const total = Number(/(\d+) packets? captured on n1\//.exec(cap.stderr())?.[1]);

    const echo = decode(file, 'icmp.type == 8 || icmp.type == 0', ['frame.interface_name', 'frame.packet_flags_direction', 'ip.src', 'ip.dst', 'icmp.type', 'data.data']);
    // from the pod (read by podwire: inbound on its port) and to it (outbound)
    expect(echo.filter((r) => r[4] === '8').map((r) => r.slice(0, 4))).toEqual(Array(5).fill([`n1/${A1}`, '0x00000001', IP[A1], IP[B1]]));
    expect(echo.filter((r) => r[4] === '0').map((r) => r.slice(0, 4))).toEqual(Array(5).fill([`n1/${A1}`, '0x00000002', IP[B1], IP[A1]]));
    for (const r of echo) expect(r[5], 'ping payload carries the -p pattern').toContain(hex(marker));
    // b1 has no UDP listener: its port unreachable errors quote the datagrams (not counted as datagrams here)
    const udp = decode(file, 'udp.dstport == 9999 && !icmp', ['frame.interface_name', 'ip.src', 'ip.dst', 'data.data']);
    expect(udp.map((r) => Buffer.from(r[3], 'hex').toString())).toEqual(Array.from({ length: 7 }, (_, i) => `${marker} ${i}`));
    expect(udp.map((r) => r.slice(0, 3))).toEqual(Array(7).fill([`n1/${A1}`, IP[A1], IP[B1]]));
    // every IPv4 header in the file (those quoted in ICMP errors too)
    const ipChecksums = decode(file, 'ip', ['ip.checksum.status']).flatMap((r) => r[0].split(','));
    expect(ipChecksums.length).toBeGreaterThanOrEqual(17);
    expect(ipChecksums.filter((c) => !checksumGood(c))).toEqual([]);
    // nothing malformed, and every packet is accounted for by the count the CLI printed
    expect(decode(file, '_ws.malformed || _ws.expert.severity >= 8388608', ['frame.number'])).toEqual([]);
    expect(decode(file, 'frame', ['frame.number']).length).toBe(total);
  });

  it('the underlay capture holds them VXLAN-encapsulated on both nodes, and -c stops it by itself', async () => {
    const file = join(dir, 'underlay.pcapng');
    // each ping crosses twice (request, reply) and shows on both ends of the fabric: n1/underlay and n2/underlay
    const cap = await startCapture(['underlay', '-w', file, '--name', LAB, '-c', '12', '--duration', '20']);
    expect(cap.stderr()).toMatch('capturing on n1/underlay, n2/underlay');
    const ping = await execIn(`pw-${A1}`, ['ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', IP[B1]], { timeoutMs: 20_000 });
    expect(ping.stdout).toMatch(/3 received/);
    expect(await Promise.race([cap.exited, sleep(10_000).then(() => 'still running')])).toBe(0);
    expect(cap.stderr()).toMatch(/12 packets captured on n1\/underlay, n2\/underlay/);

    const rows = decode(file, 'vxlan && icmp', ['frame.interface_name', 'frame.packet_flags_direction', 'ip.src', 'ip.dst', 'udp.dstport', 'vxlan.vni', 'icmp.type', 'ip.checksum.status'],
      ['-d', 'udp.port==8472,vxlan']);
    const req = [`${UL.n1},${IP[A1]}`, `${UL.n2},${IP[B1]}`, '8472', '7', '8'];
    const rep = [`${UL.n2},${IP[B1]}`, `${UL.n1},${IP[A1]}`, '8472', '7', '0'];
    // n1 sends the request, n2 receives it; n2 sends the reply, n1 receives it
    expect(rows.map((r) => r.slice(0, 7))).toEqual(Array(3).fill([
      ['n1/underlay', '0x00000002', ...req], ['n2/underlay', '0x00000001', ...req],
      ['n2/underlay', '0x00000002', ...rep], ['n1/underlay', '0x00000001', ...rep],
    ]).flat());
    for (const r of rows) expect(r[7].split(',').every(checksumGood), `outer and inner IPv4 checksums: ${r[7]}`).toBe(true);
  });

  it('-w - streams pcapng that tshark reads from a pipe', async () => {
    const cap = await startCapture([B1, '-w', '-', '--name', LAB, '--duration', '4'],
      'tshark -n -r - -Y icmp -T fields -e frame.interface_name -e ip.src -e ip.dst -e icmp.type 2>/dev/null');
    let out = '';
    cap.proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
    const ping = await execIn(`pw-${A1}`, ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', IP[B1]], { timeoutMs: 20_000 });
    expect(ping.stdout).toMatch(/2 received/);
    expect(await Promise.race([cap.exited, sleep(15_000).then(() => 'still running')])).toBe(0);
    expect(out.trim().split('\n')).toEqual(Array(2).fill([
      `n2/${B1}\t${IP[A1]}\t${IP[B1]}\t8`, `n2/${B1}\t${IP[B1]}\t${IP[A1]}\t0`,
    ]).flat());
    expect(cap.stderr()).toMatch(/\d+ packets captured on n2\//);
  });

  it('an unknown target is refused, naming what can be captured, and writes no file', async () => {
    const file = join(dir, 'x.pcapng');
    const r = await podwire(['capture', 'nope', '-w', file, '--name', LAB], { timeoutMs: 20_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no pod or node "nope".*nodes: n1, n2; pods: pwcap-a1, pwcap-a2, pwcap-b1/);
    expect(existsSync(file), 'no file is left behind').toBe(false);
  });
});
