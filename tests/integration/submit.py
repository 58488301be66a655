#!/usr/bin/env python3
"""Integration test of the clients: `eligo submit`, `eligo bench` and examples/client.py.

Starts the real `eligo serve` on a temporary socket and database (ELIGO_FAKE_SERVER=1
leaves it out); for checks that need a server whose answers are known in advance, a
small NDJSON server written here stands in for it: it speaks the protocol of DESIGN.md (pipelined, replies in request order,
each echoing "id") and decides nothing real.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/submit.py
    tests/integration/submit.py --fake-server PATH     # just run the stand-in
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROGRAMS = ["idmaj", "taehil", "intelaka", "awrach", "auto_entrepreneur"]
FAILURES = 0


# ---- the stand-in server ----------------------------------------------------

def listening(path, backlog):
    """A Unix socket listening at PATH, a stand-in server's."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(backlog)
    return s


def fake_decision(program, applicant):
    """A decision of the shape DESIGN.md fixes, decided by a trivial rule."""
    age_ok = applicant.get("birth_date", "2000") >= "1980"
    return {
        "decision_id": "01FAKE%020d" % abs(hash((program, json.dumps(applicant))) % 10**20),
        "program": program, "program_version": "fake", "ruleset": "0" * 64,
        "as_of": "2025-03-01", "outcome": "eligible" if age_ok else "ineligible",
        "criteria": [{"id": "age", "passed": age_ok, "message": "age"},
                     {"id": "registered", "passed": True, "message": "registered"}],
        "missing": [], "decided_at": "2025-03-01T00:00:00Z",
    }


def fake_reply(line):
    try:
        req = json.loads(line)
    except ValueError as e:
        return {"id": None, "ok": False, "error": {"code": "invalid_json", "message": str(e)}}
    if not isinstance(req, dict):
        return {"id": None, "ok": False,
                "error": {"code": "invalid_request", "message": "not an object"}}
    rid, op = req.get("id"), req.get("op")
    def error(code, message):
        return {"id": rid, "ok": False, "error": {"code": code, "message": message}}
    if op == "decide":
        if req.get("program") not in PROGRAMS:
            return error("unknown_program", "no programme %r" % req.get("program"))
        if not isinstance(req.get("applicant"), dict):
            return error("invalid_request", "applicant: missing")
        return {"id": rid, "ok": True, "decision": fake_decision(req["program"], req["applicant"])}
    if op == "screen":
        if not isinstance(req.get("applicant"), dict):
            return error("invalid_request", "applicant: missing")
        return {"id": rid, "ok": True,
                "decisions": [fake_decision(p, req["applicant"]) for p in PROGRAMS]}
    if op == "health":
        return {"id": rid, "ok": True, "status": "ok"}
    if op == "programs":
        return {"id": rid, "ok": True, "programs": [{"id": p} for p in PROGRAMS]}
    if op in ("history", "decision"):
        return {"id": rid, "ok": True, "decisions": []} if op == "history" else \
            error("not_found", "no such decision")
    return error("unknown_op", "unknown op %r" % op)


def fake_serve_conn(conn):
    with conn:
        rest = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            rest += data
            *lines, rest = rest.split(b"\n")
            out = b"".join(json.dumps(fake_reply(l.decode("utf-8", "replace")),
                                      separators=(",", ":")).encode() + b"\n"
                           for l in lines if l.strip())
            if out:
                try:
                    conn.sendall(out)
                except OSError:   # the client went away (read by head): not ours to say
                    return


def fake_server(path):
    """Listen on PATH in a daemon thread; returns the listening socket."""
    s = listening(path, 256)
    def accept():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=fake_serve_conn, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return s


# ---- the real server ----------------------------------------------------------

def real_server(eligo, source, tmp, name="real", args=()):
    """Start `eligo serve` (with ARGS); returns (process, socket), or None when
    ELIGO_FAKE_SERVER=1 asks for the stand-in alone, or (a failure) when it
    does not start."""
    if os.environ.get("ELIGO_FAKE_SERVER") == "1":
        return None
    sock = os.path.join(tmp, name + ".sock")
    proc = subprocess.Popen([eligo, "serve", "--socket", sock, "--db", os.path.join(tmp, name + ".db"),
                             "--rules", os.path.join(source, "rules"), "--quiet"] + list(args),
                            stderr=open(os.path.join(tmp, "serve.log"), "wb"))
    for _ in range(200):
        if os.path.exists(sock):
            try:
                socket.socket(socket.AF_UNIX).connect(sock)
                return proc, sock
            except OSError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    check(False, "eligo serve starts", open(os.path.join(tmp, "serve.log")).read())
    return None


# ---- checks -----------------------------------------------------------------

def check(cond, what, detail=""):
    global FAILURES
    if cond:
        print("ok   %s" % what)
    else:
        FAILURES += 1
        print("FAIL %s%s" % (what, ("\n     " + str(detail)[:2000]) if detail else ""))


def applicant(i):
    """A valid applicant of rules/schema.lua; I varies it."""
    return {
        "applicant_id": "T%05d" % i, "birth_date": "%04d-%02d-15" % (1975 + i % 35, 1 + i % 12),
        "nationality": "MA", "residence": "MA", "region": "Oriental",
        "education": ["primary", "bac", "bac+3", "bac+5"][i % 4],
        "registered_with_agency": i % 5 != 0, "employment_status": "unemployed",
        "unemployed_since": "2024-01-10", "monthly_household_income": 1000 + 250 * (i % 9),
        "household_size": 1 + i % 3, "disability": False, "in_training": False,
        "business": None if i % 2 else {
            "sector": "crafts", "plan_submitted": True, "project_cost": 100000,
            "own_contribution": 15000, "expected_turnover": 150000, "legal_form": "none"},
        "previous_benefits": [],
    }


