#!/usr/bin/env python3
"""Build podwire's wire test vectors with scapy, so the bytes (and the field
values the tests compare against) come from a tool nobody here wrote.

    /usr/bin/python3 test/vectors/make_vectors.py           # print TS to stdout
    /usr/bin/python3 test/vectors/make_vectors.py --write   # (re)write test/vectors/*.ts

Each vector is a hex string split per header with a comment naming the layer,
plus the fields scapy reads back when it dissects those same bytes.
The virtio-net header has no scapy layer: it is struct-packed here from the
virtio spec (5.1.6, little-endian), around scapy-built frames.
"""
import os
import random
import struct
import sys
import zlib

import scapy
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Dot1AD, Ether, IPOption_Router_Alert,
                       Raw, Padding, raw, checksum)
from scapy.layers.vxlan import VXLAN

VERSION = scapy.VERSION
HERE = os.path.dirname(os.path.abspath(__file__))

POD_A_MAC, POD_A_IP = "0a:58:0a:f4:00:02", "10.244.0.2"
POD_B_MAC, POD_B_IP = "0a:58:0a:f4:00:03", "10.244.0.3"
GW_MAC, GW_IP = "0a:58:0a:f4:00:01", "10.244.0.1"
BCAST = "ff:ff:ff:ff:ff:ff"

# The overlay vectors (vxlan.ts, ipip.ts): two nodes on one underlay segment,
# pod A (10.244.0.2, on node 1) talking to a pod on node 2 (10.244.1.2).
NODE1_MAC, NODE1_IP = "52:54:00:0a:00:0b", "192.168.56.11"
NODE2_MAC, NODE2_IP = "52:54:00:0a:00:0c", "192.168.56.12"
VTEP1_MAC, VTEP2_MAC = "ae:f1:1a:00:00:01", "ae:f1:1a:00:00:02"  # flannel.1 on node 1 / node 2
POD_N2_IP = "10.244.1.2"


# ---- formatting ------------------------------------------------------------

def layer_chunks(pkt):
    """[(layer name, bytes)] for each header of `pkt`, payload last."""
    out = []
    layer = pkt
    while layer is not None and not isinstance(layer, scapy.packet.NoPayload):
        if isinstance(layer, (Raw, Padding)):
            out.append((type(layer).__name__.lower(), raw(layer)))
            layer = layer.payload
            continue
        whole = raw(layer)
        rest = raw(layer.payload) if not isinstance(layer.payload, scapy.packet.NoPayload) else b""
        out.append((layer.name, whole[: len(whole) - len(rest)]))
        layer = layer.payload
    return out


def hex_lines(chunks, indent="    "):
    lines = []
    for i, (name, b) in enumerate(chunks):
        h = b.hex()
        # long payloads: 32 bytes a line
        parts = [h[j:j + 64] for j in range(0, len(h), 64)] or [""]
        for k, part in enumerate(parts):
            last = i == len(chunks) - 1 and k == len(parts) - 1
            sep = "," if last else " +"
            comment = f" // {name} ({len(b)} bytes)" if k == 0 else ""
            lines.append(f"{indent}'{part}'{sep}{comment}")
    return "\n".join(lines)


def ts_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return hex(v) if v > 9 else str(v)
    if isinstance(v, (bytes, bytearray)):
        return f"'{bytes(v).hex()}'"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {ts_value(x)}" for k, x in v.items()) + " }"
    return f"'{v}'"


def vector(name, doc, pkt_or_bytes, fields=None, chunks=None):
    if chunks is None:
        chunks = layer_chunks(pkt_or_bytes)
    total = sum(len(b) for _, b in chunks)
    lines = [f"/** {doc} ({total} bytes) */", f"export const {name} = {{", "  hex:"]
    lines.append(hex_lines(chunks))
    for k, v in (fields or {}).items():
        lines.append(f"  {k}: {ts_value(v)},")
    lines.append("} as const;")
    return "\n".join(lines)


# ---- field extraction: what scapy reads back from the raw bytes -------------

def eth_fields(e):
    return {"dst": e.dst, "src": e.src, "type": e.type}


def dot1q_fields(d):
    return {"prio": d.prio, "dei": d.id, "vlan": d.vlan, "type": d.type}


