// The MAC each peer node's frames go to when a `--node` host's underlay is a
// TAP (host-tap-underlay.ts): its next hop's, as the host's own neighbour
// table has it. The data plane writes outer Ethernet headers itself there, so
// it needs them; the host kernel is the one that resolves them (ARP).
//
// Traffic through the TAP bypasses the host's IP stack, so nothing else would
// make the kernel resolve a next hop it has no entry for, or check one again
// (a peer whose MAC changed): a one-byte UDP datagram to the peer's discard
// port (9) does, as the host's own traffic would — for a missing entry at
// once, for every peer every NUDGE_ALL_MS. Entries are read from
// /proc/net/arp (this namespace's table, no process to fork: `ip` every 5 s
// took an idle lab from 0.3 to 0.9 % of a core) at start and every few seconds after; a
// change is handed to the data plane (a peer whose MAC is unknown has no
// neighbour entry there, and its frames are dropped and counted, not sent to
// a wrong MAC).
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { run } from '../io/netns.ts';

/** how soon a peer without a MAC is looked at again, at first (then twice as late each time, up to the watch's period) */
const RETRY_MS = 250;
/** how often every peer is nudged, so the kernel confirms its entry (and finds a changed MAC) */
const NUDGE_ALL_MS = 30_000;
/** how often the uplink's own MAC is looked at (with `ip`: a process each time) */
const UPLINK_CHECK_MS = 60_000;
/** ATF_COM in /proc/net/arp's flags: the entry is resolved */
const ATF_COM = 0x2;

/** The resolved entries of `dev` in /proc/net/arp's text, MACs by address. */
export function parseArp(text: string, dev: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [ip, , flags, mac, , device] = line.trim().split(/\s+/);
    if (device !== dev || !mac || (Number(flags) & ATF_COM) === 0 || mac === '00:00:00:00:00:00') continue;
    out.set(ip, mac.toLowerCase());
  }
  return out;
}

function readNeighbors(dev: string): Map<string, string> {
  return parseArp(readFileSync('/proc/net/arp', 'utf8'), dev);
}

/** Make the kernel resolve the way to `peer` (it sends an ARP request for the next hop). */
function nudge(peer: string, localIp: string): Promise<void> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const done = () => { try { s.close(); } catch { /* closed */ } resolve(); };
    s.on('error', done);
    s.bind({ address: localIp, port: 0 }, () => s.send(Buffer.of(0), 9, peer, done));
  });
}

export class HostNeighbors {
  /** peer underlay address -> its next hop's MAC, as last handed to the data plane */
  private readonly known = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  /** the uplink's MAC last seen (the data plane's underlay frames carry the one it had at start) */
  private uplinkMac: string | undefined;
  private uplinkCheckedAt = Date.now();
  private nudgedAllAt = Date.now();

  constructor(
    private readonly dev: string,
    private readonly localIp: string,
    /** peer underlay address -> next hop on `dev` */
    private readonly nextHops: Map<string, string>,
    uplinkMac?: string,
  ) {
    this.uplinkMac = uplinkMac;
  }

  /**
   * The uplink's MAC changed since the last look: the new one, once. The
   * data plane keeps the MAC it started with (frames to the new one are not
   * its own any more): the lab has to be restarted, and the watch says so.
   */
  private async uplinkMacChanged(): Promise<string | undefined> {
    if (this.uplinkMac === undefined || Date.now() - this.uplinkCheckedAt < UPLINK_CHECK_MS) return undefined;
    this.uplinkCheckedAt = Date.now();
    const [l] = JSON.parse((await run('ip', ['-j', 'link', 'show', 'dev', this.dev])).stdout) as { address?: string }[];
    const now = l?.address?.toLowerCase();
    if (!now || now === this.uplinkMac) return undefined;
    this.uplinkMac = now;
    return now;
  }

  /** The peers' MACs known now (peers not in it are unresolved). */
  get macs(): ReadonlyMap<string, string> {
    return this.known;
  }

  /**
   * Read the neighbour table, nudging the kernel for next hops it lacks; with
   * `waitMs`, keep at it that long until every peer is resolved. Returns the
   * peers whose MAC changed (undefined: no longer known).
   */
  async refresh(waitMs = 0): Promise<Map<string, string | undefined>> {
    const changed = new Map<string, string | undefined>();
    const until = Date.now() + waitMs;
    for (let round = 0; ; round++) {
      const table = readNeighbors(this.dev);
      const missing: string[] = [];
      for (const [peer, hop] of this.nextHops) {
        const mac = table.get(hop);
        if (mac === undefined) missing.push(peer);
        if (mac !== this.known.get(peer)) {
          changed.set(peer, mac);
          if (mac === undefined) this.known.delete(peer); else this.known.set(peer, mac);
        }
      }
      const all = round === 0 && Date.now() - this.nudgedAllAt >= NUDGE_ALL_MS;
      if (all) this.nudgedAllAt = Date.now();
      if (round === 0) await Promise.all((all ? [...this.nextHops.keys()] : missing).map((p) => nudge(p, this.localIp)));
      if (missing.length === 0 || Date.now() >= until) return changed;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Every `everyMs`, refresh and hand changes to `apply`. While a peer is
   * unresolved, sooner: RETRY_MS, doubling up to `everyMs` (the kernel answers
   * a nudge within milliseconds when the peer is there; a host that is not
   * up yet is not asked four times a second for ever).
   */
  watch(everyMs: number, apply: (changed: Map<string, string | undefined>) => Promise<void>, log: (line: string) => void): void {
    let retry = RETRY_MS;
    const tick = async () => {
      try {
        const changed = await this.refresh();
        if (changed.size) await apply(changed);
        const mac = await this.uplinkMacChanged();
        if (mac) log(`podwire: ${this.dev}'s MAC is now ${mac}: this node's underlay frames still carry the one it had at start, and frames to the new one are dropped; restart the lab (podwire down, up)`);
      } catch (e) {
        log(`podwire: underlay neighbours on ${this.dev}: ${(e as Error).message}`);
      }
      const unresolved = this.known.size < this.nextHops.size;
      const next = unresolved ? retry : everyMs;
      retry = unresolved ? Math.min(retry * 2, everyMs) : RETRY_MS;
      if (this.timer) this.timer = setTimeout(() => void tick(), next).unref();
    };
    this.timer = setTimeout(() => void tick(), everyMs).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