def run(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_submit(eligo, sock, real):
    n = 300
    lines = [json.dumps({"id": "A%d" % i, "applicant": applicant(i), "as_of": "2025-03-01"})
             for i in range(n)]
    rc, out, err = run([eligo, "submit", "--socket", sock, "--program", "awrach"],
                       "\n".join(lines).encode() + b"\n")
    replies = [json.loads(l) for l in out.splitlines()]
    check(rc == 0, "submit --program: exit status 0", err)
    check([r.get("id") for r in replies] == ["A%d" % i for i in range(n)],
          "submit: one reply per line, in order (%d pipelined)" % n, out[:500])
    check(all(r.get("ok") and r["decision"]["program"] == "awrach" for r in replies),
          "submit --program: op and program inserted", out[:500])

    rc, out, err = run([eligo, "submit", "--socket", sock, "--screen", "--lang", "fr", "-"],
                       ("\n".join(lines[:20]) + "\n\n").encode())
    replies = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and len(replies) == 20 and all(len(r.get("decisions", [])) >= 1 for r in replies),
          "submit --screen: a list of decisions per line, blank lines skipped", out[:500] + err)

    # Lines naming their own op/program, one without an id, one without a final newline.
    mixed = [json.dumps({"id": 1, "op": "decide", "program": "idmaj", "applicant": applicant(1),
                         "as_of": "2025-03-01"}),
             json.dumps({"program": "taehil", "applicant": applicant(2), "as_of": "2025-03-01"}),
             json.dumps({"id": 3, "applicant": applicant(3), "as_of": "2025-03-01"})]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(mixed))
    rc, out, err = run([eligo, "submit", "--socket", sock, f.name])
    os.unlink(f.name)
    replies = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and [r.get("id") for r in replies] == [1, 2, 3],
          "submit FILE: an id-less line gets its line number; last line without newline",
          out[:500] + err)
    check(len(replies) == 3 and replies[0]["decision"]["program"] == "idmaj"
          and replies[1]["decision"]["program"] == "taehil" and "decisions" in replies[2],
          "submit: decide when a line names a programme, screen otherwise", out[:800])

    # An error among good lines: every line is answered, exit status 1.
    bad = lines[:3] + [json.dumps({"id": "bad", "program": "no_such_programme",
                                   "applicant": applicant(9)}), "{not json"] + lines[3:6]
    rc, out, err = run([eligo, "submit", "--socket", sock, "--program", "idmaj"],
                       "\n".join(bad).encode() + b"\n")
    replies = [json.loads(l) for l in out.splitlines()]
    codes = [r.get("error", {}).get("code") for r in replies]
    check(rc == 1, "submit: exit status 1 when a reply is an error", (rc, err))
    check(len(replies) == 8 and codes[3] == "unknown_program" and codes[4] == "invalid_json"
          and replies[5].get("ok"), "submit: errors answered in place, the rest carries on",
          out[:1000])

    rc, out, err = run([eligo, "submit", "--socket", sock, "--program", "idmaj", "--table"],
                       "\n".join(bad).encode() + b"\n")
    rows = out.splitlines()
    check(rc == 1 and rows and rows[0].split()[:3] == ["ID", "PROGRAM", "OUTCOME"],
          "submit --table: a header", out[:500])
    check(any(r.startswith("bad") and "unknown_program" in r for r in rows)
          and any(r.startswith("A0 ") and "idmaj" in r for r in rows)
          and "8 requests, " in out, "submit --table: rows and a summary", out)

    rc, out, err = run([eligo, "submit", "--socket", sock, "--screen", "--table"],
                       "\n".join(lines[:2]).encode() + b"\n")
    rows = [r for r in out.splitlines()[1:] if r.startswith("A")]
    check(rc == 0 and len(rows) == 2 * len(PROGRAMS) if not real else len(rows) >= 2,
          "submit --screen --table: one row per decision", out)

    rc, out, err = run([eligo, "submit", "--socket", "/nonexistent/eligo.sock"], b"{}\n")
    check(rc == 2 and "cannot connect" in err, "submit: exit status 2 when it cannot connect", err)
    here = os.path.abspath(__file__)   # a regular file given for the socket: said, not "refused"
    rc, out, err = run([eligo, "submit", "--socket", here], b"{}\n")
    check(rc == 2 and ("cannot connect to %s: it is a regular file, not a socket" % here) in err,
          "submit: a --socket that is a regular file is named as such", err)
    rc, out, err = run([eligo, "submit", "--socket", sock, "--screen", "--program", "idmaj"], b"")
    check(rc == 2, "submit: exit status 2 for --screen with --program", err)
    rc, out, err = run([eligo, "submit", "--bogus"], b"")
    check(rc == 2 and "usage" in err, "submit: exit status 2 on an unknown option", err)
    rc, out, err = run([eligo, "submit", "--socket", sock, "/nonexistent/apps.jsonl"], b"")
    check(rc == 2, "submit: exit status 2 on an unreadable file", err)
    rc, out, err = run([eligo, "submit", "--help"])
    check(rc == 0 and "--table" in out, "submit --help", out)


