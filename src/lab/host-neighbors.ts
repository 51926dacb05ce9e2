// The MAC each peer node's frames go to when a `--node` host's underlay is a
// TAP (host-tap-underlay.ts): its next hop's, as the host's own neighbour
// table has it. The data plane writes outer Ethernet headers itself there, so
// it needs them; the host kernel is the one that resolves them (ARP).
//
// Traffic through the TAP bypasses the host's IP stack, so nothing else would
// make the kernel resolve a next hop it has no entry for, or confirm one gone
// stale (a peer whose MAC changed): a one-byte UDP datagram to the peer's
// discard port (9) does, as the host's own traffic would. Entries are read
// with `ip -j neigh` at start and every few seconds after; a change is handed
// to the data plane (a peer whose MAC is unknown has no neighbour entry there,
// and its frames are dropped and counted, not sent to a wrong MAC).
import { createSocket } from 'node:dgram';
import { run } from '../io/netns.ts';

interface NeighShow { dst?: string; lladdr?: string; state?: string[] }

/** how soon a peer without a MAC is looked at again, at first (then twice as late each time, up to the watch's period) */
const RETRY_MS = 250;

/** States whose lladdr is not to be used (the kernel is still asking, or gave up). */
const UNUSABLE = new Set(['INCOMPLETE', 'FAILED', 'NONE', 'NOARP']);

export interface Neighbor { mac: string; /** not confirmed lately: the kernel checks it again only when it sends */ stale: boolean }

/** The MACs of `dev`'s neighbours the kernel has resolved, by address. */
export function parseNeighbors(json: string): Map<string, Neighbor> {
  const out = new Map<string, Neighbor>();
  for (const e of JSON.parse(json || '[]') as NeighShow[]) {
    if (!e.dst || !e.lladdr) continue;
    const states = e.state ?? [];
    if (states.some((s) => UNUSABLE.has(s))) continue;
    out.set(e.dst, { mac: e.lladdr.toLowerCase(), stale: states.includes('STALE') });
  }
  return out;
}

async function readNeighbors(dev: string): Promise<Map<string, Neighbor>> {
  return parseNeighbors((await run('ip', ['-j', '-4', 'neigh', 'show', 'dev', dev])).stdout);
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
    if (this.uplinkMac === undefined) return undefined;
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
      const table = await readNeighbors(this.dev);
      const missing: string[] = [];
      const stale: string[] = [];
      for (const [peer, hop] of this.nextHops) {
        const e = table.get(hop);
        const mac = e?.mac;
        if (mac === undefined) missing.push(peer);
        else if (e!.stale) stale.push(peer);
        if (mac !== this.known.get(peer)) {
          changed.set(peer, mac);
          if (mac === undefined) this.known.delete(peer); else this.known.set(peer, mac);
        }
      }
      if (round === 0) await Promise.all([...missing, ...stale].map((p) => nudge(p, this.localIp)));
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
