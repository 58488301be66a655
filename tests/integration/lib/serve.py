"""Helpers for the integration tests of `eligo serve` (Python standard library only).

    from serve import Server, applicant, check, finish
    with Server() as srv:                    # shipped rules, temporary socket and database
        c = srv.connect()
        reply = c.request({"op": "health"})  # an "id" is added when missing

Environment: ELIGO (the binary), ELIGO_SOURCE_DIR (the source tree, for rules/).
ELIGO_TEST_RULES overrides the rules directory the servers start on.

A part that cannot run here calls skip(why) and returns; the rest runs, and
finish() then exits SKIPPED (ctest's SKIP_RETURN_CODE), not 0, unless a
check failed.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ELIGO = os.path.abspath(os.environ.get("ELIGO") or "build/eligo")
SOURCE = os.environ.get("ELIGO_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "..")
RULES = os.path.abspath(os.environ.get("ELIGO_TEST_RULES") or os.path.join(SOURCE, "rules"))
FAILURES = []
SKIPPED_PARTS = []
SKIPPED = 77   # the SKIP_RETURN_CODE CMakeLists.txt gives the integration tests


def check(cond, what):
    """Record one expectation; print it either way."""
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILURES.append(what)
    sys.stdout.flush()
    return cond


def skip(what):
    """Record a part that did not run; finish() will not say all passed."""
    print("skip " + what)
    sys.stdout.flush()
    SKIPPED_PARTS.append(what)


def finish():
    if FAILURES:
        print("%d failure(s):" % len(FAILURES))
        for f in FAILURES:
            print("  " + f)
        sys.exit(1)
    if SKIPPED_PARTS:
        print("the rest passed; %d part(s) skipped:" % len(SKIPPED_PARTS))
        for f in SKIPPED_PARTS:
            print("  " + f)
        sys.exit(SKIPPED)
    print("all passed")
    sys.exit(0)


def applicant(i=0, **changes):
    """A valid applicant, eligible for idmaj on 2025-03-01; applicant_id from I."""
    a = {
        "applicant_id": "A%06d" % i,
        "birth_date": "1998-05-10",
        "nationality": "MA",
        "residence": "MA",
        "region": "Casablanca-Settat",
        "education": "bac+2",
        "registered_with_agency": True,
        "employment_status": "unemployed",
        "unemployed_since": "2024-06-15",
        "monthly_household_income": 4200 + i % 1000,
        "household_size": 4,
        "disability": False,
        "in_training": False,
        "business": None,
        "previous_benefits": [],
    }
    a.update(changes)
    return a


def decide(i, rid=None, **extra):
    r = {"id": rid if rid is not None else i, "op": "decide", "program": "idmaj",
         "as_of": "2025-03-01", "applicant": applicant(i)}
    r.update(extra)
    return r


class Conn:
    """One client connection speaking NDJSON."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")
        self.next_id = 1

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        if isinstance(obj, dict) and "id" not in obj:
            obj = dict(obj, id=self.next_id)
            self.next_id += 1
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def send_many(self, objs):
        self.sock.sendall(b"".join(json.dumps(o).encode() + b"\n" for o in objs))

    def recv(self):
        """The next reply as a dict, or None at end of stream."""
        line = self.rfile.readline()
        if not line:
            return None
        return json.loads(line)

    def request(self, obj):
        self.send(obj)
        return self.recv()

    def close(self):
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


class Server:
    """A real `eligo serve` on a temporary socket and database.

    rules: a directory to serve (default the shipped rules); copy_rules=True
    serves a private copy (self.rules) that a test may edit."""

    def __init__(self, args=(), rules=None, copy_rules=False, start=True, extra_files=None):
        self.dir = tempfile.mkdtemp(prefix="eligo-")
        self.socket = os.path.join(self.dir, "s.sock")
        self.db = os.path.join(self.dir, "e.db")
        self.log_path = os.path.join(self.dir, "serve.log")
        src = rules or RULES
        if copy_rules or extra_files:
            self.rules = os.path.join(self.dir, "rules")
            shutil.copytree(src, self.rules)
            for name, text in (extra_files or {}).items():
                with open(os.path.join(self.rules, name), "w") as f:
                    f.write(text)
        else:
            self.rules = src
        self.args = list(args)
        self.proc = None
        if start:
            self.start()

    def command(self):
        return [ELIGO, "serve", "--socket", self.socket, "--db", self.db,
                "--rules", self.rules] + self.args

    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=self.logf)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("eligo serve exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.socket)
                s.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("eligo serve did not start:\n" + self.log())

    def connect(self, timeout=30):
        return Conn(self.socket, timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Send SIG and wait; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "timeout"

    def rss_kib(self, field="VmRSS"):
        """The server's resident memory in KiB, or another field of its
        /proc status (VmHWM: the most it ever held)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def db_query(self, sql, args=()):
        con = sqlite3.connect(self.db, timeout=30)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.stop()
        if getattr(self, "logf", None):
            self.logf.close()
        if exc[0] is None and not FAILURES:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("server log (%s):\n%s" % (self.dir, self.log()[-4000:]))
        return False


def eligo(*args, timeout=120):
    """Run the eligo binary; returns (status, stdout, stderr)."""
    p = subprocess.run([ELIGO] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr
