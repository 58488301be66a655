#!/usr/bin/env python3
"""eligo serve: every operation, every error code, idempotency, limits and options.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/serve_protocol.py
"""
import datetime
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, RULES, Server, applicant, check, decide, eligo, finish  # noqa: E402

# A programme whose check errs, or never ends, for chosen applicants: the
# shipped rules never do, and rule_error must be seen.
BOOM = """
program "boom" {
  version = "1",
  from = "2000-01-01",
  title = { en = "Boom", fr = "Boum", ar = "Boom" },
  reference = "integration test",
  criterion "size" {
    text = { en = "Household of any size", fr = "Foyer de toute taille", ar = "Boom" },
    reference = "integration test",
    check = function(a, on)
      if a.household_size == 99 then error("boom on purpose") end
      if a.household_size == 96 then error("caf\\xe9, " .. string.rep("\\u{645}", 600)) end
      if a.household_size == 98 then while true do end end
      return true
    end,
  },
}
"""
# A programme whose check spends about 600,000 instructions, or allocates a
# 12 MiB string, for chosen applicants: within the default limits, over the
# ones test_budget sets; or spends tens of billions, which only a clock stops.
BUDGET = """
program "budget" {
  version = "1",
  from = "2000-01-01",
  title = { en = "Budget", fr = "Budget", ar = "Budget" },
  reference = "integration test",
  criterion "size" {
    text = { en = "Household of any size", fr = "Foyer de toute taille", ar = "Budget" },
    reference = "integration test",
    check = function(a, on)
      if a.household_size == 97 then
        local n = 0
        for i = 1, 300000 do n = n + i end
      end
      if a.household_size == 96 then
        local s = string.rep("x", 12 << 20)
      end
      if a.household_size == 95 then
        local n = 0
        for i = 1, 10000000000 do n = n + i end
      end
      return true
    end,
  },
}
"""
HEX = set("0123456789abcdef")


def is_hash(s):
    return isinstance(s, str) and len(s) == 64 and set(s) <= HEX


def test_ops(srv):
    c = srv.connect()
    h = c.request({"id": "h1", "op": "health"})
    check(h["id"] == "h1" and h["ok"] is True, "health echoes the id and is ok")
    for k in ("status", "version", "ruleset", "uptime_s", "connections", "queue_depth",
              "decisions", "requests", "workers"):
        check(k in h, "health has %s" % k)
    check(is_hash(h.get("ruleset")), "health ruleset is a content hash")
    ruleset = h["ruleset"]
    check(h["workers"] == os.cpu_count(), "health workers: one a core by default (%s, %s cores)"
          % (h["workers"], os.cpu_count()))
    check(h["connections"] >= 1 and h["queue_depth"] == 0,
          "health of an idle server: this connection counted, nothing queued (%s, %s)"
          % (h["connections"], h["queue_depth"]))

    p = c.request({"id": 2, "op": "programs"})
    ids = [x["id"] for x in p.get("programs", [])]
    check(p["ok"] and "idmaj" in ids and "boom" in ids, "programs lists the programmes in force")
    pf = c.request({"id": 3, "op": "programs", "lang": "fr"})
    tf = {x["id"]: x["title"] for x in pf["programs"]}
    check(tf.get("boom") == "Boum", "programs in French")
    # A criterion's text shows the parameter it names as in force on as_of:
    # awrach's income ceiling was 1200 before 2025 and is 1500 since.
    for as_of, ceiling in (("2024-06-01", "1200"), ("2025-06-01", "1500")):
        pa = c.request({"op": "programs", "as_of": as_of})
        aw = [x for x in pa.get("programs", []) if x["id"] == "awrach"]
        text = {k["id"]: k["text"] for k in aw[0]["criteria"]}.get("income", "") if aw else ""
        check(("at most %s MAD" % ceiling) in text and "{" not in text,
              "programs on %s: the income text shows the ceiling then in force (%s)" % (as_of, text))

    d = c.request(decide(1, rid={"nested": [1, "x"]}))
    check(d["id"] == {"nested": [1, "x"]}, "any JSON id is echoed as is")
    dec = d.get("decision", {})
    check(d["ok"] and dec.get("program") == "idmaj" and dec.get("outcome") == "eligible",
          "decide: eligible for idmaj")
    check(dec.get("ruleset") == ruleset and dec.get("as_of") == "2025-03-01",
          "decide: the decision names the rule set and as_of")
    for k in ("decision_id", "program_version", "criteria", "missing", "decided_at"):
        check(k in dec, "decision has %s" % k)

    today = datetime.date.today().isoformat()
    d2 = c.request({"id": 5, "op": "decide", "program": "idmaj", "applicant": applicant(1)})
    check(d2["ok"] and d2["decision"]["as_of"] == today, "as_of defaults to today")

    fr = c.request(decide(1, rid="fr", lang="fr"))
    en_msgs = [x["message"] for x in dec["criteria"]]
    fr_msgs = [x["message"] for x in fr["decision"]["criteria"]]
    check(fr["ok"] and fr["decision"].get("lang") == "fr" and fr_msgs != en_msgs,
          "lang fr: messages in French (%s)" % fr_msgs[:1])

    # The requests decided first with no instruction hook: each decide so
    # far was tried so (kept or not: under a sanitizer few are), and a
    # health that follows counts them.
    u = c.request({"op": "health"}).get("uncounted", {})
    check(isinstance(u.get("tried"), int) and u["tried"] >= 3 and 0 <= u.get("kept", -1) <= u["tried"],
          "health counts the requests tried with no instruction hook, and those kept (%s)" % u)

    s = c.request({"id": 6, "op": "screen", "as_of": "2025-03-01", "applicant": applicant(1)})
    progs = [x["program"] for x in s.get("decisions", [])]
    check(s["ok"] and "idmaj" in progs and "boom" in progs and len(progs) == len(set(progs)),
          "screen: one decision per programme in force")

    g = c.request({"id": 7, "op": "decision", "decision_id": dec["decision_id"]})
    check(g["ok"] and g["decision"] == dec, "decision: the stored decision is the one replied")
    g = c.request({"id": 7, "op": "decision", "decision_id": dec["decision_id"].lower()})
    check(g.get("ok") and g["decision"] == dec, "decision: an id in lower case finds it too")

    hi = c.request({"id": 8, "op": "history", "applicant_id": "A000001"})
    hids = [x["decision_id"] for x in hi.get("decisions", [])]
    check(hi["ok"] and len(hids) == 3 + len(progs), "history: every decision of the applicant")
    check(hids[-1] == dec["decision_id"], "history: newest first")
    h1 = c.request({"id": 9, "op": "history", "applicant_id": "A000001", "limit": 1})
    check(len(h1["decisions"]) == 1, "history: limit")
    hn = c.request({"id": 10, "op": "history", "applicant_id": "A000001", "limit": None})
    check(hn.get("ok") and len(hn["decisions"]) == len(hids), "history: a null limit is the default")

    # health counts every request on arrival, itself included.
    before = c.request({"op": "health"})
    for _ in range(5):
        c.request({"op": "programs"})
    after = c.request({"op": "health"})
    check(after["requests"] - before["requests"] == 6,
          "health requests: 5 programs and a health counted (%d, then %d)"
          % (before["requests"], after["requests"]))
    check(after["uptime_s"] > h["uptime_s"] > 0,
          "health uptime_s grows (%s, then %s)" % (h["uptime_s"], after["uptime_s"]))
    c.close()
    return dec


