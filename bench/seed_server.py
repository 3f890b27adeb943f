#!/usr/bin/env python3
"""The seed assignment's multi-threaded server (AAP12, section 4), as a baseline for echo.sh.

Kept as the seed wrote it: one thread per client, recv(1024), sendall(). Changed only so that
it can be measured: it echoes the raw bytes (the seed replied "You told me: ..." after a
decode/encode round trip), its thread ends when the client closes (the seed looped forever on
b"" -- the leak its author mentions in section 5), it binds 127.0.0.1 only, and its backlog is
SOMAXCONN instead of 5 (with 5, opening many clients at once measures SYN retransmits).

    python3 seed_server.py PORT
"""
import socket
import sys
import threading


def new_client(client, connection):
    with client:
        while True:
            msg = client.recv(1024)
            if not msg:  # The client closed its socket: end this thread cleanly.
                return
            client.sendall(msg)


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(socket.SOMAXCONN)
    print(f"listening on 127.0.0.1:{s.getsockname()[1]}", file=sys.stderr, flush=True)
    while True:
        client, ip = s.accept()
        # Daemon threads: SIGINT/SIGTERM end the process without waiting for clients.
        threading.Thread(target=new_client, args=(client, ip), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
