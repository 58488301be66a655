#!/usr/bin/env python3
"""Trust in the record: signed checkpoints against a cut tail and a rewritten
past, verify naming the record that changed, and human reviews (over the
socket and offline) as chained records.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/audit_trust.py

The tampering is done as a tamperer would: on a copy of the database, with
the append-only triggers dropped, and -- for the rewritten past -- every later
hash recomputed in Python from the canonical content documented in the
README ("The hash chain"), which this test thereby checks too.
"""
import hashlib
import json
import os
import pty
import re
import select
import shutil
import sqlite3
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, Server, applicant, check, decide, eligo, finish  # noqa: E402

TRIGGERS = ["decisions_no_update", "decisions_no_delete", "applications_no_update",
            "applications_no_delete", "reviews_no_update", "reviews_no_delete",
            "applicant_index_no_update", "applicant_index_no_delete", "applicant_recent_no_update"]


# ---- The canonical content, as the README documents it ---------------------

def field(v):
    if v is None:
        return b"-\0"
    if isinstance(v, int):
        v = str(v)
    if isinstance(v, str):
        v = v.encode()
    return str(len(v)).encode() + b"\0" + v


def content(*values):
    return b"".join(field(v) for v in values)


def app_digest(a):
    return hashlib.sha256(content(
        "application", a["request"], a["request_key"], a["fingerprint"], a["applicant_id"],
        a["as_of"], a["ruleset"], a["received_at"], a["decided_at"], a["client_uid"],
        a["client_pid"], a["first_seq"], a["ndecisions"])).hexdigest()


def records(con):
    """Every record in seq order: (kind, row as a dict)."""
    con.row_factory = sqlite3.Row
    out = []
    for r in con.execute("SELECT d.*, a.request, a.request_key, a.fingerprint,"
                         " a.applicant_id AS a_applicant_id, a.as_of AS a_as_of,"
                         " a.ruleset AS a_ruleset, a.received_at,"
                         " a.decided_at AS a_decided_at, a.client_uid, a.client_pid,"
                         " a.first_seq, a.ndecisions"
                         " FROM decisions d JOIN applications a ON a.id = d.application"):
        out.append(("decision", dict(r)))
    for r in con.execute("SELECT * FROM reviews"):
        out.append(("review", dict(r)))
    out.sort(key=lambda kr: kr[1]["seq"])
    return out


def record_hash(prev, kind, r):
    if kind == "decision":
        app = app_digest({"request": r["request"], "request_key": r["request_key"],
                          "fingerprint": r["fingerprint"], "applicant_id": r["a_applicant_id"],
                          "as_of": r["a_as_of"], "ruleset": r["a_ruleset"],
                          "received_at": r["received_at"], "decided_at": r["a_decided_at"],
                          "client_uid": r["client_uid"], "client_pid": r["client_pid"],
                          "first_seq": r["first_seq"], "ndecisions": r["ndecisions"]})
        c = content("decision", r["seq"], r["decision_id"], r["program"], r["program_version"],
                    r["outcome"], r["applicant_id"], r["as_of"], r["decided_at"], r["ruleset"],
                    app, r["decision"])
    else:
        c = content("review", r["seq"], r["n"], r["review_id"], r["decision_id"], r["action"],
                    r["outcome"], r["reviewer"], r["reason"], r["reviewed_at"], r["client_uid"],
                    r["client_pid"], r["review"])
    return hashlib.sha256(prev + c).digest()


def rehash_from(con, first_seq):
    """Recompute prev_hash and hash of every record from FIRST_SEQ on."""
    prev = b"\0" * 32
    for kind, r in records(con):
        if r["seq"] >= first_seq:
            h = record_hash(prev, kind, r)
            table = "decisions" if kind == "decision" else "reviews"
            con.execute("UPDATE %s SET prev_hash = ?, hash = ? WHERE seq = ?" % table,
                        (prev, h, r["seq"]))
            prev = h
        else:
            prev = r["hash"]
    con.commit()


# ---- Helpers ---------------------------------------------------------------

