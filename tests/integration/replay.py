#!/usr/bin/env python3
"""eligo replay, on databases built by a real `eligo serve`.

(a) A rule change whose moves are known in advance: the awrach per-person
    income ceiling lowered to 1,000 MAD, and a new programme; the expected
    moves are computed here from the applications, not from eligo's output.
    The database is byte-identical afterwards.
(a2) A new version of a programme that differs only in its version and dates
    (IDMAJ 2026.1 from 2026-01-01, the same criteria): no outcome moves, and
    the report names the decisions of 2026 as moving from 2025.1 to 2026.1;
    with the age limit raised from 2026 too, the limit's move is counted,
    with how many kept their outcome.
(b) --original reproduces 100% of a database made under several rule sets
    (hot reloads between batches), then names a decision whose stored
    criterion result was tampered with.
(c) A history-aware rule (intelaka's no_recent_refusal, which these tests
    add to a copy of the shipped rules: tests/fixtures/history): the rows read are
    recorded in the decision, and replay uses those rows, not the database;
    a candidate whose rules read history where the originals read none sees
    only the decisions stored before each one; what the server kept in
    memory of applicants' pasts is what the store held.
(d) A rule whose message lists keys in the order pairs gives them: Lua's
    own order follows a string hash seeded anew in each process, so only a
    fixed order lets another process (replay) reproduce the message.
(e) A decision that took more instructions than replay's default, made by a
    server given a larger budget: the server's start event records its
    limits, and --original names them rather than leave the difference
    unexplained.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/replay.py

ELIGO_REPLAY_DECISIONS sets the size of (b) (default 100000).
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, SOURCE, Server, applicant, check, eligo, finish  # noqa: E402

AS_OF = "2025-09-15"
SIZE_B = int(os.environ.get("ELIGO_REPLAY_DECISIONS") or 100000)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def db_files(db):
    """The database's content: the main file's hash and the -wal's.  A
    read-only SQLite connection to a WAL database creates an empty -wal and
    the -shm (a shared-memory index, not data) when they are missing, so a
    missing -wal counts as an empty one and the -shm is left out."""
    wal = db + "-wal"
    return {"db": sha256_file(db),
            "wal": sha256_file(wal) if os.path.exists(wal) else hashlib.sha256(b"").hexdigest()}


def edit(path, old, new):
    with open(path) as f:
        text = f.read()
    assert old in text, "%s: %r not found" % (path, old)
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


HISTORY = os.path.join(SOURCE, "tests", "fixtures", "history")


def add_refusal(rules):
    """Give the rule set in the directory RULES a history-aware criterion:
    Intelaka's no_recent_refusal (tests/fixtures/history), which the shipped
    rules do not have, and its test cases."""
    with open(os.path.join(HISTORY, "no_recent_refusal.lua")) as f:
        text = f.read()
    param = text[text.index("--- parameter\n") + 14:text.index("--- criterion\n")]
    crit = text[text.index("--- criterion\n") + 14:]
    path = os.path.join(rules, "intelaka.lua")
    edit(path, 'program "intelaka" {', param + '\nprogram "intelaka" {')
    with open(path) as f:
        body = f.read().rstrip()
    assert body.endswith("}")
    with open(path, "w") as f:
        f.write(body[:-1] + "\n" + crit + "}\n")
    with open(os.path.join(HISTORY, "no_recent_refusal.test.lua")) as f:
        cases = f.read()
    with open(os.path.join(rules, "intelaka.test.lua"), "a") as f:
        f.write("\n" + cases)


def with_refusal(args=(), **kw):
    """A Server on a copy of the shipped rules with add_refusal's criterion."""
    srv = Server(args=args, copy_rules=True, start=False, **kw)
    add_refusal(srv.rules)
    srv.start()
    return srv


def replay_json(*args):
    rc, out, err = eligo("replay", "--json", "--quiet", *args, timeout=600)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, out + err