def arp_fields(a):
    return {"hwtype": a.hwtype, "ptype": a.ptype, "hwlen": a.hwlen, "plen": a.plen, "op": a.op,
            "hwsrc": a.hwsrc, "psrc": a.psrc, "hwdst": a.hwdst, "pdst": a.pdst}


def ip_fields(i):
    return {"version": i.version, "ihl": i.ihl, "tos": i.tos, "len": i.len, "id": i.id,
            "flags": int(i.flags), "frag": i.frag, "ttl": i.ttl, "proto": i.proto,
            "chksum": i.chksum, "src": i.src, "dst": i.dst}


def icmp_fields(c):
    f = {"type": c.type, "code": c.code, "chksum": c.chksum}
    if c.type in (0, 8):
        f.update({"id": c.id, "seq": c.seq})
    else:
        # bytes 4..7, "rest of header": unused, or (RFC 1191) 16 unused bits + next-hop MTU
        f["rest"] = int.from_bytes(raw(c)[4:8], "big")
        if c.type == 3 and c.code == 4:
            f["nexthopmtu"] = c.nexthopmtu
    return f


def udp_fields(u):
    return {"sport": u.sport, "dport": u.dport, "len": u.len, "chksum": u.chksum}


def tcp_fields(t):
    return {"sport": t.sport, "dport": t.dport, "seq": t.seq, "ack": t.ack, "dataofs": t.dataofs,
            "flags": int(t.flags), "window": t.window, "chksum": t.chksum, "urgptr": t.urgptr}


def vxlan_fields(v):
    return {"flags": int(v.flags), "reserved1": v.reserved1, "vni": v.vni, "reserved2": v.reserved2}


def offsets(pkt, **layers):
    """Byte offset of each named layer inside `pkt`: where scapy's layers start."""
    n = len(raw(pkt))
    return {k: n - len(raw(l)) for k, l in layers.items()}


def dissect(b):
    """Parse bytes back with scapy: the fields come from scapy's dissector, not from what we asked for."""
    return Ether(b)


def vnet_hdr(flags=0, gso_type=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


HEADER = (f"// generated by scapy {VERSION} via test/vectors/make_vectors.py -- do not edit by hand;\n"
          f"// rerun `/usr/bin/python3 test/vectors/make_vectors.py --write` instead.\n"
          f"// Addresses: pod A {POD_A_MAC} {POD_A_IP}, pod B {POD_B_MAC} {POD_B_IP},\n"
          f"// gateway {GW_MAC} {GW_IP}.\n")


def family_ethernet():
    out = []
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=POD_B_IP, id=1) /
                    UDP(sport=1000, dport=2000) / b"hi"))
    out.append(vector("ETH_UNTAGGED", "Ether/IPv4/UDP pod A -> pod B, untagged", p,
                      {"eth": eth_fields(p)}))
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) / Dot1Q(prio=5, vlan=100) /
                    IP(src=POD_A_IP, dst=POD_B_IP, id=2) / ICMP(type=8, id=7, seq=3) / b"vlan!"))
    out.append(vector("ETH_DOT1Q", "Ether/802.1Q(prio 5, vlan 100)/IPv4/ICMP echo request", p,
                      {"eth": eth_fields(p), "dot1q": dot1q_fields(p[Dot1Q])}))
    p = dissect(raw(Ether(dst=BCAST, src=POD_A_MAC) / Dot1AD(prio=0, vlan=0xffe) /
                    ARP(op=1, hwsrc=POD_A_MAC, psrc=POD_A_IP, pdst=POD_B_IP)))
    out.append(vector("ETH_QINQ", "Ether(type 802.1ad)/S-tag(vlan 4094)/ARP request", p,
                      {"eth": eth_fields(p), "dot1q": dot1q_fields(p[Dot1AD])}))
    p = dissect(raw(Ether(dst="01:00:5e:00:00:fb", src=POD_A_MAC) /
                    IP(src=POD_A_IP, dst="224.0.0.251", ttl=255, id=0) / UDP(sport=5353, dport=5353) / (b"\0" * 12)))
    out.append(vector("ETH_MULTICAST", "Ether to an IPv4 multicast MAC (mDNS)", p, {"eth": eth_fields(p)}))
    return out


