// Link impairment (`netem:` on a pod, `podwire netem set`): delay, jitter,
// loss, rate, duplicate, corrupt, written with the units `tc qdisc ... netem`
// accepts (tc-netem(8): times in s/ms/us, percentages with %, rates in
// bit/kbit/mbit/gbit/tbit or bytes per second as bps/kbps/mbps/gbps/tbps).
// Read strictly: an unknown key, a missing unit or a value out of range is a
// problem naming the field. The impairment itself is applied by the data
// plane worker (src/dataplane/impairment.ts).
import { isObject } from './fields.ts';

/** What `netem:` decides, in plain numbers. A field left out is no impairment of that kind. */
export interface NetemSpec {
  /** added to every frame, ms */
  delayMs?: number;
  /** delay varies uniformly in [delay - jitter, delay + jitter], ms; needs delay */
  jitterMs?: number;
  /** frames dropped, percent */
  lossPercent?: number;
  /** link rate, bits per second: frames leave no faster than this */
  rateBitsPerSecond?: number;
  /** frames sent twice, percent */
  duplicatePercent?: number;
  /** frames with one bit flipped, percent */
  corruptPercent?: number;
}

export const NETEM_KEYS = ['delay', 'jitter', 'loss', 'rate', 'duplicate', 'corrupt'] as const;
export type NetemKey = (typeof NETEM_KEYS)[number];

/** The longest delay or jitter taken (tc's own limit is about 4294 s; a minute is plenty for a lab). */
export const MAX_DELAY_MS = 60_000;
/** The slowest and fastest rates taken: 8 bit/s (one byte a second) .. 1 Tbit/s. */
const MIN_RATE = 8;
const MAX_RATE = 1e12;

const TIME_UNITS: Record<string, number> = {
  s: 1000, sec: 1000, secs: 1000, ms: 1, msec: 1, msecs: 1, us: 0.001, usec: 0.001, usecs: 0.001,
};
// tc(8) "RATES": bit forms are bits per second, bps forms bytes per second (SI multiples, as tc reads them)
const RATE_UNITS: Record<string, number> = {
  bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12,
  bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9, tbps: 8e12,
};

/**
 * Read `raw` (a `netem:` mapping) as written in document `where` (e.g.
 * "node n1 pods[0].netem"). Problems are recorded with the field named;
 * undefined when there is none to apply.
 */
export function parseNetem(raw: unknown, where: string, problems: string[]): NetemSpec | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) { problems.push(`${where}: expected a mapping like { delay: 20ms, jitter: 5ms, loss: 1%, rate: 100mbit, duplicate: 0.5%, corrupt: 0.1% }`); return undefined; }
  const before = problems.length;
  for (const k of Object.keys(raw)) {
    if (!(NETEM_KEYS as readonly string[]).includes(k)) problems.push(`${where}.${k}: unknown key (known: ${NETEM_KEYS.join(', ')})`);
  }
  const spec: NetemSpec = {};
  const delay = timeMs(raw.delay, `${where}.delay`, problems);
  const jitter = timeMs(raw.jitter, `${where}.jitter`, problems);
  if (delay !== undefined) spec.delayMs = delay;
  if (jitter !== undefined) {
    if (delay === undefined && raw.delay === undefined) problems.push(`${where}.jitter: needs a delay (jitter varies the delay around it, as in tc netem)`);
    else if (delay !== undefined && jitter > delay) problems.push(`${where}.jitter: ${fmtMs(jitter)} is more than the delay ${fmtMs(delay)} (a frame cannot leave before it arrived)`);
    spec.jitterMs = jitter;
  }
  const pct = (k: 'loss' | 'duplicate' | 'corrupt') => percent(raw[k], `${where}.${k}`, problems);
  const loss = pct('loss'), duplicate = pct('duplicate'), corrupt = pct('corrupt');
  if (loss !== undefined) spec.lossPercent = loss;
  if (duplicate !== undefined) spec.duplicatePercent = duplicate;
  if (corrupt !== undefined) spec.corruptPercent = corrupt;
  const rate = bitRate(raw.rate, `${where}.rate`, problems);
  if (rate !== undefined) spec.rateBitsPerSecond = rate;
  if (problems.length > before) return undefined;
  return isNoImpairment(spec) ? undefined : spec;
}

