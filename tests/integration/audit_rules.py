#!/usr/bin/env python3
"""eligo audit rules: the stored rule set a decision was made under, written
out as the directory it was read from.

A server decides under the shipped rules; `audit rules` writes the set of a
decision (by --decision, or by its hash) into a new directory, and
`eligo check` on that directory prints the decision's rule-set hash, file
for file the same bytes.  A directory that holds anything, an unknown hash
or decision, and a stored file changed in the database are refused, the
last naming the file, with nothing written.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/audit_rules.py
"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import RULES, Server, applicant, check, eligo, finish  # noqa: E402


def rule_files(d):
    """The files eligo reads from D (*.lua, no dot file), name -> bytes."""
    out = {}
    for name in os.listdir(d):
        if name.endswith(".lua") and not name.startswith("."):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def copy_db(src, dst):
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()


def main():
    with Server() as srv:
        c = srv.connect()
        r = c.request({"op": "decide", "program": "idmaj", "as_of": "2025-03-01",
                       "applicant": applicant(1)})
        check(r.get("ok"), "a decision (%r)" % r.get("error"))
        c.close()
        check(srv.stop() == 0, "the server stopped cleanly")
        did = r["decision"]["decision_id"] if r.get("ok") else "none"
        want = r["decision"]["ruleset"] if r.get("ok") else "none"
        db = srv.db

        # ---- By decision: the set written out, and check prints its hash.
        out = os.path.join(srv.dir, "rules-of-decision")
        st, so, se = eligo("audit", "rules", "--decision", did.lower(), "--out", out, "--db", db)
        check(st == 0 and ("rule set %s" % want) in so and ("written to %s" % out) in so,
              "audit rules --decision writes the set (%s%s)" % (so.strip(), se.strip()))
        st, so, se = eligo("check", out)
        check(st == 0 and ("ruleset %s " % want) in so,
              "eligo check on it prints the decision's rule-set hash %s (%s)"
              % (want[:12], (so + se).strip()[-200:]))
        check(rule_files(out) == rule_files(RULES),
              "the files are those the server read, byte for byte")

        # ---- By hash (upper case taken), into an empty directory that exists.
        empty = os.path.join(srv.dir, "empty")
        os.mkdir(empty)
        st, so, se = eligo("audit", "rules", want.upper(), "--out", empty, "--db", db)
        check(st == 0 and rule_files(empty) == rule_files(out),
              "audit rules HASH into an empty directory (%s)" % se.strip())

        # ---- Never over or beside other files.
        st, so, se = eligo("audit", "rules", want, "--out", out, "--db", db)
        check(st == 2 and ("%s is not empty" % out) in se and rule_files(out) == rule_files(RULES),
              "a directory that holds files is refused, exit 2, left as it was (%s)" % se.strip())
        busy = os.path.join(srv.dir, "busy")
        os.mkdir(busy)
        with open(os.path.join(busy, "notes.txt"), "w") as f:
            f.write("mine\n")
        st, _, se = eligo("audit", "rules", want, "--out", busy, "--db", db)
        check(st == 2 and "is not empty" in se and os.listdir(busy) == ["notes.txt"],
              "so is one holding any other file (%s)" % se.strip())
        st, _, se = eligo("audit", "rules", want, "--out", db, "--db", db)
        check(st == 2 and "is not a directory" in se, "so is a file (%s)" % se.strip())

        # ---- Unknown hash, unknown decision, bad arguments.
        nowhere = os.path.join(srv.dir, "nowhere")
        st, _, se = eligo("audit", "rules", "0" * 64, "--out", nowhere, "--db", db)
        check(st == 1 and ("no rule set %s in the database" % ("0" * 64)) in se and
              not os.path.exists(nowhere), "an unknown hash: exit 1, nothing made (%s)" % se.strip())
        st, _, se = eligo("audit", "rules", "--decision", "01NOSUCHDECISION0000000000",
                          "--out", nowhere, "--db", db)
        check(st == 1 and "no decision" in se and not os.path.exists(nowhere),
              "an unknown decision: exit 1, nothing made (%s)" % se.strip())
        for args, says in ((["--out", nowhere], "give a RULESET_HASH or --decision ID"),
                           ([want, "--decision", did, "--out", nowhere], "one of them"),
                           ([want[:12], "--out", nowhere], "64 hex digits"),
                           ([want], "--out DIR is required")):
            st, _, se = eligo("audit", "rules", "--db", db, *args)
            check(st == 2 and says in se and not os.path.exists(nowhere),
                  "audit rules %s: exit 2 (%s)" % (" ".join(a[:12] for a in args), se.strip()[:80]))
        st, so, _ = eligo("audit", "rules", "--help")
        check(st == 0 and "usage: eligo audit rules" in so, "audit rules --help")
        st, so, _ = eligo("audit", "--help")
        check(st == 0 and "\n  rules " in so, "audit --help lists rules")

        # ---- A stored file changed in the database: refused, naming it.
        bad = os.path.join(srv.dir, "tampered.db")
        copy_db(db, bad)
        con = sqlite3.connect(bad)
        con.executescript("DROP TRIGGER file_texts_no_update;"
                          "UPDATE file_texts SET text = replace(text, 'value = 35', 'value = 99')"
                          " WHERE sha256 IN (SELECT sha256 FROM ruleset_files WHERE ruleset = '%s'"
                          " AND name = 'idmaj.lua');" % want)
        con.close()
        st, so, se = eligo("audit", "rules", "--decision", did, "--out", nowhere, "--db", bad)
        check(st == 1 and ("stored rule set %s is damaged" % want) in se and "(idmaj.lua)" in se
              and not os.path.exists(nowhere),
              "a tampered stored file: exit 1, the file named, nothing written (%s)" % se.strip())
        # ... and with its key recomputed to match: the set's hash no longer does.
        con = sqlite3.connect(bad)
        con.create_function("sha", 1, lambda t: __import__("hashlib").sha256(
            t.encode()).hexdigest())
        con.executescript("PRAGMA foreign_keys = OFF;"
                          "DROP TRIGGER IF EXISTS ruleset_files_no_update;"
                          "CREATE TEMP TABLE k AS SELECT sha256 AS old, sha(text) AS new"
                          " FROM file_texts WHERE sha256 IN (SELECT sha256 FROM ruleset_files"
                          " WHERE ruleset = '%s' AND name = 'idmaj.lua');"
                          "UPDATE file_texts SET sha256 = (SELECT new FROM k)"
                          " WHERE sha256 = (SELECT old FROM k);"
                          "UPDATE ruleset_files SET sha256 = (SELECT new FROM k)"
                          " WHERE sha256 = (SELECT old FROM k);" % want)
        con.close()
        st, so, se = eligo("audit", "rules", want, "--out", nowhere, "--db", bad)
        check(st == 1 and ("stored rule set %s is damaged: its files hash to " % want) in se
              and not os.path.exists(nowhere),
              "a file changed with its key: exit 1, the set's hash does not hold (%s)" % se.strip())
    finish()


if __name__ == "__main__":
    main()
