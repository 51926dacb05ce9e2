#!/usr/bin/env python3
# A tiny DNS resolver for test/e2e/dns-records.test.ts, standing in for the
# upstream of cluster.dns.upstream. Run inside the DNS pod's namespace on
# 127.0.0.1:PORT (UDP and TCP): never the host's resolver, nothing leaves the
# lab. Answers every A question with 192.0.2.1, except big.example.org: 60 A
# records 192.0.2.1-60, over 512 bytes, so over UDP it sends TC=1 and no
# answers (as RFC 1035 4.2.1 lets a server do), and over TCP all of them.
# Written from RFC 1035 4.1, no DNS library. Prints "ready" once listening.
import socket
import struct
import sys
import threading

PORT = int(sys.argv[1])


def question_end(msg):
    off = 12
    while msg[off] != 0:
        off += 1 + msg[off]
    return off + 5  # the root label, QTYPE, QCLASS


def answer(msg, udp):
    qid, flags = struct.unpack('!HH', msg[:4])
    end = question_end(msg)
    qname = msg[12:end - 4]
    labels, off = [], 0
    while qname[off]:
        labels.append(qname[off + 1:off + 1 + qname[off]].decode().lower())
        off += 1 + qname[off]
    name = '.'.join(labels)
    count = 60 if name == 'big.example.org' else 1
    rrs = b''.join(b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + bytes([192, 0, 2, i + 1]) for i in range(count))
    rflags = 0x8180 | (flags & 0x0100)  # QR, RA, RD copied
    resp = struct.pack('!HHHHHH', qid, rflags, 1, count, 0, 0) + msg[12:end] + rrs
    if udp and len(resp) > 512:
        resp = struct.pack('!HHHHHH', qid, rflags | 0x0200, 1, 0, 0, 0) + msg[12:end]
    return resp


def serve_udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', PORT))
    while True:
        msg, peer = s.recvfrom(4096)
        s.sendto(answer(msg, True), peer)


def serve_tcp_conn(c):
    with c:
        while True:
            head = c.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            msg = c.recv(struct.unpack('!H', head)[0], socket.MSG_WAITALL)
            resp = answer(msg, False)
            c.sendall(struct.pack('!H', len(resp)) + resp)


def serve_tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', PORT))
    s.listen(16)
    print('ready', flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_tcp_conn, args=(c,), daemon=True).start()


threading.Thread(target=serve_udp, daemon=True).start()
serve_tcp()
