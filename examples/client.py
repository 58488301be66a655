#!/usr/bin/env python3
"""A client for `eligo serve`, using only Python's standard library.

The protocol (see the README): one JSON object per line over a Unix socket.  Every
request may carry an "id"; every reply echoes it, and replies come back in the order
of the requests, so a client may send many requests before reading any reply
(pipelining) and match them up by order, checking the ids.

    from client import Client
    with Client("eligo.sock") as eligo:
        d = eligo.decide("idmaj", applicant, as_of="2025-03-01")
        print(d["outcome"], [c["id"] for c in d["criteria"] if c["passed"] is False])
        for reply in eligo.pipeline({"op": "screen", "applicant": a} for a in many):
            ...

Run as a program, it screens the applications of a JSON-lines file (by default
examples/applications.jsonl) for every programme and prints the outcomes:

    python3 examples/client.py [--socket PATH] [--lang fr] [FILE]

Each application's "id" (its number at the front office) goes as its request_key
too, so running the same file again stores nothing new: the replies are the stored
decisions, marked "repeated".  That is how a front office retries safely after a
timeout or a lost connection: send the same request with the same key.  The key is
the id itself when it is a string, its decimal digits when it is a whole number
(8124 and 8124.0 alike, under 2^53, as examples/client.js makes it); any other id
(null, true, 2.5, an object or an array) sends no request_key: its text would not be
the same in every client, or the same for every application.
"""
import argparse
import collections
import json
import os
import socket
import sys


class EligoError(Exception):
    """An error reply: .code is the protocol's error code, .reply the whole reply."""

    def __init__(self, reply):
        error = reply.get("error") or {}
        self.code = error.get("code", "unknown")
        self.reply = reply
        super().__init__("%s: %s" % (self.code, error.get("message", "")))


class ProtocolError(ConnectionError):
    """A reply that is not JSON: the connection cannot be trusted any more."""


