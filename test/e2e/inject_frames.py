#!/usr/bin/env python3
"""Inject broken Ethernet frames into a pod's eth0 (a podwire TAP) through an
AF_PACKET raw socket. Standard library only; run it inside the pod:

    ip netns exec pw-<pod> python3 inject_frames.py [IFACE] < spec.json

The spec (JSON on stdin) is either

  * explicit frames: {"frames": ["<hex>", ...]} or
    {"frames": [{"category": "name", "hex": "<hex>"}, ...]}, or
  * generated frames: {"seed": 1, "count": {"<category>": n, ...},
    "own_mac": ..., "peer_mac": ..., "gw_mac": ..., "own_ip": ..., "peer_ip": ...,
    "oversize_bytes": 4000 (optional)}
    where the categories are the keys of GENERATORS below. The same seed
    always gives the same frames; categories are interleaved (shuffled).

It prints one JSON object: per category how many frames were attempted, how
many the kernel accepted (`sent`, each a full-length write) and how many it
refused, by errno name; plus the change in IFACE's tx_dropped counter (frames
the kernel accepted but dropped before the TAP's reader got them — the tests
require 0, so "sent" means "handed to podwire").

What the kernel lets through (Linux, AF_PACKET SOCK_RAW as root):
  * frames shorter than 14 bytes are refused with EINVAL
    (dev_validate_header: below the device's min_header_len, even with
    CAP_SYS_RAWIO), so runts can never reach the TAP this way;
  * frames longer than IFACE's MTU + 14 are refused with EMSGSIZE, hence the
    tests raise the injecting pod's MTU for the oversize category;
  * anything else (bad checksums, bad versions, multicast source MACs,
    unknown ethertypes) goes out byte for byte: the kernel does not parse it.
"""
import errno
import json
import os
import random
import socket
import struct
import sys
import time

ETH_P_IPV4 = 0x0800
ETH_P_ARP = 0x0806
# ethertypes the data plane parses (IPv4, ARP, 802.1Q, 802.1ad): never "unknown"
KNOWN_ETHERTYPES = {0x0800, 0x0806, 0x8100, 0x88A8}

BURST = 32            # frames between short pauses, so the TAP's queue never overflows
PAUSE_S = 0.002
ENOBUFS_RETRIES = 200


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ip4(text):
    return socket.inet_aton(text)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4_header(total_len, proto, src, dst, ident, ihl=5, version=4, ttl=64, fix_csum=True):
    opts = b"\x01" * (max(ihl, 5) * 4 - 20)  # NOP options when ihl > 5
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl & 0xF), 0, total_len & 0xFFFF, ident, 0x4000, ttl, proto, 0, src, dst) + opts
    if fix_csum:
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h


def udp_payload(rng, n):
    return rng.randbytes(n)


def eth(dst, src, ethertype):
    return dst + src + struct.pack("!H", ethertype)


class Ctx:
    def __init__(self, spec):
        self.own_mac = mac(spec["own_mac"])
        self.peer_mac = mac(spec["peer_mac"])
        self.gw_mac = mac(spec["gw_mac"])
        self.own_ip = ip4(spec["own_ip"])
        self.peer_ip = ip4(spec["peer_ip"])
        self.oversize_bytes = int(spec.get("oversize_bytes", 4000))


def valid_ipv4(rng, c, dst_ip, payload_len, ident):
    """A well-formed IPv4/UDP packet (UDP checksum 0 = none)."""
    udp = struct.pack("!HHHH", 40000 + rng.randrange(1000), 9, 8 + payload_len, 0) + udp_payload(rng, payload_len)
    return ipv4_header(20 + len(udp), 17, c.own_ip, dst_ip, ident) + udp


# Each generator returns the frame bytes. The expected drop reason is in EXPECTED_DROP.

def gen_runt(rng, c):
    # shorter than an Ethernet header
    return rng.randbytes(rng.randrange(1, 14))


def gen_ipv4_truncated_header(rng, c):
    # ethertype IPv4 but fewer than 20 bytes of IP header
    full = valid_ipv4(rng, c, c.peer_ip, 16, rng.randrange(65536))
    return eth(c.peer_mac, c.own_mac, ETH_P_IPV4) + full[: rng.randrange(0, 20)]


