#!/usr/bin/env python3
"""A socket table for the conns tests, inside a network namespace the test made.

    conns_table.py DIR     (run with `ip netns exec NS`; lo has 10.1.2.3/8, 193.233.7.1/24 and
                            193.233.7.9/32 besides 127.0.0.1)

Makes TCP listeners on well-known ports (ssh 22, http 80, https 443 dual-stack, 8080 on ::1,
5000 on 10.1.2.3), accepted and not yet accepted connections over IPv4, IPv6 and v4-mapped
IPv6, CLOSE-WAIT/FIN-WAIT-2 and TIME-WAIT pairs, an explicitly bound client port, a socket with
SO_MARK and one bound to a device, a keepalive connection, UDP sockets (53, 5353, one
connected) and Unix sockets under DIR/.X11-unix and DIR/run. Writes DIR/ready and sleeps until
killed (at most 300 s).
"""
import os
import socket
import sys
import time

d = sys.argv[1]
held = []


def listen(family, addr, port, v6only=None, backlog=16):
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((addr, port))
    s.listen(backlog)
    held.append(s)
    return s


def connect(listener, family, addr, port, source=None, accept=True):
    c = socket.socket(family)
    if source:
        c.bind(source)
    c.connect((addr, port))
    held.append(c)
    if accept:
        held.append(listener.accept()[0])
    return c


ssh = listen(socket.AF_INET, "127.0.0.1", 22)
http = listen(socket.AF_INET, "0.0.0.0", 80)
https = listen(socket.AF_INET6, "::", 443, v6only=0)
alt = listen(socket.AF_INET6, "::1", 8080, v6only=1)
ten = listen(socket.AF_INET, "10.1.2.3", 5000)
queue = listen(socket.AF_INET, "127.0.0.1", 7000)  # Never accepts.

for _ in range(2):
    connect(ssh, socket.AF_INET, "127.0.0.1", 22)
    connect(http, socket.AF_INET, "127.0.0.1", 80)
connect(http, socket.AF_INET, "10.1.2.3", 80, source=("10.1.2.3", 0))
connect(http, socket.AF_INET, "193.233.7.1", 80, source=("193.233.7.9", 0))
connect(https, socket.AF_INET6, "::1", 443)
connect(https, socket.AF_INET, "127.0.0.1", 443)  # v4-mapped on the server side
connect(alt, socket.AF_INET6, "::1", 8080)
connect(ten, socket.AF_INET, "10.1.2.3", 5000, source=("10.1.2.3", 33333))  # bound port
connect(queue, socket.AF_INET, "127.0.0.1", 7000, accept=False)
connect(queue, socket.AF_INET, "127.0.0.1", 7000, accept=False)

# CLOSE-WAIT (server) / FIN-WAIT-2 (client): the client closes, the server does not.
for listener, port in ((ssh, 22), (http, 80)):
    c = socket.create_connection(("127.0.0.1", port))
    held.append(listener.accept()[0])
    c.close()
# TIME-WAIT: the client closes first, then the server.
for _ in range(2):
    c = socket.create_connection(("127.0.0.1", 80))
    a = http.accept()[0]
    c.close()
    time.sleep(0.05)
    a.close()

k = connect(ssh, socket.AF_INET, "127.0.0.1", 22)
k.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
m = connect(http, socket.AF_INET, "127.0.0.1", 80)
m.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 0x10)
b = socket.socket()
b.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
b.bind(("127.0.0.1", 7001))
b.listen()
held.append(b)
unbound = socket.socket()
unbound.bind(("127.0.0.1", 9999))  # Bound, never listening: UNCONN with -a.
held.append(unbound)

for family, addr, port in ((socket.AF_INET, "127.0.0.1", 53), (socket.AF_INET6, "::", 5353)):
    u = socket.socket(family, socket.SOCK_DGRAM)
    u.bind((addr, port))
    held.append(u)
uc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
uc.connect(("127.0.0.1", 53))
held.append(uc)

os.makedirs(os.path.join(d, ".X11-unix"), exist_ok=True)
os.makedirs(os.path.join(d, "run"), exist_ok=True)
x0 = socket.socket(socket.AF_UNIX)
x0.bind(os.path.join(d, ".X11-unix", "X0"))
x0.listen()
held.append(x0)
for _ in range(2):
    c = socket.socket(socket.AF_UNIX)
    c.connect(os.path.join(d, ".X11-unix", "X0"))
    held.extend([c, x0.accept()[0]])
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind(os.path.join(d, "run", "log.sock"))
held.append(dg)
ab = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ab.bind("\0parley-test-abstract")
ab.listen()
held.append(ab)

open(os.path.join(d, "ready"), "w").close()
time.sleep(300)
