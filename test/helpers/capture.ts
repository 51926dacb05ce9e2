// Captures on a real interface inside a pw- namespace (the underlay bridge
// br0 of a `cluster.underlay: bridge` lab), decoded by tshark into fields.
import { spawnIn, sleep } from './lab.ts';

export interface CaptureOptions {
  /** pw- namespace to capture in, e.g. `pw-ul-<lab>` */
  ns: string;
  /** interface inside it; default br0 */
  iface?: string;
  /** capture (BPF) filter */
  filter: string;
  /** tshark field names (-e), one column each */
  fields: string[];
  /** stop after this many packets */
  count: number;
  /** tshark gives up after this long (default 15 s): a capture that never fills returns fewer rows */
  seconds?: number;
  /** -d "decode as" rules, e.g. `udp.port==8472,vxlan` (tshark only knows 4789 as VXLAN) */
  decodeAs?: string[];
  /** -o preferences, e.g. `ip.check_checksum:TRUE` */
  prefs?: string[];
}

/**
 * Run tshark in `opts.ns` and `traffic` again and again until tshark has its
 * `count` packets (or gives up). Repeating matters: tshark prints "Capturing
 * on" a moment before its socket really receives, so the first packets sent
 * right after it are sometimes missed. Resolves with one array of field
 * values per packet; a field that occurs more than once in a packet (the
 * outer and inner IP header of a VXLAN frame) is one comma-separated value.
 */
export async function capture(opts: CaptureOptions, traffic: () => Promise<unknown>): Promise<string[][]> {
  const seconds = opts.seconds ?? 15;
  const argv = ['tshark', '-n', '-i', opts.iface ?? 'br0', '-f', opts.filter, '-c', String(opts.count), '-a', `duration:${seconds}`,
    ...(opts.decodeAs ?? []).flatMap((d) => ['-d', d]),
    ...(opts.prefs ?? []).flatMap((o) => ['-o', o]),
    '-T', 'fields', ...opts.fields.flatMap((f) => ['-e', f])];
  const proc = spawnIn(opts.ns, argv);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const running = () => proc.exitCode === null && proc.signalCode === null;
  try {
    for (let t = 0; !/Capturing on/.test(err); t += 20) {
      if (t > 10_000 || !running()) throw new Error(`tshark in ${opts.ns} did not start: ${err}`);
      await sleep(20);
    }
    const end = Date.now() + seconds * 1000;
    while (running() && Date.now() < end) await traffic();
    await Promise.race([done, sleep(5_000)]);
    // not trim(): a packet's last field may be empty, and its tab is all that says so
    return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  } finally {
    if (running()) proc.kill('SIGKILL');
  }
}

/** tshark's "Good" checksum status: 1 in tshark 4.0 (PROTO_CHECKSUM_E_GOOD); other versions print a word. */
export function checksumGood(status: string): boolean {
  return status === '1' || status === 'True' || status === 'Good';
}

/** A UDP checksum of 0 (none, as RFC 7348 allows for VXLAN): tshark's status 3, "Not present". */
export function checksumAbsent(status: string): boolean {
  return status === '3' || status === 'Not present';
}