def copy_db(src, dst):
    """A consistent copy (the WAL included), as sqlite3's backup makes it."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.unlink(dst + suffix)
    s = sqlite3.connect(src)
    d = sqlite3.connect(dst)
    s.backup(d)
    d.close()
    s.close()


def tamper(db, sql, args=()):
    con = sqlite3.connect(db)
    for t in TRIGGERS:
        con.execute("DROP TRIGGER IF EXISTS " + t)
    con.execute(sql, args)
    con.commit()
    con.close()


def verify(db, *extra):
    return eligo("verify", "--db", db, *extra)


def verify_on_tty(db):
    """Run eligo verify with its stderr on a pseudo-terminal; what it wrote there."""
    master, slave = pty.openpty()
    p = subprocess.Popen([ELIGO, "verify", "--db", db], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out = p.stdout.read().decode()
    p.wait()
    os.close(master)
    return p.returncode, out, seen.decode(errors="replace")


def main():
    with Server() as srv:
        work = srv.dir
        c = srv.connect()

        # ---- A database built by the server, checkpointed on the way --------
        key = os.path.join(work, "auditor")
        code, out, err = eligo("keygen", "--out", key)
        check(code == 0 and os.path.exists(key + ".key") and os.path.exists(key + ".pub"),
              "keygen writes the pair")
        early = os.path.join(work, "early.json")
        ids = []
        for i in range(40):
            r = c.request(decide(i))
            ids.append(r["decision"]["decision_id"])
            if i == 9:
                code, out, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db",
                                       srv.db, "--out", early)
                check(code == 0, "a checkpoint beside the live server (%s)" % err.strip())
        s = c.request({"op": "screen", "as_of": "2025-03-01", "applicant": applicant(7)})
        check(s["ok"] and len(s["decisions"]) > 1, "a screen adds several decisions")
        target = ids[7]
        before = c.request({"op": "decision", "decision_id": target})["decision"]
        row_before = srv.db_query("SELECT * FROM decisions WHERE decision_id = ?", (target,))

        # ---- Reviews over the socket ----------------------------------------
        r1 = c.request({"op": "review", "decision_id": target,
                        "review": {"action": "confirm", "by": "agent 12",
                                   "reason": "income proof seen at the desk"}})
        check(r1.get("ok") is True and r1["review"]["action"] == "confirm"
              and r1["review"]["decision_id"] == target and r1["review"]["by"] == "agent 12",
              "review confirm: ok, the review as stored")
        r2 = c.request({"op": "review", "decision_id": target,
                        "review": {"action": "override", "outcome": "ineligible",
                                   "by": "supervisor 3", "reason": "household size misreported"}})
        rv2 = r2.get("review", {})
        check(r2.get("ok") is True and rv2.get("outcome") == "ineligible"
              and rv2.get("decision_outcome") == before["outcome"],
              "review override: the new outcome and the decision's own")
        check(rv2.get("seq") == r1["review"]["seq"] + 1, "a review takes the next seq")
        check(len(rv2.get("review_id", "")) == 26 and rv2.get("reviewed_at", "").endswith("Z"),
              "a review has an id and a time")

        def bad(review, code, word, decision_id=target):
            req = {"op": "review", "decision_id": decision_id}
            if review is not None:
                req["review"] = review
            r = c.request(req)
            err = r.get("error", {})
            check(r.get("ok") is False and err.get("code") == code and word in err.get("message", ""),
                  "bad review -> %s naming %s (%s)" % (code, word, err.get("message")))

        ok = {"action": "confirm", "by": "x", "reason": "y"}
        bad(dict(ok, action="override"), "invalid_request", "outcome")
        bad(dict(ok, action="override", outcome="maybe"), "invalid_request", "outcome")
        bad(dict(ok, outcome="eligible"), "invalid_request", "outcome")
        bad(dict(ok, action="approve"), "invalid_request", "action")
        bad({"by": "x", "reason": "y"}, "invalid_request", "action")
        bad(dict(ok, by=""), "invalid_request", "by")
        bad({"action": "confirm", "reason": "y"}, "invalid_request", "by")
        bad(dict(ok, by=7), "invalid_request", "by")
        bad(dict(ok, reason="  "), "invalid_request", "reason")
        bad(dict(ok, resaon="typo"), "invalid_request", "resaon")
        bad(None, "invalid_request", "review")
        # An override that changes nothing: to where the last override put it,
        # or, with none, to the decision's own outcome.
        bad(dict(ok, action="override", outcome="ineligible"), "invalid_request",
            "already stands as ineligible (by its last override)")
        own = c.request({"op": "decision", "decision_id": ids[8]})["decision"]["outcome"]
        bad(dict(ok, action="override", outcome=own), "invalid_request",
            "already stands as %s (its own outcome)" % own, decision_id=ids[8])
        bad(ok, "not_found", "01NOSUCHDECISION000000000", decision_id="01NOSUCHDECISION000000000")
        # A review's id where a decision's belongs: said, with the decision it reviews.
        said = "no decision %s: that is the id of a review, of decision %s" % (rv2.get("review_id"), target)
        bad(ok, "not_found", said, decision_id=rv2.get("review_id"))
        r = c.request({"op": "decision", "decision_id": rv2.get("review_id")})
        check(r.get("error", {}).get("code") == "not_found" and said in r["error"].get("message", ""),
              "the decision op, given a review's id, says whose review it is (%s)" % r.get("error"))
        r = c.request({"op": "review", "review": ok})
        check(r.get("error", {}).get("code") == "invalid_request", "review without decision_id")

        hist = c.request({"op": "history", "applicant_id": "A000007"})
        item = [d for d in hist["decisions"] if d["decision_id"] == target]
        check(len(item) == 1 and [x["review_id"] for x in item[0].get("reviews", [])]
              == [r1["review"]["review_id"], rv2.get("review_id")],
              "history returns the decision's reviews, oldest first")
        check(all(d.get("reviews") == [] for d in hist["decisions"] if d["decision_id"] != target),
              "history: decisions without reviews have an empty list")
        got = c.request({"op": "decision", "decision_id": target})
        after = got["decision"]
        check(after == before, "the decision as replied is unchanged by its reviews")
        check([x["review_id"] for x in got.get("reviews", [])]
              == [r1["review"]["review_id"], rv2.get("review_id")],
              "the decision op gives its reviews beside it")
        check(srv.db_query("SELECT * FROM decisions WHERE decision_id = ?", (target,)) == row_before,
              "the decision row is unchanged")
        health = c.request({"op": "health"})
        check(health.get("decisions") == 40 + len(s["decisions"]) and health.get("reviews") == 2,
              "health counts decisions and reviews apart")

        # An offline review beside the live server, then the server appends
        # after it: both writers share the head.
        code, out, err = eligo("audit", "review", ids[5], "--by", "agent 5", "--confirm",
                               "--reason", "checked by phone", "--db", srv.db)
        check(code == 0 and json.loads(out)["seq"] == rv2.get("seq", 0) + 1,
              "audit review beside the live server takes the next seq (%s)" % err.strip())
        last = c.request(decide(41))
        check(last.get("ok") is True, "the server decides after the offline review")
        c.close()
        srv.stop()

        db = srv.db
        code, out, _ = verify(db)
        total = 41 + len(s["decisions"]) + 3
        check(code == 0 and ("%d records checked" % total) in out and "3 reviews" in out,
              "verify passes over decisions and reviews (%r)" % out.strip())

        # The documented canonical content gives the stored hashes.
        con = sqlite3.connect(db)
        prev, same = b"\0" * 32, True
        for kind, r in records(con):
            h = record_hash(prev, kind, r)
            same = same and h == r["hash"] and r["prev_hash"] == prev
            prev = h
        con.close()
        check(same, "every stored hash follows the canonical content in the README")

        # A damaged page of decisions, reviews after it: an unreadable file,
        # said as such (exit 2), not records someone deleted.
        broken = os.path.join(work, "damaged.db")
        copy_db(db, broken)
        con = sqlite3.connect(broken)
        size = con.execute("PRAGMA page_size").fetchone()[0]
        page = con.execute("SELECT min(pageno) FROM dbstat WHERE name = 'decisions' AND "
                           "pagetype = 'leaf'").fetchone()[0]
        con.close()
        with open(broken, "r+b") as f:
            f.seek((page - 1) * size)
            f.write(bytes((i * 37 + 11) % 256 for i in range(size)))
        code, out, err = verify(broken)
        check(code == 2 and "malformed" in err and ("the file %s is damaged" % broken) in err
              and "missing" not in out + err,
              "a damaged page is a damaged file, not missing records (%s %s)"
              % (out.strip()[-100:], err.strip()[-150:]))

        # A page overwritten with another page of the same table reads well
        # but skips rows: the file's structure is checked before a tamperer
        # is blamed for the records that seem missing.
        moved = os.path.join(work, "moved.db")
        copy_db(db, moved)
        con = sqlite3.connect(moved)
        leaves = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = 'decisions' "
                                            "AND pagetype = 'leaf' ORDER BY pageno")]
        con.close()
        with open(moved, "r+b") as f:
            f.seek((leaves[-1] - 1) * size)
            last = f.read(size)
            f.seek((leaves[0] - 1) * size)
            f.write(last)
        code, out, err = verify(moved)
        check(code == 2 and ("the file %s is damaged (SQLite's quick_check: " % moved) in err and
              "may be the damage, not a change to them" in err and out == "",
              "rows skipped by a misplaced page are a damaged file, said with what they seemed "
              "(%s %s)" % (out.strip()[-100:], err.strip()[-300:]))

        code, _, err = verify_on_tty(db)
        check(code == 0 and "verifying:" in err and "records" in err,
              "verify shows progress on a terminal (%r)" % err[:80])

        # ---- Keys and a checkpoint -----------------------------------------
        check(stat.S_IMODE(os.stat(key + ".key").st_mode) == 0o600, "the private key is 0600")
        with open(key + ".key") as f:
            first_key = f.read()
        code, _, err = eligo("keygen", "--out", key)
        with open(key + ".key") as f:
            check(code != 0 and "exists" in err and f.read() == first_key,
                  "keygen refuses to overwrite")
        keys = os.path.join(work, "keys")
        os.mkdir(keys)
        for out in (keys, keys + "/"):
            code, _, err = eligo("keygen", "--out", out)
            check(code == 2 and "names a directory" in err and os.listdir(keys) == [],
                  "keygen --out %s, a directory, is refused: no hidden .key (%s)" % (out, err.strip()))

        cp = os.path.join(work, "cp.json")
        os.chmod(key + ".key", 0o640)
        code, out, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db", db,
                               "--out", cp)
        check(code != 0 and not os.path.exists(cp) and "open to other users (mode 0640)" in err
              and "chmod 600" in err, "a private key others can read is refused (%s)" % err.strip())
        os.chmod(key + ".key", 0o600)
        code, out, err = eligo("audit", "checkpoint", "--key", key + ".pub", "--db", db,
                               "--out", cp)
        check(code == 2 and not os.path.exists(cp) and "is a public key" in err and
              "chmod" not in err and "--key: " in err,
              "a public key given to sign with is named as such, after the option, no chmod advice (%s)"
              % err.strip())
        code, out, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db", db,
                               "--out", cp)
        check(code == 0, "audit checkpoint signs (%s)" % err.strip())
        with open(cp) as f:
            statement = json.load(f)
        check(statement["seq"] == total and len(statement["head"]) == 64
              and len(statement["signature"]) == 128 and statement["format"] == "eligo-checkpoint-2"
              and re.fullmatch(r"[0-9a-f]{32}", statement.get("database", "")) is not None,
              "the checkpoint states the database, seq, head, time, key and signature (%r)"
              % statement)
        code, out, _ = verify(db, "--checkpoint", cp, "--pubkey", key + ".pub")
        check(code == 0 and "checkpoint holds" in out, "verify --checkpoint passes (%r)" % out)
        code, out, err = verify(db, "--checkpoint", cp, "--pubkey", key + ".key")
        check(code == 2 and "is a private key" in err and "--pubkey: " in err
              and "checkpoint holds" not in out,
              "verify --pubkey refuses a private key, naming the option (%s)" % err.strip())
        # A checkpoint never overwrites a file: not an earlier checkpoint, not a key.
        with open(cp) as f:
            cp_text = f.read()
        for path, what in ((cp, "an existing checkpoint"), (key + ".key", "the private key"),
                           (db, "the database")):
            with open(path, "rb") as f:
                was = f.read()
            code, _, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db", db,
                                 "--out", path)
            with open(path, "rb") as f:
                check(code == 2 and (path + " exists") in err and f.read() == was,
                      "checkpoint --out %s is refused, the file unchanged (%s)"
                      % (what, err.strip()))
        check(open(cp).read() == cp_text, "the first checkpoint is as signed")

        # More records after the checkpoint are fine, offline reviews too.
        grown = os.path.join(work, "grown.db")
        copy_db(db, grown)
        code, out, err = eligo("audit", "review", ids[3], "--by", "agent 4", "--override",
                               "incomplete", "--reason", "no proof of residence", "--db", grown)
        check(code == 0 and json.loads(out)["outcome"] == "incomplete",
              "audit review writes a review offline")
        code, out, err = eligo("audit", "review", "nope", "--by", "a", "--confirm", "--reason", "b",
                               "--db", grown)
        check(code == 1 and "no decision nope" in err, "audit review: unknown decision, named as typed")
        code, out, err = eligo("audit", "review", ids[3], "--by", "a", "--confirm", "--override",
                               "eligible", "--reason", "b", "--db", grown)
        check(code == 2, "audit review: --confirm and --override exclude each other")
        code, out, _ = verify(grown, "--checkpoint", cp, "--pubkey", key + ".pub")
        check(code == 0 and "1 records after it" in out, "a checkpoint holds as the chain grows")

        # ---- Signature failures --------------------------------------------
        forged = os.path.join(work, "forged.json")
        with open(forged, "w") as f:
            json.dump(dict(statement, seq=statement["seq"] - 3), f)
        code, out, _ = verify(db, "--checkpoint", forged, "--pubkey", key + ".pub")
        check(code == 1 and ("bad signature: %s: " % forged) in out,
              "a changed statement fails its signature, naming its file")
        other = os.path.join(work, "other")
        eligo("keygen", "--out", other)
        code, out, _ = verify(db, "--checkpoint", cp, "--pubkey", other + ".pub")
        check(code == 1 and "bad signature" in out and "not with this public key" in out,
              "another key fails")
        code, _, err = verify(db, "--checkpoint", work, "--pubkey", key + ".pub")
        check(code == 2 and ("--checkpoint: %s is a directory" % work) in err,
              "a directory given as the checkpoint is said to be one (%s)" % err.strip())
        # Signed on an empty database: it holds, and says it proves nothing.
        with Server() as empty:
            empty.stop()
            cp0 = os.path.join(work, "empty.json")
            code, _, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db", empty.db,
                                 "--out", cp0)
            code2, out, err2 = verify(empty.db, "--checkpoint", cp0, "--pubkey", key + ".pub")
            check(code == 0 and code2 == 0 and "on an empty chain, which proves nothing" in out and
                  "record 0" not in out, "a checkpoint of an empty chain says what it proves "
                  "(%s)" % (out + err + err2).strip())
            # A checkpoint of another database, signed by the same key, is
            # said to be one: not a rewrite of this one, nor (at record 0) a
            # checkpoint that holds.
            for there, signed in ((db, cp0), (empty.db, cp)):
                code, out, _ = verify(there, "--checkpoint", signed, "--pubkey", key + ".pub")
                check(code == 1 and ("checkpoint FAILED: %s is a checkpoint of another database ("
                                     % signed) in out and "rewritten" not in out,
                      "a checkpoint of another database is said to be one (%s)" % out.strip())

        # ---- A truncated tail ------------------------------------------------
        cut = os.path.join(work, "cut.db")
        copy_db(db, cut)
        tamper(cut, "DELETE FROM reviews")
        tamper(cut, "DELETE FROM decisions WHERE seq > (SELECT max(seq) - 3 FROM decisions)")
        code, out, _ = verify(cut)
        check(code == 1 and "records were cut off the end" in out and "application" in out and
              "left behind" in out,
              "plain verify sees a cut tail by the application row it left (%r)" % out)
        # Nothing is appended to a chain whose end was visibly cut: a review
        # would take a seq a deleted decision had.
        before = os.path.getsize(cut)
        code, _, err = eligo("audit", "review", ids[0], "--by", "a", "--confirm", "--reason", "b",
                             "--db", cut)
        check(code == 2 and "the chain's end was cut, and nothing is appended to it" in err and
              os.path.getsize(cut) == before,
              "a review is not appended to a cut chain (%r)" % err.strip())
        # With its application rows, the applicant index still has its entries.
        tamper(cut, "DELETE FROM applications WHERE first_seq > (SELECT max(seq) FROM decisions)")
        code, out, _ = verify(cut)
        check(code == 1 and "but the applicant index does not" in out and
              ("but the chain ends at record %d: records were cut off the end" % (total - 4)) in out,
              "plain verify sees a cut tail by the applicant entries it left (%r)" % out)
        # Cut cleanly, the applicant entries too: only a checkpoint sees it.
        tamper(cut, "DELETE FROM applicant_recent WHERE seq > (SELECT max(seq) FROM decisions)")
        tamper(cut, "DELETE FROM applicant_index WHERE seq > (SELECT max(seq) FROM decisions)")
        code, out, _ = verify(cut)
        check(code == 0, "plain verify cannot see a tail cut with its applications and entries")
        code, out, _ = verify(cut, "--checkpoint", cp, "--pubkey", key + ".pub")
        check(code == 1 and "truncated" in out and "cut off" in out
              and ("signed record %d" % total) in out,
              "verify --checkpoint names the truncation (%r)" % out)
        # Among several, the one the tail was cut below is named.
        code, out, _ = verify(cut, "--checkpoint", cp, "--checkpoint", early, "--pubkey",
                              key + ".pub")
        check(code == 1 and ("the checkpoint is %s, signed at " % cp) in out
              and early not in out, "the checkpoint a tail was cut below is named (%r)" % out)
        # Cut below an older checkpoint, the tail held more than the records
        # it signed: those are counted as at least, not as all that went.
        with open(early) as fh:
            signed = json.load(fh)["seq"]
        below = os.path.join(work, "below.db")
        copy_db(db, below)
        tamper(below, "DELETE FROM reviews")
        for table, col in (("decisions", "seq"), ("applications", "first_seq"),
                           ("applicant_recent", "seq"), ("applicant_index", "seq")):
            tamper(below, "DELETE FROM %s WHERE %s > ?" % (table, col), (signed - 2,))
        code, out, _ = verify(below, "--checkpoint", early, "--pubkey", key + ".pub")
        check(code == 1 and ("but the checkpoint signed record %d: at least the last 2 records "
                             "were cut off (records %d to %d, and any appended after the "
                             "checkpoint)" % (signed, signed - 1, signed)) in out,
              "a tail cut below an older checkpoint is counted as at least (%r)" % out)

        # ---- Records deleted from the middle ----------------------------------
        for gone, said in ((("7",), "record 7 is missing, before record 8 (decision "),
                           (("7", "8"), "records 7 to 8 are missing, before record 9 (decision ")):
            holed = os.path.join(work, "holed.db")
            copy_db(db, holed)
            tamper(holed, "DELETE FROM decisions WHERE seq IN (%s)" % ",".join(gone))
            code, out, _ = verify(holed)
            check(code == 1 and out.startswith(said), "verify names what was deleted (%r)" % out)
            os.remove(holed)

        # ---- The same bytes under another storage type -----------------------
        # hash alike, but `audit list --program` no longer finds the decision.
        typed = os.path.join(work, "typed.db")
        copy_db(db, typed)
        tamper(typed, "UPDATE decisions SET program = CAST(program AS BLOB) WHERE seq = 5")
        code, out, _ = verify(typed)
        check(code == 1 and "record 5 " in out and "column program is stored as a blob" in out,
              "verify names a value retyped to hide it from queries (%r)" % out)
        # The last record's hash written as hex text: said as a hash not as
        # eligo writes it (not "hashes alike": it is no content), and a
        # reader still opens the file; a writer refuses to chain to it.
        tamper(typed, "UPDATE decisions SET program = CAST(program AS TEXT) WHERE seq = 5")
        for table in ("decisions", "reviews"):   # whichever holds the last record
            tamper(typed, "UPDATE %s SET hash = hex(hash) WHERE seq = (SELECT max(seq) FROM "
                          "(SELECT seq FROM decisions UNION ALL SELECT seq FROM reviews))" % table)
        code, out, err = verify(typed)
        check(code == 1 and "column hash is stored as text, where eligo writes a 32-byte blob" in out,
              "verify names a head hash stored as text (%r %r)" % (out, err))
        code, _, err = eligo("audit", "review", ids[0], "--by", "a", "--confirm", "--reason", "b",
                             "--db", typed)
        check(code == 2 and "has no valid hash, so no record can be chained to it" in err,
              "a review is not chained to a head without a valid hash (%r)" % err.strip())

        # ---- An application row added after the fact --------------------------
        extra = os.path.join(work, "extra.db")
        copy_db(db, extra)
        tamper(extra, "INSERT INTO applications (request, as_of, ruleset, received_at,"
                      " decided_at, first_seq, ndecisions) SELECT request, as_of, ruleset,"
                      " received_at, decided_at, 1, 1 FROM applications WHERE id = 1")
        code, out, _ = verify(extra)
        check(code == 1 and "the applications do not" in out and "belong to no decision" in out,
              "verify sees an application row no decision points to (%r)" % out)

        # ---- A rewritten past ------------------------------------------------
        past = os.path.join(work, "past.db")
        copy_db(db, past)
        mid = 12
        tamper(past, "UPDATE decisions SET outcome = 'ineligible',"
                     " decision = replace(decision, '\"outcome\":\"eligible\"',"
                     " '\"outcome\":\"ineligible\"') WHERE seq = ?", (mid,))
        check(sqlite3.connect(past).execute("SELECT outcome FROM decisions WHERE seq = ?",
                                            (mid,)).fetchone()[0] == "ineligible",
              "the rewrite took")
        con = sqlite3.connect(past)
        rehash_from(con, mid)
        con.close()
        code, out, _ = verify(past)
        check(code == 0, "plain verify passes a past rewritten with every later hash recomputed")
        code, out, _ = verify(past, "--checkpoint", cp, "--pubkey", key + ".pub")
        check(code == 1 and "rewritten" in out and ("record %d" % total) in out,
              "verify --checkpoint names the rewritten past (%r)" % out)
        # With the early checkpoint (record 10) too, the rewrite is placed
        # between the two; the early one alone still holds.
        with open(early) as f:
            check(json.load(f)["seq"] == 10, "the early checkpoint signed record 10")
        for order in ((early, cp), (cp, early)):
            code, out, _ = verify(past, "--checkpoint", order[0], "--checkpoint", order[1],
                                  "--pubkey", key + ".pub")
            check(code == 1 and "rewritten" in out and ("after 10 " in out)
                  and ("at or before %d" % total) in out,
                  "two checkpoints bound the rewritten record: after 10, at or before %d (%r)"
                  % (total, out))
        code, out, _ = verify(past, "--checkpoint", early, "--pubkey", key + ".pub")
        check(code == 0, "the early checkpoint alone still holds")
        # The rewritten copy signed too: two checkpoints of record `total`,
        # one of each history.  Whichever comes first, the one that does not
        # hold is named, and no rewrite is placed "after total".
        cp_past = os.path.join(work, "cp-past.json")
        code, _, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db", past,
                             "--out", cp_past)
        check(code == 0, "the rewritten copy can be signed (%s)" % err.strip())
        for d, holds, fails in ((db, cp, cp_past), (past, cp_past, cp)):
            for order in ((holds, fails), (fails, holds)):
                code, out, _ = verify(d, "--checkpoint", order[0], "--checkpoint", order[1],
                                      "--pubkey", key + ".pub")
                check(code == 1 and ("is not the record %s signed" % fails) in out
                      and "two histories of record %d" % total in out
                      and ("after %d " % total) not in out,
                      "two checkpoints of one record, one of each history: %s is named (%r)"
                      % (os.path.basename(fails), out))
        code, out, _ = verify(db, "--checkpoint", early, "--checkpoint", cp, "--pubkey",
                              key + ".pub")
        check(code == 0 and "checkpoints hold" in out, "both checkpoints hold on the original")

        # ---- A row changed without recomputing -------------------------------
        shell = os.path.join(work, "shell.db")
        copy_db(db, shell)
        seq, did = srv.db_query("SELECT seq, decision_id FROM decisions WHERE seq = 20")[0]
        sql = ("DROP TRIGGER decisions_no_update;"
               " UPDATE decisions SET outcome = 'ineligible' WHERE seq = 20;")
        if shutil.which("sqlite3"):
            subprocess.run(["sqlite3", shell, sql], check=True)
        else:
            tamper(shell, "UPDATE decisions SET outcome = 'ineligible' WHERE seq = 20")
        code, out, _ = verify(shell)
        check(code == 1 and ("record %d (decision %s)" % (seq, did)) in out,
              "verify names the altered record, seq and decision id (%r)" % out)
        unsigned = os.path.join(work, "unsigned.json")
        code, _, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db", shell,
                             "--out", unsigned)
        check(code == 1 and "not signing" in err and not os.path.exists(unsigned),
              "a broken chain is not signed and leaves no file behind")
        # An application row added: no record fails its hash, and the refusal
        # says what verify says, not "record N (record ) does not match".
        orphan = os.path.join(work, "orphan.db")
        copy_db(db, orphan)
        tamper(orphan, "INSERT INTO applications (request, as_of, ruleset, received_at,"
               " decided_at, first_seq, ndecisions) SELECT request, as_of, ruleset, received_at,"
               " decided_at, 1, 1 FROM applications WHERE id = 1")
        code, _, err = eligo("audit", "checkpoint", "--key", key + ".key", "--db", orphan,
                             "--out", unsigned)
        check(code == 1 and "not signing: the applications table holds" in err and
              "(record )" not in err and not os.path.exists(unsigned),
              "an added application is not signed, and said as verify says it (%s)" %
              err.strip()[-200:])

        # ---- A review row changed ------------------------------------------
        rev = os.path.join(work, "rev.db")
        copy_db(db, rev)
        tamper(rev, "UPDATE reviews SET reason = 'nothing to see' WHERE review_id = ?",
               (rv2["review_id"],))
        code, out, _ = verify(rev)
        check(code == 1 and ("record %d (review %s of decision %s)"
                             % (rv2["seq"], rv2["review_id"], target)) in out,
              "verify names the altered review (%r)" % out)
        # audit show must not present the altered review as where the decision stands.
        code, out, _ = eligo("audit", "show", target, "--db", db)
        check(code == 0 and "overridden to ineligible by supervisor 3" in out and
              "NOT VERIFY" not in out, "show on the intact database: the override, exit 0")
        code, out, _ = eligo("audit", "show", target, "--db", rev)
        after = [l for l in out.splitlines() if l.strip().startswith("after review")]
        marked = [l for l in out.splitlines() if "(record %d, review" % rv2["seq"] in l]
        confirmed = [l for l in out.splitlines() if "(record %d, review" % r1["review"]["seq"] in l]
        check(code == 1 and len(after) == 1 and "DOES NOT VERIFY" in after[0] and
              ("record %d" % rv2["seq"]) in after[0],
              "show with an altered review: exit 1, the state after review marked (%r)" % after)
        check("THE REVIEWS DO NOT VERIFY" in out and len(marked) == 1 and
              "DOES NOT VERIFY" in marked[0] and len(confirmed) == 1 and
              "DOES NOT VERIFY" not in confirmed[0],
              "show marks the altered review, not the one before it")
        code, out, _ = eligo("audit", "show", target, "--db", rev, "--json")
        ch = json.loads(out).get("chain", {}) if out else {}
        check(code == 1 and ch.get("verified_to_decision") is True and
              ch.get("reviews_verified") is False and ch.get("first_bad_seq") == rv2["seq"],
              "show --json: the decision verifies, its reviews do not (%s)" % ch)
        code, out, _ = eligo("audit", "show", ids[5], "--db", rev, "--json")
        ch = json.loads(out).get("chain", {}) if out else {}
        check(code == 1 and ch.get("reviews_verified") is False,
              "a review after the altered record does not verify either (%s)" % ch)
        code, out, _ = eligo("audit", "show", ids[6], "--db", rev, "--json")
        ch = json.loads(out).get("chain", {}) if out else {}
        check(code == 0 and ch.get("reviews_verified") is True,
              "a decision without reviews before the altered record still shows, exit 0 (%s)"
              % ch)
    finish()


if __name__ == "__main__":
    main()