class Client:
    """One connection to `eligo serve`.

    send() writes a request and returns its id without waiting; receive() returns
    the next reply (the answer to the oldest request not yet received).  The other
    methods are conveniences over these two.  Not thread-safe: use one Client per
    thread.
    """

    def __init__(self, path=None, timeout=30.0):
        self.path = path or os.environ.get("ELIGO_SOCKET") or "eligo.sock"
        self.timeout = timeout
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(self.path)
        except OSError as e:
            self._sock.close()
            raise ConnectionError("cannot connect to %s: %s" % (self.path, e.strerror or e)) from e
        self._reader = self._sock.makefile("rb")
        self._next_id = 1
        self._pending = collections.deque()   # ids sent, not yet answered, oldest first
        self._broken = None   # why the connection can no longer be used

    def close(self):
        self._reader.close()
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the two primitives --------------------------------------------------

    def unanswered(self):
        """The ids of the requests sent and not answered, oldest first.  After a
        timeout or a lost connection each may or may not have been decided and
        stored: send them again with the same request_key."""
        return list(self._pending)

    def send(self, op, **fields):
        """Send one request (without waiting for its reply); returns its id."""
        if self._broken:
            raise ConnectionError(self._broken)
        request = dict(fields, op=op)
        request.setdefault("id", self._next_id)
        self._next_id += 1
        # Encoded before it is counted as sent: a string that is no UTF-8 (a lone
        # surrogate, "\udc80", which os.fsdecode makes) raises here, and nothing
        # went out to be answered.
        text = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        line = (text + "\n").encode("utf-8")
        # The id as it goes out, which the reply echoes: json.dumps writes a
        # tuple as a list and an int key as a string, so the id given is not
        # always the id sent.
        sent = json.loads(json.dumps(request["id"]))
        self._pending.append(sent)   # before: part of it may reach the server
        self._sock.sendall(line)
        return sent

    def receive(self):
        """The next reply, as a dict (ok or not)."""
        if self._broken:
            raise ConnectionError(self._broken)
        if not self._pending:
            raise RuntimeError("no request is awaiting a reply")
        try:
            line = self._reader.readline()
        except socket.timeout:
            # The reader cannot be used after a timeout: the reply may arrive
            # later, half read.  This connection is done.
            self._broken = ("no reply within %g s to request %r; this connection is closed: "
                            "open another and send the unanswered requests again with their "
                            "request_key" % (self.timeout, self._pending[0]))
            self.close()
            raise TimeoutError(self._broken) from None
        if not line.endswith(b"\n"):
            # Nothing, or a reply cut short: the server went away while writing it.
            self._broken = "the server closed the connection"
            raise ConnectionError(self._broken)
        try:
            reply = json.loads(line)
        except ValueError as e:   # UnicodeDecodeError is one
            self._broken = ("protocol error: the reply to request %r is not JSON (%s): %.60r"
                            % (self._pending[0], e, line))
            raise ProtocolError(self._broken) from None
        if not isinstance(reply, dict):
            self._broken = ("protocol error: the reply to request %r is not a JSON object: %.60r"
                            % (self._pending[0], line))
            raise ProtocolError(self._broken)
        if reply.get("id") != self._pending[0] and reply.get("id") is not None:
            # Replies come in request order: one out of it is no reply to
            # trust, nor are those after it.
            self._broken = ("protocol error: a reply for id %r where %r was expected"
                            % (reply.get("id"), self._pending[0]))
            raise ProtocolError(self._broken)
        self._pending.popleft()
        return reply

    def call(self, op, **fields):
        """Send one request, wait for its reply; raises EligoError if it is an error."""
        self.send(op, **fields)
        reply = self.receive()
        if not reply.get("ok"):
            raise EligoError(reply)
        return reply

    def pipeline(self, requests, window=64):
        """Send REQUESTS (dicts with an "op") keeping up to WINDOW in flight; yield the
        replies in order, errors included (check reply["ok"]).  When the connection
        is lost (closed, timed out, a reply unreadable), the replies that came first
        are yielded (one may say why: line_too_long), then the OSError raised says
        how many requests were not sent and the id they start from; unanswered()
        lists those sent without a reply."""
        requests = iter(requests)
        try:
            for request in requests:
                request = dict(request)
                try:
                    self.send(request.pop("op"), **request)
                except OSError:
                    # This one is among the unanswered until a reply says why.
                    while self._pending:   # raises ConnectionError once the replies end
                        yield self.receive()
                    rest = list(requests)
                    if rest:
                        raise ConnectionError(_not_sent("the server closed the connection", rest))
                    return
                if len(self._pending) == window:
                    yield self.receive()
            while self._pending:
                yield self.receive()
        except OSError as e:
            # Lost while reading replies, with requests still to send: they are
            # said too, not left out of the count of what to send again.
            rest = list(requests)
            if not rest:
                raise
            raise type(e)(_not_sent(e, rest)) from e

    # -- the operations --------------------------------------------------------

    @staticmethod
    def _options(**kw):
        return {k: v for k, v in kw.items() if v is not None}

    def decide(self, program, applicant, as_of=None, lang=None, request_key=None):
        """The decision for APPLICANT on PROGRAM (a dict: outcome, criteria, missing...)."""
        return self.call("decide", program=program, applicant=applicant,
                         **self._options(as_of=as_of, lang=lang, request_key=request_key))["decision"]

    def screen(self, applicant, as_of=None, lang=None, request_key=None):
        """The decisions for APPLICANT on every programme in force."""
        return self.call("screen", applicant=applicant,
                         **self._options(as_of=as_of, lang=lang, request_key=request_key))["decisions"]

    def decision(self, decision_id):
        """One stored decision as it was made (its messages in its own language),
        with the reviews of it."""
        return self.call("decision", decision_id=decision_id)

    def history(self, applicant_id, limit=None):
        """An applicant's decisions, newest first."""
        return self.call("history", applicant_id=applicant_id, **self._options(limit=limit))

    def programs(self, as_of=None, lang=None):
        """The programmes in force: id, title, version, criteria texts."""
        return self.call("programs", **self._options(as_of=as_of, lang=lang))["programs"]

    def health(self):
        return self.call("health")


def _not_sent(why, rest):
    first = rest[0].get("id")
    return "%s: %d request%s after it %s not sent%s" % (
        why, len(rest), "" if len(rest) == 1 else "s", "was" if len(rest) == 1 else "were",
        " (from id %r on)" % (first,) if first is not None else "")


def request_key(id):
    """The request_key an application's id gives, or None: the id itself when it is a
    string, its decimal digits when it is a whole number below 2^53 (JSON does not
    tell 8124.0 from 8124, nor can JavaScript: client.js gives the same key).  None
    for any other id, whose text would differ between clients (true and True, 2.5)
    or be the same for every application (null)."""
    if isinstance(id, str):
        return id
    if isinstance(id, bool):   # a bool is an int in Python
        return None
    if isinstance(id, float) and id.is_integer():
        id = int(id)
    if isinstance(id, int) and abs(id) < 2 ** 53:
        return str(id)
    return None


