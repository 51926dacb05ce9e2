// Address conversions between the text forms users write and the integer
// forms the data plane holds. (CIDR arithmetic lives in cidr.ts, on ip-num.)

/** "10.244.0.1" -> 0x0af40001. Throws on anything that is not a dotted quad. */
export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`not an IPv4 address: "${ip}"`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Is `s` a dotted-quad IPv4 address? */
export function isIpv4(s: string): boolean {
  try { ipv4ToInt(s); return true; } catch { return false; }
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** "aa:bb:cc:dd:ee:ff" -> the data plane's u64 form: byte 0 in the low bits. */
export function macToBigInt(mac: string): bigint {
  const bytes = parseMac(mac);
  let v = 0n;
  for (let i = 5; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

export function bigIntToMac(v: bigint): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(Number((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0'));
  return out.join(':');
}

export function parseMac(mac: string): number[] {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`not a MAC address: "${mac}"`);
  }
  return parts.map((p) => parseInt(p, 16));
}

/**
 * The MAC podwire gives an interface holding `ip`: 0a:58 followed by the four
 * address bytes, the convention ovn-kubernetes and others use, so a MAC in a
 * capture tells you the pod it belongs to.
 */
export function macForIp(ip: string): string {
  const n = ipv4ToInt(ip);
  return ['0a', '58', n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
    .map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0')))
    .join(':');
}