/** True when `spec` changes nothing (every field absent or zero). */
export function isNoImpairment(spec: NetemSpec): boolean {
  return !spec.delayMs && !spec.lossPercent && !spec.rateBitsPerSecond && !spec.duplicatePercent && !spec.corruptPercent;
}

/** The spec as tc would print it: "delay 20ms 5ms loss 1% rate 100mbit ...". */
export function formatNetem(spec: NetemSpec): string {
  const parts: string[] = [];
  if (spec.delayMs !== undefined) parts.push(`delay ${fmtMs(spec.delayMs)}${spec.jitterMs ? ` ${fmtMs(spec.jitterMs)}` : ''}`);
  if (spec.lossPercent !== undefined) parts.push(`loss ${spec.lossPercent}%`);
  if (spec.rateBitsPerSecond !== undefined) parts.push(`rate ${fmtRate(spec.rateBitsPerSecond)}`);
  if (spec.duplicatePercent !== undefined) parts.push(`duplicate ${spec.duplicatePercent}%`);
  if (spec.corruptPercent !== undefined) parts.push(`corrupt ${spec.corruptPercent}%`);
  return parts.join(' ') || 'none';
}

function fmtMs(ms: number): string {
  return ms >= 1 || ms === 0 ? `${+ms.toFixed(3)}ms` : `${+(ms * 1000).toFixed(3)}us`;
}

function fmtRate(bits: number): string {
  for (const [unit, f] of [['tbit', 1e12], ['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) {
    if (bits >= f) return `${+(bits / f).toFixed(3)}${unit}`;
  }
  return `${bits}bit`;
}

/** "20ms", "1.5s", "250us". A bare number has no unit and is refused: tc would read it as microseconds, a YAML reader as anything. */
function timeMs(v: unknown, what: string, problems: string[]): number | undefined {
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(v.trim()) : null;
  const unit = m ? TIME_UNITS[m[2]] : undefined;
  if (!m || unit === undefined) {
    problems.push(`${what}: ${JSON.stringify(v)} is not a time (a number and a unit: ${Object.keys(TIME_UNITS).join(', ')}; e.g. 20ms)`);
    return undefined;
  }
  const ms = Number(m[1]) * unit;
  if (ms > MAX_DELAY_MS) { problems.push(`${what}: ${v} is more than ${MAX_DELAY_MS / 1000}s`); return undefined; }
  return ms;
}

/** "1%", "0.5%" (or a number: percent, as tc reads "1"). */
function percent(v: unknown, what: string, problems: string[]): number | undefined {
  if (v === undefined) return undefined;
  const m = typeof v === 'number' ? [String(v), String(v)] : typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*%$/.exec(v.trim()) : null;
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isFinite(n) || n < 0 || n > 100) {
    problems.push(`${what}: ${JSON.stringify(v)} is not a percentage in [0%, 100%] (e.g. 1% or 0.5%)`);
    return undefined;
  }
  return n;
}

/** "100mbit", "1gbit", "500kbps" (bytes), as tc reads rates. */
function bitRate(v: unknown, what: string, problems: string[]): number | undefined {
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(v.trim().toLowerCase()) : null;
  const unit = m ? RATE_UNITS[m[2]] : undefined;
  if (!m || unit === undefined) {
    problems.push(`${what}: ${JSON.stringify(v)} is not a rate (a number and a unit: ${Object.keys(RATE_UNITS).join(', ')}; bps forms are bytes per second, as in tc; e.g. 100mbit)`);
    return undefined;
  }
  const bits = Number(m[1]) * unit;
  if (bits < MIN_RATE || bits > MAX_RATE) { problems.push(`${what}: ${v} is outside [1bps, 1tbit]`); return undefined; }
  return bits;
}