def test_errors(srv):
    c = srv.connect()

    def err(raw, code, what, contains=None):
        c.send_raw(raw if isinstance(raw, bytes) else raw.encode())
        r = c.recv()
        e = (r or {}).get("error", {})
        ok = r is not None and r["ok"] is False and e.get("code") == code
        if contains:
            ok = ok and contains in e.get("message", "")
        check(ok, "%s -> %s (%s)" % (what, code, e.get("message") if r else "no reply"))
        return r

    err(b'{"id":1,"op":"health"\n', "invalid_json", "truncated JSON", "byte")
    err(b'{"id":1, "op": nope}\n', "invalid_json", "bad token", "byte 16")
    for line, at in ((b'{"id":1.,"op":"health"}\n', 9), (b'{"id":1e,"op":"health"}\n', 9),
                     (b'{"id":-,"op":"health"}\n', 8)):
        err(line, "invalid_json", "a number missing its digits (%r)" % line,
            "byte %d: a number with no digits where some must be" % at)
    # A bad escape is said as such, at the escape (lua-cjson said "expected
    # value but found invalid unicode escape code"), and the id is echoed.
    for line, at, said in ((rb'{"id":1,"op":"history","applicant_id":"abc\ud83d"}', 43,
                            "a \\u escape that is no character"),
                           (rb'{"id":1,"op":"history","applicant_id":"\u12G4"}', 40,
                            "a \\u escape that is no character: it needs four hex digits"),
                           (rb'{"id":1,"op":"history","applicant_id":"ab\x41"}', 42,
                            "a backslash escape JSON does not have")):
        r = err(line + b"\n", "invalid_json", "a bad escape (%r)" % line,
                "invalid JSON at byte %d: %s" % (at, said))
        check(r and r["id"] == 1 and "expected value" not in r["error"]["message"],
              "and the id is echoed, no value said to be expected (%s)" % r)
    err(b'\x00\n', "invalid_json", "a NUL byte alone", "byte 1: a NUL byte")
    err(b'{"id":1,"op":"health"\x00}\n', "invalid_json", "a NUL byte after a member",
        "byte 22: a NUL byte")
    err('[1,2]\n', "invalid_request", "not an object")
    err('{"id":2}\n', "invalid_request", "no op", "op")
    err('{"id":3,"op":"decide","program":"idmaj"}\n', "invalid_request", "no applicant",
        "applicant")
    err('{"id":3,"op":"decide","program":"idmaj","applicant":null}\n', "invalid_request",
        "a null applicant", "field 'applicant' must be an object, got null")
    err('{"id":4,"op":"fly"}\n', "unknown_op", "unknown op, naming the ops there are",
        "unknown op 'fly' (decide, screen, decision, history, programs, health, review)")
    err('{"id":5,"op":"decide","program":"nope","applicant":{}}\n', "unknown_program",
        "unknown programme", "nope")
    r = err('{"id":6,"op":"decide","program":"idmaj","applicant":{"birth_date":"2023-02-30"}}\n',
            "invalid_applicant", "impossible date", "birth_date")
    check(r and r["id"] == 6, "error replies echo the id")
    r = err('{"id":61,"op":"decide","program":"idmaj","applicant":{"applicant_id":"A",'
            '"applicant_id":"B"}}\n', "invalid_json", "a key twice in one object",
            "invalid JSON at byte 74: the key 'applicant_id' appears twice in one object")
    check(r and r["id"] == 61, "and the reply echoes the id")
    err('{"id":61,"op":"heal","o\\u0070":"x"}\n', "invalid_json",
        "a key twice, once written with an escape", "byte 22: the key 'op' appears twice")
    # A misspelt field is refused, not ignored: "requestKey" would give up
    # idempotency without a word.
    err('{"id":62,"op":"decide","program":"idmaj","requestKey":"K","applicant":{}}\n',
        "invalid_request", "a field the op does not know",
        "unknown field 'requestKey' (a decide request knows id, op, lang, as_of, program, "
        "applicant, request_key)")
    err('{"id":63,"op":"health","request_key":"K"}\n', "invalid_request",
        "request_key where nothing is stored", "unknown field 'request_key' (a health request")
    err('{"id":64,"op":"decide","program":"idmaj","applicant":{"applicant_id":" "}}\n',
        "invalid_applicant", "a blank applicant_id", "field 'applicant_id' is blank")
    err('{"id":65,"op":"history","applicant_id":""}\n', "invalid_request",
        "history of the empty id", "field 'applicant_id' is blank")
    # Unicode white space and characters that show nothing are blank too.
    for blank in ("\\u00a0\\u2003", "\\u200b", "\\u3000\\ufeff", "\\u00ad\\u200e\\u202a\\u2062",
                  "\\u3164\\ufe0f\\u2800\\u115f", "\\u061c\\u034f\\udb40\\udd00\\udb40\\udc20"):
        err('{"id":66,"op":"decide","program":"idmaj","applicant":{"applicant_id":"%s"}}\n' % blank,
            "invalid_applicant", "an applicant_id of %s" % blank, "field 'applicant_id' is blank")
        err('{"id":67,"op":"history","applicant_id":"%s"}\n' % blank, "invalid_request",
            "history of %s" % blank, "field 'applicant_id' is blank")
        err('{"id":68,"op":"decide","program":"idmaj","request_key":"%s","applicant":{}}\n' % blank,
            "invalid_request", "a request_key of %s" % blank, "field 'request_key' is blank")
    err('{"id":69,"op":"decide","program":"idmaj","request_key":"  ","applicant":{}}\n',
        "invalid_request", "a request_key of spaces", "field 'request_key' is blank")
    # A key of the wrong length says how long it is (in bytes: 101 e-acutes are 202).
    for key, n in (("", 0), ("k" * 201, 201), ("\\u00e9" * 101, 202)):
        err('{"id":69,"op":"screen","request_key":"%s","applicant":{}}\n' % key, "invalid_request",
            "a request_key of %d bytes" % n, "field 'request_key' must be 1 to 200 bytes, got %d" % n)
    r = c.request({"id": 70, "op": "decide", "program": "idmaj", "as_of": "2025-03-01",
                   "applicant": applicant(70, applicant_id="A\u00a0B")})
    check(r and r.get("ok"), "an applicant_id with a space between letters is an id (%s)" % r)
    a99 = applicant(7, household_size=99)
    err('{"id":7,"op":"decide","program":"boom","applicant":%s}\n' % __import__("json").dumps(a99),
        "rule_error", "a rule that raises", "boom")
    # A message that is not UTF-8 (a Latin-1 byte), and long enough to be cut
    # inside an Arabic letter: the reply is still valid UTF-8 JSON.
    a96 = applicant(7, household_size=96)
    c.send_raw(('{"id":71,"op":"decide","program":"boom","applicant":%s}\n' %
                __import__("json").dumps(a96)).encode())
    raw = c.rfile.readline()
    try:
        r96 = __import__("json").loads(raw.decode("utf-8"))
    except ValueError as ex:
        r96 = {"undecodable": str(ex)}
    msg = r96.get("error", {}).get("message", "")
    check(r96.get("id") == 71 and r96["error"]["code"] == "rule_error" and
          "caf\ufffd, \u0645\u0645" in msg,
          "a rule's message that is not UTF-8 comes back as UTF-8 (%r)" % (msg[:60] or r96))
    a98 = applicant(8, household_size=98)
    err('{"id":8,"op":"decide","program":"boom","applicant":%s}\n' % __import__("json").dumps(a98),
        "rule_error", "a rule that never ends")
    err('{"id":9,"op":"decision","decision_id":"01AAAAAAAAAAAAAAAAAAAAAAAA"}\n', "not_found",
        "unknown decision")
    for op, extra in (("decision", {}),
                      ("review", {"review": {"action": "confirm", "by": "a", "reason": "b"}})):
        r = c.request(dict({"id": 9, "op": op, "decision_id": " "}, **extra))
        check(r and r["error"]["code"] == "invalid_request" and
              "'decision_id' is blank" in r["error"]["message"],
              "%s of an empty decision_id: invalid_request, saying so (%s)" % (op, r["error"]))
    h = c.request({"id": 10, "op": "health"})
    check(h and h["ok"], "the connection carries on after every error")
    c.close()


def test_edges(srv):
    """What a front office could send by mistake: each refused by name, or
    answered as the protocol says, on the fast path and off it."""
    c = srv.connect()
    J = __import__("json")

    def reply(raw):
        c.send_raw(raw.encode() if isinstance(raw, str) else raw)
        return c.recv() or {}

    def refused(raw, code, contains, what):
        r = reply(raw)
        e = r.get("error", {})
        check(r.get("ok") is False and e.get("code") == code and contains in e.get("message", ""),
              "%s -> %s (%s)" % (what, code, e.get("message") or r))
        return r

    # A NUL would be cut in C: "NUL\u0000OTHER" and "NUL" would be one person.
    for field, value in (("applicant_id", "NUL\\u0000OTHER"),):
        refused('{"id":1,"op":"decide","program":"idmaj","as_of":"2025-03-01",'
                '"applicant":{"%s":"%s"}}\n' % (field, value), "invalid_request",
                "a NUL character (\\u0000) at byte", "a NUL in an applicant id")
    refused('{"id":2,"op":"decide","program":"idmaj","request_key":"z\\u0000one",'
            '"applicant":{}}\n', "invalid_request", "NUL character", "a NUL in a request key")
    # Ids beyond 2^53 cannot come back exactly; up to it they do.
    r = refused('{"id":9007199254740993,"op":"health"}\n', "invalid_request",
                "too large to be echoed exactly", "an id beyond 2^53")
    check("9007199254740992" not in r["error"]["message"],
          "the message does not show the number read as if it were the one sent")
    r = reply('{"id":9007199254740991,"op":"health"}\n')
    check(r.get("id") == 9007199254740991, "an id of 2^53 - 1 comes back exactly (%r)" % r.get("id"))
    # An unknown language falls back to English, and the decision says so.
    r = reply(J.dumps({"id": 3, "op": "decide", "program": "idmaj", "as_of": "2025-03-01",
                       "lang": "xx", "applicant": applicant(3)}) + "\n")
    d = r.get("decision") or {}
    check(r.get("ok") and d.get("lang") == "en" and "age" in d["criteria"][0]["message"],
          "lang 'xx' decides in English and records en (%r)" % d.get("lang"))
    # as_of is checked whatever the op.
    refused('{"id":4,"op":"history","applicant_id":"X","as_of":"2025-99-99"}\n',
            "invalid_request", "'2025-99-99' is not a valid date", "a bad as_of on history")
    refused('{"id":5,"op":"decision","decision_id":"01AAAAAAAAAAAAAAAAAAAAAAAA","as_of":"bad"}\n',
            "invalid_request", "'bad' is not a valid date", "a bad as_of on decision")
    # A review is not idempotent: a request_key there would promise what it is not.
    refused('{"id":6,"op":"review","decision_id":"01AAAAAAAAAAAAAAAAAAAAAAAA","request_key":"K",'
            '"review":{"action":"confirm","by":"x","reason":"y"}}\n', "invalid_request",
            "'request_key' is for decide and screen", "a request_key on a review")
    # A raw tab inside a string is refused, the id still echoed.
    r = refused('{"id":7,"op":"decide","program":"idmaj","applicant":{"region":"a\tb"}}\n',
                "invalid_json", "a control character", "a raw tab inside a string")
    check(r.get("id") == 7, "and the reply echoes the id (%r)" % r.get("id"))
    check(reply('{"id":8,\t"op":"health"}\r\n').get("ok"), "a tab between tokens is white space")
    # Messages say what the parser found in words, not its token names.
    r = refused('{"id":9,"op":"health"\n', "invalid_json", "the end of the line",
                "a missing brace, named in words")
    check("T_" not in r.get("error", {}).get("message", "x"), "no token names in messages")
    check(r.get("id") == 9, "and the id, read before the line broke, is echoed (%r)" % r.get("id"))
    # An id is echoed only when it ended where it seemed to: 01 is no number
    # (0 was read, then the line broke), and of two ids readers differ on which counts.
    for line in ('{"id":01,"op":"health"}\n', '{"op":"health","id":-01}\n',
                 '{"id":1,"op":"health","id":2}\n'):
        r = refused(line, "invalid_json", "", "a broken or doubled id: %s" % line.strip())
        check("id" in r and r["id"] is None, "and the id is null, not a guess (%r)" % r.get("id"))
    # A review that is not an object is not missing; a review's request_key,
    # refused for a reason of its own, is not listed as a field it knows.
    refused('{"id":12,"op":"review","decision_id":"01AAAAAAAAAAAAAAAAAAAAAAAA","review":"confirm"}\n',
            "invalid_request", "field 'review' must be an object, got the string \"confirm\"",
            "a review sent as a string")
    r = refused('{"id":13,"op":"review","decision_id":"x","review":{},"x":1}\n', "invalid_request",
                "(a review request knows id, op, lang, as_of, decision_id, review)",
                "an unknown field on a review")
    refused('{"id":14,"op":"history","applicant_id":"X","limit":"5"}\n', "invalid_request",
            "from 1 to 10000, got the string \"5\"", "a limit sent as a string")
    refused('{"id":15,"op":"decision","decision_id":"nope"}\n', "not_found", "no decision nope",
            "an unknown decision id, named as sent")
    # One that cannot be an id (cut short, a letter Crockford's base32 does
    # not use) is still not_found, and the message says why it names nothing.
    refused('{"id":16,"op":"decision","decision_id":"01M8Q7013P6988G19S1NB7H4S"}\n', "not_found",
            "no decision 01M8Q7013P6988G19S1NB7H4S: a decision id is 26 characters of Crockford "
            "base32, this one has 25", "a decision id cut short, said so")
    refused('{"id":17,"op":"review","decision_id":"01M8Q7013P6988G19S1NB7H4SU",'
            '"review":{"action":"confirm","by":"a","reason":"b"}}\n', "not_found",
            "its character 26, 'U', is none of them", "a review's decision id with a U, said so")
    r = refused('{"id":18,"op":"decision","decision_id":"01AAAAAAAAAAAAAAAAAAAAAAAA"}\n',
                "not_found", "no decision 01AAAAAAAAAAAAAAAAAAAAAAAA",
                "an id of the right shape that names no decision")
    check(r.get("error", {}).get("message") == "no decision 01AAAAAAAAAAAAAAAAAAAAAAAA",
          "and nothing said of its shape (%s)" % r.get("error", {}).get("message"))
    r = refused('{"id":19,"op":"decision","decision_id":"%s"}\n' % ("\u00e9" * 3000), "not_found",
                "this one has 3000", "a long decision id: the message keeps why")
    check(len(r.get("error", {}).get("message", "")) < 400,
          "and names the id cut short (%d characters)" % len(r.get("error", {}).get("message", "")))
    # Numbers too large are named as such, in a readable form.
    refused(J.dumps({"id": 10, "op": "decide", "program": "awrach", "as_of": "2025-03-01",
                     "applicant": dict(applicant(10), monthly_household_income=1e20)}) + "\n",
            "invalid_applicant", "at most 10000000000000, got the number 1e+20", "an income of 1e20")
    refused('{"id":11,"op":"decide","program":"awrach","as_of":"2025-03-01","applicant":'
            '{"household_size":9223372036854775807}}\n', "invalid_applicant",
            "a whole number below 2^53 in size, got the number 9.223372036854776e+18",
            "a household size beyond 2^53")
    # Just past 2^53 too, where a double no longer tells one whole number from
    # the next: 9007199254740993 would be decided as ...992.
    for n, said in (("9007199254740993", "9007199254740992"), ("1e16", "1e+16")):
        refused('{"id":12,"op":"decide","program":"awrach","as_of":"2025-03-01","applicant":'
                '{"household_size":%s}}\n' % n, "invalid_applicant",
                "a whole number below 2^53 in size, got the number %s" % said,
                "a household size of %s" % n)
    c.close()