def family_arp():
    out = []
    req = dissect(raw(Ether(dst=BCAST, src=POD_A_MAC) /
                      ARP(op=1, hwsrc=POD_A_MAC, psrc=POD_A_IP, hwdst="00:00:00:00:00:00", pdst=GW_IP)))
    out.append(vector("ARP_REQUEST_FOR_GW", "who-has 10.244.0.1 tell 10.244.0.2, broadcast", req,
                      {"eth": eth_fields(req), "arp": arp_fields(req[ARP])}))
    rep = dissect(raw(Ether(dst=POD_A_MAC, src=GW_MAC) /
                      ARP(op=2, hwsrc=GW_MAC, psrc=GW_IP, hwdst=POD_A_MAC, pdst=POD_A_IP)))
    out.append(vector("ARP_REPLY_FROM_GW", "10.244.0.1 is-at 0a:58:0a:f4:00:01 (what the gateway must answer)", rep,
                      {"eth": eth_fields(rep), "arp": arp_fields(rep[ARP])}))
    other = dissect(raw(Ether(dst=BCAST, src=POD_A_MAC) /
                        ARP(op=1, hwsrc=POD_A_MAC, psrc=POD_A_IP, pdst=POD_B_IP)))
    out.append(vector("ARP_REQUEST_FOR_POD_B", "who-has 10.244.0.3 tell 10.244.0.2 (not for the gateway)", other,
                      {"eth": eth_fields(other), "arp": arp_fields(other[ARP])}))
    padded = dissect(raw(Ether(dst=BCAST, src=POD_B_MAC) /
                         ARP(op=1, hwsrc=POD_B_MAC, psrc=POD_B_IP, pdst=GW_IP) / Padding(b"\0" * 18)))
    out.append(vector("ARP_REQUEST_PADDED", "ARP request from pod B padded to the 60-byte Ethernet minimum", padded,
                      {"eth": eth_fields(padded), "arp": arp_fields(padded[ARP])}))
    # truncated variant: 27 of the 28 ARP bytes survive
    t = raw(req)[:14 + 27]
    out.append(vector("ARP_TRUNCATED", "ARP_REQUEST_FOR_GW cut one byte short of the ARP body", None,
                      chunks=[("Ethernet", t[:14]), ("ARP, truncated", t[14:])]))
    return out


def family_ipv4():
    out = []
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) /
                    IP(src=POD_A_IP, dst=POD_B_IP, id=0xbeef, flags="DF", ttl=63, tos=0) /
                    UDP(sport=40000, dport=53) / b"podwire"))
    out.append(vector("IPV4_UDP", "IPv4 (DF, TTL 63) carrying UDP, no options", p,
                      {"eth": eth_fields(p), "ip": ip_fields(p[IP])}))
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) /
                    IP(src=POD_A_IP, dst=POD_B_IP, id=0x0102, tos=0xb8, ttl=1,
                       options=[IPOption_Router_Alert()]) / ICMP(type=8, id=1, seq=1) / b"ra"))
    out.append(vector("IPV4_OPTIONS", "IPv4 with a Router Alert option (IHL 6), TOS 0xb8, TTL 1", p,
                      {"eth": eth_fields(p), "ip": ip_fields(p[IP])}))
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) /
                    IP(src="192.168.255.254", dst="172.16.0.1", id=0xffff, flags="MF", frag=185, ttl=255) /
                    Raw(b"\xa5" * 16)))
    out.append(vector("IPV4_FRAGMENT", "IPv4 fragment (MF, offset 185*8), high address bits set", p,
                      {"eth": eth_fields(p), "ip": ip_fields(p[IP])}))
    # truncated variant: the total length field says 8 more bytes than arrived
    full = raw(IP(src=POD_A_IP, dst=POD_B_IP, id=3) / UDP(sport=1, dport=2) / (b"x" * 8))
    out.append(vector("IPV4_SHORT_PAYLOAD", "IPv4/UDP whose last 8 bytes were lost (total length 36, 28 present)", None,
                      chunks=[("IP", full[:20]), ("UDP", full[20:28])],
                      fields={"ip": ip_fields(IP(full))}))
    return out