def wait_hash(c, old, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = c.request({"op": "health"})["ruleset"]
        if h != old:
            return h
        time.sleep(0.05)
    return None


# ---- (a) a rule change with known moves ---------------------------------------

NEW_PROGRAM = '''
program "reform_pilot" {
  version = "2025.1",
  from = "2025-01-01",
  title = { en = "Reform pilot", fr = "Pilote de la réforme", ar = "تجربة الإصلاح" },
  reference = "test",
  criterion "registered" {
    text = { en = "Registered with the agency", fr = "Inscrit à l'agence", ar = "مسجل لدى الوكالة" },
    reference = "test",
    check = function(a) return a.registered_with_agency == true end,
  },
}
'''

# Per-person incomes in centimes: on, under and over both ceilings.
PER_PERSON = [80000, 100000, 100001, 120000, 149999, 150000, 150001, 200000]


def awrach_applicant(i):
    size = 1 + i % 5
    cents = PER_PERSON[i % len(PER_PERSON)] * size
    a = applicant(10000 + i, monthly_household_income=cents // 100 if cents % 100 == 0 else cents / 100,
                  household_size=size)
    a["applicant_id"] = "R%05d" % i
    if i % 7 == 3:
        a["employment_status"] = "employed"      # fails "unemployed"
    elif i % 11 == 5:
        del a["employment_status"]               # "unemployed" is missing
    return a, cents, size


def awrach_outcome(a, cents, size, ceiling):
    """What awrach decides for A (aged 26, so age passes) with CEILING MAD."""
    status = a.get("employment_status")
    results = {
        "age": "T",
        "unemployed": "N" if status is None else ("T" if status == "unemployed" else "F"),
        "income": "T" if cents <= ceiling * 100 * size else "F",
    }
    if "F" in results.values():
        return "ineligible", results
    if "N" in results.values():
        return "incomplete", results
    return "eligible", results


def test_candidate():
    with Server(copy_rules=True) as srv:
        c = srv.connect()
        apps = []   # (decision id, applicant, cents, size)
        reqs = []
        for i in range(240):
            a, cents, size = awrach_applicant(i)
            op = "screen" if i % 4 == 0 else "decide"
            r = {"id": i, "op": op, "as_of": AS_OF, "applicant": a}
            if op == "decide":
                r["program"] = "awrach"
            reqs.append((r, a, cents, size))
        c.send_many([r for r, _, _, _ in reqs])
        nscreen = 0
        stored_ids = {}
        for r, a, cents, size in reqs:
            reply = c.recv()
            assert reply and reply["ok"], reply
            decs = reply["decisions"] if r["op"] == "screen" else [reply["decision"]]
            nscreen += r["op"] == "screen"
            for d in decs:
                stored_ids[d["decision_id"]] = d["program"]
                if d["program"] == "awrach":
                    apps.append((d["decision_id"], a, cents, size, d["outcome"]))
        c.close()
        srv.stop()

        # The expectation, from the applications alone.
        expected = {}      # (from, to) -> count
        income_fail = {}   # (from, to) -> decisions whose income criterion now fails
        moved_ids = {}     # (from, to) -> decision ids
        wrong_original = 0
        for did, a, cents, size, outcome in apps:
            before, rb = awrach_outcome(a, cents, size, 1500)
            after, ra = awrach_outcome(a, cents, size, 1000)
            wrong_original += before != outcome
            key = (before, after)
            expected[key] = expected.get(key, 0) + 1
            if rb["income"] == "T" and ra["income"] == "F":
                income_fail[key] = income_fail.get(key, 0) + 1
            moved_ids.setdefault(key, set()).add(did)
        check(wrong_original == 0, "the server decided awrach as computed here (%d differ)" % wrong_original)
        check(expected.get(("eligible", "ineligible"), 0) > 0 and
              expected.get(("incomplete", "ineligible"), 0) > 0,
              "the applications make moves eligible -> ineligible (%d) and incomplete -> ineligible (%d)"
              % (expected.get(("eligible", "ineligible"), 0), expected.get(("incomplete", "ineligible"), 0)))

        # The candidate: the ceiling lowered to 1,000 MAD from a date before
        # AS_OF, and a new programme.
        cand = os.path.join(srv.dir, "candidate")
        shutil.copytree(srv.rules, cand)
        edit(os.path.join(cand, "awrach.lua"), '  { from = "2025-01-01", value = 1500 },\n',
             '  { from = "2025-01-01", value = 1500 },\n  { from = "2025-06-01", value = 1000 },\n')
        with open(os.path.join(cand, "reform_pilot.lua"), "w") as f:
            f.write(NEW_PROGRAM)

        before = db_files(srv.db)
        rc, rep, err = replay_json("--rules", cand, "--db", srv.db, "--jobs", "2")
        check(rc == 0 and rep is not None, "replay --rules runs (status %s) %s" % (rc, err[-300:] if rep is None else ""))
        if rep is None:
            return
        check("warning" not in err, "a clean candidate draws no warning (%r)" % err.strip())
        # A candidate eligo check faults is replayed all the same, with a warning.
        faulty = os.path.join(srv.dir, "faulty")
        shutil.copytree(cand, faulty)
        edit(os.path.join(faulty, "awrach.lua"), "    fail = {", "    fial = {")
        rc, rep_f, err_f = replay_json("--rules", faulty, "--db", srv.db)
        check(rc == 0 and rep_f is not None and
              "warning: the candidate has 1 problem (eligo check %s): the server would refuse it" % faulty
              in err_f, "a candidate with a problem is replayed, with a warning (%r)" % err_f.strip())
        check(db_files(srv.db) == before, "the database files are byte-identical after the replay")
        check(rep["applications"] == len(reqs) and rep["decisions"] == len(stored_ids),
              "every application (%d) and decision (%d) is replayed" % (rep["applications"], rep["decisions"]))
        progs = {p["program"]: p for p in rep["programs"]}
        aw = progs.get("awrach", {"moves": []})
        got = {(m["from"], m["to"]): m["count"] for m in aw["moves"]}
        check(got == expected,
              "awrach moves are the expected ones: %s (expected %s)" % (sorted(got.items()), sorted(expected.items())))
        for m in aw["moves"]:
            key = (m["from"], m["to"])
            crit = {k["id"]: k for k in m["criteria"]}
            want = income_fail.get(key, 0)
            if want:
                check(set(crit) == {"income"} and crit["income"]["to_fail"] == want and
                      crit["income"]["to_pass"] == 0,
                      "%s -> %s: the income criterion now fails for %d decisions (%s)" % (key[0], key[1], want, m["criteria"]))
            else:
                check(m["criteria"] == [], "%s -> %s: no criterion changed" % key)
            if key[0] != key[1]:
                sample = m["sample"]
                check(len(sample) == min(5, m["count"]) and set(sample) <= moved_ids[key],
                      "%s -> %s: the sample holds %d real decisions that moved so" % (key[0], key[1], len(sample)))
                rows = srv.db_query("select program, outcome from decisions where decision_id in (%s)"
                                    % ",".join("?" * len(sample)), sample)
                check(len(rows) == len(sample) and all(r == ("awrach", key[0]) for r in rows),
                      "%s -> %s: the sample ids are stored awrach decisions that were %s" % (key[0], key[1], key[0]))
        # The ceiling every awrach decision read, 1500 then and 1000 now: counted
        # for each, whether its outcome moved or not; the version stayed.
        same = sum(n for (a, b), n in expected.items() if a == b)
        check(aw.get("parameters") == [{"id": "awrach.income_per_person_max", "from": 1500, "to": 1000,
                                        "count": len(apps), "same_outcome": same}]
              and aw.get("versions") == [],
              "awrach: the ceiling's value moved 1500 -> 1000 in all %d decisions, %d with the same "
              "outcome; no version moved (%s, %s)" % (len(apps), same, aw.get("parameters"), aw.get("versions")))
        pilot = progs.get("reform_pilot", {"moves": []})
        check([(m["from"], m["to"], m["count"]) for m in pilot["moves"]] == [("none", "eligible", nscreen)],
              "the new programme is decided now and not originally, for the %d screens (%s)" % (nscreen, pilot["moves"]))
        others = [p for name, p in progs.items() if name not in ("awrach", "reform_pilot")]
        check(len(others) == 4 and all(m["from"] == m["to"] and not m["criteria"] for p in others for m in p["moves"]),
              "the other programmes do not move")

        # Filters, workers and the table.
        rc, rep1, _ = replay_json("--rules", cand, "--db", srv.db, "--jobs", "1", "--program", "awrach")
        got1 = {(m["from"], m["to"]): m["count"] for p in rep1["programs"] for m in p["moves"]}
        check([p["program"] for p in rep1["programs"]] == ["awrach"] and got1 == expected,
              "--program awrach with one worker gives the same awrach moves, and only them")
        rc, rep2, _ = replay_json("--rules", cand, "--db", srv.db, "--jobs", "3")
        strip = lambda r: {k: v for k, v in r.items() if k not in ("seconds", "applications_per_s", "decisions_per_s", "jobs")}
        check(strip(rep2) == strip(rep), "three workers give the same report as two")
        rc, rep3, _ = replay_json("--rules", cand, "--db", srv.db, "--applicant", "R00001")
        check(rep3["applications"] == 1, "--applicant selects one applicant's applications")
        rc, rep4, _ = replay_json("--rules", cand, "--db", srv.db, "--since", "2999-01-01")
        check(rc == 0 and rep4["decisions"] == 0, "--since after every decision selects none")
        # Times as stored end in milliseconds and a Z: a filter to the second (with or
        # without its Z) takes every decision that starts so; an upper-case hash works.
        rows = srv.db_query("select decided_at, ruleset from decisions order by seq")
        t = rows[len(rows) // 2][0]
        for args, pred in ((["--since", t[:19] + "Z"], lambda d: d[:19] >= t[:19]),
                           (["--until", t[:19] + "Z"], lambda d: d[:19] <= t[:19]),
                           (["--since", t[:23]], lambda d: d >= t),
                           (["--since", t, "--until", t], lambda d: d == t)):
            rc, rep5, err = replay_json("--original", "--db", srv.db, *args)
            want = sum(1 for d, _ in rows if pred(d))
            check(rc == 0 and rep5 is not None and rep5["decisions"] == want,
                  "replay %s selects the %d decisions made then (%s)"
                  % (" ".join(args), want, err.strip() or (rep5 or {}).get("decisions")))
        rc, rep5, err = replay_json("--original", "--db", srv.db, "--ruleset", rows[0][1][:8].upper())
        want = sum(1 for _, h in rows if h.startswith(rows[0][1][:8]))
        check(rc == 0 and rep5 is not None and rep5["decisions"] == want,
              "--ruleset in upper case selects the same %d decisions" % want)
        # --original over no decision at all proves nothing: it says so, exit 1.
        rc, out, err = eligo("replay", "--original", "--db", srv.db, "--since", "2999-01-01")
        check(rc == 1 and "no stored decision matched the filters" in out and "100%" not in out
              and "nothing was re-decided" in out,
              "replay --original over no decision: says nothing was re-decided, exit 1 (%r)" % out)
        rc, rep5, err = replay_json("--original", "--db", srv.db, "--applicant", "NOBODY")
        check(rc == 1 and rep5 is not None and rep5["decisions"] == 0 and "no stored decision" in err,
              "and with --json: the report of nothing, exit 1")
        for opt, bad in (("--since", "2026-13-45"), ("--until", "2026-02-30"),
                         ("--since", "2026-11-29Tfoo"), ("--until", "2026-11-29T24:00"),
                         ("--since", "March"), ("--ruleset", "a7594g")):
            rc, out, err = eligo("replay", "--original", "--db", srv.db, opt, bad)
            check(rc == 2 and opt in err and ("'%s'" % bad) in err,
                  "replay %s %s is a usage error naming both (%s)" % (opt, bad, err.strip()))
        rc, out, err = eligo("replay", "--original", "--db", srv.db, "--since", "2030",
                             "--until", "2020")
        check(rc == 2 and "--since 2030 is after --until 2020" in err,
              "replay --since after --until is a usage error, as for audit list (%s)" % err.strip())
        rc, out, err = eligo("replay", "--rules", cand, "--db", srv.db)
        check(rc == 0 and "awrach" in out and "income" in out and "decisions/s" in out,
              "the table names the programme, the criterion and the speed")
        # A programme dropped: its decisions are decided no more.
        gone = os.path.join(srv.dir, "without_taehil")
        shutil.copytree(srv.rules, gone)
        os.unlink(os.path.join(gone, "taehil.lua"))
        os.unlink(os.path.join(gone, "taehil.test.lua"))
        rc, rep5, _ = replay_json("--rules", gone, "--db", srv.db)
        taehil = {p["program"]: p for p in rep5["programs"]}.get("taehil", {"moves": []})
        check(rc == 0 and taehil["moves"] and all(m["to"] == "none" for m in taehil["moves"]) and
              sum(m["count"] for m in taehil["moves"]) == nscreen,
              "a dropped programme: its %d decisions move to none (%s)" % (nscreen, taehil["moves"]))
        check(db_files(srv.db) == before, "still byte-identical after six replays")


# ---- (a2) a new version of a programme, with the same criteria ----------------

# Born so as to be 27, 37 and 45 on both decision dates: eligible for idmaj,
# refused on age under a limit of 35 but not of 40, refused either way.
VERSION_BIRTHS = ["1998-05-10", "1988-05-10", "1980-05-10"]
VERSION_DATES = [AS_OF, "2026-03-01"]


def idmaj_version_2026(rules, age_max=None):
    """In the directory RULES: IDMAJ 2025.1 ends on 2025-12-31 and 2026.1,
    the same criteria, the same texts, is in force from 2026-01-01; with
    AGE_MAX, idmaj.age_max takes that value from 2026-01-01 too."""
    path = os.path.join(rules, "idmaj.lua")
    with open(path) as f:
        text = f.read()
    later = text[text.index('program "idmaj" {'):]
    later = later.replace('version = "2025.1"', 'version = "2026.1"', 1)
    later = later.replace('  from = "2025-01-01",', '  from = "2026-01-01",', 1)
    edit(path, '  version = "2025.1",\n  from = "2025-01-01",\n',
         '  version = "2025.1",\n  from = "2025-01-01",\n  to = "2025-12-31",\n')
    if age_max is not None:
        edit(path, '  { from = "2025-01-01", value = 35 },\n',
             '  { from = "2025-01-01", value = 35 },\n  { from = "2026-01-01", value = %d },\n' % age_max)
    with open(path, "a") as f:
        f.write("\n" + later)


def test_versions():
    with Server(copy_rules=True, args=["--quiet"]) as srv:
        c = srv.connect()
        reqs = []
        for i in range(60):
            a = applicant(i, birth_date=VERSION_BIRTHS[i % 3])
            reqs.append({"id": i, "op": "decide", "program": "idmaj",
                         "as_of": VERSION_DATES[(i // 3) % 2], "applicant": a})
        c.send_many(reqs)
        stored = []   # (decision id, as_of, birth date, outcome), in the order stored
        for r in reqs:
            reply = c.recv()
            assert reply and reply["ok"], reply
            d = reply["decision"]
            stored.append((d["decision_id"], r["as_of"], r["applicant"]["birth_date"], d["outcome"]))
        c.close()
        srv.stop()
        by_id = {d: (as_of, born) for d, as_of, born, _ in stored}
        seqs = [row[0] for row in srv.db_query("select decision_id from decisions order by seq")]
        later = [d for d in seqs if by_id[d][0] >= "2026"]
        moved37 = sum(1 for d in later if by_id[d][1] == VERSION_BIRTHS[1])
        check(len(later) == 30 and moved37 == 10, "30 of the 60 decisions are of 2026, 10 of them at 37")

        # The shipped rules against themselves: nothing moved, nothing reported.
        rc, rep, err = replay_json("--rules", srv.rules, "--db", srv.db)
        idmaj = {p["program"]: p for p in rep["programs"]}["idmaj"] if rep else {}
        check(rc == 0 and idmaj.get("versions") == [] and idmaj.get("parameters") == [],
              "the same rules: no version and no parameter moved (%s)" % (err[-300:] if rep is None else idmaj))
        same_moves = idmaj.get("moves")

        # A version 2026.1 that differs from 2025.1 only in its version and dates.
        cand = os.path.join(srv.dir, "v2026")
        shutil.copytree(srv.rules, cand)
        idmaj_version_2026(cand)
        rc, rep, err = replay_json("--rules", cand, "--db", srv.db, "--jobs", "2")
        check(rc == 0 and rep is not None and "warning" not in err,
              "the candidate with idmaj 2026.1 loads cleanly and replays (%s)" % err.strip()[-300:])
        if rep is None:
            return
        idmaj = {p["program"]: p for p in rep["programs"]}["idmaj"]
        check(idmaj["moves"] == same_moves and all(m["from"] == m["to"] and not m["criteria"] for m in idmaj["moves"]),
              "no outcome and no criterion moved: the table is that of the rules against themselves")
        check(idmaj["versions"] == [{"from": "2025.1", "to": "2026.1", "count": 30, "same_outcome": 30,
                                     "sample": later[:5]}],
              "the 30 decisions of 2026 move from version 2025.1 to 2026.1, all with the same outcome, "
              "and the sample is the first five of them (%s)" % idmaj["versions"])
        check(idmaj["parameters"] == [], "no parameter value moved (%s)" % idmaj["parameters"])
        rc, rep1, _ = replay_json("--rules", cand, "--db", srv.db, "--jobs", "1")
        strip = lambda r: {k: v for k, v in r.items() if k not in ("seconds", "applications_per_s", "decisions_per_s", "jobs")}
        check(rep1 is not None and strip(rep1) == strip(rep), "one worker gives the same report as two")
        rc, out, _ = eligo("replay", "--rules", cand, "--db", srv.db)
        lines = out.splitlines()
        at = lines.index("programme versions that changed:") if "programme versions that changed:" in lines else -1
        check(rc == 0 and at > 0 and
              lines[at + 1] == "  idmaj              2025.1 -> 2026.1: 30 decisions, 30 with the same outcome"
              and lines[at + 2].split()[1:] == later[:5] and "parameter values that changed:" not in lines,
              "in text, the version move and its sample (%s)" % lines[at:at + 3])

        # The same, with the age limit raised to 40 from 2026: the 10 of 2026
        # aged 37 now pass; the 20 others keep their outcome, with another limit.
        cand40 = os.path.join(srv.dir, "v2026_40")
        shutil.copytree(srv.rules, cand40)
        idmaj_version_2026(cand40, age_max=40)
        rc, rep, err = replay_json("--rules", cand40, "--db", srv.db)
        idmaj = {p["program"]: p for p in rep["programs"]}["idmaj"] if rep else {}
        check(rc == 0 and idmaj.get("parameters") == [{"id": "idmaj.age_max", "from": 35, "to": 40,
                                                       "count": 30, "same_outcome": 30 - moved37}],
              "idmaj.age_max moved 35 -> 40 in the 30 decisions of 2026, %d with the same outcome (%s)"
              % (30 - moved37, idmaj.get("parameters")))
        check(idmaj.get("versions") == [{"from": "2025.1", "to": "2026.1", "count": 30,
                                         "same_outcome": 30 - moved37, "sample": later[:5]}],
              "the version move counts %d with the same outcome (%s)" % (30 - moved37, idmaj.get("versions")))
        moves = {(m["from"], m["to"]): m["count"] for m in idmaj.get("moves", [])}
        check(moves.get(("ineligible", "eligible")) == moved37,
              "and the table shows the %d that move ineligible -> eligible (%s)" % (moved37, moves))
        rc, out, _ = eligo("replay", "--rules", cand40, "--db", srv.db)
        check(rc == 0 and "  idmaj              idmaj.age_max 35 -> 40: 30 decisions, %d with the same outcome"
              % (30 - moved37) in out.splitlines(), "in text, the parameter's move")

        # --by-as-of selects by the date decided for: every decision was made
        # today, so only as_of tells those dated before the change from the
        # others.  Before 2026 nothing moves; from 2026, all that moved.
        rc, rep, err = replay_json("--rules", cand40, "--db", srv.db, "--by-as-of", "--until", "2025-12-31")
        idmaj = {p["program"]: p for p in rep["programs"]}["idmaj"] if rep else {}
        check(rc == 0 and rep["decisions"] == 30 and idmaj.get("versions") == []
              and idmaj.get("parameters") == []
              and all(m["from"] == m["to"] and not m["criteria"] for m in idmaj.get("moves", [])),
              "--by-as-of --until 2025-12-31: the 30 decisions dated 2025 are unchanged (%s)"
              % (err.strip()[-300:] if rep is None else idmaj))
        rc, rep, err = replay_json("--rules", cand40, "--db", srv.db, "--by-as-of", "--since", "2026")
        idmaj = {p["program"]: p for p in rep["programs"]}["idmaj"] if rep else {}
        moves = {(m["from"], m["to"]): m["count"] for m in idmaj.get("moves", [])}
        check(rc == 0 and rep["decisions"] == 30 and moves.get(("ineligible", "eligible")) == moved37
              and idmaj.get("versions", [{}])[0].get("count") == 30,
              "--by-as-of --since 2026: the 30 decisions dated 2026, %d of them moved (%s)"
              % (moved37, err.strip()[-300:] if rep is None else moves))
        rc, _, err = eligo("replay", "--rules", cand40, "--db", srv.db, "--by-as-of",
                           "--until", "2025-12-31T10:00")
        check(rc == 2 and "--by-as-of" in err and "2025-12-31T10:00" in err,
              "--by-as-of with a time is a usage error, as for audit list (%s)" % err.strip())


# ---- (b) --original on a database of several rule sets -----------------------

def test_original():
    with Server(copy_rules=True, args=["--quiet"]) as srv:
        c = srv.connect()
        h = [c.request({"op": "health"})["ruleset"]]
        changes = [
            ("awrach.lua", 'en = "income per person {per_person} MAD is above',
             'en = "income per person of {per_person} MAD is above'),
            ("idmaj.lua", 'en = "age {age} is outside the limits of',
             'en = "age {age} is outside the bounds of'),
            ("awrach.lua", '  { from = "2025-01-01", value = 1500 },\n',
             '  { from = "2025-01-01", value = 1500 },\n  { from = "2025-11-01", value = 1400 },\n'),
        ]
        batches = len(changes) + 1
        per_batch = SIZE_B // batches
        t0 = time.time()
        for b in range(batches):
            # Screens (five decisions each) and some single decisions.
            screens = max(1, per_batch * 4 // 5 // 5)
            decides = max(1, per_batch - screens * 5)
            for op, n in (("screen", screens), ("decide", decides)):
                p = subprocess.run([ELIGO, "bench", "--socket", srv.socket, "--op", op, "-n", str(n),
                                    "--seed", str(100 + 2 * b + (op == "decide")), "-c", "4", "-P", "64"],
                                   capture_output=True, text=True, timeout=600)
                check(p.returncode == 0, "batch %d: %d %s requests stored" % (b, n, op))
            if b < len(changes):
                name, old, new = changes[b]
                edit(os.path.join(srv.rules, name), old, new)
                nh = wait_hash(c, h[-1])
                check(nh is not None, "rule change %d is taken up by a hot reload" % (b + 1))
                h.append(nh)
        c.close()
        total = srv.db_query("select count(*) from decisions")[0][0]
        sets = srv.db_query("select count(distinct ruleset) from decisions")[0][0]
        print("built %d decisions under %d rule sets in %.1f s" % (total, sets, time.time() - t0))
        check(sets >= 4, "the decisions were made by %d distinct rule sets" % sets)
        srv.stop()

        before = db_files(srv.db)
        rc, rep, err = replay_json("--original", "--db", srv.db)
        check(rc == 0 and rep is not None and rep["differences"] == 0 and rep["reproduced"] == total,
              "--original reproduces all %d decisions (status %s, %s)" % (
                  total, rc, err[-300:] if rep is None else "%d differ" % rep["differences"]))
        if rep:
            print("replay --original: %d decisions in %.2f s, %.0f decisions/s"
                  % (rep["decisions"], rep["seconds"], rep["decisions_per_s"]))
            check(rep["rulesets"] == sets, "it loaded the %d stored rule sets" % sets)
        _, version, _ = eligo("--version")
        build = version.strip()[len("eligo "):]
        check(rep is not None and rep.get("eligo") == build,
              "--json names the build that re-decided (%s)" % (rep or {}).get("eligo"))
        check(db_files(srv.db) == before, "the database files are byte-identical after the replay")
        rc, out, _ = eligo("replay", "--original", "--db", srv.db, timeout=600)
        check(rc == 0 and "(100%)" in out and "decisions/s" in out, "the text report says 100%% and the rate")
        check(("\nby eligo %s\n" % build) in out, "and the build that re-decided")
        # The limits are the replay's to set, as the server's were: too few
        # instructions and no decision comes out the same.
        rc, rep, err = replay_json("--original", "--db", srv.db, "--applicant", "S00000001",
                                   "--instructions", "20")
        check(rc == 1 and rep is not None and rep["decisions"] > 0 and
              rep["differences"] == rep["decisions"],
              "replay --instructions 20: every decision differs (status %s, %s)" % (
                  rc, err[-200:] if rep is None else "%d of %d" % (rep["differences"],
                                                                   rep["decisions"])))
        rc, _, err = eligo("replay", "--original", "--db", srv.db, "--memory", "lots")
        check(rc == 2 and "--memory wants a whole number of bytes, not 'lots'" in err,
              "a limit that is not a number is refused (%s)" % err.strip())
        for mode, opt in ((["--original"], "--sample"), (["--rules", srv.rules], "--max-listed")):
            rc, _, err = eligo("replay", *mode, "--db", srv.db, opt, "3")
            check(rc == 2 and ("%s goes with" % opt) in err,
                  "%s with %s, where it would do nothing, is refused (%s)" %
                  (opt, mode[0], err.strip()))

        # Tamper with one decision's stored criterion result.
        con = sqlite3.connect(srv.db)
        seq, did, text = con.execute(
            "select seq, decision_id, decision from decisions where program = 'idmaj'"
            " and decision like '%\"id\":\"age\",\"passed\":true%' order by seq limit 1 offset 77").fetchone()
        con.execute("drop trigger decisions_no_update")
        con.execute("update decisions set decision = ? where seq = ?",
                    (text.replace('"id":"age","passed":true', '"id":"age","passed":false', 1), seq))
        con.commit()
        con.close()
        rc, rep, err = replay_json("--original", "--db", srv.db)
        listed = rep["listed"] if rep else []
        check(rc == 1 and rep["differences"] == 1 and len(listed) == 1 and listed[0]["decision_id"] == did
              and "age" in listed[0]["what"],
              "a tampered criterion result is reported, exit status 1 (%s)" % (listed or err[-300:]))
        rc, out, _ = eligo("replay", "--original", "--db", srv.db, timeout=600)
        check(rc == 1 and did in out, "the text report names the decision")
        check("(100%)" not in out and "%) under" in out,
              "and does not round one difference up to 100%% (%s)" % out.splitlines()[-3:])

        # The outcome column alone (what audit list and stats read), the
        # decision's JSON untouched.
        con = sqlite3.connect(srv.db)
        seq2, did2 = con.execute("select seq, decision_id from decisions where outcome ="
                                 " 'ineligible' and seq > ? order by seq limit 1", (seq,)).fetchone()
        con.execute("update decisions set outcome = 'eligible' where seq = ?", (seq2,))
        con.commit()
        con.close()
        rc, rep, err = replay_json("--original", "--db", srv.db)
        listed = rep["listed"] if rep else []
        check(rc == 1 and rep["differences"] == 2 and [x["decision_id"] for x in listed] == [did, did2]
              and "outcome column says eligible" in listed[1]["what"],
              "a tampered outcome column is reported too (%s)" % (listed or err[-300:]))

        # A long message changed, in Arabic: the note shows a part of each,
        # cut between characters, not the first whole and nothing of the other.
        con = sqlite3.connect(srv.db)
        seq3, text3 = con.execute("select seq, decision from decisions where seq > ? and"
                                  " decision like '%\"message\":\"%' order by seq limit 1",
                                  (seq2,)).fetchone()
        d3 = json.loads(text3)
        d3["criteria"][0]["message"] = "نص طويل " * 60
        con.execute("update decisions set decision = ? where seq = ?",
                    (json.dumps(d3, ensure_ascii=False, separators=(",", ":")), seq3))
        con.commit()
        con.close()
        rc, out, err = eligo("replay", "--original", "--db", srv.db, timeout=600)
        line = [l for l in out.splitlines() if "record %d)" % seq3 in l]
        check(rc == 1 and len(line) == 1 and "نص طويل" in line[0] and "…\", now \"" in line[0]
              and "\ufffd" not in line[0], "a long changed message: both sides shown, each cut "
              "between characters (%s)" % (line[0][:160] if line else out[-300:]))

        # One decision of a screen deleted: its programme is decided now and
        # not originally (without a --program filter nothing else leaves a
        # decision of the application out).
        con = sqlite3.connect(srv.db)
        app, prog = con.execute("select application, program from decisions where seq > ? and"
                                " application in (select application from decisions group by"
                                " application having count(*) > 1) order by seq limit 1",
                                (seq3,)).fetchone()
        con.execute("drop trigger decisions_no_delete")
        con.execute("delete from decisions where application = ? and program = ?", (app, prog))
        con.commit()
        con.close()
        rc, rep, err = replay_json("--original", "--db", srv.db)
        gone = [x for x in (rep["listed"] if rep else []) if x["program"] == prog
                and "but no decision of it is stored with the application" in x["what"]]
        check(rc == 1 and len(gone) == 1,
              "a decision deleted from a screen: its programme decided now and not stored "
              "(%s)" % (gone or err[-300:]))
        # Said of the application, not of another programme's decision; and
        # the summary counts it apart from the stored ones that differ.
        rc, out, err = eligo("replay", "--original", "--db", srv.db)
        said = [l for l in out.splitlines() if l.startswith("the application of record ")]
        last = ([l for l in out.splitlines() if "decisions reproduced exactly" in l] or [""])[0]
        check(rc == 1 and len(said) == 1 and (", programme %s: decided now (" % prog) in said[0]
              and re.search(r"rule sets?%s; 1 decided now was not stored$" %
                            ("; %d differ" % (rep["differences"] - 1) if rep["differences"] > 1
                             else ""), last),
              "in text: the application named, and the summary says what was not stored "
              "(%s | %s)" % (said, last))

        # A stored rule file changed: its rule set loads no more, and the
        # summary says its decisions were not re-decided.
        con = sqlite3.connect(srv.db)
        con.execute("drop trigger file_texts_no_update")
        con.execute("update file_texts set text = text || ' ' where sha256 in (select sha256"
                    " from ruleset_files where name = 'awrach.lua')")
        con.commit()
        total = con.execute("select count(*) from decisions").fetchone()[0]
        con.close()
        rc, out, err = eligo("replay", "--original", "--db", srv.db, timeout=600)
        last = [l for l in out.splitlines() if "decisions replayed in" in l]
        check(rc == 1 and "cannot be loaded" in out and len(last) == 1 and
              last[0].endswith("; %d of them could not be re-decided" % total),
              "a damaged stored rule set: its decisions are said not re-decided (%s)" %
              (last or out[-300:]))


# ---- (c) a history-aware rule ------------------------------------------------

AWRACH_ONCE = '''
  criterion "once_a_quarter" {
    text = { en = "No Awrach decision in the 3 months before", fr = "Aucune décision Awrach dans les 3 mois",
             ar = "لا قرار أوراش خلال 3 أشهر" },
    reference = REF,
    check = function(a, on)
      return decided_within(earlier(a), "awrach", nil, 3, on) == nil
    end,
  },
'''


def intelaka_applicant(**changes):
    a = applicant(0, applicant_id="H-1", birth_date="1990-04-12", education="bac+2",
                  unemployed_since="2024-02-01", monthly_household_income=5000, household_size=2,
                  business={"sector": "commerce", "plan_submitted": True, "project_cost": 300000,
                            "own_contribution": 50000, "expected_turnover": 450000, "legal_form": "sarl"},
                  previous_benefits=[{"program": "idmaj", "date": "2024-05-01"}])
    a.update(changes)
    return a


def test_history_per_programme():
    """A rule reading one programme's past sees its newest rows however
    often other programmes decided the applicant since: 201 taehil decisions
    after an Intelaka refusal do not hide it (the server's history is the
    newest 200 of each programme), with the history cache and without."""
    for args in ([], ["--history-cache", "0"]):
        with with_refusal(args=["--quiet"] + args) as srv:
            c = srv.connect()

            def intelaka():
                a = intelaka_applicant()
                a["business"] = dict(a["business"], sector="finance")   # refused
                return c.request({"op": "decide", "program": "intelaka", "as_of": "2025-03-01",
                                  "applicant": a})
            first = intelaka()
            check(first.get("ok"), "an Intelaka decision (%r)" % first.get("error"))
            again = intelaka()
            crit = {x["id"]: x["passed"] for x in again["decision"]["criteria"]}
            refused = first["decision"]["outcome"] == "ineligible"
            c.send_many([{"op": "decide", "program": "taehil", "as_of": "2025-03-01",
                          "applicant": intelaka_applicant()} for _ in range(201)])
            done = [c.recv() for _ in range(201)]
            check(all(r and r.get("ok") for r in done), "201 taehil decisions of the same applicant")
            last = intelaka()
            crit2 = {x["id"]: x["passed"] for x in last["decision"]["criteria"]}
            c.close()
            check(refused and crit.get("no_recent_refusal") is False and
                  crit2.get("no_recent_refusal") is False,
                  "%s: the Intelaka refusal still counts after 201 other decisions (%s, %s)" %
                  (" ".join(args) or "cached", crit.get("no_recent_refusal"),
                   crit2.get("no_recent_refusal")))


def test_history_after_restart():
    """The server reads the applicants with a decision when it starts: after a
    restart an applicant's past is still read, and a new applicant's is empty."""
    with with_refusal() as srv:
        c = srv.connect()
        first = c.request({"op": "decide", "program": "intelaka", "as_of": "2025-03-01",
                           "applicant": intelaka_applicant(applicant_id="R-1")})
        check(first["ok"], "a first decision for R-1")
        c.close()
        srv.stop()
        srv.start()
        c = srv.connect()
        again = c.request({"op": "decide", "program": "intelaka", "as_of": "2025-04-01",
                           "applicant": intelaka_applicant(applicant_id="R-1")})
        rows = again.get("decision", {}).get("history")
        check(again["ok"] and isinstance(rows, list) and len(rows) == 1 and
              rows[0].get("decision_id") == first["decision"]["decision_id"],
              "after a restart, R-1's earlier decision is read (%s)" % rows)
        fresh = c.request({"op": "decide", "program": "intelaka", "as_of": "2025-04-01",
                           "applicant": intelaka_applicant(applicant_id="R-2")})
        check(fresh["ok"] and fresh["decision"].get("history") == [],
              "a new applicant reads an empty past (%s)" % fresh.get("decision", {}).get("history"))
        c.close()
        srv.stop()


HISTORY_KEYS = ("decision_id", "program", "program_version", "outcome", "as_of", "decided_at")


def history_health(srv):
    c = srv.connect()
    h = c.request({"op": "health"})
    c.close()
    return h.get("history_cache") or {}


def check_recorded_history(db, what):
    """Every history a decision recorded is the applicant's rows stored
    before it, newest first, in full: those committed while it was being
    decided may be missing at the front, none anywhere else."""
    con = sqlite3.connect(db)
    rows = {}
    for seq, aid, *fields in con.execute(
            "select seq, applicant_id, %s from decisions order by seq" % ", ".join(HISTORY_KEYS)):
        rows.setdefault(aid, []).append((seq, dict(zip(HISTORY_KEYS, fields))))
    bad, recorded, longest = [], 0, 0
    for seq, aid, text in con.execute("select seq, applicant_id, decision from decisions"):
        got = json.loads(text).get("history")
        if got is None:
            continue
        recorded += 1
        longest = max(longest, len(got))
        before = [r for s, r in reversed(rows.get(aid, [])) if s < seq]
        if not any(before[j:j + 200] == got for j in range(len(before) + 1)):
            bad.append((seq, aid, len(got), len(before)))
    con.close()
    check(recorded > 0 and not bad,
          "%s: each of %d recorded histories (up to %d rows) is the applicant's stored rows "
          "before it (%d are not: %s)" % (what, recorded, longest, len(bad), bad[:3]))
    return recorded, longest


def test_history_kept():
    """The server keeps applicants' earlier decisions in memory (past.c),
    once read, and adds each commit to them: what a decision records must be
    what the store held, whether the rows were kept since the first read,
    read after a restart, or read again after the cache, too small for them
    all, let them go."""
    with with_refusal(args=["--quiet"]) as srv:
        rc, out, err = eligo("bench", "--socket", srv.socket, "-c", "8", "-P", "16", "-n", "6000",
                             "--applicants", "150", "--json")
        check(rc == 0, "6000 decisions for 150 applicants (%s)" % (out or err)[-200:])
        h = history_health(srv)
        # Once each, but for two workers that miss one applicant at the same
        # moment: both read it, one is kept (past.c), and a read a commit
        # overtook is not kept: a few more, more under the sanitizers.
        n = h.get("applicants", 0)
        check(0 < n <= h.get("misses", 0) <= n + max(2, n // 10) and h.get("hits", 0) > 10 * h["misses"],
              "the past of each applicant a rule asked about is read from the store about once "
              "(twice when two workers miss it at once), then from memory (%s)" % h)
        check(srv.stop() == 0, "the server stops cleanly")
        check_recorded_history(srv.db, "read once, then kept")
        # Restarted with room for a few hundred: rows are read from the
        # store, kept, let go and read again.
        srv.args = ["--quiet", "--history-cache", "1"]
        srv.start()
        rc, out, err = eligo("bench", "--socket", srv.socket, "-c", "8", "-P", "16", "-n", "30000",
                             "--applicants", "3000", "--seed", "7", "--json")
        check(rc == 0, "30000 more for 3000 applicants (%s)" % (out or err)[-200:])
        h = history_health(srv)
        check(h.get("hits", 0) > 0 and h.get("misses", 0) > 0 and h.get("bytes", 1 << 30) <= 1 << 20,
              "with 1 MiB, some are read from memory, others from the store, within the MiB (%s)" % h)
        check(srv.stop() == 0, "the server stops cleanly")
        _, longest = check_recorded_history(srv.db, "read back, kept and let go")
        check(longest > 3, "some applicants had several earlier rows (%d)" % longest)
        rc, rep, err = replay_json("--original", "--db", srv.db)
        check(rc == 0 and rep and rep["differences"] == 0,
              "--original reproduces all (%s)" % (rep and rep["reproduced"] or err[-300:]))


def test_history_reviewed():
    """A history-aware rule reads where an earlier decision stands: an
    override over the socket changes what the next decision is given, though
    the applicant's rows were kept in memory; so does one from eligo audit
    review, another process, within the writer's look (a second) once the
    server is idle.  Each decision records the rows as given, and
    replay --original reproduces them all."""
    business = {"sector": "commerce", "plan_submitted": True, "project_cost": 300000,
                "own_contribution": 50000, "expected_turnover": 450000, "legal_form": "sarl"}
    good = applicant(7, applicant_id="R-1", business=business, previous_benefits=[])
    bad = dict(good, business=dict(business, sector="finance"))

    def intelaka(c, a, as_of):
        r = c.request({"op": "decide", "program": "intelaka", "as_of": as_of, "applicant": a})
        d = r.get("decision") or {}
        crit = {x["id"]: x["passed"] for x in d.get("criteria", [])}
        return d, crit.get("no_recent_refusal"), d.get("history")

    with with_refusal(args=["--quiet"]) as srv:
        c = srv.connect()
        refused, _, _ = intelaka(c, bad, "2025-02-01")
        check(refused.get("outcome") == "ineligible", "a finance project is refused (%s)" % refused)
        blocked, passed, hist = intelaka(c, good, "2025-03-01")
        check(passed is False and hist and hist[0]["outcome"] == "ineligible",
              "a month later the refusal blocks a new application (%s)" % hist)
        h = history_health(srv)
        check(h.get("applicants") == 1, "the applicant's rows are now kept in memory (%s)" % h)
        for d in (refused, blocked):   # the second is a refusal too, by the first
            ov = c.request({"op": "review", "decision_id": d.get("decision_id"),
                            "review": {"action": "override", "outcome": "eligible",
                                       "by": "agent 12", "reason": "sector misread"}})
            check(ov.get("ok") is True, "a refusal is overridden (%s)" % ov)
        d, passed, hist = intelaka(c, good, "2025-03-01")
        check(passed is True and hist and len(hist) == 2
              and all(r["outcome"] == "eligible" and r.get("decision_outcome") == "ineligible"
                      for r in hist),
              "after the overrides nothing blocks, and each row says where it stands and its "
              "own outcome (%s)" % hist)
        rc, out, err = eligo("audit", "review", refused["decision_id"], "--db", srv.db,
                             "--by", "supervisor 3", "--override", "ineligible",
                             "--reason", "finance after all")
        check(rc == 0, "eligo audit review overrides it back while the server runs (%s)" % err)
        time.sleep(2.5)   # the writer looks once a second while idle
        d, passed, hist = intelaka(c, good, "2025-03-01")
        standing = [r for r in hist or [] if r["decision_id"] == refused["decision_id"]]
        check(passed is False and standing and standing[0]["outcome"] == "ineligible"
              and "decision_outcome" not in standing[0],
              "the next decision sees the other process's review (%s)" % standing)
        c.close()
        check(srv.stop() == 0, "the server stops cleanly")
        rc, rep, err = replay_json("--original", "--db", srv.db)
        check(rc == 0 and rep and rep["differences"] == 0 and rep["decisions"] == 4,
              "--original reproduces all four from the rows they recorded (%s)"
              % str(rep and (rep["reproduced"], rep["decisions"]) or err[-300:]))


IDMAJ_HISTORY = """
  criterion "no_recent_idmaj" {
    text = { en = "x", fr = "x", ar = "x" }, fail = { en = "on {date}", fr = "x", ar = "x" },
    pass = { en = "none", fr = "x", ar = "x" }, reference = REF,
    check = function(a, on)
      local r = decided_within(earlier(a, "idmaj"), "idmaj", nil, 24, on)
      if r then return false, { date = r.as_of } end
      return true
    end,
  },
"""


def test_history_two_programmes():
    """Two programmes of a screen read the past, each its own programme's
    rows, and each decision records only those: under its own rules, each
    must be given the whole past again, not the other's part of it; and a
    candidate rule reading rows the original did not is given them too."""
    with with_refusal(args=["--quiet"]) as srv:
        srv.stop()
        edit(os.path.join(srv.rules, "idmaj.lua"), '  criterion "age" {',
             IDMAJ_HISTORY + '  criterion "age" {')
        srv.start()
        # Pipelined from many connections, an applicant's next screen is
        # decided while the last is in flight: the rules do not see it.
        rc, out, err = eligo("bench", "--socket", srv.socket, "-c", "16", "-P", "32", "-n", "4000",
                             "--applicants", "300", "--op", "screen", "--json")
        check(rc == 0, "4000 screens for 300 applicants (%s)" % (out or err)[-200:])
        check(srv.stop() == 0, "the server stops cleanly")
        recorded = srv.db_query("SELECT count(*) FROM decisions WHERE program = 'idmaj' AND"
                                " decision LIKE '%\"history\":[{%'")[0][0]
        for args in ([], ["--program", "idmaj"], ["--program", "intelaka"]):
            rc, rep, err = replay_json("--original", "--db", srv.db, *args)
            check(rc == 0 and rep and rep["differences"] == 0 and rep["decisions"] > 0,
                  "--original %s reproduces every decision, idmaj's past read in %d of them (%s)"
                  % (" ".join(args) or "(all)", recorded,
                     rep and (rep["reproduced"], rep["decisions"]) or err[-300:]))
        # The same rules as a candidate: each programme is given what the
        # decisions recorded (their union), not the database, which holds
        # decisions that were still in flight when they were made: nothing
        # moves, whatever the filter.
        rc, whole, err = replay_json("--rules", srv.rules, "--db", srv.db, "--sample", "0")
        rc2, only, err2 = replay_json("--rules", srv.rules, "--db", srv.db, "--sample", "0",
                                      "--program", "idmaj")
        def moved(rep):
            return sum(m["count"] for p in (rep or {}).get("programs", []) for m in p["moves"]
                       if m["from"] != m["to"])
        def idmaj(rep):
            return [p for p in (rep or {}).get("programs", []) if p.get("program") == "idmaj"]
        check(rc == 0 and rc2 == 0 and whole and moved(whole) == 0 and moved(only) == 0 and
              idmaj(whole) == idmaj(only), "the same rules as a candidate move nothing, with "
              "and without --program idmaj (%d moved; %s)" % (moved(whole), (err or err2)[-200:]))
        # A rule that reads every programme's rows records them all, newest
        # first: that list, holding the others, is given as it is.
        edit(os.path.join(srv.rules, "taehil.lua"), '  criterion "age" {', """
  criterion "latest" {
    text = { en = "x", fr = "x", ar = "x" }, fail = { en = "{p}", fr = "x", ar = "x" },
    pass = { en = "{p}", fr = "x", ar = "x" }, reference = REF,
    check = function(a)
      local rows = earlier(a)
      return true, { p = rows[1] and (rows[1].program .. " " .. rows[1].decision_id) or "none" }
    end,
  },
  criterion "age" {""")
        srv.start()
        rc, out, err = eligo("bench", "--socket", srv.socket, "-c", "16", "-P", "32", "-n", "2000",
                             "--applicants", "300", "--op", "screen", "--seed", "3", "--json")
        check(rc == 0, "2000 more screens, taehil reading every row (%s)" % (out or err)[-200:])
        check(srv.stop() == 0, "the server stops cleanly")
        rc, rep, err = replay_json("--original", "--db", srv.db)
        check(rc == 0 and rep and rep["differences"] == 0, "--original reproduces them all, the "
              "newest row first where a rule reads it (%s)" %
              (rep and "%d of %d" % (rep["reproduced"], rep["decisions"]) or err[-300:]))

        # Two programmes each reading two programmes' rows, overlapping:
        # neither list holds the other, and each interleaves its two
        # programmes' rows newest first.  The union given again must keep
        # the store's order, or what a rule records of it differs.
        edit(os.path.join(srv.rules, "idmaj.lua"),
             'local r = decided_within(earlier(a, "idmaj"), "idmaj", nil, 24, on)',
             'local _ = earlier(a, "intelaka")\n'
             '      local r = decided_within(earlier(a, "idmaj"), "idmaj", nil, 24, on)')
        edit(os.path.join(srv.rules, "intelaka.lua"), '  criterion "plan" {', """
  criterion "awrach_seen" {
    text = { en = "x", fr = "x", ar = "x" }, fail = { en = "x", fr = "x", ar = "x" },
    pass = { en = "{n}", fr = "x", ar = "x" }, reference = REF,
    check = function(a) return true, { n = #earlier(a, "awrach") } end,
  },
  criterion "plan" {""")
        edit(os.path.join(srv.rules, "taehil.lua"), 'local rows = earlier(a)',
             'local rows = earlier(a, "taehil")')
        srv.start()
        rc, out, err = eligo("bench", "--socket", srv.socket, "-c", "4", "-P", "4", "-n", "1500",
                             "--applicants", "100", "--op", "screen", "--seed", "5", "--json")
        check(rc == 0, "1500 more screens, two programmes reading two each (%s)" %
              (out or err)[-200:])
        check(srv.stop() == 0, "the server stops cleanly")
        rc, rep, err = replay_json("--original", "--db", srv.db)
        check(rc == 0 and rep and rep["differences"] == 0, "--original reproduces them all, "
              "the earlier decisions each rule recorded included, in order (%s)" %
              (rep and "%d of %d" % (rep["reproduced"], rep["decisions"]) or err[-300:]))

        # A stored decision of a programme the rules no longer have: it
        # differs, and the programme decided now in its place is counted
        # apart, not as one more stored decision that failed to reproduce.
        seq, who = srv.db_query("SELECT seq, applicant_id FROM decisions WHERE program = 'idmaj'"
                                " ORDER BY seq LIMIT 1")[0]
        n = srv.db_query("SELECT count(*) FROM decisions WHERE applicant_id = ?", (who,))[0][0]
        con = sqlite3.connect(srv.db)
        con.execute("DROP TRIGGER decisions_no_update")
        con.execute("UPDATE decisions SET program = 'idmaj2', decision = replace(decision,"
                    " '\"program\":\"idmaj\"', '\"program\":\"idmaj2\"') WHERE seq = ?", (seq,))
        con.commit()
        con.close()
        rc, rep, err = replay_json("--original", "--db", srv.db, "--applicant", who)
        check(rc == 1 and rep and rep["decisions"] == n and rep["reproduced"] == n - 1 and
              rep["differences"] == 2, "a renamed programme: %d of %d reproduced, 2 differences "
              "(%s)" % (n - 1, n, rep and (rep["reproduced"], rep["differences"]) or err[-200:]))


def test_history():
    with with_refusal() as srv:
        c = srv.connect()
        # 1. Refused: the plan was not handed in.
        first = c.request({"op": "decide", "program": "intelaka", "as_of": "2025-03-01",
                           "applicant": intelaka_applicant(business={
                               "sector": "commerce", "plan_submitted": False, "project_cost": 300000,
                               "own_contribution": 50000, "expected_turnover": 450000, "legal_form": "sarl"})})
        check(first["ok"] and first["decision"]["outcome"] == "ineligible", "a first intelaka application is refused")
        # 2. A month later, with the plan: refused for the recent refusal.
        second = c.request({"op": "decide", "program": "intelaka", "as_of": "2025-04-01",
                            "applicant": intelaka_applicant()})
        d2 = second.get("decision", {})
        failed = [k["id"] for k in d2.get("criteria", []) if k["passed"] is False]
        check(second["ok"] and d2["outcome"] == "ineligible" and failed == ["no_recent_refusal"],
              "a month later it is refused by no_recent_refusal only (%s)" % failed)
        rows = d2.get("history")
        check(isinstance(rows, list) and len(rows) == 1 and
              rows[0].get("decision_id") == first["decision"]["decision_id"] and
              rows[0].get("outcome") == "ineligible" and rows[0].get("as_of") == "2025-03-01",
              "the decision records the row it read (%s)" % rows)
        # 3. Four months on: eligible again; its rules read both earlier rows.
        third = c.request({"op": "decide", "program": "intelaka", "as_of": "2025-08-01",
                           "applicant": intelaka_applicant()})
        check(third["ok"] and third["decision"]["outcome"] == "eligible" and
              len(third["decision"].get("history", [])) == 2,
              "four months later it is eligible, having read two rows")
        # 4. Awrach (which reads no history) twice on one date, for another
        # applicant eligible for it.
        aw = [c.request({"op": "decide", "program": "awrach", "as_of": "2025-03-01",
                         "applicant": applicant(0, applicant_id="H-2", monthly_household_income=4000,
                                                household_size=4)}) for _ in range(2)]
        check(all(r["ok"] and r["decision"]["outcome"] == "eligible" and "history" not in r["decision"]
                  for r in aw), "two awrach decisions, eligible, recording no history")
        c.close()
        srv.stop()

        rc, rep, err = replay_json("--original", "--db", srv.db)
        check(rc == 0 and rep and rep["differences"] == 0 and rep["decisions"] == 5,
              "--original reproduces the five decisions (%s)" % (rep or err[-300:]))

        # A candidate whose awrach reads history: the decisions recorded none,
        # so each is given the decisions stored before it -- the first none,
        # the second the first.
        cand = os.path.join(srv.dir, "candidate_awrach")
        shutil.copytree(srv.rules, cand)
        with open(os.path.join(cand, "awrach.lua")) as f:
            text = f.read()
        i = text.rindex("}")
        with open(os.path.join(cand, "awrach.lua"), "w") as f:
            f.write(text[:i] + AWRACH_ONCE + text[i:])
        rc, rep, err = replay_json("--rules", cand, "--db", srv.db, "--program", "awrach")
        moves = {(m["from"], m["to"]): m for p in (rep or {}).get("programs", []) for m in p["moves"]}
        m = moves.get(("eligible", "ineligible"))
        check(m is not None and m["count"] == 1 and m["sample"] == [aw[1]["decision"]["decision_id"]] and
              moves.get(("eligible", "eligible"), {}).get("count") == 1,
              "a history-aware candidate sees, for each decision, only the decisions before it (%s)"
              % (rep and rep["programs"] or err[-300:]))

        # Replay must use the recorded rows, not the database: empty the
        # rows recorded in the second decision, and it no longer reproduces
        # (the database still holds the refusal).
        con = sqlite3.connect(srv.db)
        text = con.execute("select decision from decisions where decision_id = ?",
                           (d2["decision_id"],)).fetchone()[0]
        i = text.index(',"history":[')
        con.execute("drop trigger decisions_no_update")
        con.execute("update decisions set decision = ? where decision_id = ?",
                    (text[:i] + ',"history":[]}', d2["decision_id"]))
        con.commit()
        con.close()
        rc, rep, err = replay_json("--original", "--db", srv.db)
        listed = rep["listed"] if rep else []
        check(rc == 1 and len(listed) == 1 and listed[0]["decision_id"] == d2["decision_id"] and
              "no_recent_refusal" in listed[0]["what"],
              "with its recorded rows emptied, decision 2 replays as passing no_recent_refusal (%s)" % listed)

        # A candidate that lengthens the wait to 6 months moves the third
        # decision (as_of 2025-08-01, refusal 2025-03-01... and 2025-04-01,
        # within 6 months) from eligible to ineligible, from its recorded rows.
        cand = os.path.join(srv.dir, "candidate")
        shutil.copytree(srv.rules, cand)
        edit(os.path.join(cand, "intelaka.lua"),
             'parameter "intelaka.reapply_months" {      -- after a refusal, the wait before applying again\n'
             '  reference = REF .. " : nouvelle demande après un refus",\n'
             '  { from = "2025-01-01", value = 3 },\n',
             'parameter "intelaka.reapply_months" {      -- after a refusal, the wait before applying again\n'
             '  reference = REF .. " : nouvelle demande après un refus",\n'
             '  { from = "2025-01-01", value = 6 },\n')
        rc, rep, err = replay_json("--rules", cand, "--db", srv.db)
        moves = {(m["from"], m["to"]): m for p in (rep or {}).get("programs", []) for m in p["moves"]}
        m = moves.get(("eligible", "ineligible"))
        check(m is not None and m["count"] == 1 and m["sample"] == [third["decision"]["decision_id"]] and
              [k["id"] for k in m["criteria"]] == ["no_recent_refusal"],
              "a 6-month wait moves the third decision to ineligible via no_recent_refusal (%s)" % (m or err[-300:]))


# ---- (d) a rule that walks tables with pairs ------------------------------------

WALK = '''
local REF = "tests/integration/replay.py"
local CODES = { zeta = 1, alpha = 2, mu = 3, kappa = 4, beta = 5, omega = 6, delta = 7, pi = 8 }
program "walk" {
  version = "1", from = "2000-01-01", reference = REF,
  title = { en = "Walk", fr = "Parcours", ar = "مسار" },
  criterion "fields" {
    text = { en = "Fields", fr = "Champs", ar = "حقول" },
    pass = { en = "fields {fields}", fr = "champs {fields}", ar = "حقول {fields}" },
    reference = REF,
    check = function(a)
      local seen, local_codes = {}, { x = 1, b = 2, q = 3, c = 4, m = 5, a = 6 }
      for k in pairs(a) do seen[#seen + 1] = k end
      for k, v in pairs(CODES) do seen[#seen + 1] = k .. v end
      for k in pairs(local_codes) do seen[#seen + 1] = k end
      return true, { fields = table.concat(seen, " ") }
    end,
  },
}
'''


def test_walk_order():
    with Server(extra_files={"walk.lua": WALK}, args=["--quiet"]) as srv:
        c = srv.connect()
        replies = [c.request({"op": "decide", "program": "walk", "as_of": AS_OF,
                              "applicant": applicant(i)}) for i in range(50)]
        c.close()
        srv.stop()
        msg = replies[0].get("decision", {}).get("criteria", [{}])[0].get("message", "")
        want = ("fields applicant_id birth_date disability education employment_status"
                " household_size in_training monthly_household_income nationality previous_benefits"
                " region registered_with_agency residence unemployed_since alpha2 beta5 delta7"
                " kappa4 mu3 omega6 pi8 zeta1 a b c m q x")
        check(all(r["ok"] for r in replies) and msg == want,
              "pairs gives the applicant's fields (but the null business) and a table's keys in byte order (%s)" % msg)
        for run in (1, 2):   # each replay a process of its own, with a hash seed of its own
            rc, rep, err = replay_json("--original", "--db", srv.db)
            check(rc == 0 and rep is not None and rep["differences"] == 0 and rep["reproduced"] == 50,
                  "replay %d in a new process reproduces the 50 messages (status %s, %s)" % (
                      run, rc, err[-300:] if rep is None else "%d differ" % rep["differences"]))


# ---- (e) a decision over replay's limits -------------------------------------

HEAVY = '''
local REF = "tests/integration/replay.py"
local T = { en = "Heavy", fr = "Lourd", ar = "ثقيل" }
program "heavy" {
  version = "1", from = "2000-01-01", reference = REF, title = T,
  criterion "loop" {
    text = T, reference = REF,
    check = function(a)
      local n = 0
      for i = 1, a.household_size * 400000 do n = n + i end
      return n > 0
    end,
  },
}
'''


def test_over_limits():
    budget = "20000000"
    with Server(extra_files={"heavy.lua": HEAVY}, args=["--quiet", "--instructions", budget]) as srv:
        c = srv.connect()
        replies = [c.request({"op": "decide", "program": "heavy", "as_of": AS_OF,
                              "applicant": applicant(i)}) for i in range(2)]
        c.close()
        srv.stop()
        check(all(r["ok"] and r["decision"]["outcome"] == "eligible" for r in replies),
              "a server with --instructions %s decides the heavy rule" % budget)
        detail = srv.db_query("select detail from events where kind = 'start'")[0][0]
        limits = "--instructions %s --memory 67108864 --time-limit 1000" % budget
        check(detail.endswith(", limits " + limits),
              "its start event records the limits it decided under (%s)" % detail[-90:])
        rc, rep, err = replay_json("--original", "--db", srv.db)
        check(rc == 1 and rep is not None and rep["differences"] == 2 and
              rep.get("over_limits") == 2 and rep.get("server_limits") == limits,
              "--original under the default budget: 2 over the limits, and the server's named "
              "(%s)" % (err[-300:] if rep is None else {k: rep.get(k) for k in
                                                         ("differences", "over_limits",
                                                          "server_limits")}))
        rc, out, _ = eligo("replay", "--original", "--db", srv.db)
        said = [l for l in out.splitlines() if "went over the replay's limits" in l]
        check(rc == 1 and len(said) == 1 and said[0].startswith(
            "2 decisions went over the replay's limits (--instructions 1000000 --memory 67108864"
            " --time-limit 1000): the server that decided the first (record 1, ") and
              said[0].endswith("with %s; replay with those" % limits),
              "in text, the line says what to give (%s)" % (said or out[-300:]))
        rc, rep, err = replay_json("--original", "--db", srv.db, "--instructions", budget)
        check(rc == 0 and rep is not None and rep["reproduced"] == 2 and rep.get("over_limits") == 0
              and rep.get("server_limits") is None,
              "given the server's budget, both reproduce (status %s)" % rc)
        d = replies[0]["decision"]["decision_id"]
        rc, out, _ = eligo("audit", "show", d, "--db", srv.db)
        check(rc == 0 and (", limits " + limits + " (started ") in out,
              "audit show names the limits under 'served by'")


def main():
    if not os.path.exists(ELIGO):
        print("no eligo binary at %s" % ELIGO)
        sys.exit(1)
    rc, out, _ = eligo("replay", "--help")
    check(rc == 0 and "--original" in out, "eligo replay --help")
    rc, _, err = eligo("replay", "--original", "--db", "/nonexistent/e.db")
    check(rc == 2 and "no database" in err, "a missing database is a usage error")
    test_candidate()
    test_versions()
    test_history()
    test_history_per_programme()
    test_history_after_restart()
    test_history_kept()
    test_history_reviewed()
    test_history_two_programmes()
    test_walk_order()
    test_over_limits()
    test_original()
    finish()


if __name__ == "__main__":
    main()
