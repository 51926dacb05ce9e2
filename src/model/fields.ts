// Small readers for user-written fields: each records a problem (naming the
// field) instead of throwing, and returns a default, so a file's problems
// are all reported at once.
import { parseCidr, type Cidr } from './cidr.ts';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function str(v: unknown, dflt: string): string {
  return v === undefined ? dflt : String(v);
}
export function int(v: unknown, dflt: number, what: string, problems: string[], min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    problems.push(`${what}: ${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
    return dflt;
  }
  return v;
}
export function bool(v: unknown, dflt: boolean, what: string, problems: string[]): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') { problems.push(`${what}: expected true or false`); return dflt; }
  return v;
}
export function tryCidr(v: unknown, what: string, problems: string[]): Cidr | undefined {
  try {
    return parseCidr(v, what);
  } catch (e) {
    problems.push((e as Error).message);
    return undefined;
  }
}
export function unknownKeys(obj: Record<string, unknown>, known: string[], where: string, problems: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) problems.push(`${where}${k}: unknown key (known: ${known.join(', ')})`);
  }
}