def _no_duplicates(pairs):
    names = set()
    for name, _ in pairs:
        if name in names:   # the server refuses it: readers differ on which counts
            raise ValueError("the member %s appears twice in one object" % json.dumps(name))
        names.add(name)
    return dict(pairs)


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def _finite(text):
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("the number %s is too large" % text)
    return number


def shown(id):
    """An id as a person reads it: a string as it is, anything else as JSON
    ({"n":1}, not Python's {'n': 1}), as examples/client.js shows it."""
    return id if isinstance(id, str) else json.dumps(id, ensure_ascii=False, separators=(",", ":"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="Screen JSON-lines applications with eligo serve.")
    parser.add_argument("--socket", default=None, help="default $ELIGO_SOCKET, else ./eligo.sock")
    parser.add_argument("--lang", default=None, help="en, fr or ar")
    parser.add_argument("file", nargs="?", default=os.path.join(here, "applications.jsonl"))
    args = parser.parse_args()

    # The whole file is read first: a bad line stops us before anything is
    # sent, rather than after part of the file was decided and stored.
    apps = []
    number = 0
    try:
        with open(args.file, "rb") as f:   # decoded line by line: an error names its line
            for number, raw in enumerate(f, 1):
                line = raw.decode("utf-8")
                if line.strip():
                    # What the server would refuse is refused here, before anything
                    # is sent: a name twice, NaN, a number too large for a double.
                    app = json.loads(line, object_pairs_hook=_no_duplicates,
                                     parse_constant=_no_constant, parse_float=_finite)
                    if not isinstance(app, dict):
                        raise ValueError("not a JSON object")
                    try:   # "\ud800" parses, but is no character: it cannot be sent as UTF-8
                        json.dumps(app, ensure_ascii=False).encode("utf-8")
                    except UnicodeEncodeError as e:
                        raise ValueError("%s is half of a surrogate pair, not a character"
                                         % ascii(e.object[e.start])[1:-1]) from None
                    apps.append(app)
    except (OSError, ValueError) as e:
        where = "%s:%d" % (args.file, number) if isinstance(e, ValueError) else args.file
        print("client.py: %s: %s" % (where, e), file=sys.stderr)
        return 2

    def requests():
        for app in apps:
            app.pop("op", None)
            app.pop("program", None)
            if args.lang:
                app.setdefault("lang", args.lang)
            key = request_key(app.get("id"))
            if key is not None:   # a retry of the same application stores nothing new
                app.setdefault("request_key", key)
            yield dict(app, op="screen")

    class OutputClosed(Exception):
        pass

    class OutputFailed(Exception):
        pass

    def out(text):
        try:
            print(text, flush=True)
        except BrokenPipeError:   # our reader went away (| head): not the server
            raise OutputClosed()
        except OSError as e:   # a full disk, say: our fault to report, not the server's
            raise OutputFailed(e)

    errors = 0
    eligo = None
    try:
        with Client(args.socket) as eligo:
            for reply in eligo.pipeline(requests()):
                if not reply.get("ok"):
                    errors += 1
                    out("%s: error %s" % (shown(reply.get("id")), EligoError(reply)))
                    continue
                outcomes = []
                for d in reply["decisions"]:
                    # passed is null when the criterion lacked data: it is not failed,
                    # and the missing fields are listed after.
                    failed = [c["id"] for c in d.get("criteria", []) if c.get("passed") is False]
                    missing = d.get("missing") or []
                    why = failed + ["missing " + m for m in missing]
                    outcomes.append("%s %s%s" % (d["program"], d["outcome"],
                                                 " (%s)" % ", ".join(why) if why else ""))
                out("%s: %s%s" % (shown(reply.get("id")), "; ".join(outcomes) or "no programme in force",
                                  " (repeated)" if reply.get("repeated") else ""))
    except OutputClosed:
        # Quiet, as a pipe's writer is when its reader has seen enough; the
        # replies not read are the reader's choice.  Nothing more to stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13   # as a shell reports SIGPIPE
    except OutputFailed as e:
        print("client.py: cannot write the output: %s" % (e.args[0].strerror or e.args[0]),
              file=sys.stderr)
        # What is left in stdout's buffer would fail again at exit, with a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    except OSError as e:
        print("client.py: %s" % e, file=sys.stderr)
        if eligo is not None and eligo.unanswered():
            left = eligo.unanswered()
            print("client.py: no reply to %d request%s (%s%s); each may or may not be stored: "
                  "run them again, their request_key makes that safe"
                  % (len(left), "" if len(left) == 1 else "s", ", ".join(map(str, left[:5])),
                     ", ..." if len(left) > 5 else ""), file=sys.stderr)
        return 2
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
