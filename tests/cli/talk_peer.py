"""Line servers with habits that `parley talk` must cope with, for tests/cli/test_talk*.sh.

usage: talk_peer.py MODE [ARG]   (prints its port, then serves one client; -U PATH: a Unix socket)
  tick       a line "tick N" every 300 ms (at 150 ms, 450 ms, ... after the client connects)
             and "got: LINE" at once for each line received
  slow S     "got: LINE" S seconds after each line
  pieces     "answer to LINE\\r\\n" written in pieces with pauses
  double     two lines at once for each line
  binary     an answer full of control bytes
  partial    answers the first line with "partial" (no line end) and closes
  mute       accepts, never reads (small receive buffer)
  sink       reads everything, answers nothing; prints the byte count to stderr at the end
  flood N    answers the first line with N bytes of 'a' and no line end, then "\\n"
  smtp       a multi-line reply per line, as SMTP servers give, written in pieces with pauses:
             "250-hello LINE\\n250-bare LF\\r\\n250 done\\r\\n" (a bare LF inside the first)
  batch N    reads N lines, then answers all of them in one write: "got: LINE\\r\\n" each
Every wait is bounded: the server exits 20 s after it starts.
"""
import os
import queue
import select
import socket
import sys
import threading
import time

args = sys.argv[1:]
unix_path = None
if args[:1] == ["-U"]:
    unix_path, args = args[1], args[2:]
mode = args[0]
arg = args[1] if len(args) > 1 else None
deadline = time.monotonic() + 20

if unix_path:
    s = socket.socket(socket.AF_UNIX)
    s.bind(unix_path)
    print(unix_path, flush=True)
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "mute":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1], flush=True)
s.listen(1)
s.settimeout(10)
c, _ = s.accept()
if not unix_path:
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
start = time.monotonic()


def lines():
    """Yields each line received (without its end) until the client closes or time is up."""
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([c], [], [], 0.05)
        if not r:
            yield None
            continue
        data = c.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.rstrip(b"\r")


send_lock = threading.Lock()


def send(data):
    with send_lock:
        c.sendall(data)


later = queue.Queue()


def sender():
    """Sends what send_later() queued, each at its time, in order."""
    while True:
        when, data = later.get()
        time.sleep(max(0, when - time.monotonic()))
        try:
            send(data)
        except OSError:
            return


def send_later(delay, data):
    if not any(t.name == "sender" for t in threading.enumerate()):
        threading.Thread(target=sender, name="sender", daemon=True).start()
    later.put((time.monotonic() + delay, data))


def serve():
    if mode == "mute":
        time.sleep(min(15, deadline - time.monotonic()))
    elif mode == "sink":
        total = 0
        while time.monotonic() < deadline:
            data = c.recv(1 << 20)
            if not data:
                break
            total += len(data)
        print(total, file=sys.stderr, flush=True)
    elif mode == "tick":
        n = 0
        buf = b""
        while time.monotonic() < deadline:
            due = start + 0.15 + 0.3 * n
            r, _, _ = select.select([c], [], [], max(0, due - time.monotonic()))
            if r:
                data = c.recv(65536)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    send(b"got: " + line.rstrip(b"\r") + b"\n")
            if time.monotonic() >= due:
                n += 1
                send(b"tick %d\n" % n)
    elif mode == "batch":
        got = []
        for line in lines():
            if line is not None:
                got.append(line)
            if len(got) == int(arg):
                send(b"".join(b"got: " + g + b"\r\n" for g in got))
                got = []
    else:
        for line in lines():
            if line is None:
                continue
            if mode == "slow":
                send_later(float(arg), b"got: " + line + b"\n")
            elif mode == "pieces":
                for piece in (b"ans", b"wer to ", line, b"\r\n"):
                    send(piece)
                    time.sleep(0.05)
            elif mode == "smtp":
                for piece in (b"250-hello " + line + b"\n250-bare", b" LF\r", b"\n250 done\r\n"):
                    send(piece)
                    time.sleep(0.05)
            elif mode == "double":
                send(b"first " + line + b"\nsecond " + line + b"\n")
            elif mode == "binary":
                send(b"bell\x07 nul\x00 esc\x1b[2J\n")
            elif mode == "partial":
                send(b"partial")
                break
            elif mode == "flood":
                chunk = b"a" * 65536
                left = int(arg)
                while left > 0:
                    send(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
                send(b"\n")


try:
    serve()
except OSError as e:
    print("peer:", e, file=sys.stderr)
    pass
c.close()
if unix_path:
    os.unlink(unix_path)