def family_icmp():
    out = []
    payload = bytes(range(0x20, 0x20 + 40))  # 40 bytes, like ping's pattern
    req = dissect(raw(Ether(dst=GW_MAC, src=POD_A_MAC) /
                      IP(src=POD_A_IP, dst=GW_IP, id=0x4d2, flags="DF", ttl=64) /
                      ICMP(type=8, id=0x1234, seq=1) / payload))
    out.append(vector("ICMP_ECHO_REQUEST", "echo request pod A -> gateway (id 0x1234 seq 1, 40 payload bytes)", req,
                      {"eth": eth_fields(req), "ip": ip_fields(req[IP]), "icmp": icmp_fields(req[ICMP])}))
    rep = dissect(raw(Ether(dst=POD_A_MAC, src=GW_MAC) /
                      IP(src=GW_IP, dst=POD_A_IP, id=0x4d2, flags="DF", ttl=64) /
                      ICMP(type=0, id=0x1234, seq=1) / payload))
    out.append(vector("ICMP_ECHO_REPLY", "the echo reply the gateway must produce for ICMP_ECHO_REQUEST", rep,
                      {"eth": eth_fields(rep), "ip": ip_fields(rep[IP]), "icmp": icmp_fields(rep[ICMP])}))
    # an odd-length echo request with ttl 1 (the reply's TTL must still be 64)
    req2 = dissect(raw(Ether(dst=GW_MAC, src=POD_B_MAC) /
                       IP(src=POD_B_IP, dst=GW_IP, id=7, ttl=1) / ICMP(type=8, id=0xffff, seq=0xfffe) / b"odd"))
    out.append(vector("ICMP_ECHO_REQUEST_ODD", "echo request pod B -> gateway, 3-byte payload, TTL 1", req2,
                      {"eth": eth_fields(req2), "ip": ip_fields(req2[IP]), "icmp": icmp_fields(req2[ICMP])}))
    rep2 = dissect(raw(Ether(dst=POD_B_MAC, src=GW_MAC) /
                       IP(src=GW_IP, dst=POD_B_IP, id=7, ttl=64) / ICMP(type=0, id=0xffff, seq=0xfffe) / b"odd"))
    out.append(vector("ICMP_ECHO_REPLY_ODD", "the reply to ICMP_ECHO_REQUEST_ODD", rep2,
                      {"eth": eth_fields(rep2), "ip": ip_fields(rep2[IP]), "icmp": icmp_fields(rep2[ICMP])}))
    # errors podwire will emit: the quoted datagram is the offending IP header + 8 bytes
    quoted = raw(IP(src=POD_A_IP, dst="10.96.0.10", id=9, ttl=64) / UDP(sport=5000, dport=53))[:28]
    unr = ICMP(raw(ICMP(type=3, code=3) / quoted))
    out.append(vector("ICMP_PORT_UNREACH", "ICMP destination unreachable / port unreachable quoting IPv4+UDP", unr,
                      {"icmp": icmp_fields(unr)}))
    fn = ICMP(raw(ICMP(type=3, code=4, nexthopmtu=1400) / quoted))
    out.append(vector("ICMP_FRAG_NEEDED", "ICMP fragmentation needed, next-hop MTU 1400 (RFC 1191)", fn,
                      {"icmp": icmp_fields(fn)}))
    # truncated: an echo request whose IPv4 total length leaves only 7 ICMP bytes
    t = dissect(raw(Ether(dst=GW_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=GW_IP, id=8, proto=1) /
                    Raw(raw(ICMP(type=8, id=1, seq=1))[:7])))
    out.append(vector("ICMP_TRUNCATED", "IPv4 to the gateway, protocol ICMP, 7 bytes of ICMP (header needs 8)", t,
                      {"ip": ip_fields(t[IP])}))
    return out


def family_udp():
    out = []
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst="10.96.0.10", id=0x10) /
                    UDP(sport=40000, dport=53) / bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")))
    out.append(vector("UDP_DNS", "UDP DNS query (odd-length payload) pod A -> 10.96.0.10:53", p,
                      {"ip": ip_fields(p[IP]), "udp": udp_fields(p[UDP])}))
    # a payload chosen so the computed checksum is 0, which RFC 768 sends as 0xffff
    base = IP(src=POD_A_IP, dst=POD_B_IP, id=0x11) / UDP(sport=7, dport=7) / b"\0\0"
    c = IP(raw(base))[UDP].chksum
    fix = struct.pack(">H", c if c != 0xffff else 0)
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=POD_B_IP, id=0x11) /
                    UDP(sport=7, dport=7) / fix))
    assert p[UDP].chksum == 0xffff, hex(p[UDP].chksum)
    out.append(vector("UDP_ZERO_CSUM", "UDP whose checksum computes to 0, transmitted as 0xffff (RFC 768)", p,
                      {"ip": ip_fields(p[IP]), "udp": udp_fields(p[UDP])}))
    p = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=POD_B_IP, id=0x12) /
                    UDP(sport=4789, dport=4789)))
    out.append(vector("UDP_EMPTY", "UDP with no payload (length 8)", p,
                      {"ip": ip_fields(p[IP]), "udp": udp_fields(p[UDP])}))
    return out


