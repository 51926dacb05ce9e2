// Synthetic frames for the in-memory benchmarks: Ethernet + IPv4 + UDP with
// a valid IPv4 header checksum (the data plane checks it, as the kernel does).
export function udpFrame(size: number, src: number[], dst: number[], srcIp = 0x0af40002, dstIp = 0x0af40003): Uint8Array {
  if (size < 14 + 20 + 8) throw new Error(`frame size ${size} too small for Ethernet/IPv4/UDP`);
  const f = new Uint8Array(size);
  const v = new DataView(f.buffer);
  f.set(dst, 0);
  f.set(src, 6);
  v.setUint16(12, 0x0800);
  const ipLen = size - 14;
  f[14] = 0x45;
  v.setUint16(16, ipLen);
  v.setUint16(20, 0x4000); // DF
  f[22] = 64;
  f[23] = 17;
  v.setUint32(26, srcIp);
  v.setUint32(30, dstIp);
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += v.getUint16(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  v.setUint16(24, ~s & 0xffff);
  v.setUint16(34, 40000);
  v.setUint16(36, 5201);
  v.setUint16(38, ipLen - 20);
  return f;
}

export function mac(i: number): number[] {
  return [0x0a, 0x58, 0x0a, 0xf4, 0x00, 2 + i];
}
