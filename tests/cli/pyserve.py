"""Small misbehaving servers for the black-box tests, started with lib.sh's start_py_server.

Each listens on a free port of 127.0.0.1, prints that port first (start_py_server waits for it),
serves every client in a thread of its own, and ends by itself after `lifetime` seconds, so a
test that fails half-way never leaves one behind.
"""
import socket
import threading
import time


def serve_tcp(handle, lifetime=30.0):
    """Runs handle(conn) for every client (TCP_NODELAY set; a reset ends it quietly)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)

    def run(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            handle(c)
        except OSError:
            pass

    deadline = time.monotonic() + lifetime
    srv.settimeout(1)
    while time.monotonic() < deadline:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=run, args=(c,), daemon=True).start()


def lines(c):
    """The lines a client sends, without their newline, until it closes."""
    buf = b""
    while True:
        d = c.recv(4096)
        if not d:
            return
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line