def gen_ipv4_truncated_total(rng, c):
    # a correct header whose total length claims more than the frame holds
    n = rng.randrange(0, 64)
    pkt = bytearray(valid_ipv4(rng, c, c.peer_ip, n, rng.randrange(65536)))
    claimed = len(pkt) + rng.randrange(1, 1400)
    pkt[2:4] = struct.pack("!H", claimed)
    pkt[10:12] = b"\0\0"
    pkt[10:12] = struct.pack("!H", csum(bytes(pkt[:20])))
    return eth(c.peer_mac, c.own_mac, ETH_P_IPV4) + bytes(pkt)


def gen_ipv4_bad_ihl(rng, c):
    ihl = rng.randrange(0, 5)
    pkt = bytearray(valid_ipv4(rng, c, c.peer_ip, rng.randrange(0, 64), rng.randrange(65536)))
    pkt[0] = 0x40 | ihl
    return eth(c.peer_mac, c.own_mac, ETH_P_IPV4) + bytes(pkt)


def gen_ipv4_bad_version(rng, c):
    version = rng.choice([v for v in range(16) if v != 4])
    pkt = bytearray(valid_ipv4(rng, c, c.peer_ip, rng.randrange(0, 64), rng.randrange(65536)))
    pkt[0] = (version << 4) | 5
    return eth(c.peer_mac, c.own_mac, ETH_P_IPV4) + bytes(pkt)


def gen_ipv4_bad_total_len(rng, c):
    # total length smaller than the header itself
    pkt = bytearray(valid_ipv4(rng, c, c.peer_ip, rng.randrange(0, 64), rng.randrange(65536)))
    pkt[2:4] = struct.pack("!H", rng.randrange(0, 20))
    pkt[10:12] = b"\0\0"
    pkt[10:12] = struct.pack("!H", csum(bytes(pkt[:20])))
    return eth(c.peer_mac, c.own_mac, ETH_P_IPV4) + bytes(pkt)


def gen_ipv4_bad_checksum(rng, c):
    # flip one bit of the identification after the checksum was computed: a
    # one-bit change can never be absorbed by one's-complement (0x0000/0xffff)
    pkt = bytearray(valid_ipv4(rng, c, c.peer_ip, rng.randrange(0, 64), rng.randrange(65536)))
    bit = rng.randrange(16)
    word = struct.unpack("!H", pkt[4:6])[0] ^ (1 << bit)
    pkt[4:6] = struct.pack("!H", word)
    return eth(c.peer_mac, c.own_mac, ETH_P_IPV4) + bytes(pkt)


def gen_multicast_src(rng, c):
    # group bit set in the source MAC (IPv4/IPv6 multicast, broadcast, random group)
    kind = rng.randrange(4)
    if kind == 0:
        src = b"\x01\x00\x5e" + bytes([rng.randrange(128), rng.randrange(256), rng.randrange(256)])
    elif kind == 1:
        src = b"\x33\x33" + rng.randbytes(4)
    elif kind == 2:
        src = b"\xff" * 6
    else:
        src = bytes([rng.randrange(256) | 1]) + rng.randbytes(5)
    pkt = valid_ipv4(rng, c, c.peer_ip, rng.randrange(0, 64), rng.randrange(65536))
    return eth(c.peer_mac, src, ETH_P_IPV4) + pkt


def gen_arp_malformed(rng, c):
    good = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, c.own_mac, c.own_ip, b"\0" * 6, c.peer_ip)
    kind = rng.randrange(5)
    if kind == 0:
        arp = good[: rng.randrange(0, 28)]                  # too short
    elif kind == 1:
        arp = struct.pack("!H", rng.choice([0, 6, 0x8000])) + good[2:]   # hardware type not Ethernet
    elif kind == 2:
        arp = good[:2] + struct.pack("!H", 0x86DD) + good[4:]           # protocol type not IPv4
    elif kind == 3:
        arp = good[:4] + bytes([rng.choice([0, 8, 16])]) + good[5:]    # hardware length not 6
    else:
        arp = good[:5] + bytes([rng.choice([0, 6, 16])]) + good[6:]    # protocol length not 4
    return eth(b"\xff" * 6, c.own_mac, ETH_P_ARP) + arp


def gen_vlan_truncated(rng, c):
    # 802.1Q ethertype but no room for the tag
    return eth(c.peer_mac, c.own_mac, rng.choice([0x8100, 0x88A8])) + rng.randbytes(rng.randrange(0, 4))


def gen_oversize(rng, c):
    # a well-formed frame (4000 bytes unless the spec says "oversize_bytes") to another pod:
    # larger than the egress MTU
    return eth(c.peer_mac, c.own_mac, ETH_P_IPV4) + valid_ipv4(rng, c, c.peer_ip, c.oversize_bytes - 14 - 28, rng.randrange(65536))