def family_tcp():
    out = []
    syn = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=POD_B_IP, id=0x20, flags="DF") /
                      TCP(sport=43210, dport=8080, seq=0xdeadbeef, ack=0, flags="S", window=64240,
                          options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456, 0)),
                                   ("NOP", None), ("WScale", 7)])))
    out.append(vector("TCP_SYN_OPTIONS", "TCP SYN with MSS, SACK-permitted, timestamps, NOP, window scale (data offset 10)", syn,
                      {"ip": ip_fields(syn[IP]), "tcp": tcp_fields(syn[TCP])}))
    data = dissect(raw(Ether(dst=POD_A_MAC, src=POD_B_MAC) / IP(src=POD_B_IP, dst=POD_A_IP, id=0x21, flags="DF") /
                       TCP(sport=8080, dport=43210, seq=1000, ack=0xdeadbef0, flags="PA", window=502, urgptr=0,
                           options=[("NOP", None), ("NOP", None), ("Timestamp", (2000, 123456))]) /
                       b"HTTP/1.1 200 OK\r\n\r\nhello"))
    out.append(vector("TCP_DATA", "TCP PSH/ACK with timestamps and a 24-byte payload (data offset 8)", data,
                      {"ip": ip_fields(data[IP]), "tcp": tcp_fields(data[TCP])}))
    fin = dissect(raw(Ether(dst=POD_B_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=POD_B_IP, id=0x22) /
                      TCP(sport=1, dport=65535, seq=0xffffffff, ack=0x80000000, flags="FAURPSEC", window=0xffff, urgptr=0x8001)))
    out.append(vector("TCP_ALL_FLAGS", "TCP with every flag bit set, all-ones seq, no options (data offset 5)", fin,
                      {"ip": ip_fields(fin[IP]), "tcp": tcp_fields(fin[TCP])}))
    return out