def test_idempotency(srv):
    c = srv.connect()
    first = c.request(decide(20, rid=1, request_key="APP-2025-000020"))
    again = c.request(decide(20, rid=2, request_key="APP-2025-000020"))
    check(first["ok"] and again["ok"], "a repeated request_key is ok")
    check(again.get("decision") == first.get("decision"), "the repeat returns the stored decision")
    check(again.get("repeated") is True, "the repeat says so")
    other = c.request({"id": 3, "op": "decide", "program": "idmaj", "as_of": "2025-03-01",
                       "applicant": applicant(21), "request_key": "APP-2025-000020"})
    check(other["ok"] is False and other["error"]["code"] == "conflict",
          "the same key with another application -> conflict")
    # It says what differs: the applicant's first field that does, not its data.
    check(other["error"]["message"] == 'request_key "APP-2025-000020" was already used for a '
          'different application (applicant: differs at applicant.applicant_id)',
          "the conflict says where the applicant differs (%s)" % other["error"]["message"])
    # The key is quoted as a JSON string: a quote or a backslash in it cannot hide its end.
    odd = 'q"uote\\-' + "\u00e9"
    c.request(decide(22, rid=4, request_key=odd))
    r = c.request({"id": 5, "op": "decide", "program": "idmaj", "as_of": "2025-03-01",
                   "applicant": applicant(23), "request_key": odd})
    check(r["ok"] is False and r["error"]["message"].startswith(
              'request_key "q\\"uote\\\\-\u00e9" was already used for a different application'),
          "a conflict quotes its key as a JSON string (%s)" % r.get("error"))
    changed = applicant(20, business={"sector": "crafts", "cost": 1}, previous_benefits=[
        {"program": "idmaj", "date": "2020-01-01"}], in_training=None)
    del changed["in_training"]
    r = c.request({"id": 3, "op": "screen", "as_of": "2025-03-01", "applicant": changed,
                   "request_key": "APP-2025-000020"})
    check(r["ok"] is False and r["error"]["message"].endswith(
          "(op: screen here, decide stored; program: left out here, idmaj stored; applicant: "
          "differs at applicant.business (an object here, null stored))"),
          "and which of op, program and as_of, with their values (%s)" % r["error"]["message"])
    # The application is what was asked of whom: the same applicant under
    # the same key, for another programme or on another date, is another
    # application.  In a language the engine does not know too (the request
    # then takes another path to its fingerprint).
    for lang in (None, "xx"):
        tag = " (lang %s)" % lang if lang else ""
        key = dict(request_key="FP-%s" % lang, **({"lang": lang} if lang else {}))
        r = c.request(decide(25, rid=8, **key))
        check(r["ok"] and "repeated" not in r, "a first decide under a new key%s" % tag)
        for what, change in (("programme", {"program": "awrach"}), ("date", {"as_of": "2025-04-01"})):
            r = c.request(decide(25, rid=8, **dict(key, **change)))
            said = "program: awrach here, idmaj stored" if what == "programme" else \
                "as_of: 2025-04-01 here, 2025-03-01 stored"
            check(r["ok"] is False and r["error"]["code"] == "conflict" and
                  r["error"]["message"].endswith("(%s)" % said),
                  "the same key and applicant for another %s -> conflict, saying so%s (%s)" %
                  (what, tag, r.get("error") or r.get("repeated")))
        r = c.request(decide(25, rid=9, **key))
        check(r["ok"] and r.get("repeated") is True, "the same application again: the stored "
              "decision%s (%s)" % (tag, r.get("error") or ""))
    s1 = c.request({"id": 4, "op": "screen", "as_of": "2025-03-01", "applicant": applicant(22),
                    "request_key": "SCR-22"})
    s2 = c.request({"id": 5, "op": "screen", "as_of": "2025-03-01", "applicant": applicant(22),
                    "request_key": "SCR-22"})
    check(s1["ok"] and s2["ok"] and s1["decisions"] == s2["decisions"],
          "a repeated screen returns the same decisions")
    # A screen with no programme in force stores nothing; its key, if stored
    # already, is still a conflict.
    early = {"op": "screen", "as_of": "1999-01-01", "applicant": applicant(24)}
    r = c.request(dict(early, id=6, request_key="APP-2025-000020"))
    check(r["ok"] is False and r["error"]["code"] == "conflict",
          "a screen with nothing in force, under a key already used: conflict (%s)" % r)
    r = c.request(dict(early, id=7, request_key="EMPTY-1"))
    check(r["ok"] and r["decisions"] == [] and "repeated" not in r,
          "under a new key: no decision, nothing stored (%s)" % r)
    # Retries sent together, pipelined: still one application.
    c.send_many([decide(23, rid=10 + k, request_key="APP-23") for k in range(10)])
    rs = [c.recv() for _ in range(10)]
    ids = {r["decision"]["decision_id"] for r in rs if r and r["ok"]}
    check(len(ids) == 1 and all(r["ok"] for r in rs), "ten pipelined retries: one decision")
    n = srv.db_query("select count(*) from applications where request_key='APP-23'")[0][0]
    check(n == 1, "ten pipelined retries: one application stored (%d)" % n)
    n = srv.db_query("select count(*) from decisions where applicant_id='A000020'")[0][0]
    check(n == 1, "the retried decide stored one decision (%d)" % n)
    c.close()


def test_stored_fields(srv):
    rows = srv.db_query("select client_uid, client_pid, received_at, decided_at, request "
                        "from applications order by id limit 1")
    uid, pid, received, decided, request = rows[0]
    check(uid == os.getuid() and pid == os.getpid(),
          "peer credentials stored (uid %s pid %s)" % (uid, pid))
    check(received.endswith("Z") and decided >= received, "received_at and decided_at stored")
    check(request.startswith("{") and '"op": "decide"' in request,
          "a request is stored")
    # Byte for byte: odd spacing, key order, escapes and a trailing CR kept.
    line = ('{ "applicant":{"applicant_id":"RAW-1" ,"birth_date":"1990-01-01"},\t"op":"decide",'
            '"program":"idmaj","as_of":"2025-03-01","id":"raw","request_key":"RAW-\\u0031"}')
    c = srv.connect()
    c.send_raw((line + "\r\n").encode())
    r = c.recv()
    c.close()
    got = srv.db_query("select request from applications where request_key = 'RAW-1'")
    check(r and r["ok"] and got and got[0][0] == line,
          "the request is stored exactly as received, but its line end (%r)" %
          (got[0][0][:80] if got else r))


def test_framing(srv):
    c = srv.connect()
    c.send_raw(b'\n  \r\n\r\r\n{"id":1,"op":"health"}\r\n\n')
    r = c.recv()
    check(r and r["id"] == 1 and r["ok"], "blank lines are skipped, CRLF accepted")
    # A line of exactly the limit is taken, whether it ends in LF or CRLF.
    head = b'{"id":3,"op":"health","lang":"'
    full = head + b"x" * ((1 << 20) - len(head) - 2) + b'"}'
    for end in (b"\n", b"\r\n"):
        c.send_raw(full + end)
        r = c.recv()
        check(r and r["id"] == 3 and r["ok"], "a line of exactly 1 MiB ending in %r is taken" % end)
    c.send_raw(full + b"\r")   # the CRLF split across two reads
    time.sleep(0.3)
    c.send_raw(b"\n")
    r = c.recv()
    check(r and r["id"] == 3 and r["ok"], "and with its CR and LF in two reads")
    c.send_raw(b'{"id":2,"op":"health"}')
    c.sock.shutdown(socket.SHUT_WR)
    r = c.recv()
    check(r and r["id"] == 2, "a last line without newline is answered at end of input")
    check(c.recv() is None, "then the server closes")
    c.close()

    # One byte over the limit is over it: with its line end sent, or with
    # none yet (the server cannot wait for one).
    over = head + b"x" * ((1 << 20) - len(head) - 1) + b'"}'
    for end, what in ((b"\n{\"id\":2,\"op\":\"health\"}\n", "ending in LF"), (b"", "with no line end yet")):
        c = srv.connect()
        c.send_raw(over + end)
        r = c.recv()
        check(r and r["ok"] is False and r["error"]["code"] == "line_too_long",
              "a line of 1 MiB and one byte, %s -> line_too_long (%s)" % (what, r and r.get("error")))
        try:
            nxt = c.recv()
        except OSError:
            nxt = None
        check(nxt is None, "then the connection is closed")
        c.close()
    c = srv.connect()
    check(c.request({"op": "health"})["ok"], "and the server carries on")
    c.close()
    said = [l for l in srv.log().splitlines() if "longer than 1048576 bytes (--max-line)" in l]
    check(len(said) == 2 and all(" warn " in l and "connection " in l and "pid " in l
                                 for l in said),
          "the log says each line too long, with its connection and client (%s)" % said[-1:])


def test_health_errors(srv):
    """health counts the error replies by code, so that a rule failing in
    production, or clients sending what the server cannot take, show there."""
    def errors():
        c = srv.connect()
        h = c.request({"op": "health"})
        c.close()
        return h.get("errors")
    before = errors()
    want = ["invalid_json", "invalid_request", "unknown_op", "unknown_program",
            "invalid_applicant", "rule_error", "not_found", "conflict", "overloaded",
            "line_too_long", "line_timeout", "internal", "other"]
    check(isinstance(before, dict) and sorted(before) == sorted(want) and
          all(isinstance(v, int) for v in before.values()),
          "health has an error count for every code (%s)" % before)
    if not isinstance(before, dict):
        return
    c = srv.connect()
    c.send_raw(b'nonsense\n{"id":2,"op":"nope"}\n{"id":3,"op":"decide","program":"zz",'
               b'"applicant":{}}\n')
    for _ in range(3):
        c.recv()
    for i in range(2):
        r = c.request({"op": "decide", "program": "boom", "as_of": "2025-03-01",
                       "applicant": applicant(900 + i, household_size=99)})
        check(r.get("error", {}).get("code") == "rule_error", "boom raises a rule_error")
    check(c.request({"op": "health"})["ok"], "a health is no error")
    c.close()
    after = errors()
    delta = {k: after.get(k, 0) - before[k] for k in want if after.get(k, 0) != before[k]}
    check(delta == {"invalid_json": 1, "unknown_op": 1, "unknown_program": 1, "rule_error": 2},
          "health counts the error replies sent, by code (%s)" % delta)