def gen_unknown_ethertype(rng, c):
    while True:
        t = rng.randrange(0x0600, 0x10000)
        if t not in KNOWN_ETHERTYPES:
            break
    return eth(c.gw_mac, c.own_mac, t) + rng.randbytes(rng.randrange(0, 100))


def gen_no_route(rng, c):
    # well-formed IPv4 to the gateway's MAC for an address outside the cluster (TEST-NET-2)
    dst = ip4("198.51.100.%d" % rng.randrange(1, 255))
    return eth(c.gw_mac, c.own_mac, ETH_P_IPV4) + valid_ipv4(rng, c, dst, rng.randrange(0, 200), rng.randrange(65536))


GENERATORS = {
    "runt": gen_runt,
    "ipv4_truncated_header": gen_ipv4_truncated_header,
    "ipv4_truncated_total": gen_ipv4_truncated_total,
    "ipv4_bad_ihl": gen_ipv4_bad_ihl,
    "ipv4_bad_version": gen_ipv4_bad_version,
    "ipv4_bad_total_len": gen_ipv4_bad_total_len,
    "ipv4_bad_checksum": gen_ipv4_bad_checksum,
    "multicast_src": gen_multicast_src,
    "arp_malformed": gen_arp_malformed,
    "vlan_truncated": gen_vlan_truncated,
    "oversize": gen_oversize,
    "unknown_ethertype": gen_unknown_ethertype,
    "no_route": gen_no_route,
}

# the podwire drop reason (assembly/counters.ts) each category must land in
EXPECTED_DROP = {
    "runt": "eth_truncated",
    "ipv4_truncated_header": "ipv4_truncated",
    "ipv4_truncated_total": "ipv4_truncated",
    "ipv4_bad_ihl": "ipv4_bad_ihl",
    "ipv4_bad_version": "ipv4_bad_version",
    "ipv4_bad_total_len": "ipv4_bad_total_len",
    "ipv4_bad_checksum": "ipv4_bad_checksum",
    "multicast_src": "invalid_src_mac",
    "arp_malformed": "arp_malformed",
    "vlan_truncated": "vlan_truncated",
    "oversize": "oversize",
    "unknown_ethertype": "unknown_ethertype",
    "no_route": "no_route",
}


def build(spec):
    if "frames" in spec:
        out = []
        for f in spec["frames"]:
            if isinstance(f, str):
                out.append(("frames", bytes.fromhex(f)))
            else:
                out.append((f.get("category", "frames"), bytes.fromhex(f["hex"])))
        return out
    rng = random.Random(spec["seed"])
    c = Ctx(spec)
    out = []
    for cat, n in spec["count"].items():
        gen = GENERATORS[cat]
        out.extend((cat, gen(rng, c)) for _ in range(n))
    rng.shuffle(out)
    return out


def tx_dropped(iface):
    with open("/sys/class/net/%s/statistics/tx_dropped" % iface) as f:
        return int(f.read())


def main():
    iface = sys.argv[1] if len(sys.argv) > 1 else "eth0"
    spec = json.load(sys.stdin)
    frames = build(spec)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    report = {}
    dropped0 = tx_dropped(iface)
    for i, (cat, frame) in enumerate(frames):
        r = report.setdefault(cat, {"attempted": 0, "sent": 0, "refused": {}, "expect": EXPECTED_DROP.get(cat)})
        r["attempted"] += 1
        for attempt in range(ENOBUFS_RETRIES + 1):
            try:
                n = s.send(frame)
                if n == len(frame):
                    r["sent"] += 1
                else:
                    r["refused"]["short_write"] = r["refused"].get("short_write", 0) + 1
                break
            except OSError as e:
                if e.errno == errno.ENOBUFS and attempt < ENOBUFS_RETRIES:
                    time.sleep(PAUSE_S)  # the queue is full: not a refusal, wait and retry
                    continue
                name = errno.errorcode.get(e.errno, str(e.errno))
                r["refused"][name] = r["refused"].get(name, 0) + 1
                break
        if i % BURST == BURST - 1:
            time.sleep(PAUSE_S)
    time.sleep(0.05)
    s.close()
    print(json.dumps({
        "seed": spec.get("seed"),
        "iface_mtu": int(open("/sys/class/net/%s/mtu" % iface).read()),
        "tx_dropped_delta": tx_dropped(iface) - dropped0,
        "categories": report,
    }))


if __name__ == "__main__":
    main()