def test_bench(eligo, sock):
    rc, out, err = run([eligo, "bench", "--socket", sock, "-n", "2000", "-c", "4", "-P", "16"])
    check(rc == 0 and "errors     0" in out and all(k in out for k in ("p50", "p90", "p99 ",
                                                                      "p99.9", "max")),
          "bench -n 2000: no errors, percentiles printed", out + err)
    rc, out, err = run([eligo, "bench", "--socket", sock, "-n", "2000", "--op", "screen", "--json"])
    try:
        r = json.loads(out)
    except ValueError:
        r = {}
    check(rc == 0 and r.get("requests") == 2000 and r.get("errors") == 0
          and r.get("decisions", 0) >= 2000 and set(r.get("latency_ms", {})) >=
          {"p50", "p90", "p99", "p999", "max"}, "bench --op screen --json", out + err)
    rc, out, err = run([eligo, "bench", "--socket", sock, "-d", "1", "--rate", "500", "-c", "2",
                        "--json"])
    r = json.loads(out) if rc == 0 else {}
    check(rc == 0 and 350 <= r.get("requests", 0) <= 650,
          "bench --rate 500 -d 1: open loop keeps the rate", out + err)
    rc, out, err = run([eligo, "bench", "--socket", "/nonexistent/eligo.sock", "-n", "10"])
    check(rc == 2 and "cannot connect" in err, "bench: exit status 2 when it cannot connect", err)
    rc, out, err = run([eligo, "bench", "--socket", os.path.dirname(sock) or ".", "-n", "10"])
    check(rc == 2 and "it is a directory, not a socket" in err,
          "bench --socket DIR: said to be a directory, not 'connection refused'", err)
    rc, out, err = run([eligo, "bench", "-n", "10", "-d", "1"])
    check(rc == 2, "bench: -n and -d exclude each other", err)
    for opt, val in (("-n", "0x10"), ("-n", "1e3"), ("-c", " 4"), ("--rate", "0x20")):
        rc, out, err = run([eligo, "bench", "--socket", sock, opt, val])
        check(rc == 2 and ("%s takes a " % opt) in err and ("not '%s'" % val) in err,
              "bench %s '%s': refused, decimal digits only" % (opt, val), err)
    rc, out, err = run([eligo, "bench", "--emit", "7", "--applicants", "3"])
    lines = out.splitlines()
    ids = [json.loads(x)["applicant"]["applicant_id"] for x in lines]
    check(rc == 0 and len(lines) == 7 and lines[0:3] == lines[3:6] == [lines[6]] + lines[1:3]
          and len(set(ids)) == 3, "bench --applicants 3: three applicants, cycled", out + err)
    rc, out, err = run([eligo, "bench", "--emit", "3", "--applicants", "0"])
    check(rc == 2 and "--applicants" in err, "bench --applicants 0 is refused", err)
    # A line of --file that is no JSON object is named by its number before
    # any request is sent (it was sent, and counted an error by code only).
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        good = json.dumps({"program": "idmaj", "applicant": applicant(5)})
        f.write("\n".join([good, "", good, "{not json", good]) + "\n")
    rc, out, err = run([eligo, "bench", "--socket", sock, "--file", f.name, "-n", "10", "-c", "1"])
    os.unlink(f.name)
    check(rc == 2 and out == "" and ("%s:4: not a JSON object" % f.name) in err,
          "bench --file: a line that is not JSON is refused by its number (%d)" % rc, out + err)
    rc, out, err = run([eligo, "bench", "--emit", "3", "--file", "x.jsonl"])
    check(rc == 2 and out == "" and "--emit prints generated requests and sends nothing: --file "
          "is for a run" in err, "bench --emit with --file is refused, not ignored", err)

    # --shuffle: the same requests, in an order of their own, the same for the
    # same seed; cycled as the unshuffled ones are.
    def emitted(*opts):
        rc, out, err = run([eligo, "bench", "--emit", "600", "--applicants", "200"] + list(opts))
        check(rc == 0, "bench --emit %s" % " ".join(opts), err)
        return out.splitlines()
    plain, mixed = emitted(), emitted("--shuffle")
    ids = [json.loads(x)["applicant"]["applicant_id"] for x in mixed[:200]]
    rises = sum(a < b for a, b in zip(ids, ids[1:]))
    check(sorted(plain[:200]) == sorted(mixed[:200]) and mixed[:200] == mixed[200:400]
          and 60 <= rises <= 140, "bench --shuffle: the same 200 requests, cycled, in no "
          "ascending order (%d rises of 199)" % rises, "\n".join(mixed[:5]))
    check(emitted("--shuffle") == mixed and emitted("--shuffle", "--seed", "7") !=
          emitted("--seed", "7"), "bench --shuffle: one order per seed", "")
    # Every seed is its own, past 2^53 too (read as a double, 2^53 + 1 was 2^53).
    check(emitted("--seed", "9007199254740993") != emitted("--seed", "9007199254740992"),
          "bench --seed: 2^53 + 1 and 2^53 are two seeds", "")
    rc, out, err = run([eligo, "bench", "--emit", "1", "--seed", "18446744073709551616"])
    check(rc == 2 and "--seed takes a whole number from 0 to 18446744073709551615" in err,
          "bench --seed 2^64 is refused", err)
    # The send times of a million requests in flight are the most it keeps.
    rc, out, err = run([eligo, "bench", "--socket", sock, "-c", "10000", "-P", "101"])
    check(rc == 2 and "would keep 1010000 requests in flight; at most 1000000" in err,
          "bench -c 10000 -P 101 is refused before asking for memory", err)
    rc, out, err = run([eligo, "bench", "--socket", sock, "-n", "500", "-c", "4", "--shuffle",
                        "--json"])
    r = json.loads(out) if rc == 0 else {}
    check(r.get("requests") == 500 and r.get("errors") == 0, "bench --shuffle runs", out + err)


def test_blank_lines(eligo, sock, tmp):
    """Lines of spaces, tabs and carriage returns, which the server answers
    with nothing, are not sent as requests: submit and bench would wait for
    their replies forever."""
    line = json.dumps({"id": "B", "applicant": applicant(1), "as_of": "2025-03-01"})
    text = line + "\n\r\r\n \r \n\t\n" + line + "\n"
    try:
        rc, out, err = run([eligo, "submit", "--socket", sock, "--screen"], text.encode())
        ok = rc == 0 and len(out.splitlines()) == 2
    except subprocess.TimeoutExpired:
        rc, out, ok = "timeout", "", False
    check(ok, "submit: blank lines with carriage returns are skipped (%s)" % rc, out + err)
    path = os.path.join(tmp, "blank.jsonl")
    with open(path, "w") as f:
        f.write(text)
    try:
        rc, out, err = run([eligo, "bench", "--socket", sock, "--file", path, "-n", "40", "-c",
                            "1", "-P", "4", "--op", "screen", "--json"])
        r = json.loads(out) if rc == 0 else {}
    except subprocess.TimeoutExpired:
        rc, r, err = "timeout", {}, ""
    check(r.get("requests") == 40 and r.get("errors") == 0,
          "bench --file: blank lines with carriage returns are skipped (%s)" % rc, err)