def test_latency_stages(srv):
    """health reports the service's own latency per stage: every answered
    request is counted once in each stage it went through."""
    c = srv.connect()
    stages = ("total", "queue", "engine", "commit", "reply")
    before = c.request({"op": "health"})["latency_ms"]
    check(set(before) == set(stages), "health latency_ms has the stages %s" % (stages,))
    for i in range(20):
        check(c.request(decide(700 + i))["ok"], "decide %d" % i)
    check(c.request({"op": "programs"})["ok"], "programs")
    after = c.request({"op": "health"})["latency_ms"]
    grew = {k: after[k]["count"] - before[k]["count"] for k in stages}
    # The first health is counted too, once its reply went out.
    check(grew == {"total": 22, "queue": 22, "engine": 22, "commit": 20, "reply": 22},
          "20 decides, a programs and a health: counted in their stages (%s)" % grew)
    for k in stages:
        q = [after[k][x] for x in ("p50", "p90", "p99", "p999", "max")]
        check(all(isinstance(v, (int, float)) and v >= 0 for v in q) and q == sorted(q),
              "%s: quantiles in order, in ms (%s)" % (k, q))
        check(after["total"]["max"] >= after[k]["max"],
              "no stage takes longer than a whole request (%s)" % k)


def test_limits():
    with Server(args=["--queue", "1", "--workers", "1", "--max-connections", "3",
                      "--idle-timeout", "1"]) as srv:
        c = srv.connect()
        c.send_many([decide(i) for i in range(200)])
        rs = [c.recv() for _ in range(200)]
        codes = [r["ok"] or r["error"]["code"] for r in rs]
        check([r["id"] for r in rs] == list(range(200)), "overloaded replies keep request order")
        check("overloaded" in codes and True in codes,
              "a full queue -> overloaded (%d of 200)" % codes.count("overloaded"))
        check(all(x in (True, "overloaded") for x in codes), "nothing else fails")
        # The ids the loop echoes itself, refusing work, are the engine's:
        # canonical, or null where the engine refuses them.
        odd = [b'9007199254740991', b'-0.0', b'2.50e1', b'{"b":1,"a":[1.50,2e0,"\\u00e9"]}',
               b'9007199254740993', b'{"a":1,"a":2}', b'"a\\\\u0000b"', b'"\xff\xfe"',
               b'"\\ud83d\\ude00"', b'[' * 63 + b']' * 63, b'[' * 64 + b']' * 64,
               # no number by RFC 8259, though a lenient reader takes one;
               # two ids; an id read whole, the line broken after it
               b'01', b'1.', b'00.5e1', b'1,"id":2', b'7,"op":"health",', b'[1,2],"x":01',
               # a raw control character, in the id and after it
               b'"\x01"', b'3,"x":"\x01"']

        def echo(line):
            return line[len(b'{"id":'):line.index(b',"ok"')]
        engine = []
        for sent in odd:   # one at a time: the engine answers
            c.send_raw(b'{"id":%s,"op":"health"}\n' % sent)
            engine.append(echo(c.rfile.readline()))
        lines = [json.dumps(decide(1000 + i)).encode() for i in range(100)]
        lines += [b'{"id":%s,"op":"health"}' % sent for sent in odd * 5]
        c.send_raw(b"\n".join(lines) + b"\n")
        got = [c.rfile.readline() for _ in range(len(lines))][100:]
        over = sum(b'"overloaded"' in g for g in got)
        check(over > 0 and [echo(g) for g in got] == engine * 5,
              "the ids of overloaded replies (%d of %d) are echoed as the engine echoes them "
              "(%s)" % (over, len(got), engine))
        # Each run of refusals is said when it starts, and once none has come
        # for a second, with its count: not a line per request.  (The idle
        # timeout closes the connection meanwhile.)
        c.close()
        time.sleep(2.5)
        c = srv.connect()
        said = [l for l in srv.log().splitlines() if "(--queue 1)" in l]
        runs = [l for l in said if " warn  1 requests in flight (--queue 1): new requests are "
                "answered overloaded until some are done" in l]
        ends = [int(l.split("after ")[1].split()[0]) for l in said
                if "no request answered overloaded for a second, after " in l]
        h = c.request({"op": "health"})
        check(runs and len(runs) == len(ends) == len(said) / 2 and sum(ends) == h["overloaded"],
              "the log says when a full queue starts answering overloaded, and when it has "
              "stopped, with the count (%d runs, %s; %d overloaded)"
              % (len(runs), ends, h["overloaded"]))
        check(h["workers"] == 1, "health workers: --workers 1 (%s)" % h["workers"])
        before = h["overloaded"]
        c.close()

        conns = [srv.connect() for _ in range(3)]
        extra = srv.connect()
        r = extra.recv()
        check(r and r["error"]["code"] == "overloaded" and "connections" in r["error"]["message"],
              "one connection over --max-connections -> overloaded")
        check(extra.recv() is None, "and it is closed")
        after = conns[0].request({"op": "health"})["overloaded"]
        refusals = srv.log().count("refused: the server already has")
        check(refusals >= 1 and after == before + refusals,
              "health counts the overloaded replies to refused connections too (%d, then %d, "
              "%d refused)" % (before, after, refusals))
        for x in conns:
            x.close()
        extra.close()

        # The server learns of those closes when it reads their end, a moment
        # later: until then a new connection may still find the limit reached.
        for _ in range(40):
            c = srv.connect()
            r = c.request({"op": "health"})
            if r and r["ok"]:
                break
            c.close()
            time.sleep(0.05)
        check(r and r["ok"], "once they are closed, a connection is served")
        t0 = time.time()
        end = c.recv()
        dt = time.time() - t0
        check(end is None and 0.5 < dt < 4, "an idle connection is closed after --idle-timeout (%.1fs)" % dt)
        c.close()


