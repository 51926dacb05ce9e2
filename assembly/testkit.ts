// A second entry point, for tests only (build/testkit.wasm): thin exported
// wrappers around every function of assembly/wire/, so a test can place bytes
// in memory and call the real header code on them. Nothing here is used by
// the data plane; index.ts never imports it.
//
// Small integer results (u8/u16) are widened to u32 on the way out so the
// caller sees exactly the value, never stray high bits. u64 MACs cross as
// BigInt. Pointers are byte offsets into the exported memory.
import * as eth from "./wire/ethernet";
import * as arp from "./wire/arp";
import * as ip from "./wire/ipv4";
import * as icmp from "./wire/icmp";
import * as udp from "./wire/udp";
import * as tcp from "./wire/tcp";
import * as vnet from "./wire/virtio";
import * as vx from "./wire/vxlan";
import * as cs from "./wire/checksum";

// ---- scratch: 64 KiB for test bytes, after the static data ----
// (Not memory.data: the shared options start at one page of memory. The
// region is carved at start-up instead; nothing here allocates, so the stub
// runtime never hands it out. Memory never grows after this.)
const SCRATCH_LEN: u32 = 65536;
const SCRATCH: usize = (__heap_base + 15) & ~<usize>15;
const needPages = <i32>((SCRATCH + <usize>SCRATCH_LEN + 0xffff) >> 16);
if (needPages > memory.size()) memory.grow(needPages - memory.size());
export function scratch(): usize { return SCRATCH; }
export function scratchLen(): u32 { return SCRATCH_LEN; }

// ---- checksum ----
export function sum16(p: usize, len: u32): u32 { return cs.sum16(p, len); }
export function fold16(s: u32): u32 { return cs.fold16(s); }
export function checksum(p: usize, len: u32, initial: u32): u32 { return <u32>cs.checksum(p, len, initial); }
export function csumUpdate16(hc: u16, oldv: u16, newv: u16): u32 { return <u32>cs.csumUpdate16(hc, oldv, newv); }
export function csumUpdate32(hc: u16, oldv: u32, newv: u32): u32 { return <u32>cs.csumUpdate32(hc, oldv, newv); }
export function be16(p: usize): u32 { return <u32>cs.be16(p); }
export function be32(p: usize): u32 { return cs.be32(p); }
export function setBe16(p: usize, v: u16): void { cs.setBe16(p, v); }
export function setBe32(p: usize, v: u32): void { cs.setBe32(p, v); }

// ---- ethernet ----
export function ethHeaderLen(p: usize, len: u32): u32 { return eth.ethHeaderLen(p, len); }
export function ethPayloadType(p: usize, hlen: u32): u32 { return <u32>eth.ethPayloadType(p, hlen); }
export function ethVlanId(p: usize, hlen: u32): u32 { return <u32>eth.ethVlanId(p, hlen); }
export function ethEmit(p: usize, dst: u64, src: u64, type: u16): void { eth.ethEmit(p, dst, src, type); }
export function loadMac(p: usize): u64 { return eth.loadMac(p); }
export function storeMac(p: usize, mac: u64): void { eth.storeMac(p, mac); }
export function isGroupMac(mac: u64): bool { return eth.isGroupMac(mac); }
export function ethDst(p: usize): u64 { return eth.ethDst(p); }
export function ethSrc(p: usize): u64 { return eth.ethSrc(p); }
export function ethType(p: usize): u32 { return <u32>eth.ethType(p); }
export function setEthDst(p: usize, mac: u64): void { eth.setEthDst(p, mac); }
export function setEthSrc(p: usize, mac: u64): void { eth.setEthSrc(p, mac); }
export function setEthType(p: usize, t: u16): void { eth.setEthType(p, t); }

// ---- arp ----
export function arpCheck(p: usize, len: u32): bool { return arp.arpCheck(p, len); }
export function arpOp(p: usize): u32 { return <u32>arp.arpOp(p); }
export function arpSha(p: usize): u64 { return arp.arpSha(p); }
export function arpSpa(p: usize): u32 { return arp.arpSpa(p); }
export function arpTha(p: usize): u64 { return arp.arpTha(p); }
export function arpTpa(p: usize): u32 { return arp.arpTpa(p); }
export function arpEmit(p: usize, op: u16, sha: u64, spa: u32, tha: u64, tpa: u32): void { arp.arpEmit(p, op, sha, spa, tha, tpa); }

