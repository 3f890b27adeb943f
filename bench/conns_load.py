#!/usr/bin/env python3
"""A busy host's socket table for bench/conns.sh, on loopback only.

    conns_load.py server READY_FILE HOLD      listeners; accepts and holds every connection
    conns_load.py client PORTS_FILE READY_FILE HOLD ESTAB TIMEWAIT UDP UNIXPAIRS

The server listens on 20 ports of 127.0.0.1 and one dual-stack [::] port, holds every
connection it accepts, and closes a connection as soon as its client closes (so the client side
ends in TIME-WAIT). The client opens ESTAB connections spread over the listeners (a tenth of
them over IPv6 to the dual-stack one), then opens and closes TIMEWAIT more (each leaves one
TIME-WAIT socket, for 60 s), binds UDP sockets and makes Unix socket pairs. Both write READY_FILE
when done and exit after HOLD seconds. Descriptors: ulimit -n is 20,000 here, so each side of
the connections lives in its own process.
"""
import os
import resource
import selectors
import socket
import sys
import time


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def server(ready, hold):
    listeners = []
    for _ in range(20):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(4096)
        listeners.append(s)
    s6 = socket.socket(socket.AF_INET6)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s6.bind(("::", 0))
    s6.listen(4096)
    listeners.append(s6)
    ports = [s.getsockname()[1] for s in listeners]
    sel = selectors.DefaultSelector()
    for s in listeners:
        sel.register(s, selectors.EVENT_READ, "listener")
    held = []
    with open(ready + ".tmp", "w") as f:
        f.write(" ".join(map(str, ports)))
    os.rename(ready + ".tmp", ready)
    deadline = time.time() + hold
    while time.time() < deadline:
        for key, _ in sel.select(timeout=0.5):
            if key.data == "listener":
                try:
                    c, _ = key.fileobj.accept()
                except OSError:
                    continue
                held.append(c)
                sel.register(c, selectors.EVENT_READ, "conn")
            else:  # The client closed: close too, so its side goes to TIME-WAIT.
                c = key.fileobj
                try:
                    data = c.recv(1)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c)
                    c.close()


def client(ports_file, ready, hold, estab, timewait, udp, unixpairs):
    ports = list(map(int, open(ports_file).read().split()))
    v4, v6 = ports[:-1], ports[-1]
    held = []
    for i in range(estab):
        if i % 10 == 9:
            held.append(socket.create_connection(("::1", v6)))
        else:
            held.append(socket.create_connection(("127.0.0.1", v4[i % len(v4)])))
    for i in range(timewait):
        socket.create_connection(("127.0.0.1", v4[0])).close()
    for _ in range(udp):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        held.append(u)
    for _ in range(unixpairs):
        held.extend(socket.socketpair())
    ux = socket.socket(socket.AF_UNIX)
    ux.bind("\0parley-bench-%d" % os.getpid())
    ux.listen()
    held.append(ux)
    open(ready, "w").write(str(len(held)))
    time.sleep(hold)


def main():
    raise_fd_limit()
    if sys.argv[1] == "server":
        server(sys.argv[2], float(sys.argv[3]))
    else:
        a = sys.argv[2:]
        client(a[0], a[1], float(a[2]), int(a[3]), int(a[4]), int(a[5]), int(a[6]))


if __name__ == "__main__":
    main()
