#!/usr/bin/env python3
"""eligo serve and slow clients: a line must be complete within --line-timeout
of its first byte, which neither a client sending large lines quickly nor one
slow to read its replies (the server then stops reading it) ever meets.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/serve_slow.py
"""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import Server, check, finish  # noqa: E402


def test_trickle():
    """A client that sends a byte now and then, never ending its line, held
    its connection for ever: each byte reset the idle timeout."""
    with Server(args=["--line-timeout", "1", "--idle-timeout", "30"]) as srv:
        c = srv.connect(timeout=10)
        c.send_raw(b'{"id":1,"op":"hea')
        t0 = time.monotonic()
        stop = threading.Event()

        def trickle():
            while not stop.wait(0.2):
                try:
                    c.send_raw(b" ")
                except OSError:
                    return
        t = threading.Thread(target=trickle)
        t.start()
        try:
            r = c.recv()
            end = c.recv()
        except (OSError, ValueError) as e:
            r, end = {"error": repr(e)}, "?"
        dt = time.monotonic() - t0
        stop.set()
        t.join()
        c.close()
        check(r and r.get("ok") is False and r["error"]["code"] == "line_timeout" and
              r["id"] is None and "--line-timeout" in r["error"]["message"],
              "a line still incomplete --line-timeout after its first byte -> line_timeout (%s)"
              % r)
        check(end is None and 0.9 < dt < 4,
              "and the connection is closed, though bytes kept coming (%.1f s)" % dt)
        check("a request line still incomplete" in srv.log(), "the log says so")
        check(srv.connect().request({"op": "health"})["ok"], "the server serves on")


def test_fast_large_lines():
    """Large lines sent steadily for several deadlines on end: each line is
    complete well within its own, and none is refused."""
    with Server(args=["--line-timeout", "1"]) as srv:
        c = srv.connect()
        pad = b" " * (900 << 10)
        n = 12
        data = b"".join(b'{"id":%d,"op":"health"%s}\n' % (i, pad) for i in range(n))
        replies = []

        def read():
            for _ in range(n):
                r = c.recv()
                if r is None:
                    return
                replies.append(r)
        t = threading.Thread(target=read)
        t.start()
        t0 = time.monotonic()
        # About 3.6 MB/s: each line takes a quarter of a second, the whole
        # some three seconds, and a line is always half sent at a sweep.
        for k in range(0, len(data), 64 << 10):
            c.send_raw(data[k:k + (64 << 10)])
            time.sleep(0.018)
        t.join(60)
        dt = time.monotonic() - t0
        c.close()
        check([r.get("id") for r in replies] == list(range(n)) and all(r["ok"] for r in replies),
              "%d lines of 900 KB sent over %.1f s (--line-timeout 1): every one answered ok (%s)"
              % (n, dt, [r.get("ok") or r["error"]["code"] for r in replies]))
        check(dt > 2, "the sending took longer than the deadline (%.1f s)" % dt)


def test_paused_reader():
    """A client slow to read its replies: the server stops reading it, with
    a line begun in its buffer, which the client cannot finish until it
    reads.  The line's time does not run while the server does not read."""
    with Server(args=["--line-timeout", "1", "--idle-timeout", "30", "--verbose"]) as srv:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        s.connect(srv.socket)
        # Small requests, read at once with the line begun after them, whose
        # replies (5 KB each) then pass the megabyte that stops the reading.
        n = 400
        s.sendall(b"".join(b'{"id":%d,"op":"programs"}\n' % i for i in range(n)) +
                  b'{"id":"last","op":"hea')
        time.sleep(2)   # two deadlines without reading a byte
        paused = "paused" in srv.log()
        # Then some of them, stopping now and then: at one of the stops the
        # replies left unread are fewer than stop the reading, more than
        # start it again (half as many), and the line begun is framed to no
        # end while the server still does not read.
        data = b""
        # (The replies are 2.2 MB; the kernel holds some 200 KB of them.)
        for part in (45, 52, 60):
            while data.count(b"\n") < n * part // 100:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            time.sleep(1.5)
        while data.count(b"\n") < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        try:
            s.sendall(b'lth"}\n')
        except OSError:
            pass   # closed: said below
        while data.count(b"\n") < n + 1:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        rs = [json.loads(l) for l in data.splitlines()]
        check(paused, "the server stopped reading the client (backpressure)")
        check([r["id"] for r in rs] == list(range(n)) + ["last"] and all(r["ok"] for r in rs),
              "a client that left %d replies unread for 2 s, then read some with stops of "
              "1.5 s (--line-timeout 1), gets them all, "
              "and the line it then finishes is answered (%s)"
              % (n, [r.get("ok") or r["error"]["code"] for r in rs][-3:]))
        check("a request line still incomplete" not in srv.log(), "and is not cut off")


def test_options():
    with Server(args=["--line-timeout", "0", "--idle-timeout", "2"]) as srv:
        c = srv.connect(timeout=10)
        c.send_raw(b'{"id":1,')
        r = c.recv()
        check(r is None, "--line-timeout 0: a line has no deadline; the idle timeout still "
              "closes a connection that sends nothing more (%s)" % r)
        c.close()


def main():
    test_trickle()
    test_fast_large_lines()
    test_paused_reader()
    test_options()
    finish()


if __name__ == "__main__":
    main()