// ---- ipv4 ----
export function ipv4Check(p: usize, len: u32): u32 { return ip.ipv4Check(p, len); }
export function ipv4Version(p: usize): u32 { return ip.ipv4Version(p); }
export function ipv4HeaderLen(p: usize): u32 { return ip.ipv4HeaderLen(p); }
export function ipv4TotalLen(p: usize): u32 { return ip.ipv4TotalLen(p); }
export function ipv4Ident(p: usize): u32 { return <u32>ip.ipv4Ident(p); }
export function ipv4FlagsFrag(p: usize): u32 { return <u32>ip.ipv4FlagsFrag(p); }
export function ipv4Ttl(p: usize): u32 { return <u32>ip.ipv4Ttl(p); }
export function ipv4Proto(p: usize): u32 { return <u32>ip.ipv4Proto(p); }
export function ipv4Checksum(p: usize): u32 { return <u32>ip.ipv4Checksum(p); }
export function ipv4Src(p: usize): u32 { return ip.ipv4Src(p); }
export function ipv4Dst(p: usize): u32 { return ip.ipv4Dst(p); }
export function setIpv4Src(p: usize, a: u32): void { ip.setIpv4Src(p, a); }
export function setIpv4Dst(p: usize, a: u32): void { ip.setIpv4Dst(p, a); }
export function setIpv4Checksum(p: usize, c: u16): void { ip.setIpv4Checksum(p, c); }
export function ipv4FillChecksum(p: usize): void { ip.ipv4FillChecksum(p); }
export function ipv4DecTtl(p: usize): u32 { return <u32>ip.ipv4DecTtl(p); }
export function ipv4Emit(p: usize, totalLen: u32, ident: u16, flagsFrag: u16, ttl: u8, proto: u8, src: u32, dst: u32): void {
  ip.ipv4Emit(p, totalLen, ident, flagsFrag, ttl, proto, src, dst);
}
export function ipv4PseudoSum(src: u32, dst: u32, proto: u8, l4len: u32): u32 { return ip.ipv4PseudoSum(src, dst, proto, l4len); }

// ---- icmp ----
export function icmpCheckLen(len: u32): bool { return icmp.icmpCheckLen(len); }
export function icmpType(p: usize): u32 { return <u32>icmp.icmpType(p); }
export function icmpCode(p: usize): u32 { return <u32>icmp.icmpCode(p); }
export function icmpChecksum(p: usize): u32 { return <u32>icmp.icmpChecksum(p); }
export function icmpIdent(p: usize): u32 { return <u32>icmp.icmpIdent(p); }
export function icmpSeq(p: usize): u32 { return <u32>icmp.icmpSeq(p); }
export function icmpChecksumOk(p: usize, len: u32): bool { return icmp.icmpChecksumOk(p, len); }
export function icmpEchoToReply(p: usize, len: u32): void { icmp.icmpEchoToReply(p, len); }
export function icmpEmitError(p: usize, type: u8, code: u8, rest: u32): void { icmp.icmpEmitError(p, type, code, rest); }
export function icmpFillChecksum(p: usize, len: u32): void { icmp.icmpFillChecksum(p, len); }

// ---- udp ----
export function udpCheck(p: usize, len: u32): bool { return udp.udpCheck(p, len); }
export function udpSrcPort(p: usize): u32 { return <u32>udp.udpSrcPort(p); }
export function udpDstPort(p: usize): u32 { return <u32>udp.udpDstPort(p); }
export function udpLength(p: usize): u32 { return <u32>udp.udpLength(p); }
export function udpChecksum(p: usize): u32 { return <u32>udp.udpChecksum(p); }
export function setUdpSrcPort(p: usize, v: u16): void { udp.setUdpSrcPort(p, v); }
export function setUdpDstPort(p: usize, v: u16): void { udp.setUdpDstPort(p, v); }
export function setUdpChecksum(p: usize, v: u16): void { udp.setUdpChecksum(p, v); }
export function udpEmit(p: usize, sport: u16, dport: u16, length: u32): void { udp.udpEmit(p, sport, dport, length); }
export function udpFillChecksum(p: usize, src: u32, dst: u32): void { udp.udpFillChecksum(p, src, dst); }