def test_submit_odd(eligo, sock):
    """submit --table on a health request, and submit with its standard input
    closed (the socket would have taken its number, and been read as input)."""
    rc, out, err = run([eligo, "submit", "--socket", sock, "--table"], b'{"op":"health"}\n')
    rows = [l for l in out.splitlines()[1:] if l.strip()]
    check(rc == 0 and rows and rows[0].split()[-1] == "ok" and "none in force" not in out,
          "submit --table: a health reply is a plain ok row", out + err)
    # history replies in the table: their rows are decisions made before,
    # which the summary does not count as this run's; an empty one is no
    # "(none in force)", which is a screen's wording.
    rc, out, err = run([eligo, "submit", "--socket", sock, "--screen"],
                       (json.dumps({"applicant": dict(applicant(77), applicant_id="HIST-77")})
                        + "\n").encode())
    n = len(json.loads(out.splitlines()[0]).get("decisions", [])) if rc == 0 else 0
    rc, out, err = run([eligo, "submit", "--socket", sock, "--table"],
                       b'{"op":"history","applicant_id":"HIST-77"}\n'
                       b'{"op":"history","applicant_id":"nobody-here"}\n')
    rows = out.splitlines()
    check(rc == 0 and n >= 1 and "2 requests, 0 decisions: 0 eligible" in out
          and ("%d stored decision%s looked up" % (n, "" if n == 1 else "s")) in out
          and any(r.startswith("2 ") and r.endswith("(no decisions)") for r in rows)
          and "none in force" not in out,
          "submit --table: a history's decisions are shown, not counted as made", out + err)
    p = subprocess.run([eligo, "submit", "--socket", sock], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30,
                       preexec_fn=lambda: os.close(0))
    check(p.returncode == 2 and b"standard input is closed" in p.stderr,
          "submit with its standard input closed says so", p.stderr.decode())


def test_submit_says_where(eligo, sock, source):
    """submit reports what eval reports: the byte offset of an error in the
    input line, not in the line it sent with members added; a line whose
    id the server could not read by its number in the table; a client's
    control characters escaped there; a --lang it does not know refused."""
    lines = [b'{"applicant":{"applicant_id":"x","applicant_id":"y"},"as_of":"2025-03-01"}',
             b'{bad json', b'',
             b'{"program":"idmaj","applicant":{"applicant_id":"x","n":01}}',
             b'{"id":"a\\u001b[31mb","program":"idmaj","as_of":"2025-03-01",'
             b'"applicant":{"applicant_id":"x","birth_date":"\\u001b[31mRED"}}']
    text = b"\n".join(lines) + b"\n"
    rc, out, eval_err = run([eligo, "eval", "--rules", os.path.join(source, "rules"), "-"], text)
    at_eval = re.findall(r"at byte (\d+)", eval_err)
    rc, out, err = run([eligo, "submit", "--socket", sock, "--program", "idmaj"], text)
    at_submit = re.findall(r"at byte (\d+)", out)
    check(rc == 1 and at_eval == ["34", "2", "56"] and at_submit == at_eval,
          "submit gives the input line's byte offsets, as eval does (%s, eval %s)"
          % (at_submit, at_eval), out + err)
    said = err.splitlines()
    check(len(said) == 4 and said == eval_err.splitlines() and said[1].startswith("-:2: invalid_json"),
          "submit says each error on stderr by its line, as eval does (the reply to line 2 has "
          "no id)", err + "\n---\n" + eval_err)
    rc, out, err = run([eligo, "submit", "--socket", sock, "--table"], text)
    rows = out.splitlines()
    check(rc == 1 and any(r.startswith("line 2 ") and "invalid_json" in r for r in rows),
          "--table: a line the server could not read the id of is named by its number", out)
    check("\x1b" not in out and "a\\x1b[31mb" in out and "'\\x1b[31mRED'" in out,
          "--table: control characters a client sent are escaped", out)
    # A message that quotes the client's text keeps it as sent.
    rc, out, err = run([eligo, "submit", "--socket", sock],
                       b'{"program":"zz at byte 99","applicant":{}}\n')
    check(rc == 1 and "'zz at byte 99'" in out, "a quoted ' at byte 99' is left as sent", out)
    rc, out, err = run([eligo, "submit", "--socket", sock, "--lang", "de"], text)
    check(rc == 2 and "--lang is en, fr or ar, not 'de'" in err, "submit --lang de is refused", err)


def test_line_too_long(eligo, sock):
    """A line over the server's limit: it answers line_too_long and closes the
    connection; submit prints that reply (whatever it was sending then) and
    says the connection closed, not "sending: Broken pipe"."""
    line = json.dumps({"id": "L", "applicant": applicant(2), "as_of": "2025-03-01"})
    big = json.dumps({"id": "X", "applicant": applicant(3), "pad": "x" * (2 << 20)})
    for _ in range(3):
        rc, out, err = run([eligo, "submit", "--socket", sock, "--screen"],
                           ("\n".join([line, big, line]) + "\n").encode())
        said = (rc == 2 and '"line_too_long"' in out and "closed the connection" in err
                and "Broken pipe" not in err)
        if not said:
            break
    check(said, "submit: a line too long, its reply printed and the close said (%s)" %
          err.strip()[-120:], out[-300:] + err)


