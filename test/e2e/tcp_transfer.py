#!/usr/bin/env python3
"""One TCP transfer with a sha256 at both ends, for the netns end-to-end tests.

  tcp_transfer.py server PORT [TIMEOUT_S]
      listen on 0.0.0.0:PORT, print "listening" once bound, accept one
      connection, read to EOF, print one JSON line {"bytes": n, "sha256": hex}
  tcp_transfer.py client HOST PORT NBYTES [SEED]
      connect, send NBYTES pseudo-random bytes (os.urandom, or a seeded
      generator when SEED is given), shut down the write side, wait for the
      server to close, print one JSON line {"bytes": n, "sha256": hex}

Standard library only; run inside a pod with `ip netns exec pw-<pod> python3 ...`.
"""
import hashlib
import json
import os
import random
import socket
import sys

CHUNK = 64 * 1024


def server(port: int, timeout: float) -> None:
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    ls.settimeout(timeout)
    print("listening", flush=True)
    conn, _ = ls.accept()
    conn.settimeout(timeout)
    h = hashlib.sha256()
    n = 0
    while True:
        b = conn.recv(CHUNK)
        if not b:
            break
        h.update(b)
        n += len(b)
    conn.close()
    ls.close()
    print(json.dumps({"bytes": n, "sha256": h.hexdigest()}), flush=True)


def client(host: str, port: int, nbytes: int, seed) -> None:
    rng = random.Random(seed) if seed is not None else None
    s = socket.create_connection((host, port), timeout=30)
    h = hashlib.sha256()
    left = nbytes
    while left > 0:
        k = min(CHUNK, left)
        b = rng.randbytes(k) if rng else os.urandom(k)
        h.update(b)
        s.sendall(b)
        left -= k
    s.shutdown(socket.SHUT_WR)
    # wait for the server's close, so "sent" means "the peer read it all"
    while s.recv(CHUNK):
        pass
    s.close()
    print(json.dumps({"bytes": nbytes, "sha256": h.hexdigest()}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "server":
        server(int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 30.0)
    elif mode == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else None)
    else:
        sys.exit(__doc__)