// ---- tcp ----
export function tcpHeaderLen(p: usize, len: u32): u32 { return tcp.tcpHeaderLen(p, len); }
export function tcpSrcPort(p: usize): u32 { return <u32>tcp.tcpSrcPort(p); }
export function tcpDstPort(p: usize): u32 { return <u32>tcp.tcpDstPort(p); }
export function tcpSeq(p: usize): u32 { return tcp.tcpSeq(p); }
export function tcpAck(p: usize): u32 { return tcp.tcpAck(p); }
export function tcpFlags(p: usize): u32 { return <u32>tcp.tcpFlags(p); }
export function tcpWindow(p: usize): u32 { return <u32>tcp.tcpWindow(p); }
export function tcpChecksum(p: usize): u32 { return <u32>tcp.tcpChecksum(p); }
export function setTcpSrcPort(p: usize, v: u16): void { tcp.setTcpSrcPort(p, v); }
export function setTcpDstPort(p: usize, v: u16): void { tcp.setTcpDstPort(p, v); }
export function setTcpChecksum(p: usize, v: u16): void { tcp.setTcpChecksum(p, v); }
export function setTcpSeq(p: usize, v: u32): void { tcp.setTcpSeq(p, v); }
export function setTcpFlags(p: usize, v: u8): void { tcp.setTcpFlags(p, v); }
export function tcpFillChecksum(p: usize, len: u32, src: u32, dst: u32): void { tcp.tcpFillChecksum(p, len, src, dst); }

// ---- virtio-net header ----
export function vnetFlags(h: usize): u32 { return <u32>vnet.vnetFlags(h); }
export function vnetGsoType(h: usize): u32 { return <u32>vnet.vnetGsoType(h); }
export function vnetHdrLen(h: usize): u32 { return <u32>vnet.vnetHdrLen(h); }
export function vnetGsoSize(h: usize): u32 { return <u32>vnet.vnetGsoSize(h); }
export function vnetCsumStart(h: usize): u32 { return <u32>vnet.vnetCsumStart(h); }
export function vnetCsumOffset(h: usize): u32 { return <u32>vnet.vnetCsumOffset(h); }
export function vnetClear(h: usize): void { vnet.vnetClear(h); }
export function vnetEmit(h: usize, flags: u8, gsoType: u8, hdrLen: u16, gsoSize: u16, csumStart: u16, csumOffset: u16): void {
  vnet.vnetEmit(h, flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset);
}
export function vnetCheck(h: usize, frameLen: u32): bool { return vnet.vnetCheck(h, frameLen); }
export function vnetFinishChecksum(h: usize, frame: usize, frameLen: u32): void { vnet.vnetFinishChecksum(h, frame, frameLen); }

// ---- vxlan ----
export function vxlanCheck(p: usize, len: u32): bool { return vx.vxlanCheck(p, len); }
export function vxlanFlags(p: usize): u32 { return <u32>vx.vxlanFlags(p); }
export function vxlanVni(p: usize): u32 { return vx.vxlanVni(p); }
export function vxlanEmit(p: usize, vni: u32): void { vx.vxlanEmit(p, vni); }

// ---- constants the tests compare against (read from the modules, not retyped) ----
export function IPV4_OK(): u32 { return ip.IPV4_OK; }
export function IPV4_TRUNCATED(): u32 { return ip.IPV4_TRUNCATED; }
export function IPV4_BAD_VERSION(): u32 { return ip.IPV4_BAD_VERSION; }
export function IPV4_BAD_IHL(): u32 { return ip.IPV4_BAD_IHL; }
export function IPV4_BAD_TOTAL_LEN(): u32 { return ip.IPV4_BAD_TOTAL_LEN; }
export function IPV4_BAD_CHECKSUM(): u32 { return ip.IPV4_BAD_CHECKSUM; }
export function IPPROTO_IPIP(): u32 { return <u32>ip.IPPROTO_IPIP; }
export function IPPROTO_UDP(): u32 { return <u32>ip.IPPROTO_UDP; }
export function VXLAN_HLEN(): u32 { return vx.VXLAN_HLEN; }
export function VXLAN_FLAG_I(): u32 { return <u32>vx.VXLAN_FLAG_I; }
export function VXLAN_PORT_IANA(): u32 { return <u32>vx.VXLAN_PORT_IANA; }
export function VXLAN_PORT_FLANNEL(): u32 { return <u32>vx.VXLAN_PORT_FLANNEL; }
export function VXLAN_OVERHEAD(): u32 { return vx.VXLAN_OVERHEAD; }