def test_bench_long_line(eligo, sock, tmp):
    """A line over the server's limit in bench's file, one request in flight:
    the server answers line_too_long before it has read the line whole, so
    the reply frees the pipeline while the write is still out.  bench waits
    for the write, counts the reply and the connection lost, and exits 2 (it
    crashed on a write request it did not have)."""
    a = {"op": "decide", "program": "idmaj", "as_of": "2025-03-01", "applicant": applicant(4)}
    path = os.path.join(tmp, "long.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(json.dumps(x) for x in (a, dict(a, pad="x" * (2 << 20)), a, a)) + "\n")
    for _ in range(3):
        rc, out, err = run([eligo, "bench", "--socket", sock, "--file", path, "-n", "4", "-c", "1",
                            "-P", "1", "--json"])
        codes = json.loads(out).get("error_codes", {}) if out.strip() else {}
        said = rc == 2 and codes.get("line_too_long") == 1 and "connection_closed" in codes
        if not said:
            break
    check(said, "bench: a line too long with one in flight, reported, status 2 (status %d)" % rc,
          out[-300:] + err[-300:])


def test_bench_over_limit(eligo, source, tmp):
    """A real server at its limit of connections refuses bench's with an
    error before reading any request: the requests bench sent on them are
    lost, none answered, and no latency is measured (the refusal was counted
    as the reply to the first request sent)."""
    started = real_server(eligo, source, tmp, "limit", ["--max-connections", "1"])
    if not started:
        return
    proc, sock = started
    held = None
    try:
        # The one connection, once real_server's probe is gone (until the
        # server sees it close, this one is refused too).
        for _ in range(100):
            held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            held.connect(sock)
            held.sendall(b'{"op":"health"}\n')
            if b'"ok":true' in held.makefile("rb").readline():
                break
            held.close()
            time.sleep(0.05)
        for _ in range(3):
            rc, out, err = run([eligo, "bench", "--socket", sock, "-c", "2", "-P", "8", "-n", "64",
                                "--json"])
            r = json.loads(out) if out.strip() else {}
            codes = r.get("error_codes", {})
            ok = (rc == 2 and r.get("requests") == 0 and r.get("decisions") == 0
                  and "overloaded" in codes and sum(codes.values()) == r.get("errors"))
            if not ok:
                break
        check(ok, "bench refused by a server at its limit: no request answered, each lost under "
              "overloaded (status %d)" % rc, out + err)
        # submit prints the refusal, and says it on stderr too, with the rest.
        rc, out, err = run([eligo, "submit", "--socket", sock],
                           b'{"program":"idmaj","applicant":{}}\n')
        check(rc == 2 and '"code":"overloaded"' in out and
              "eligo submit: the server refused the connection: overloaded: " in err and
              "1 request unanswered" in err,
              "submit refused by a server at its limit says so on stderr (status %d)" % rc,
              out + err)
    finally:
        if held:
            held.close()
        proc.terminate()
        proc.wait(timeout=30)


def test_submit_timeout(eligo, tmp):
    """A server that takes the requests and never answers (stopped, stuck):
    submit gives up after --timeout seconds without a reply, saying how many
    went unanswered, status 2; it waited for good."""
    path = os.path.join(tmp, "mute.sock")
    s = listening(path, 4)
    held = []

    def serve():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            held.append(c)   # read nothing, answer nothing
    threading.Thread(target=serve, daemon=True).start()
    lines = "\n".join(json.dumps({"id": "T%d" % i, "applicant": applicant(i)}) for i in range(3))
    t0 = time.time()
    rc, out, err = run([eligo, "submit", "--socket", path, "--timeout", "1"], (lines + "\n").encode())
    took = time.time() - t0
    check(rc == 2 and "no reply for 1 s with 3 requests in flight" in err and took < 30,
          "submit --timeout 1 against a mute server: gives up, saying so (status %d, %.1f s)" %
          (rc, took), err)
    rc, _, err = run([eligo, "submit", "--socket", path, "--timeout", "-1"], b"")
    check(rc == 2 and "--timeout takes seconds from 0 to 86400, not '-1'" in err,
          "submit --timeout -1 is refused", err)
    s.close()
    for c in held:
        c.close()


def test_submit_lost(eligo, tmp):
    """A server that answers the first request and goes away: submit names
    the lines left unanswered and where the input stopped being sent, so a
    run can be resumed from there (it gave only their number)."""
    apps = os.path.join(tmp, "resume.jsonl")
    with open(apps, "w") as f:
        for i in range(200):
            f.write(json.dumps({"id": "R%d" % i, "applicant": applicant(i)}) + "\n")
    sock = os.path.join(tmp, "answers-one.sock")
    scripted_server(sock, lambda line: json.dumps(fake_reply(line.decode()),
                                                  separators=(",", ":")).encode() + b"\n")
    rc, out, err = run([eligo, "submit", "--socket", sock, apps])
    m = re.search(r"with (\d+) requests? unanswered \(%s lines (\d+) to (\d+)\); the input "
                  r"from line (\d+) on was not sent" % re.escape(apps), err)
    n, first, last, rest = (int(x) for x in m.groups()) if m else (0, 0, 0, 0)
    check(rc == 2 and out.startswith('{"id":"R0"') and len(out.splitlines()) == 1 and m
          and first == 2 and last - first + 1 == n and rest == last + 1,
          "submit: a connection lost names the lines unanswered and those not sent (%d)" % rc,
          out[:200] + err)


def test_submit_output_fails(eligo, tmp):
    """Standard output that cannot be written (/dev/full): submit stops at the
    first failed write, status 2, rather than send the rest of its input to
    be decided and stored with every reply lost."""
    path = os.path.join(tmp, "counting.sock")
    s = listening(path, 1)
    received = []

    def serve():
        conn, _ = s.accept()
        with conn:
            rest = b""
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                rest += data
                *lines, rest = rest.split(b"\n")
                received.extend(lines)
                try:
                    conn.sendall(b"".join(json.dumps(fake_reply(l.decode()),
                                                     separators=(",", ":")).encode() + b"\n"
                                          for l in lines))
                except OSError:
                    break
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    lines = "".join(json.dumps({"id": "F%d" % i, "applicant": applicant(i)}) + "\n"
                    for i in range(2000))
    with open("/dev/full", "wb") as full:
        p = subprocess.run([eligo, "submit", "--socket", path, "--screen"], input=lines.encode(),
                           stdout=full, stderr=subprocess.PIPE, timeout=60)
    t.join(timeout=30)
    s.close()
    err = p.stderr.decode()
    check(p.returncode == 2 and "writing standard output failed: No space left on device" in err
          and len(received) < 2000,
          "submit > /dev/full stops at the first failed write (%d of 2000 lines sent, status %d)"
          % (len(received), p.returncode), err)


def test_bench_refused(eligo, tmp):
    """A server that closes each connection at once, or refuses it with an
    error first (too many connections): bench reports it, not killed by
    SIGPIPE nor blaming a reply to no request."""
    refusal = (b'{"id":null,"ok":false,"error":{"code":"overloaded",'
               b'"message":"the server already has 1 connections"}}\n')
    for name, greeting in (("closer", b""), ("refuser", refusal)):
        path = os.path.join(tmp, name + ".sock")
        s = listening(path, 16)

        def serve(s=s, greeting=greeting):
            while True:
                try:
                    c, _ = s.accept()
                except OSError:
                    return
                if greeting:
                    c.sendall(greeting)
                c.close()
        threading.Thread(target=serve, daemon=True).start()
        for _ in range(3):
            rc, out, err = run([eligo, "bench", "--socket", path, "-n", "100", "-c", "2", "-P",
                                "8", "--json"])
            r = json.loads(out) if out.strip() else {}
            codes = r.get("error_codes", {})
            # A connection lost with requests unanswered is a connection
            # error, status 2, whether a reply came first or not.
            said = rc == 2 and (("overloaded" in codes and "connection_closed" in codes)
                                if greeting else ("connection_closed" in codes or
                                                  "closed every connection" in err))
            if not said:
                break
        check(said, "bench against a server that %s: reported (status %d)" %
              ("refuses connections" if greeting else "closes connections", rc), out + err)
        if greeting:
            line = json.dumps({"applicant": applicant(1)}) + "\n"
            rc, out, err = run([eligo, "submit", "--socket", path, "--screen"], line.encode())
            # The refusal answers the request if it was sent before it came.
            check(rc in (1, 2) and '"overloaded"' in out and
                  (rc == 1 or "reply above says why" in err),
                  "submit to a server that refuses the connection prints its reply (%d %s)" %
                  (rc, err.strip()), out + err)
        s.close()


def test_examples(source, sock, tmp, real):
    apps = os.path.join(tmp, "apps.jsonl")
    with open(apps, "w") as f:
        for i in range(12):
            f.write(json.dumps({"id": "E%d" % i, "applicant": applicant(i),
                                "as_of": "2025-03-01"}) + "\n")
        # Without registered_with_agency, the criteria that read it lack data:
        # the clients say so, and do not list them among the failed ones.
        lacking = applicant(26)
        del lacking["registered_with_agency"]
        f.write(json.dumps({"id": "M", "applicant": lacking, "as_of": "2025-03-01"}) + "\n")

    def lists_missing(out):
        line = [l for l in out.splitlines() if l.startswith("M: ")]
        return (len(line) == 1 and "missing registered_with_agency" in line[0]
                and re.search(r"[(, ]registered[,)]", line[0]) is None)

    client = os.path.join(source, "examples", "client.py")
    rc, out, err = run([sys.executable, client, "--socket", sock, apps])
    check(rc == 0 and sum(l.startswith("E") for l in out.splitlines()) == 12,
          "examples/client.py submits with screen and prints outcomes", out + err)
    if real:
        check(lists_missing(out), "examples/client.py: a criterion lacking data is not listed "
              "as failed", out)
    # Read by `head -n 1`: the first line, and no word about the pipe or the
    # replies it did not read (it once printed "[Errno 32] Broken pipe" and
    # asked to send them all again).  Enough applications that their lines
    # overflow the pipe: the client must see it closed.
    many = os.path.join(tmp, "many.jsonl")
    with open(many, "w") as f:
        for i in range(3000):
            f.write(json.dumps({"id": "H%d" % i, "applicant": applicant(i % 40 + 20),
                                "as_of": "2025-03-01"}) + "\n")
    piped = subprocess.run(["sh", "-c", '"$0" "$1" --socket "$2" "$3" | head -n 1',
                            sys.executable, client, sock, many],
                           capture_output=True, text=True, timeout=60)
    check(len(piped.stdout.splitlines()) == 1 and piped.stderr == "",
          "examples/client.py read by head: one line, nothing on stderr",
          piped.stdout + piped.stderr)
    if real:
        # A line over the server's limit: its reply, then the requests after it
        # said not sent, status 2 (it once printed the first reply alone and
        # exited 0).
        long_apps = os.path.join(tmp, "long_apps.jsonl")
        with open(long_apps, "w") as f:
            for i in range(4):
                app = {"id": "G%d" % i, "applicant": applicant(i), "as_of": "2025-03-01"}
                if i == 1:
                    app["pad"] = "x" * (2 << 20)
                f.write(json.dumps(app) + "\n")
        rc, out, err = run([sys.executable, client, "--socket", sock, long_apps])
        check(rc == 2 and out.startswith("G0: ") and "line_too_long" in out and
              "2 requests after it were not sent (from id 'G2' on)" in err,
              "examples/client.py: a line too long, its reply, and what was not sent (status %d)"
              % rc, out[-300:] + err)
    node = subprocess.run(["sh", "-c", "command -v node"], capture_output=True).stdout.strip()
    if node:
        rc, out, err = run([node, os.path.join(source, "examples", "client.js"),
                            "--socket", sock, apps])
        check(rc == 0 and sum(l.startswith("E") for l in out.splitlines()) == 12,
              "examples/client.js submits with screen and prints outcomes", out + err)
        if real:
            check(lists_missing(out), "examples/client.js: a criterion lacking data is not "
                  "listed as failed", out)
            lines = [l for l in out.splitlines() if l.startswith("E")]
            check(lines and all(l.endswith("(repeated)") for l in lines),
                  "the same applications again: their ids as request keys, nothing stored twice",
                  out)
    if real:
        # An id gives the same request_key in both clients, or none: a string
        # itself, a whole number its digits (8125.0 is 8125 in JavaScript).
        # null once gave "None" for every line (the second a conflict), and
        # true "True" in one client and "true" in the other.
        ids = os.path.join(tmp, "ids.jsonl")
        keyed = ["K1", 8124, 8125.0, None, None, True, {"k": 1}, 2.5]
        with open(ids, "w") as f:
            for i, id in enumerate(keyed):
                f.write(json.dumps({"id": id, "applicant": applicant(60 + i),
                                    "as_of": "2025-03-01"}) + "\n")
        first = [sys.executable, client]
        second = [node, os.path.join(source, "examples", "client.js")] if node else first
        rc1, out1, err1 = run(first + ["--socket", sock, ids])
        rc2, out2, err2 = run(second + ["--socket", sock, ids])
        repeated = [l.endswith("(repeated)") for l in out2.splitlines()]
        check(rc1 == 0 and "(repeated)" not in out1 and rc2 == 0 and
              repeated == [True, True, True, False, False, False, False, False],
              "examples: an id is a request_key when it is a string or a whole number, "
              "the same in both clients; any other id sends none (%s)" % repeated,
              out1 + err1 + out2 + err2)
        # An id that is not a string is shown as JSON by both, alike.
        shown = [l.split(": ", 1)[0] for l in out1.splitlines()]
        shown2 = [l.split(": ", 1)[0] for l in out2.splitlines()]
        check(shown == shown2 and '{"k":1}' in shown and "null" in shown and "true" in shown,
              "examples: both clients show an id as JSON, alike (%s, %s)" % (shown, shown2))
    # Output that cannot be written: said, status 2, not taken for a lost
    # connection (client.py) or ignored with status 0 (client.js).
    if os.path.exists("/dev/full"):
        for c in [[sys.executable, client]] + ([[node, os.path.join(source, "examples", "client.js")]]
                                               if node else []):
            with open("/dev/full", "wb") as full:
                p = subprocess.run(c + ["--socket", sock, apps], stdout=full,
                                   stderr=subprocess.PIPE, timeout=60)
            err = p.stderr.decode()
            check(p.returncode == 2 and "cannot write the output" in err and "no reply" not in err
                  and "Traceback" not in err,
                  "examples/%s: a full disk on stdout is said, status 2 (%d %s)" %
                  (os.path.basename(c[-1]), p.returncode, err.strip()), err)
    if node:
        # Read by `head -c 10`: quiet, status 141 as client.py (it was 0).
        p = subprocess.Popen([node, os.path.join(source, "examples", "client.js"),
                              "--socket", sock, many], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = p.stdout.read(10)
        p.stdout.close()
        err = p.stderr.read().decode()
        p.wait(timeout=60)
        check(len(head) == 10 and p.returncode == 141 and err == "",
              "examples/client.js read by head: quiet, status 141 (%d)" % p.returncode, err)
    # A line that is not a JSON object: said with its line number, before
    # anything is sent (nothing decided and then left unprinted).
    bad = os.path.join(tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write(json.dumps({"id": "G", "applicant": applicant(1)}) + "\ngarbage\n")
    clients = [[sys.executable, os.path.join(source, "examples", "client.py")]]
    if node:
        clients.append([node, os.path.join(source, "examples", "client.js")])
    latin = os.path.join(tmp, "latin1.jsonl")   # not UTF-8, on its first line
    with open(latin, "wb") as f:
        f.write(b'{"id": "H", "applicant": {"applicant_id": "\xe9"}}\n')
    # What the server would refuse, after a line it takes: a name twice (JSON
    # readers differ on which counts), a number no double holds; for
    # client.py, NaN and a lone surrogate too (JSON.parse refuses NaN; the
    # surrogate crashed client.py at sending, after the first line was sent).
    refused = []
    for name, text, both in (("twice", '{"id": "T", "applicant": {"a": 1, "b": {"c": 1, "\\u0063": 2}}}', True),
                             ("huge", '{"id": "T", "applicant": {"a": 1e400}}', True),
                             ("nan", '{"id": "T", "applicant": {"a": NaN}}', False),
                             ("surrogate", '{"id": "T", "applicant": {"a": "\\ud800"}}', False)):
        path = os.path.join(tmp, name + ".jsonl")
        with open(path, "w") as f:
            f.write(json.dumps({"id": "G", "applicant": applicant(1)}) + "\n" + text + "\n")
        refused.append((path, path + ":2:", both))
    for c in clients:
        for path, where, both in [(bad, bad + ":2:", True), (latin, latin + ":1:", True)] + refused:
            if not both and c[-1].endswith(".js"):
                continue
            rc, out, err = run(c + ["--socket", sock, path])
            check(rc == 2 and out == "" and where in err and "Traceback" not in err,
                  "examples/%s: a bad line is named (%s), nothing sent" %
                  (os.path.basename(c[-1]), err.strip()), out + err)
    if node:
        # client.js's options: a misspelt one is not the input file, a missing
        # value is not the default, and a file it cannot read is named.
        js = [node, os.path.join(source, "examples", "client.js")]
        for args, said in ((["--sokcet", apps], "unknown option --sokcet"),
                           ([apps, "--socket"], "--socket needs a value"),
                           (["--socket", sock, tmp], tmp + ": EISDIR")):
            rc, out, err = run(js + args)
            check(rc == 2 and out == "" and said in err and
                  ("usage:" in err or "EISDIR" in said),
                  "examples/client.js %s: %s, status 2 (%d)" % (" ".join(args[:1]), said, rc),
                  out + err)


def scripted_server(path, reply):
    """Listen on PATH for one connection; answer its first line with the bytes
    REPLY(line), then close the connection's sending side, reading on until the
    client closes (closed with requests unread, Linux would reset it, and the
    client could lose the reply)."""
    s = listening(path, 1)
    def serve():
        conn, _ = s.accept()
        with conn:
            data = b""
            while b"\n" not in data:
                data += conn.recv(65536)
            conn.sendall(reply(data.split(b"\n")[0]))
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        s.close()
    threading.Thread(target=serve, daemon=True).start()


def test_example_library(source, sock):
    """examples/client.py used as a library, as its first lines show."""
    sys.path.insert(0, os.path.join(source, "examples"))
    try:
        import client
    finally:
        sys.path.pop(0)
    # A request that cannot be written as UTF-8 (a lone surrogate, as
    # os.fsdecode makes of a byte that is not UTF-8) is refused before
    # anything is sent, and is not left among the requests awaiting a reply:
    # otherwise every later reply was taken for an answer out of order and
    # the connection refused as a protocol error.
    with client.Client(sock) as eligo:
        raised = None
        try:
            eligo.history("A\udc80")
        except UnicodeEncodeError as e:
            raised = e
        check(raised is not None and eligo.unanswered() == [],
              "examples/client.py: a request that is no UTF-8 raises and awaits no reply (%r)"
              % (eligo.unanswered(),))
        try:
            d = eligo.decide("idmaj", applicant(1), as_of="2025-03-01")
            ok = d.get("program") == "idmaj"
        except (OSError, client.EligoError) as e:
            ok = False
            d = e
        check(ok, "examples/client.py: the connection serves the next request after it", str(d))
        # An id that json.dumps writes otherwise than Python holds it (a
        # tuple as a list, an int key as a string) is echoed as it was sent:
        # its reply is the request's, not a protocol error that closed the
        # connection.
        for rid, echoed in ((("case", 7), ["case", 7]), ({1: "a"}, {"1": "a"})):
            try:
                reply = eligo.call("decide", id=rid, program="idmaj", applicant=applicant(2))
                got = reply.get("id")
            except (OSError, client.EligoError) as e:
                got = e
            check(got == echoed, "examples/client.py: the id %r, sent as %s, gets its reply (%s)"
                  % (rid, json.dumps(echoed), got))
    # client.js: an id that JSON.stringify changes as it writes it (a member
    # undefined is left out, a Date is written as its string) is echoed as it
    # was sent, and its reply is the request's, not a "reply for id ... where
    # ... was expected" for a request that was decided all the same.
    node = subprocess.run(["sh", "-c", "command -v node"], capture_output=True).stdout.strip()
    if not node:
        print("skip examples/client.js as a library: node is not installed")
        return
    script = """
const { Client } = require(%s);
(async () => {
  const eligo = await Client.connect(%s);
  for (const id of [{ n: 1, office: undefined }, new Date(0)]) {
    try {
      const r = await eligo.request('decide', { id, program: 'idmaj', applicant: {} });
      console.log('ok ' + JSON.stringify(r.id));
    } catch (e) {
      console.log('rejected ' + e.message);
    }
  }
  eligo.close();
})();
""" % (json.dumps(os.path.join(os.path.abspath(source), "examples", "client.js")), json.dumps(sock))
    p = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and p.stdout.split("\n")[:2] == ['ok {"n":1}', 'ok "1970-01-01T00:00:00.000Z"'],
          "examples/client.js: an id that JSON.stringify rewrites gets its reply (%d)" % p.returncode,
          p.stdout + p.stderr)


def test_examples_lost(source, tmp):
    """The example clients when the server goes away or answers nonsense."""
    apps = os.path.join(tmp, "lost.jsonl")
    with open(apps, "w") as f:
        for i in range(200):
            f.write(json.dumps({"id": "R%d" % i, "applicant": applicant(i)}) + "\n")
    node = subprocess.run(["sh", "-c", "command -v node"], capture_output=True).stdout.strip()
    clients = [[sys.executable, os.path.join(source, "examples", "client.py")]]
    if node:
        clients.append([node, os.path.join(source, "examples", "client.js")])
    def answer(line):
        return json.dumps(fake_reply(line.decode()), separators=(",", ":")).encode() + b"\n"
    n = 0
    for c in clients:
        name = os.path.basename(c[-1])
        def path():
            nonlocal n
            n += 1
            return os.path.join(tmp, "scripted%d.sock" % n)
        # A reply cut short (no newline: the server went away while writing):
        # a lost connection, not a traceback (client.py).
        sock = path()
        scripted_server(sock, lambda line: answer(line)[:40])
        rc, out, err = run(c + ["--socket", sock, apps])
        check(rc == 2 and "the server closed the connection" in err and "no reply to" in err
              and "Traceback" not in err,
              "examples/%s: a reply cut short is a lost connection, status 2 (%d)" % (name, rc),
              out + err)
        # A whole line that is not JSON: a protocol error said, status 2 (a
        # traceback in client.py, an uncaught exception in client.js).
        sock = path()
        scripted_server(sock, lambda line: b"<html>oops</html>\n")
        rc, out, err = run(c + ["--socket", sock, apps])
        check(rc == 2 and "protocol error" in err and "not JSON" in err and "Traceback" not in err
              and "    at " not in err,
              "examples/%s: a reply that is not JSON is a protocol error, status 2 (%d)" % (name, rc),
              out + err)
    # The server answers the first request and closes while client.py waits
    # for the next reply with requests still to send (64 in flight): those are
    # counted too (they were said only when sending failed, not when
    # receiving did).
    sock = path()
    scripted_server(sock, answer)
    rc, out, err = run(clients[0] + ["--socket", sock, apps])
    check(rc == 2 and out.startswith("R0: ") and
          "135 requests after it were not sent (from id 'R65' on)" in err and
          "no reply to 64 requests (R1, " in err,
          "examples/client.py: the connection lost while replies are read: the requests "
          "not sent are said (%d)" % rc, out + err)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--fake-server":
        fake_server(sys.argv[2])
        print("fake server on", sys.argv[2], flush=True)
        threading.Event().wait()
    eligo = os.environ.get("ELIGO", "build/eligo")
    source = os.environ.get("ELIGO_SOURCE_DIR", os.path.dirname(os.path.abspath(__file__)) + "/../..")
    with tempfile.TemporaryDirectory(prefix="eligo-submit-") as tmp:
        fake_sock = os.path.join(tmp, "fake.sock")
        fake = fake_server(fake_sock)
        print("# against the stand-in server")
        test_submit(eligo, fake_sock, real=False)
        test_bench(eligo, fake_sock)
        test_bench_refused(eligo, tmp)
        test_submit_timeout(eligo, tmp)
        test_submit_lost(eligo, tmp)
        test_submit_output_fails(eligo, tmp)
        test_examples(source, fake_sock, tmp, real=False)
        test_examples_lost(source, tmp)
        test_example_library(source, fake_sock)
        fake.close()
        started = real_server(eligo, source, tmp)
        if started:
            proc, sock = started
            print("# against eligo serve")
            try:
                test_submit(eligo, sock, real=True)
                test_bench(eligo, sock)
                test_bench_over_limit(eligo, source, tmp)
                test_blank_lines(eligo, sock, tmp)
                test_line_too_long(eligo, sock)
                test_bench_long_line(eligo, sock, tmp)
                test_submit_odd(eligo, sock)
                test_submit_says_where(eligo, sock, source)
                test_examples(source, sock, tmp, real=True)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        else:
            print("# eligo serve not available: only the stand-in was used")
    print("%d failure(s)" % FAILURES)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