def family_virtio():
    out = []
    # A GSO super-frame header as a TAP with IFF_VNET_HDR delivers it for TCP/IPv4
    h = vnet_hdr(flags=1, gso_type=1, hdr_len=66, gso_size=1448, csum_start=34, csum_offset=16)
    out.append(vector("VNET_GSO_TCPV4", "virtio_net_hdr: NEEDS_CSUM, GSO TCPV4, hdr_len 66, gso_size 1448, csum 34+16", None,
                      chunks=[("virtio_net_hdr (struct.pack)", h)],
                      fields={"vnet": {"flags": 1, "gsoType": 1, "hdrLen": 66, "gsoSize": 1448, "csumStart": 34, "csumOffset": 16}}))
    # NEEDS_CSUM TCP: the checksum field holds the folded pseudo-header sum, as the sending kernel leaves it
    seg = Ether(dst=POD_B_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=POD_B_IP, id=0x30, flags="DF") / \
        TCP(sport=5201, dport=40000, seq=1, ack=1, flags="PA", window=512) / b"partial checksum, odd!"
    full = raw(seg)
    ip = IP(full[14:])
    l4 = full[34:]
    pseudo = struct.pack(">4s4sBBH", bytes(map(int, ip.src.split("."))), bytes(map(int, ip.dst.split("."))),
                         0, 6, len(l4))
    partial = (~checksum(pseudo)) & 0xffff
    part = bytearray(full)
    part[34 + 16:34 + 18] = struct.pack(">H", partial)
    hp = vnet_hdr(flags=1, csum_start=34, csum_offset=16)
    out.append(vector("VNET_TCP_PARTIAL", "vnet NEEDS_CSUM(34,16) + TCP whose checksum field holds only the pseudo-header sum", None,
                      chunks=[("virtio_net_hdr (struct.pack)", hp), ("Ethernet", bytes(part[:14])), ("IP", bytes(part[14:34])),
                              ("TCP, partial checksum", bytes(part[34:54])), ("payload", bytes(part[54:]))],
                      fields={"partial": partial}))
    out.append(vector("VNET_TCP_COMPLETE", "VNET_TCP_PARTIAL's frame with the checksum scapy computes in full", seg,
                      {"tcp": tcp_fields(Ether(full)[TCP])}))
    # NEEDS_CSUM ICMP echo request to the gateway: ICMP has no pseudo-header, so the partial sum is 0
    payload = bytes(range(0x20, 0x20 + 40))
    echo = Ether(dst=GW_MAC, src=POD_A_MAC) / IP(src=POD_A_IP, dst=GW_IP, id=0x4d3, flags="DF", ttl=64) / \
        ICMP(type=8, id=0x4321, seq=9) / payload
    e = bytearray(raw(echo))
    e[34 + 2:34 + 4] = b"\0\0"
    he = vnet_hdr(flags=1, csum_start=34, csum_offset=2)
    out.append(vector("VNET_ICMP_PARTIAL", "vnet NEEDS_CSUM(34,2) + echo request to the gateway with its ICMP checksum left 0", None,
                      chunks=[("virtio_net_hdr (struct.pack)", he), ("Ethernet", bytes(e[:14])), ("IP", bytes(e[14:34])),
                              ("ICMP, checksum not filled", bytes(e[34:42])), ("payload", bytes(e[42:]))]))
    rep = dissect(raw(Ether(dst=POD_A_MAC, src=GW_MAC) / IP(src=GW_IP, dst=POD_A_IP, id=0x4d3, flags="DF", ttl=64) /
                      ICMP(type=0, id=0x4321, seq=9) / payload))
    out.append(vector("VNET_ICMP_PARTIAL_REPLY", "the echo reply the gateway must send for VNET_ICMP_PARTIAL", rep,
                      {"icmp": icmp_fields(rep[ICMP])}))
    return out


def family_checksum():
    out = []
    # RFC 1071 section 3's worked example bytes, and scapy's checksum of them
    ex = bytes.fromhex("0001f203f4f5f6f7")
    out.append(vector("RFC1071_EXAMPLE", "RFC 1071 section 3 example data", None,
                      chunks=[("data", ex)], fields={"scapyChecksum": checksum(ex)}))
    odd = bytes.fromhex("0001f203f4f5f6f7ab")
    out.append(vector("ODD_LENGTH", "9 bytes: the last one is padded with a zero byte", None,
                      chunks=[("data", odd)], fields={"scapyChecksum": checksum(odd)}))
    big = random.Random(1071).randbytes(1001)
    out.append(vector("RANDOM_1001", "1001 bytes from Python's random.Random(1071)", None,
                      chunks=[("data", big)], fields={"scapyChecksum": checksum(big)}))
    ones = b"\xff" * 64
    out.append(vector("ALL_ONES", "64 bytes of 0xff: sum is -0", None,
                      chunks=[("data", ones)], fields={"scapyChecksum": checksum(ones)}))
    return out


def linux_udp_flow_src_port(flow_hash, lo=32768, hi=60999):
    """include/net/udp.h udp_flow_src_port() with the default port range
    (net.ipv4.ip_local_port_range 32768 60999), as the vxlan driver picks the
    outer source port. The kernel's hash is skb_get_hash() (a seeded jhash of
    the inner flow); here a CRC-32 of the inner 5-tuple stands in for it."""
    h = flow_hash & 0xffffffff
    h ^= (h << 16) & 0xffffffff
    return ((h * (hi - lo)) >> 32) + lo


def inner_flow_hash(src, dst, proto, sport=0, dport=0):
    return zlib.crc32(struct.pack(">4s4sBHH", bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))),
                                  proto, sport, dport))