def test_options():
    rc, out, _ = eligo("serve", "--help")
    check(rc == 0 and "--socket" in out and "--listen" in out, "serve --help")
    rc, _, errtext = eligo("serve", "--bogus")
    check(rc == 2 and "--bogus" in errtext, "an unknown option is refused")
    for opt in ("--socket", "--db", "--rules", "--listen"):
        rc, _, errtext = eligo("serve", opt + "=", timeout=30)
        check(rc == 2 and ("%s needs a value, not an empty one" % opt) in errtext,
              "an empty %s is refused (an empty socket path listened where no one could "
              "connect) (%s)" % (opt, errtext.strip()))
    for opt, val, lo, hi in (("--workers", "100000", 1, 256), ("--workers", "0", 1, 256),
                             ("--batch", "100000000000", 1, 65536),
                             ("--idle-timeout", "99999999999999", 0, 31622400),
                             ("--queue", "-1", 1, 16777216), ("--max-line", "1MB", 2, 1073741824)):
        rc, _, errtext = eligo("serve", opt, val, "--db", "/nonexistent/dir/x.db")
        check(rc == 2 and ("eligo serve: %s wants a whole number from %d to %d, not '%s'"
                           % (opt, lo, hi, val)) in errtext,
              "%s %s is refused before anything starts, naming the range (%s)"
              % (opt, val, errtext.strip()))

    # A live server on the socket: the second one refuses, clearly.
    with Server() as srv:
        mode = stat.S_IMODE(os.stat(srv.socket).st_mode)
        check(mode == 0o660, "socket file mode 0660 (%o)" % mode)
        modes = [stat.S_IMODE(os.stat(srv.db + x).st_mode) for x in ("", "-wal")]
        check(modes == [0o600, 0o600], "a new database and its log are the owner's alone, "
              "as they hold applicants' data (%s)" % ["%o" % m for m in modes])
        rc, _, errtext = eligo("serve", "--socket", srv.socket, "--db", srv.db + "2",
                               "--rules", srv.rules, timeout=60)
        check(rc == 1 and "already listening" in errtext, "a second server on a live socket exits 1")
        check(srv.connect().request({"op": "health"})["ok"], "the first one still serves")
        check(srv.stop() == 0, "SIGTERM: exit 0")
        check(not os.path.exists(srv.socket), "the socket file is removed")
        kinds = [k for (k,) in srv.db_query("select kind from events order by id")]
        check(kinds == ["start", "stop"], "events start and stop recorded (%s)" % kinds)
        log = srv.log()
        check(("database %s does not exist: creating it" % srv.db) in log and
              (", database %s, socket %s," % (srv.db, srv.socket)) in log,
              "the log says a new database is made, and where the server serves from")
        start = srv.db_query("select detail from events where kind = 'start'")[0][0]
        check((", database %s, socket %s," % (srv.db, srv.socket)) in start,
              "so does the start event (%s)" % start)
        # A socket in a missing directory: said so, not "permission denied".
        missing = os.path.join(srv.dir, "no-such-dir", "s.sock")
        rc, _, errtext = eligo("serve", "--socket", missing, "--db", srv.db, "--rules", srv.rules,
                               timeout=60)
        check(rc == 1 and ("the directory %s does not exist" % os.path.dirname(missing)) in errtext
              and "every request in flight" not in errtext,
              "a socket in a missing directory is named as such (%s)" % errtext.strip()[-120:])
        fresh = os.path.join(srv.dir, "fresh.db")
        rc, _, errtext = eligo("serve", "--socket", missing, "--db", fresh, "--rules", srv.rules,
                               timeout=60)
        check(rc == 1 and not any(os.path.exists(fresh + x) for x in ("", "-wal", "-shm")),
              "a start that fails leaves no database it made behind")

    # A stale socket (bound, nobody listening) is replaced.
    srv = Server(start=False)
    with srv:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(srv.socket)
        s.close()
        srv.start()
        check(srv.connect().request({"op": "health"})["ok"], "a stale socket file is replaced")
        # A file that is not a socket is never removed.
        rc, _, errtext = eligo("serve", "--socket", srv.db, "--db", srv.db + "3", "--rules", srv.rules)
        check(rc == 1 and "not a socket" in errtext, "a non-socket file at --socket is left alone")

    # No flags: ./rules, ./eligo.db, ./eligo.sock; ELIGO_* variables override.
    import shutil
    import subprocess
    import tempfile
    from serve import ELIGO, Conn
    d = tempfile.mkdtemp(prefix="eligo-defaults-")
    shutil.copytree(RULES, os.path.join(d, "rules"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELIGO_")}
    p = subprocess.Popen([ELIGO, "serve", "--verbose"], cwd=d, env=env, stderr=subprocess.PIPE)
    sock = os.path.join(d, "eligo.sock")
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    try:
        c = Conn(sock)
        check(c.request({"op": "health"})["ok"], "eligo serve with no flags: ./eligo.sock")
        c.close()
    except OSError as e:
        check(False, "eligo serve with no flags: %r" % e)
    p.terminate()
    log = p.communicate(timeout=30)[1].decode()
    check(p.returncode == 0 and os.path.exists(os.path.join(d, "eligo.db")), "... and ./eligo.db")
    check(re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info |debug) ", log, re.M) is not None
          and "connection 1: open" in log, "--verbose logs one line per event, with time and level")
    def quiet_server(name, wait_for, tries, pause):
        """`eligo serve --quiet` on ./NAME.sock and ./NAME.db from its
        ELIGO_* variables, stopped by SIGTERM once the one named WAIT_FOR
        exists: its paths, whether that one appeared, its status and log."""
        env_n = dict(env, ELIGO_SOCKET=os.path.join(d, name + ".sock"),
                     ELIGO_DB=os.path.join(d, name + ".db"), ELIGO_RULES=os.path.join(d, "rules"))
        p = subprocess.Popen([ELIGO, "serve", "--quiet"], cwd="/", env=env_n, stderr=subprocess.PIPE)
        for _ in range(tries):
            if os.path.exists(env_n[wait_for]):
                break
            time.sleep(pause)
        appeared = os.path.exists(env_n[wait_for])
        p.terminate()
        log = p.communicate(timeout=30)[1].decode()
        return env_n, appeared, p.returncode, log

    env2, appeared, rc, log = quiet_server("env", "ELIGO_SOCKET", 200, 0.05)
    check(appeared, "ELIGO_SOCKET, ELIGO_DB, ELIGO_RULES are obeyed")
    check(rc == 0 and os.path.exists(env2["ELIGO_DB"]) and log == "",
          "--quiet: nothing logged on a normal run (%r)" % log[:200])

    # SIGTERM as soon as the socket appears: the loop already has it, and
    # stops cleanly.  The socket used to come before the loop's handlers,
    # and such a SIGTERM ended the process at once (status -15).
    env3, _, rc, log = quiet_server("early", "ELIGO_SOCKET", 10000, 0.001)
    check(rc == 0 and not os.path.exists(env3["ELIGO_SOCKET"]),
          "SIGTERM as the socket appears: a clean stop, no socket left (status %s, %r)"
          % (rc, log[:200]))
    shutil.rmtree(d, ignore_errors=True)

    # TCP, loopback only.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    rc, _, errtext = eligo("serve", "--socket", "/tmp/eligo-nl-%d.sock" % os.getpid(),
                           "--listen", "0.0.0.0:%d" % port, "--rules", RULES, "--db", "/tmp/eligo-nl-%d.db" % os.getpid())
    for suffix in ("db", "db-wal", "db-shm", "sock"):
        try:
            os.unlink("/tmp/eligo-nl-%d.%s" % (os.getpid(), suffix))
        except OSError:
            pass
    check(rc == 2 and ("eligo serve: --listen 0.0.0.0:%d is not a loopback address" % port)
          in errtext, "--listen on a non-loopback address is refused as a usage error, exit 2 (%s)"
          % errtext.strip()[-120:])
    rc, _, errtext = eligo("serve", "--listen", "localhost", "--rules", "/nonexistent/rules")
    check(rc == 2 and "eligo serve: --listen wants HOST:PORT, not 'localhost'" in errtext,
          "--listen without a port: exit 2, saying what it wants (%s)" % errtext.strip()[-120:])
    # IPv4 in IPv6 (::ffff:a.b.c.d): loopback when a.b.c.d is (a missing rules directory
    # stops the loopback one right after the check).
    for host, loop in (("::ffff:127.0.0.1", True), ("::ffff:10.0.0.1", False)):
        rc, _, errtext = eligo("serve", "--listen", "[%s]:%d" % (host, port), "--rules",
                               "/nonexistent/rules", "--db", "/nonexistent/x.db", timeout=30)
        check(rc == (1 if loop else 2) and ("not a loopback address" in errtext) != loop,
              "--listen [%s] is %s (%s)" % (host, "loopback" if loop else "refused",
                                            errtext.strip()[-120:]))
    with Server(args=["--listen", "127.0.0.1:%d" % port]) as srv:
        t = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = t.makefile("rb")
        import json
        t.sendall((json.dumps(decide(1, request_key="TCP-1")) + "\n").encode())
        r = json.loads(f.readline())
        check(r["ok"], "--listen 127.0.0.1:PORT serves over TCP")
        uid, pid = srv.db_query("select client_uid, client_pid from applications "
                                "where request_key='TCP-1'")[0]
        check(uid is None and pid is None,
              "no peer credentials over TCP: NULL (%s, %s)" % (uid, pid))
        t.close()


