#!/usr/bin/env python3
"""eligo serve: hot reload of the rules directory.  A good edit takes effect
without a restart; a broken one (a syntax error, a failing test case) changes
nothing, is logged with file:line and recorded as an event.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/serve_reload.py
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import Server, check, decide, eligo, finish  # noqa: E402


def health_hash(c):
    return c.request({"op": "health"})["ruleset"]


def wait_for(pred, timeout=60):   # a reload runs the rule tests: slow under a loaded CI
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def write(path, text, atomic=False):
    if atomic:   # the way many editors save: a new file renamed over the old
        tmp = os.path.join(os.path.dirname(path), ".%s.tmp" % os.path.basename(path))
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    else:
        with open(path, "w") as f:
            f.write(text)


def events(srv, kind):
    return srv.db_query("select detail from events where kind=? order by id", (kind,))


def main():
    with Server(copy_rules=True) as srv:
        idmaj = os.path.join(srv.rules, "idmaj.lua")
        idmaj_test = os.path.join(srv.rules, "idmaj.test.lua")
        with open(idmaj) as f:
            original = f.read()
        with open(idmaj_test) as f:
            original_test = f.read()
        c = srv.connect()
        h0 = health_hash(c)

        # A good edit, saved the way editors do.
        write(idmaj, original + "\n-- a comment added by the reload test\n", atomic=True)
        h1 = wait_for(lambda: (lambda h: h if h != h0 else None)(health_hash(c)))
        check(h1 is not None, "a good edit is picked up without a restart (%s -> %s)" % (h0[:12], (h1 or "")[:12]))
        d = c.request(decide(1))
        check(d["ok"] and d["decision"]["ruleset"] == h1, "new decisions name the new rule set")
        check(srv.db_query("select count(*) from rulesets where hash=?", (h1,))[0][0] == 1,
              "the new rule set is stored whole")
        check(len(events(srv, "reload")) == 1, "a reload event is recorded")

        # A syntax error: rejected, nothing changes.
        write(idmaj, original + "\nthis is ( not lua\n")
        ok = wait_for(lambda: "reload rejected" in srv.log())
        check(ok, "a broken edit is rejected")
        m = re.search(r"reload rejected.*idmaj\.lua:(\d+)", srv.log())
        check(m is not None, "the log names file:line (%s)" % (m.group(0)[-60:] if m else srv.log()[-300:]))
        check(health_hash(c) == h1, "the old rules keep serving (health)")
        d = c.request(decide(2))
        check(d["ok"] and d["decision"]["ruleset"] == h1, "the old rules keep serving (decisions)")
        rej = events(srv, "reload_rejected")
        check(len(rej) == 1 and "idmaj.lua:" in rej[0][0], "a reload_rejected event is recorded with file:line")

        # A failing test case: rejected too.
        write(idmaj, original + "\n-- a comment added by the reload test\n")
        bad_test = original_test.replace('outcome = "eligible"', 'outcome = "ineligible"', 1)
        check(bad_test != original_test, "(a test case to break)")
        write(idmaj_test, bad_test)
        ok = wait_for(lambda: len(events(srv, "reload_rejected")) == 2)
        check(ok and "idmaj.test.lua:" in events(srv, "reload_rejected")[1][0],
              "an edit whose test cases fail is rejected, naming the case's file:line")
        check(health_hash(c) == h1, "and changes nothing")

        # A set that loads and passes its cases but that eligo check would
        # refuse (a criterion without its French text): rejected too.
        write(idmaj_test, original_test)
        no_fr = original.replace('      fr = "Âgé de {idmaj.age_min} à {idmaj.age_max} ans",\n', "", 1)
        check(no_fr != original, "(a text to remove)")
        write(idmaj, no_fr)
        ok = wait_for(lambda: len(events(srv, "reload_rejected")) == 3)
        rej = events(srv, "reload_rejected")
        check(ok and "1 problem: idmaj.lua:" in rej[-1][0] and "has no fr text" in rej[-1][0],
              "an edit eligo check refuses is rejected, with its file:line (%s)" %
              (rej[-1][0][:120] if rej else None))
        check(health_hash(c) == h1, "and changes nothing either")
        write(idmaj, original + "\n-- a comment added by the reload test\n")

        # Repaired: the set is the one already serving, so nothing is swapped.
        write(idmaj_test, original_test)
        ok = wait_for(lambda: srv.log().count("rules unchanged") >= 1)
        check(ok and health_hash(c) == h1, "repairing the edit brings back the serving set: unchanged")
        n_reload = len(events(srv, "reload"))

        # SIGHUP forces a reload; with nothing changed, nothing happens.
        srv.proc.send_signal(signal.SIGHUP)
        ok = wait_for(lambda: srv.log().count("rules unchanged") >= 2)
        check(ok and len(events(srv, "reload")) == n_reload, "SIGHUP reloads; an unchanged set changes nothing")

        # A reload under load: every request answered, by the old or the new set.
        load = srv.connect()
        stop = threading.Event()
        seen = []

        def pump():
            i = 0
            while not stop.is_set():
                load.send_many([decide(1000 + i + k, rid=i + k) for k in range(50)])
                for k in range(50):
                    r = load.recv()
                    seen.append((r["id"] == i + k, r["ok"], r["ok"] and r["decision"]["ruleset"]))
                i += 50

        t = threading.Thread(target=pump)
        t.start()
        time.sleep(0.3)
        write(idmaj, original)   # back to the first set
        h2 = wait_for(lambda: (lambda h: h if h == h0 else None)(health_hash(c)))
        time.sleep(0.3)
        stop.set()
        t.join(30)
        check(h2 == h0, "reverting the edit serves the first set again")
        check(seen and all(a and b for a, b, _ in seen), "under load during a reload: %d requests, "
              "all answered, in order" % len(seen))
        sets = [s for _, _, s in seen]
        check(set(sets) <= {h0, h1} and sets[-1] == h0 and sets[0] == h1,
              "each decided by the old set or the new, ending on the new")
        load.close()

        # A deploy that replaces the directory: removed, then copied back.
        # The watch follows the new directory, and later edits are heard.
        saved = srv.rules + ".saved"
        shutil.copytree(srv.rules, saved)
        shutil.rmtree(srv.rules)
        ok = wait_for(lambda: ("%s is gone" % srv.rules) in srv.log())
        check(ok, "a removed rules directory is said to be gone (%s)" % srv.log()[-200:])
        shutil.copytree(saved, srv.rules)
        ok = wait_for(lambda: "watching %s again" % srv.rules in srv.log())
        check(ok, "the directory back, it is watched again")
        write(idmaj, original + "\n-- edited after the directory was replaced\n", atomic=True)
        h3 = wait_for(lambda: (lambda h: h if h not in (h0, h1) else None)(health_hash(c)))
        check(h3 is not None, "an edit after the directory was replaced is picked up (%s)" % (h3 or "")[:12])
        shutil.rmtree(saved, ignore_errors=True)

        # A deploy that prepares the new set elsewhere and swaps it in by a
        # rename: seen without SIGHUP (the parent directory is watched), and
        # later edits of the new directory are heard too.
        new = srv.rules + ".new"
        shutil.copytree(srv.rules, new)
        write(os.path.join(new, "idmaj.lua"), original + "\n-- swapped in by a rename\n")
        os.rename(srv.rules, srv.rules + ".old")
        os.rename(new, srv.rules)
        h4 = wait_for(lambda: (lambda h: h if h not in (h0, h1, h3) else None)(health_hash(c)))
        check(h4 is not None and "the rules directory was replaced" in srv.log(),
              "a directory swapped in by a rename is reloaded, without SIGHUP (%s)" % (h4 or "")[:12])
        write(idmaj, original + "\n-- edited after the swap\n", atomic=True)
        h5 = wait_for(lambda: (lambda h: h if h not in (h0, h1, h3, h4) else None)(health_hash(c)))
        check(h5 is not None, "and an edit of the new directory is picked up (%s)" % (h5 or "")[:12])
        shutil.rmtree(srv.rules + ".old", ignore_errors=True)

        # A test file deleted: the set still passes what cases are left, and
        # is taken; the log says which criteria no case shows any more.
        os.remove(os.path.join(srv.rules, "taehil.test.lua"))
        h6 = wait_for(lambda: (lambda h: h if h not in (h0, h1, h3, h4, h5) else None)(health_hash(c)))
        notes = re.findall(r"warn .*taehil\.lua:\d+: criterion taehil/\w+ (?:fails|passes) in no case",
                           srv.log())
        check(h6 is not None and len(notes) >= 2,
              "a deleted test file is a good reload, its uncovered criteria logged (%d)" % len(notes))
        # Moved away and back: said both ways; an edit made while it was
        # away is read once it is back.
        away = srv.rules + ".away"
        said = srv.log().count("%s is gone" % srv.rules)
        os.rename(srv.rules, away)
        ok = wait_for(lambda: srv.log().count("%s is gone" % srv.rules) > said)
        check(ok, "a rules directory moved away is said to be gone (%s)" % srv.log()[-200:])
        write(os.path.join(away, "idmaj.lua"), original + "\n-- edited while away\n")
        time.sleep(0.3)
        os.rename(away, srv.rules)
        h7 = wait_for(lambda: (lambda h: h if h not in (h0, h1, h3, h4, h5, h6) else None)(
            health_hash(c)))
        check(h7 is not None and srv.log().count("watching %s again" % srv.rules) == 2 and
              "cannot open rule directory" not in srv.log(),
              "moved back: said so, and the edit made while away is served (%s)" % (h7 or "")[:12])

        # Moved away while a reload runs with another queued (a SIGHUP): the
        # queued one finds nothing to read and records no rejection.
        for i in range(4):
            write(idmaj, original + "\n-- queued %d\n" % i)
            time.sleep(0.12)
            srv.proc.send_signal(signal.SIGHUP)
            os.rename(srv.rules, away)
            time.sleep(1.2)
            os.rename(away, srv.rules)
            time.sleep(1.2)
        rejected = [d for (d,) in events(srv, "reload_rejected") if "cannot open" in (d or "")]
        check(rejected == [], "a directory moved away during a reload: no rejection recorded (%s)"
              % rejected[:1])

        # Edits that land as a reload ends are not lost: after each pair the
        # set served is the set on disk.  (A race: a fault shows in some
        # rounds, not all.)
        def disk_hash():
            _, out, _ = eligo("check", srv.rules)
            m = re.search(r"^ruleset ([0-9a-f]{64})", out, re.M)
            return m.group(1) if m else None
        lost = 0
        for i in range(12):
            write(idmaj, original + "\n-- round %d, first\n" % i)
            time.sleep(0.1 + 0.01 * (i % 10))
            write(idmaj, original + "\n-- round %d, second\n" % i)
            want = disk_hash()
            if not wait_for(lambda: health_hash(c) == want, timeout=15):
                lost += 1
        check(lost == 0, "an edit saved while a reload ends is served (%d of 12 rounds lost)" % lost)
        c.close()
        check(srv.stop() == 0, "clean exit")

    # --rules given as DIR/, the directory deleted and made again (often with
    # the same inode): the watch is set on the new one, and edits are heard.
    with Server(copy_rules=True, start=False) as srv:
        srv.rules += "/"
        srv.start()
        c = srv.connect()
        h0 = health_hash(c)
        saved = srv.rules.rstrip("/") + ".saved"
        shutil.copytree(srv.rules, saved)
        shutil.rmtree(srv.rules)
        shutil.copytree(saved, srv.rules)
        idmaj = os.path.join(srv.rules, "idmaj.lua")
        with open(idmaj) as f:
            text = f.read()
        time.sleep(1.5)   # the new directory found, the watch on it
        write(idmaj, text + "\n-- edited in the directory made again\n", atomic=True)
        h1 = wait_for(lambda: (lambda h: h if h != h0 else None)(health_hash(c)), timeout=20)
        check(h1 is not None, "--rules DIR/ deleted and made again: a later edit is served (%s)"
              % (h1 or "")[:12])
        c.close()
        shutil.rmtree(saved, ignore_errors=True)

    # --rules a symbolic link, swapped at once to another directory
    # (ln -s NEW tmp && mv -T tmp rules): the swap seen and reloaded without
    # SIGHUP, the new set served, and the watch on the new directory (not
    # the look every 10 s finding them).
    with Server(copy_rules=True, start=False) as srv:
        link = os.path.join(srv.dir, "current")
        os.symlink(srv.rules, link)
        new = srv.rules + ".v2"
        shutil.copytree(srv.rules, new)
        srv.rules = link
        srv.start()
        c = srv.connect()
        h0 = health_hash(c)
        idmaj = os.path.join(new, "idmaj.lua")
        with open(idmaj) as f:
            text = f.read()
        v2 = text.replace('version = "2025.1"', 'version = "2025.2"', 1)
        check(v2 != text, "(a version to change)")
        write(idmaj, v2)
        os.symlink(new, link + ".tmp")
        os.rename(link + ".tmp", link)   # mv -T: the link replaced in one step
        h1 = wait_for(lambda: (lambda h: h if h != h0 else None)(health_hash(c)), timeout=20)
        d = c.request(decide(1))
        check(h1 is not None and d["ok"] and d["decision"]["ruleset"] == h1 and
              d["decision"]["program_version"] == "2025.2" and
              "the rules directory was replaced" in srv.log(),
              "a symbolic link swapped to a new directory: seen, and its set served (%s, "
              "version %s)" % ((h1 or "")[:12], d.get("decision", {}).get("program_version")))
        write(idmaj, v2 + "\n-- edited after the link was swapped\n", atomic=True)
        h2 = wait_for(lambda: (lambda h: h if h not in (h0, h1) else None)(health_hash(c)),
                      timeout=20)
        check(h2 is not None and "no word from the watch" not in srv.log(),
              "and an edit of the new directory is heard by the watch (%s)" % (h2 or "")[:12])
        c.close()

    # A SIGHUP while the server stops (a log rotation) is not its end: the
    # requests in flight are answered, the stop recorded, the socket removed.
    with Server() as srv:
        # Its start recorded first: the start event waits for the lock too,
        # and a server not yet serving reads no request.
        check(wait_for(lambda: "serving: " in srv.log()), "(the server serving)")
        hold = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                                 "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                                 "c.execute('BEGIN IMMEDIATE'); print('held', flush=True)\n"
                                 "time.sleep(2)", srv.db], stdout=subprocess.PIPE, text=True)
        hold.stdout.readline()   # commits wait for the write lock from now on
        c = srv.connect()
        c.send_many([decide(i) for i in range(10)])
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGHUP)
        replies = [c.recv() for _ in range(10)]
        hold.wait()
        code = srv.proc.wait(timeout=60)
        answered = sum(1 for r in replies if r and r.get("ok"))
        check(code == 0 and answered == 10 and not os.path.exists(srv.socket)
              and len(events(srv, "stop")) == 1,
              "SIGHUP during the stop: exit %s, %d of 10 answered, stop recorded" % (code, answered))

    # The server does not start on a set eligo check refuses, and says why.
    bad = Server(copy_rules=True, start=False)
    path = os.path.join(bad.rules, "idmaj.lua")
    with open(path) as f:
        text = f.read()
    write(path, text.replace('      fr = "Âgé de {idmaj.age_min} à {idmaj.age_max} ans",\n', "", 1))
    p = subprocess.run(bad.command(), capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and "idmaj.lua:" in p.stderr and "has no fr text" in p.stderr and
          "not serving them" in p.stderr and not os.path.exists(bad.socket),
          "serve refuses to start on rules with a problem (%s)" % p.stderr.strip()[-120:])
    shutil.rmtree(bad.dir, ignore_errors=True)

    # Nor on a set whose own test cases fail: exit 1, said, no socket left.
    bad = Server(copy_rules=True, start=False)
    path = os.path.join(bad.rules, "idmaj.test.lua")
    with open(path) as f:
        text = f.read()
    write(path, text.replace('outcome = "eligible"', 'outcome = "ineligible"', 1))
    p = subprocess.Popen(bad.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    try:
        said = p.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:   # it serves them
        left = os.path.exists(bad.socket)
        p.kill()
        said = p.communicate()[1] + "(still running after 30 s, socket %s)" % left
    check(p.returncode == 1 and "idmaj.test.lua:" in said and
          re.search(r"rules: 1 of \d+ test cases failed \(eligo test \S+\); not serving them", said) and
          not os.path.exists(bad.socket),
          "serve refuses to start on rules whose test cases fail: exit %s (%s)"
          % (p.returncode, said.strip()[-120:]))
    shutil.rmtree(bad.dir, ignore_errors=True)

    # A set without test cases is served, as before, but not without a word:
    # eligo test fails it.
    with Server(copy_rules=True, start=False) as bare:
        for f in os.listdir(bare.rules):
            if f.endswith(".test.lua"):
                os.remove(os.path.join(bare.rules, f))
        bare.start()
        c = bare.connect()
        check(c.request({"op": "health"})["ok"], "a set without test cases is served")
        c.close()
        check("has no test cases: nothing shows that its rules decide as intended" in bare.log(),
              "and the log says it has no test cases")

    # The kernel drops a watch's events when too many wait unread (16,384):
    # an edit among them is found by the look every 10 s, said as such.  A
    # broken set is rejected once, not again at each look.
    with Server(copy_rules=True) as srv:
        c = srv.connect()
        h0 = health_hash(c)
        taehil = os.path.join(srv.rules, "taehil.lua")
        with open(taehil) as f:
            text = f.read()
        srv.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(17000):
                open(os.path.join(srv.rules, "n%d.txt" % i), "w").close()
            write(taehil, text.replace('version = "2025.1"', 'version = "2025.7"', 1), atomic=True)
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        h1 = wait_for(lambda: health_hash(c) != h0 and health_hash(c), timeout=40)
        check(h1 and "changed with no word from the watch (its events were lost): found by the "
              "look every 10 s" in srv.log(), "an edit whose events were lost is served after a "
              "look (%s)" % (h1 or "not served")[:12])
        for i in range(17000):
            os.remove(os.path.join(srv.rules, "n%d.txt" % i))
        before = len(events(srv, "reload_rejected"))
        write(taehil, text.replace('program "taehil" {', 'program "taehil" {{', 1), atomic=True)
        wait_for(lambda: len(events(srv, "reload_rejected")) > before, timeout=40)
        time.sleep(22)   # two looks
        n = len(events(srv, "reload_rejected")) - before
        check(n == 1 and health_hash(c) == h1, "a broken set is rejected once, not at each look "
              "(%d rejections)" % n)
        c.close()
    notes_capped()
    key_across_reload()
    key_across_stop()
    finish()


def notes_capped():
    """A set whose criteria no case exercises logs its warnings at every
    load, at most RELOAD_NOTES_SHOWN (20) of them, then how many more: two
    programmes without test cases make 22 notes."""
    with Server(copy_rules=True, start=False) as srv:
        for name in ("idmaj.test.lua", "taehil.test.lua"):
            os.remove(os.path.join(srv.rules, name))
        srv.start()
        note = "warn  rules: "
        more = "warn  rules: 2 more warnings not logged (eligo check %s and eligo test %s list " \
               "them all)" % (srv.rules, srv.rules)
        notes = [l for l in srv.log().splitlines() if note in l and "in no case" in l]
        check(len(notes) == 20 and srv.log().count(more) == 1,
              "at the start, 20 notes and the count of the 2 more (%d notes)" % len(notes))
        c = srv.connect()
        h0 = health_hash(c)
        awrach = os.path.join(srv.rules, "awrach.lua")
        with open(awrach) as f:
            text = f.read()
        write(awrach, text + "\n-- a comment\n", atomic=True)
        wait_for(lambda: health_hash(c) != h0 and srv.log().count(more) == 2)
        notes = [l for l in srv.log().splitlines() if note in l and "in no case" in l]
        check(len(notes) == 40 and srv.log().count(more) == 2,
              "a reload logs its own 20 and the count of the rest (%d notes in all)" % len(notes))
        c.close()


def key_across_reload():
    """A retry that a reload fell between is answered with what was stored
    under its request_key, though the rules in force now refuse it: idmaj
    withdrawn, its decide is no unknown_program but the stored decision,
    repeated, as a screen's retry is.  A key not stored, or stored for
    another application, still gets the error."""
    with Server(copy_rules=True) as srv:
        c = srv.connect()
        first = c.request(decide(1, rid="k", request_key="RELOAD-1"))
        screen = c.request({"op": "screen", "as_of": "2025-03-01", "request_key": "RELOAD-2",
                            "applicant": decide(2)["applicant"]})
        h0 = health_hash(c)
        for name in ("idmaj.lua", "idmaj.test.lua"):
            os.remove(os.path.join(srv.rules, name))
        os.kill(srv.proc.pid, signal.SIGHUP)
        check(wait_for(lambda: health_hash(c) != h0), "idmaj withdrawn by a reload")
        stored = srv.db_query("SELECT count(*) FROM decisions")[0][0]
        again = c.request(decide(1, rid="k2", request_key="RELOAD-1"))
        check(first.get("ok") and again.get("ok") and again.get("repeated") is True
              and again.get("decision") == first["decision"] and again.get("id") == "k2",
              "a decide's retry gets its stored decision, repeated (%s)" % str(again)[:200])
        again = c.request({"op": "screen", "as_of": "2025-03-01", "request_key": "RELOAD-2",
                           "applicant": decide(2)["applicant"]})
        check(again.get("repeated") is True and again.get("decisions") == screen["decisions"],
              "a screen's retry gets its stored decisions, repeated (%s)" % str(again)[:200])
        for what, req in (("another application under the key", decide(3, request_key="RELOAD-1")),
                          ("a key not stored", decide(1, request_key="RELOAD-3")),
                          ("no key", decide(1))):
            r = c.request(req)
            check((r.get("error") or {}).get("code") == "unknown_program",
                  "%s: unknown_program (%s)" % (what, r))
        check(srv.db_query("SELECT count(*) FROM decisions")[0][0] == stored,
              "nothing more stored")
        c.close()


def key_across_stop():
    """The same when the rules now run into a limit for that application (a
    check that loops, stopped by the instruction budget): the retry gets its
    stored decision, repeated; a new key gets the rule_error."""
    with Server(copy_rules=True) as srv:
        c = srv.connect()
        a = decide(5)["applicant"]
        a["applicant_id"] = "LOOP-1"
        line = {"id": "s", "op": "decide", "program": "idmaj", "as_of": "2025-03-01",
                "request_key": "STOP-1", "applicant": a}
        first = c.request(line)
        h0 = health_hash(c)
        path = os.path.join(srv.rules, "idmaj.lua")
        with open(path) as f:
            text = f.read()
        at = text.index('criterion "age"')
        at = text.index("check = function(a, on)", at) + len("check = function(a, on)")
        with open(path, "w") as f:
            f.write(text[:at] + '\n      if known(a, "applicant_id") and a.applicant_id == "LOOP-1"'
                    ' then while true do end end' + text[at:])
        os.kill(srv.proc.pid, signal.SIGHUP)
        check(wait_for(lambda: health_hash(c) != h0), "the looping rule is loaded")
        again = c.request(dict(line, id="s2"))
        check(first.get("ok") and again.get("repeated") is True
              and again.get("decision") == first.get("decision") and again.get("id") == "s2",
              "a retry whose rule now loops gets its stored decision, repeated (%s)"
              % str(again)[:200])
        other = c.request(dict(line, id="s3", request_key="STOP-2"))
        check((other.get("error") or {}).get("code") == "rule_error"
              and "budget" in other["error"].get("message", ""),
              "a new key: the rule's error, the budget named (%s)" % str(other)[:200])
        c.close()


if __name__ == "__main__":
    main()