def vxlan_frame(dport, vni, flags=0x08, ident=0x1f2e):
    """A VXLAN frame as the Linux vxlan driver sends it by default for IPv4:
    outer DF clear, TTL 64, TOS 0, UDP checksum 0 (noudpcsum), source port
    from the inner flow hash; inner frame VTEP1 -> VTEP2 carrying a routed
    (TTL 63) echo request pod A -> pod on node 2."""
    payload = bytes(range(0x20, 0x20 + 40))
    inner = Ether(dst=VTEP2_MAC, src=VTEP1_MAC) / IP(src=POD_A_IP, dst=POD_N2_IP, id=0x4d4, flags="DF", ttl=63) / \
        ICMP(type=8, id=0x2a, seq=1) / payload
    fh = inner_flow_hash(POD_A_IP, POD_N2_IP, 1)
    sport = linux_udp_flow_src_port(fh)
    pkt = Ether(dst=NODE2_MAC, src=NODE1_MAC) / IP(src=NODE1_IP, dst=NODE2_IP, id=ident, flags=0, ttl=64, tos=0) / \
        UDP(sport=sport, dport=dport, chksum=0) / VXLAN(flags=flags, vni=vni) / inner
    return pkt, fh, sport


def vxlan_vector(name, doc, pkt):
    p = dissect(raw(pkt))
    assert isinstance(p[UDP].payload, VXLAN), p.summary()
    v = p[VXLAN]
    ie = v.payload
    fields = {"eth": eth_fields(p), "ip": ip_fields(p[IP]), "udp": udp_fields(p[UDP]), "vxlan": vxlan_fields(v),
              "innerEth": eth_fields(ie), "innerIp": ip_fields(ie[IP]), "icmp": icmp_fields(ie[ICMP]),
              "offsets": offsets(p, ip=p[IP], udp=p[UDP], vxlan=v, inner=ie)}
    return vector(name, doc, p, fields)


def family_vxlan():
    out = []
    pkt, fh, sport = vxlan_frame(8472, 1)
    out.append(vxlan_vector("VXLAN_FLANNEL",
                            f"flannel's VXLAN (flannel.1: port 8472, VNI 1), node 1 -> node 2; sport {sport} "
                            f"from flow hash {fh:#010x} (CRC-32 of the inner 5-tuple) via udp_flow_src_port", pkt))
    pkt, fh, sport = vxlan_frame(4789, 4096, ident=0x1f2f)
    out.append(vxlan_vector("VXLAN_IANA_VNI4096",
                            f"VXLAN_FLANNEL's inner frame on the IANA port 4789 with VNI 4096 (Calico's vxlan.calico defaults); "
                            f"sport {sport}", pkt))
    pkt, _, _ = vxlan_frame(8472, 1, flags=0x00, ident=0x1f30)
    out.append(vxlan_vector("VXLAN_NO_I_FLAG",
                            "VXLAN_FLANNEL with the VXLAN flags byte 0: the I flag is clear, so the VNI is not valid (RFC 7348)", pkt))
    # truncated: lengths consistent (IPv4 and UDP agree), but only 7 of the 8 VXLAN header bytes
    full, _, sport = vxlan_frame(8472, 1)
    vx7 = raw(VXLAN(flags=0x08, vni=1))[:7]
    short = dissect(raw(Ether(dst=NODE2_MAC, src=NODE1_MAC) / IP(src=NODE1_IP, dst=NODE2_IP, id=0x1f31, flags=0, ttl=64) /
                        UDP(sport=sport, dport=8472, chksum=0) / Raw(vx7)))
    out.append(vector("VXLAN_SHORT_HEADER", "IPv4/UDP to 8472 whose UDP payload is 7 bytes: a VXLAN header one byte short "
                      "(IPv4 and UDP lengths consistent)", None,
                      chunks=[("Ethernet", raw(short)[:14]), ("IP", raw(short)[14:34]), ("UDP", raw(short)[34:42]),
                              ("VXLAN, truncated (7 of 8 bytes)", raw(short)[42:])],
                      fields={"ip": ip_fields(short[IP]), "udp": udp_fields(short[UDP])}))
    # truncated on the wire: VXLAN_FLANNEL's first 49 bytes, ending one byte short of the VXLAN header
    cut = raw(full)[:14 + 20 + 8 + 7]
    out.append(vector("VXLAN_CUT", "VXLAN_FLANNEL cut after 7 VXLAN header bytes (IPv4 total length "
                      "and UDP length still claim the whole frame)", None,
                      chunks=[("Ethernet", cut[:14]), ("IP", cut[14:34]), ("UDP", cut[34:42]),
                              ("VXLAN, truncated (7 of 8 bytes)", cut[42:])],
                      fields={"ip": ip_fields(IP(raw(full)[14:])), "udp": udp_fields(IP(raw(full)[14:])[UDP])}))
    return out