def test_budget():
    """--instructions and --memory (or ELIGO_INSTRUCTIONS and ELIGO_MEMORY) set
    the limits every decision of the server runs under."""
    import json

    def outcomes(srv):
        c = srv.connect()
        rs = [c.request({"op": "decide", "program": "budget", "as_of": "2025-03-01",
                         "applicant": applicant(i, household_size=size)})
              for i, size in ((1, 97), (2, 96), (3, 4))]
        c.close()
        return [r["ok"] or "%s: %s" % (r["error"]["code"], r["error"]["message"]) for r in rs]

    with Server(extra_files={"budget.lua": BUDGET}) as srv:
        got = outcomes(srv)
        check(got == [True, True, True], "the default limits: 600,000 instructions and a 12 MiB "
              "string pass (%s)" % got)
    limits = ["--instructions", "100000", "--memory", str(8 << 20)]
    with Server(args=limits, extra_files={"budget.lua": BUDGET}) as srv:
        got = outcomes(srv)
        check(got[0] is not True and got[0].startswith("rule_error")
              and "instruction budget of 100000" in got[0],
              "serve --instructions 100000: a longer check is a rule_error (%s)" % got[0])
        check(got[1] is not True and got[1].startswith("rule_error") and "memory cap" in got[1],
              "serve --memory 8 MiB: a 12 MiB string is a rule_error (%s)" % got[1])
        check(got[2] is True, "and a check within both limits decides")
    saved = {k: os.environ.get(k) for k in ("ELIGO_INSTRUCTIONS", "ELIGO_MEMORY",
                                            "ELIGO_TIME_LIMIT")}
    os.environ.update(ELIGO_INSTRUCTIONS="100000", ELIGO_MEMORY=str(8 << 20))
    try:
        with Server(extra_files={"budget.lua": BUDGET}) as srv:
            got = outcomes(srv)
            check(json.dumps(got).count("rule_error") == 2 and got[2] is True,
                  "ELIGO_INSTRUCTIONS and ELIGO_MEMORY are obeyed by serve (%s)" % got)
        # A budget no check reaches: the time limit is what stops the long one.
        os.environ.update(ELIGO_INSTRUCTIONS=str(10 ** 12), ELIGO_TIME_LIMIT="200")
        del os.environ["ELIGO_MEMORY"]
        with Server(extra_files={"budget.lua": BUDGET}) as srv:
            c = srv.connect()
            r = c.request({"op": "decide", "program": "budget", "as_of": "2025-03-01",
                           "applicant": applicant(5, household_size=95)})
            ok = c.request({"op": "decide", "program": "budget", "as_of": "2025-03-01",
                            "applicant": applicant(6, household_size=97)})
            c.close()
            e = r.get("error", {})
            check(e.get("code") == "rule_error" and
                  "time limit of 200 ms exceeded" in e.get("message", "") and ok["ok"],
                  "ELIGO_TIME_LIMIT=200 is obeyed by serve: a longer check is a rule_error, a "
                  "short one decides (%s)" % (e or r))
        os.environ["ELIGO_TIME_LIMIT"] = "abc"
        rc, _, errtext = eligo("serve", "--db", "/nonexistent/dir/x.db")
        check(rc == 2 and "eligo serve: ELIGO_TIME_LIMIT wants a whole number of milliseconds, "
              "not 'abc'" in errtext, "ELIGO_TIME_LIMIT=abc: exit 2, naming milliseconds (%s)"
              % errtext.strip()[-120:])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    rc, _, errtext = eligo("serve", "--instructions", "many")
    check(rc == 2 and "--instructions" in errtext, "serve --instructions takes a number")
    # A cap too small to load the rules: the start is refused, and what the
    # log points to (eligo check) says the same, the limit given with it.
    d = tempfile.mkdtemp(prefix="eligo-")
    try:
        rc, _, errtext = eligo("serve", "--socket", os.path.join(d, "s.sock"), "--db",
                               os.path.join(d, "e.db"), "--rules", RULES, "--memory", "100")
        hint = [l for l in errtext.splitlines() if "problems (eligo check" in l]
        check(rc == 1 and hint and "(eligo check --memory 100 %s)" % RULES in hint[0] and
              "idmaj.lua: memory cap of 100 bytes exceeded" in errtext and
              "idmaj.lua:0:" not in errtext,
              "serve --memory 100: each file it cannot load is named, without a line 0, and the "
              "check to run takes --memory 100 (%s)" % hint)
        if hint:
            cmd = hint[0].split("(eligo ")[1].split(")")[0].split()
            rc2, out2, err2 = eligo(*cmd)
            check(rc2 != 0 and "problems" in out2 + err2,
                  "and that check finds the problems too (%s)" % (out2 + err2).strip()[-80:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_submit_refused():
    """submit refused at the connection limit: the refusal, sent before the
    server reads anything, is no line's reply."""
    with Server(args=["--max-connections", "1"]) as srv:
        # (The start's probe may count a moment after its close: until
        # then, a connection is refused.)
        for _ in range(40):
            held = srv.connect()
            try:
                r = held.request({"op": "health"})
            except OSError:   # refused and closed before the request went
                r = None
            if r and r["ok"]:
                break
            held.close()
            time.sleep(0.05)
        check(r and r["ok"], "one connection, the limit, is served")
        lines = os.path.join(srv.dir, "two.jsonl")
        with open(lines, "w") as f:
            f.write('{"op":"health"}\n{"op":"health"}\n')
        p = subprocess.run([ELIGO, "submit", "--socket", srv.socket, "--table", lines],
                           capture_output=True, text=True, timeout=60)
        rows = p.stdout.splitlines()
        check(p.returncode == 2 and any(r.startswith("-") and "overloaded" in r for r in rows)
              and not any(r.startswith("line ") for r in rows)
              and "with 2 requests unanswered" in p.stderr,
              "submit refused at the connection limit: the refusal is no line's reply (%r, %r)"
              % (p.stdout, p.stderr.strip()))
        held.close()


def test_socket_not_ours():
    """A server removes its socket file when it stops, but not one another
    server put at the path while it ran: that one stays reachable.  (Moved
    there whole: a path left empty the first server would take again.)"""
    with Server() as a:
        theirs = a.socket + ".other"
        other = subprocess.Popen([ELIGO, "serve", "--socket", theirs, "--rules", RULES,
                                  "--db", os.path.join(a.dir, "other.db"), "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if os.path.exists(theirs):
                    break
                time.sleep(0.05)
            os.rename(theirs, a.socket)
            for _ in range(100):
                if "no longer this server's socket" in a.log():
                    break
                time.sleep(0.05)
            check("no longer this server's socket" in a.log(),
                  "the first server sees its path taken, and says so (%s)" % a.log()[-300:])
            check(a.stop() == 0, "the first server stops cleanly")
            check(os.path.exists(a.socket), "and leaves the other's socket file in place")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(a.socket)
            s.sendall(b'{"op":"health"}\n')
            check(b'"ok":true' in s.makefile("rb").readline(), "which still serves")
            s.close()
        finally:
            other.terminate()
            check(other.wait(30) == 0, "the other stops cleanly")


def test_socket_busy():
    """A live listener whose backlog is full is a live server too: a second
    start says so at once (its blocking connect waited for a slot for ever)."""
    d = tempfile.mkdtemp(prefix="eligo-busy-")
    path = os.path.join(d, "s.sock")
    lsn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsn.bind(path)
    lsn.listen(0)
    waiting = []
    try:
        for _ in range(8):   # fill the backlog; the listener never accepts
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close()
                break
            waiting.append(c)
        try:
            p = subprocess.run([ELIGO, "serve", "--socket", path, "--rules", RULES,
                                "--db", os.path.join(d, "e.db"), "--quiet"],
                               capture_output=True, text=True, timeout=30)
            st, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            st, err = "still waiting after 30 s", ""
        check(st == 1 and "another server is already listening" in err,
              "a start on a busy live socket is refused at once (%s: %s)" % (st, err.strip()[-200:]))
        check(os.path.exists(path), "and the socket file is left in place")
    finally:
        for c in waiting:
            c.close()
        lsn.close()
        shutil.rmtree(d, ignore_errors=True)


def test_socket_removed():
    """A socket file removed while the server runs (a cleaner of the
    directory, a hand) is made again within a second or so: new clients
    reach the server, the connections open go on, and the stop removes the
    new file."""
    with Server() as srv:
        before = srv.connect()
        check(before.request({"op": "health"})["ok"], "a connection before the removal")
        os.unlink(srv.socket)
        for _ in range(100):
            if os.path.exists(srv.socket):
                break
            time.sleep(0.05)
        st = os.stat(srv.socket)
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660,
              "the socket file is made again, a socket of mode 0660 (%o)" % st.st_mode)
        check(srv.connect().request({"op": "health"})["ok"], "a new client reaches the server")
        check(before.request({"op": "health"})["ok"], "the connection made before goes on")
        check(("the socket file %s was removed: made it again" % srv.socket) in srv.log(),
              "the log says so (%s)" % srv.log()[-300:])
        check(srv.stop() == 0 and not os.path.exists(srv.socket),
              "the stop removes the file made again")


def test_slow_reader():
    """A client that reads its replies slowly, but steadily, is not idle,
    though one write to it (up to a megabyte) takes longer than the idle
    timeout to complete: it gets every reply.  (It was closed as idle while
    it read, and lost the rest.)"""
    with Server(args=["--idle-timeout", "1"]) as srv:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(srv.socket)
        n = 60
        s.sendall(b"".join(json.dumps({"id": i, "op": "screen", "as_of": "2025-03-01",
                                       "applicant": applicant(i)}).encode() + b"\n"
                           for i in range(n)))
        got, data, started = 0, b"", time.monotonic()
        while got < n and time.monotonic() - started < 60:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            got = data.count(b"\n")
            time.sleep(0.05)   # some 80 KB/s: a megabyte's write takes 12 s
        s.close()
        took = time.monotonic() - started
        ids = [json.loads(l)["id"] for l in data.splitlines()]
        check(ids == list(range(n)) and took > 1.5,
              "a client reading slowly (%.1f s, idle timeout 1 s) gets all %d replies (%d)"
              % (took, n, len(ids)))
        check("closed before" not in srv.log(), "and is not closed with replies unsent")


def test_reply_after_wait():
    """A request that waited longer than the idle timeout (its commit held
    up by another process's write lock), and a large reply written behind it
    to a client that reads it slowly: the client gets both whole.  (The idle
    time counted from the requests, so the sweep after the replies came back
    closed the connection in the middle of the write.)"""
    with Server(args=["--idle-timeout", "1", "--quiet"]) as srv:
        c = srv.connect(timeout=60)
        d = c.request(decide(1))["decision"]["decision_id"]
        reviews = [c.request({"op": "review", "decision_id": d, "review": {
            "action": "confirm", "by": "auditor", "reason": "%d %s" % (k, "x" * 9990)}})
            for k in range(60)]   # a decision whose reply is some 600 KB
        check(all(r["ok"] for r in reviews), "60 reviews with long reasons")
        lock = sqlite3.connect(srv.db, isolation_level=None, timeout=0)
        lock.execute("BEGIN IMMEDIATE")
        c.send_many([decide(2, rid="held"), {"id": "big", "op": "decision", "decision_id": d}])
        time.sleep(2.5)   # the commit waits on the lock, past the idle timeout
        lock.execute("ROLLBACK")
        lock.close()
        data = b""
        while True:   # 16 KB every 0.1 s: the write takes some 4 s
            chunk = c.sock.recv(16384)
            if not chunk:
                break
            data += chunk
            if data.count(b"\n") == 2:
                break
            time.sleep(0.1)
        c.close()
        ids = [json.loads(l)["id"] for l in data.split(b"\n")[:data.count(b"\n")]]
        check(ids == ["held", "big"], "replies after a wait longer than the idle timeout are "
              "written whole to a client reading them slowly (%s, %d bytes)" % (ids, len(data)))


def test_denied():
    """"Permission denied" says who is denied what: the directory that cannot
    be written or entered, or the file that cannot be written, and the uid.
    Run as root, the server runs as nobody (root is never denied)."""
    uid = 65534 if os.geteuid() == 0 else os.geteuid()
    drop = (lambda: (os.setgroups([]), os.setgid(65534), os.setuid(65534))) if uid != os.geteuid() \
        else None
    top = tempfile.mkdtemp(prefix="eligo-denied-")
    try:
        os.chmod(top, 0o755)
        binary, rules = os.path.join(top, "eligo"), os.path.join(top, "rules")
        shutil.copy(ELIGO, binary)   # where nobody can reach them
        shutil.copytree(RULES, rules)
        ro, rw, shut = (os.path.join(top, d) for d in ("ro", "rw", "shut"))
        for d, mode in ((ro, 0o555), (rw, 0o777), (shut, 0o000)):
            os.mkdir(d)
            os.chmod(d, mode)
        locked = os.path.join(rw, "locked.db")
        open(locked, "w").close()
        os.chmod(locked, 0o444)
        owner = os.stat(locked).st_uid
        cases = [
            (["--db", os.path.join(ro, "x.db")],
             "database %s/x.db: Permission denied: the directory %s cannot be written by uid %d, "
             "so no file can be made in it" % (ro, ro, uid)),
            (["--db", os.path.join(rw, "y.db"), "--socket", os.path.join(ro, "s")],
             "cannot bind %s/s: permission denied: the directory %s cannot be written by uid %d"
             % (ro, ro, uid)),
            (["--db", locked],
             "attempt to write a readonly database: the file cannot be written by uid %d (its owner "
             "is uid %d, its mode 444)" % (uid, owner)),
            (["--db", os.path.join(shut, "a", "x.db")],
             "Permission denied: the directory %s cannot be entered by uid %d" % (shut, uid)),
        ]
        for args, want in cases:
            if "--socket" not in args:
                args = args + ["--socket", os.path.join(rw, "s")]
            p = subprocess.run([binary, "serve", "--rules", rules] + args, capture_output=True,
                               text=True, timeout=60, preexec_fn=drop)
            check(p.returncode != 0 and want in p.stderr,
                  "serve %s is refused, saying whose the fault is (%s)" % (args[1], p.stderr.strip()))
        # A database in a directory that cannot be entered is there, not
        # missing: the offline commands say so as serve does.
        os.chmod(shut, 0o700)
        shutil.copy(locked, os.path.join(shut, "x.db"))
        os.chmod(shut, 0o000)
        for cmd in (["verify"], ["audit", "list"], ["replay", "--original"]):
            p = subprocess.run([binary] + cmd + ["--db", os.path.join(shut, "x.db")],
                               capture_output=True, text=True, timeout=60, preexec_fn=drop)
            want = "Permission denied: the directory %s cannot be entered by uid %d" % (shut, uid)
            check(p.returncode != 0 and want in p.stderr and "no database" not in p.stderr,
                  "%s of a database it cannot reach says why (%s)" % (" ".join(cmd), p.stderr.strip()))
        # A client the socket refuses is told why: a directory on the way
        # it cannot enter, or a socket it may not write (not in its group).
        sock = os.path.join(rw, "closed.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock)
        listener.listen(1)
        os.chmod(sock, 0o000)
        cases = [
            (os.path.join(shut, "s.sock"),
             "Permission denied: the directory %s cannot be entered by uid %d" % (shut, uid)),
            (sock, "Permission denied: the file cannot be written by uid %d (its owner is uid %d, "
                   "its mode 000)" % (uid, os.stat(sock).st_uid)),
        ]
        for path, want in cases:
            p = subprocess.run([binary, "submit", "--socket", path], input="{}\n",
                               capture_output=True, text=True, timeout=60, preexec_fn=drop)
            check(p.returncode == 2 and want in p.stderr,
                  "submit to a socket it may not use says why (%s)" % p.stderr.strip())
        listener.close()
        # A reader the database's mode lets in, and its log's or index's does
        # not (the database made group-readable while a server held them
        # open): said so, not SQLite's "unable to open database file".
        with Server() as srv:
            check(srv.connect().request(decide(1))["ok"], "a decision, and a log beside it")
            os.chmod(srv.dir, 0o755)
            os.chmod(srv.db, 0o644)
            for shut_one, other in (("-shm", "-wal"), ("-wal", "-shm")):
                os.chmod(srv.db + shut_one, 0o000)
                os.chmod(srv.db + other, 0o644)
                p = subprocess.run([binary, "verify", "--db", srv.db], capture_output=True,
                                   text=True, timeout=60, preexec_fn=drop)
                want = "cannot read %s: %s%s beside it: the file cannot be read by uid %d" % (
                    srv.db, srv.db, shut_one, uid)
                check(p.returncode == 2 and want in p.stderr and "-wal and -shm" in p.stderr,
                      "a reader that cannot read the database's %s says so (%s)" %
                      (shut_one, p.stderr.strip()))
            # The database itself closed to it too: it is the one named.
            os.chmod(srv.db, 0o000)
            p = subprocess.run([binary, "verify", "--db", srv.db], capture_output=True,
                               text=True, timeout=60, preexec_fn=drop)
            check(p.returncode == 2 and "-wal" not in p.stderr and
                  "the file cannot be read by uid %d" % uid in p.stderr,
                  "a reader the database refuses is told of the database (%s)" % p.stderr.strip())
            os.chmod(srv.db, 0o600)
            os.chmod(srv.db + "-wal", 0o600)
            os.chmod(srv.db + "-shm", 0o600)
        # With no log beside it, in a directory it cannot write, the file is
        # read as immutable, which reads neither -wal nor -shm: an -shm left
        # there that the reader may not read refuses nothing.
        with Server() as srv:
            check(srv.connect().request(decide(1))["ok"], "a decision to read back")
            srv.stop()
            kept = os.path.join(top, "kept")
            os.mkdir(kept)
            shutil.copy(srv.db, os.path.join(kept, "k.db"))
            os.chmod(os.path.join(kept, "k.db"), 0o644)
            open(os.path.join(kept, "k.db-shm"), "w").close()
            os.chmod(os.path.join(kept, "k.db-shm"), 0o000)
            os.chmod(kept, 0o555)
            p = subprocess.run([binary, "verify", "--db", os.path.join(kept, "k.db")],
                               capture_output=True, text=True, timeout=60, preexec_fn=drop)
            os.chmod(kept, 0o755)
            check(p.returncode == 0 and "the chain is intact" in p.stdout,
                  "a stopped database beside an -shm it may not read verifies, as immutable "
                  "(%s)" % (p.stdout + p.stderr).strip())
    finally:
        os.chmod(os.path.join(top, "shut"), 0o700)
        shutil.rmtree(top, ignore_errors=True)


def main():
    with Server(extra_files={"boom.lua": BOOM}) as srv:
        test_ops(srv)
        test_errors(srv)
        test_edges(srv)
        test_idempotency(srv)
        test_stored_fields(srv)
        test_framing(srv)
        test_health_errors(srv)
        test_latency_stages(srv)
        check(srv.stop() == 0, "clean exit")
    test_limits()
    test_submit_refused()
    test_socket_not_ours()
    test_socket_busy()
    test_socket_removed()
    test_slow_reader()
    test_reply_after_wait()
    test_options()
    test_budget()
    test_denied()
    finish()


if __name__ == "__main__":
    main()
