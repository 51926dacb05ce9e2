// podwire capture <pod|node|underlay> -w FILE|-: what passes that point in
// the running lab, as pcapng (one named interface per port), to a file or to
// stdout for `| tshark -i -`. The lab streams pcapng blocks over its control
// socket (src/lab/capture.ts); this side splits them so it can stop on a
// block boundary after -c packets, and closing the socket turns the tap off.
import { Command, InvalidArgumentError } from 'commander';
import { openSync, createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { openControlStream } from '../lab/control.ts';
import { PcapngBlockSplitter, pcapngInterfaceName, pcapngStatsDrops, PCAPNG_EPB, PCAPNG_IDB, PCAPNG_ISB } from '../io/pcap.ts';
import { runningLab } from './lab-target.ts';

export interface CaptureOptions { name?: string; write: string; count?: number; duration?: number }

export function captureCommand(): Command {
  return new Command('capture')
    .description("write what passes a pod's eth0, a node's ports or the underlay as pcapng (Wireshark/tshark)")
    .argument('<target>', 'a pod (its eth0 port: NAME in namespace default, NAMESPACE/NAME or NAME.NAMESPACE), a node (every port), or "underlay" (every node\'s underlay port); node/NAME or pod/NAME when a pod and a node share a name')
    .requiredOption('-w, --write <file>', 'pcapng file to write; - for stdout (| tshark -i -)')
    .option('--name <lab>', 'lab name (default: the only running lab)')
    .option('-c, --count <n>', 'stop after this many packets', positiveInteger)
    .option('--duration <seconds>', 'stop after this many seconds', positiveNumber)
    .action(async (target: string, opts: CaptureOptions) => {
      const r = await capture(target, opts, (line) => console.error(line));
      if (r.error) throw new Error(r.error);
    });
}

export interface CaptureResult { packets: number; dropped: number; interfaces: string[]; error?: string }

/** Capture until -c, --duration, SIGINT/SIGTERM or the lab going away; progress lines go to `log` (stderr). */
export async function capture(target: string, opts: CaptureOptions, log: (line: string) => void): Promise<CaptureResult> {
  const state = runningLab(opts.name);
  const toStdout = opts.write === '-';
  if (toStdout && process.stdout.isTTY) throw new Error('-w -: stdout is a terminal; pipe it (| tshark -i -) or write a file');
  const sock = await openControlStream(state.socket, 'capture', { target });
  // opened once the lab accepted the target, so a refused capture leaves no empty file behind
  let out: Writable;
  try {
    out = toStdout ? process.stdout : createWriteStream('', { fd: openSync(opts.write, 'w') });
  } catch (e) {
    sock.destroy();
    throw e;
  }

  const splitter = new PcapngBlockSplitter();
  const interfaces: string[] = [];
  const drops = new Map<number, number>();
  let packets = 0;
  let announced = false;
  let error: string | undefined;
  let finish!: (why?: string) => void;
  const finished = new Promise<void>((resolve) => {
    let done = false;
    finish = (why) => {
      if (done) return;
      done = true;
      error ??= why;
      sock.destroy(); // the lab turns the tap off when it sees the close
      if (toStdout) resolve();
      else out.end(() => resolve());
    };
  });

  sock.on('data', (chunk: Buffer) => {
    let blocks;
    try {
      blocks = splitter.push(chunk);
    } catch (e) {
      finish((e as Error).message);
      return;
    }
    const keep: Uint8Array[] = [];
    let reached = false;
    for (const b of blocks) {
      if (b.type === PCAPNG_IDB) interfaces.push(pcapngInterfaceName(b.bytes));
      else if (b.type === PCAPNG_ISB) {
        const s = pcapngStatsDrops(b.bytes);
        if (s.ifDrop !== undefined) drops.set(s.ifIndex, s.ifDrop);
      }
      keep.push(b.bytes);
      if (b.type === PCAPNG_EPB && ++packets === opts.count) { reached = true; break; }
    }
    if (keep.length && !out.write(Buffer.concat(keep))) {
      sock.pause();
      out.once('drain', () => sock.resume());
    }
    if (!announced && interfaces.length) {
      announced = true;
      log(`podwire: capturing on ${interfaces.join(', ')}${toStdout ? '' : ` to ${opts.write}`}`);
    }
    if (reached) finish();
  });
  sock.on('end', () => finish(packets === 0 && !announced ? 'the lab closed the capture' : undefined));
  sock.on('close', () => finish());
  sock.on('error', (e) => finish(`capture connection: ${e.message}`));
  out.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'EPIPE' ? undefined : `writing ${opts.write}: ${e.message}`)); // EPIPE: the reader left
  const onSignal = () => finish();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  const timer = opts.duration !== undefined ? setTimeout(() => finish(), opts.duration * 1000) : undefined;

  await finished;
  if (timer) clearTimeout(timer);
  for (const s of signals) process.off(s, onSignal);
  const dropped = [...drops.values()].reduce((a, b) => a + b, 0);
  log(`podwire: ${packets} packet${packets === 1 ? '' : 's'} captured on ${interfaces.join(', ') || target}${dropped ? `, ${dropped} dropped by capture` : ''}`);
  return { packets, dropped, interfaces, ...(error ? { error } : {}) };
}

function positiveInteger(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number of seconds.');
  return n;
}