def family_ipip():
    out = []
    # The Linux ipip driver (Calico's tunl0: ttl inherit, tos 0): the outer
    # TTL is the inner one, DF is copied from the inner header, protocol 4.
    inner = IP(src=POD_A_IP, dst=POD_N2_IP, id=0x3c1, flags="DF", ttl=63) / \
        TCP(sport=45678, dport=80, seq=0x01020304, ack=0, flags="S", window=64800,
            options=[("MSS", 1440), ("SAckOK", b""), ("Timestamp", (424242, 0)), ("NOP", None), ("WScale", 7)])
    pkt = dissect(raw(Ether(dst=NODE2_MAC, src=NODE1_MAC) /
                      IP(src=NODE1_IP, dst=NODE2_IP, id=0x7a1c, flags="DF", ttl=63, tos=0, proto=4) / inner))
    assert pkt[IP].proto == 4 and pkt[IP].payload.name == "IP", pkt.summary()
    ii = pkt[IP].payload
    out.append(vector("IPIP_TCP_SYN", "IP-in-IP (protocol 4) node 1 -> node 2 carrying a TCP SYN pod A -> 10.244.1.2:80 "
                      "(outer TTL and DF inherited from the inner header, as tunl0 does)", pkt,
                      {"eth": eth_fields(pkt), "ip": ip_fields(pkt[IP]), "innerIp": ip_fields(ii), "tcp": tcp_fields(ii[TCP]),
                       "offsets": offsets(pkt, ip=pkt[IP], inner=ii, tcp=ii[TCP])}))
    # truncated on the wire inside the outer header: 19 of 20 bytes
    cut = raw(pkt)[:14 + 19]
    out.append(vector("IPIP_CUT_OUTER", "IPIP_TCP_SYN cut after 19 bytes of the outer IPv4 header", None,
                      chunks=[("Ethernet", cut[:14]), ("outer IP, truncated (19 of 20 bytes)", cut[14:])]))
    # outer header consistent (length 32, good checksum) but only 12 bytes of the inner header inside
    short = dissect(raw(Ether(dst=NODE2_MAC, src=NODE1_MAC) /
                        IP(src=NODE1_IP, dst=NODE2_IP, id=0x7a1d, flags="DF", ttl=63, proto=4) / Raw(raw(inner)[:12])))
    out.append(vector("IPIP_SHORT_INNER", "outer IPv4 (protocol 4, total length 32, valid) around 12 bytes of an inner "
                      "IPv4 header", None,
                      chunks=[("Ethernet", raw(short)[:14]), ("outer IP", raw(short)[14:34]),
                              ("inner IP, truncated (12 of 20 bytes)", raw(short)[34:])],
                      fields={"ip": ip_fields(short[IP])}))
    return out


FAMILIES = {
    "ethernet": family_ethernet,
    "arp": family_arp,
    "ipv4": family_ipv4,
    "icmp": family_icmp,
    "udp": family_udp,
    "tcp": family_tcp,
    "virtio": family_virtio,
    "checksum": family_checksum,
    "vxlan": family_vxlan,
    "ipip": family_ipip,
}

OVERLAY_HEADER = (f"// Underlay: node 1 {NODE1_MAC} {NODE1_IP}, node 2 {NODE2_MAC} {NODE2_IP};\n"
                  f"// VTEPs (flannel.1) {VTEP1_MAC} / {VTEP2_MAC}; the pod on node 2 is {POD_N2_IP}.\n")
FAMILY_HEADERS = {"vxlan": OVERLAY_HEADER, "ipip": OVERLAY_HEADER}


def main():
    write = "--write" in sys.argv
    for fam, fn in FAMILIES.items():
        text = HEADER + FAMILY_HEADERS.get(fam, "") + "\n" + "\n\n".join(fn()) + "\n"
        if write:
            with open(os.path.join(HERE, f"{fam}.ts"), "w") as f:
                f.write(text)
        else:
            print(f"// ===== test/vectors/{fam}.ts")
            print(text)


if __name__ == "__main__":
    main()
