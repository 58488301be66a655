#!/usr/bin/env python3
"""eligo backup: a copy of a live database taken under load is one moment of
it (a prefix of the live chain, record for record), verified, durable under
its final name only, never over an existing file; a server can run on it;
a broken source chain is reported with the copy kept.  A copy an older eligo
wrote (schema 1) is verified and read as it is, never changed."""
import hashlib
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, RULES, Server, check, decide, eligo, finish, skip  # noqa: E402


def chain(db):
    """seq -> hash of every decision and review in DB."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        rows = con.execute("SELECT seq, hash FROM decisions UNION ALL "
                           "SELECT seq, hash FROM reviews").fetchall()
    finally:
        con.close()
    return dict(rows)


def disk_full(srv):
    """A copy that fills its disk: exit 2, said why, and nothing left behind
    (no .partial, no -journal).  Needs a small tmpfs; where none can be
    mounted, says so and checks nothing."""
    small = os.path.join(srv.dir, "small")
    os.mkdir(small)
    size = max(8192, os.path.getsize(srv.db) // 2 // 4096 * 4096)   # half the source
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", small],
                      capture_output=True).returncode != 0:
        skip("backup to a full disk: cannot mount a tmpfs here")
        return
    try:
        out = os.path.join(small, "copy.db")
        st, _, err = eligo("backup", "--db", srv.db, "--out", out)
        # SQLite says "full", or "disk I/O error" when the journal's write fails.
        check(st == 2 and ("database or disk is full" in err or "disk I/O error" in err) and
              "partial copy is removed" in err,
              "a backup that fills the disk says so (%s)" % err.strip())
        check(os.listdir(small) == [], "and leaves nothing behind (%s)" % os.listdir(small))
    finally:
        subprocess.run(["umount", small])


def read_only_dir():
    """A database stopped cleanly (no log beside it) in a directory no one may
    write -- a read-only mount, an archive: the read-only tools read it, as a
    user without privileges (root may write anywhere).  SQLite would make the
    -shm file it wants beside the file, and cannot."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        skip("read-only directory: needs root and setpriv to act as another user")
        return
    with Server() as srv:
        c = srv.connect()
        for i in range(3):
            c.request(decide(i))
        c.close()
        check(srv.stop() == 0 and not os.path.exists(srv.db + "-wal"),
              "stopped cleanly: no log beside the database")
        kept = tempfile.mkdtemp(prefix="eligo-ro-")
        db = os.path.join(kept, "kept %?#.db")   # and a name a URI must escape
        shutil.copy(srv.db, db)
        binary = os.path.join(kept, "eligo")   # reachable by that user wherever the build is
        shutil.copy(ELIGO, binary)
        os.chmod(db, 0o644)
        os.chmod(binary, 0o755)
        os.chmod(kept, 0o555)
        try:
            as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary]
            p = subprocess.run(as_nobody + ["verify", "--db", db], capture_output=True, text=True,
                               timeout=60)
            check(p.returncode == 0 and "3 records checked" in p.stdout,
                  "verify reads a database in a directory it cannot write (%s)" %
                  (p.stdout + p.stderr).strip())
            p = subprocess.run(as_nobody + ["audit", "list", "--db", db, "--json"],
                               capture_output=True, text=True, timeout=60)
            check(p.returncode == 0 and len(p.stdout.splitlines()) == 3,
                  "audit list reads it too (%s)" % p.stderr.strip())
            check(not os.path.exists(db + "-shm") and not os.path.exists(db + "-wal"),
                  "and nothing was written beside it")
            # With a log beside it, SQLite would need to make its index there:
            # said so, with what to do, not "unable to open database file".
            os.chmod(kept, 0o755)
            with open(db + "-wal", "wb"):
                pass
            os.chmod(kept, 0o555)
            p = subprocess.run(as_nobody + ["audit", "list", "--db", db], capture_output=True,
                               text=True, timeout=60)
            check(p.returncode == 2 and "write-ahead log" in p.stderr and
                  "copy the database and its -wal" in p.stderr,
                  "a log beside it in a directory it cannot write: said so (%s)" % p.stderr.strip())
            # Through a link from a directory it may write: the log is beside
            # the file, not the link, and so is the trouble.
            links = tempfile.mkdtemp(prefix="eligo-links-")
            os.chmod(links, 0o777)
            link = os.path.join(links, "l.db")
            os.symlink(db, link)
            p = subprocess.run(as_nobody + ["audit", "list", "--db", link], capture_output=True,
                               text=True, timeout=60)
            shutil.rmtree(links, ignore_errors=True)
            check(p.returncode == 2 and "write-ahead log" in p.stderr,
                  "the same through a link from a writable directory (%s)" % p.stderr.strip())
        finally:
            os.chmod(kept, 0o755)
            shutil.rmtree(kept, ignore_errors=True)


def main():
    with Server() as srv:
        load = subprocess.Popen([ELIGO, "bench", "--socket", srv.socket, "-c", "4", "-P", "8",
                                 "-d", "3", "--op", "screen"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c = srv.connect()
        c.request(decide(1))   # at least one decision before the copy
        for _ in range(100):   # and the load under way (slow to start under sanitizers)
            if len(chain(srv.db)) > 50 or load.poll() is not None:
                break
            time.sleep(0.1)
        copies = []
        while load.poll() is None and len(copies) < 3:
            time.sleep(0.6)   # the load goes on between copies
            out = os.path.join(srv.dir, "copy%d.db" % len(copies))
            st, text, err = eligo("backup", "--db", srv.db, "--out", out)
            check(st == 0 and "the chain is intact" in text,
                  "backup %d under load (%s)" % (len(copies) + 1, (text + err).strip()))
            copies.append(out)
        load.wait()
        check(len(copies) >= 2, "%d copies made while the load ran" % len(copies))
        live = chain(srv.db)
        sizes = []
        for out in copies:
            got = chain(out)
            sizes.append(len(got))
            n = len(got)
            check(n > 0 and sorted(got) == list(range(1, n + 1)) and
                  all(live.get(s) == h for s, h in got.items()),
                  "%s is the live chain's first %d records, hash for hash" % (
                      os.path.basename(out), n))
            check(stat.S_IMODE(os.stat(out).st_mode) == 0o600, "the copy is mode 0600")
            check(not any(os.path.exists(out + x) for x in (".partial", "-wal", "-shm")),
                  "nothing is left beside the copy")
        check(sizes == sorted(sizes) and sizes[-1] > sizes[0] and len(live) >= sizes[-1],
              "later copies hold more, the live database the most (%s, live %d)" % (
                  sizes, len(live)))

        st, _, err = eligo("backup", "--db", srv.db, "--out", copies[0])
        check(st == 2 and "exists: a backup never overwrites a file" in err,
              "an existing file is not overwritten (%s)" % err.strip())
        dangling = os.path.join(srv.dir, "dangling.db")
        os.symlink(os.path.join(srv.dir, "nowhere"), dangling)
        st, _, err = eligo("backup", "--db", srv.db, "--out", dangling)
        check(st == 2 and "exists as a symbolic link to nothing" in err and
              not os.path.exists(dangling + ".partial"),
              "a dangling link is refused before any copy (%s)" % err.strip())
        busy = os.path.join(srv.dir, "busy.db")
        with open(busy + ".partial", "w"):
            pass
        st, _, err = eligo("backup", "--db", srv.db, "--out", busy)
        check(st == 2 and "busy.db.partial" in err and not os.path.exists(busy),
              "a .partial left by another backup is not taken over (%s)" % err.strip())
        st, _, err = eligo("backup", "--db", os.path.join(srv.dir, "none.db"), "--out", busy)
        check(st == 2 and "no database" in err, "a missing database is said to be missing")
        st, _, err = eligo("backup", "--db", srv.db)
        check(st == 2 and "--out" in err, "--out is required")
        c.close()
        restored = Server(start=False)
        os.replace(copies[-1], restored.db)   # before this server's directory goes

    # A copy put where a dead server's database was, its log left beside it:
    # SQLite would replay that log onto the copy.  Refused, naming the file.
    stray = restored.db + "-wal"
    with open(stray, "wb") as fh:
        fh.write(b"\x37\x7f\x06\x82" + bytes(4092))
    st, _, err = eligo("verify", "--db", restored.db)
    check(st == 2 and ("%s is beside %s, which is not in WAL mode" % (stray, restored.db)) in err,
          "a stray -wal beside a restored copy is refused, named (%s)" % err.strip()[:160])
    os.unlink(stray)

    # A server runs on a copy, and goes on from its last record.
    restored.start()
    with restored:
        c = restored.connect()
        r = c.request(decide(2))
        check(r.get("ok"), "a server on the copy decides (%r)" % r.get("error"))
        c.close()
        restored.stop()
        st, out, _ = eligo("verify", "--db", restored.db)
        check(st == 0 and ("%d records checked" % (sizes[-1] + 1)) in out,
              "its chain goes on from the copy's last record (%s)" % out.strip())

        # A log of another, smaller database beside a file in WAL mode (a
        # copy put where a dead server's database was, or a -wal copied
        # beside it): SQLite would read the two as one, and the first
        # checkpoint would cut the file to the other's size.  Refused by
        # every tool, the file left whole.
        other = Server(args=["--quiet"])
        with other:
            oc = other.connect()
            for i in range(5):
                oc.request(decide(100 + i))
            oc.close()
            other.stop(signal.SIGKILL)   # its log is left, not checkpointed
            target = os.path.join(restored.dir, "target.db")
            st, _, err = eligo("backup", "--db", restored.db, "--out", target)
            check(st == 0, "a copy to put another's log beside (%s)" % err.strip())
            con = sqlite3.connect(target)
            check(con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal",
                  "the copy in WAL mode, as a database a server ran on is")
            con.close()
            shutil.copy(other.db + "-wal", target + "-wal")
            size = os.path.getsize(target)
            for args in (["verify", "--db", target], ["audit", "list", "--db", target],
                         ["serve", "--rules", RULES, "--db", target, "--socket",
                          os.path.join(restored.dir, "t.sock")]):
                st, out, err = eligo(*args)
                check(st != 0 and "the log beside %s (%s-wal) would make the database" % (target, target)
                      in err and "never shrink" in err and os.path.getsize(target) == size,
                      "%s refuses another database's log beside the file, which stays whole "
                      "(%s)" % (args[0], err.strip()[-200:]))
            for x in ("-wal", "-shm"):
                os.unlink(target + x)
            st, out, _ = eligo("verify", "--db", target)
            check(st == 0 and ("%d records checked" % (sizes[-1] + 1)) in out,
                  "its log moved away, the file verifies whole (%s)" % out.strip())

        # A copy in schema 1, as an eligo from before reviews left it: the
        # read-only tools read it as it is and leave it byte for byte alone.
        old = os.path.join(restored.dir, "old.db")
        st, _, err = eligo("backup", "--db", restored.db, "--out", old)
        check(st == 0, "a copy to age (%s)" % err.strip())
        con = sqlite3.connect(old)
        con.executescript("DROP TABLE database_id; DROP TABLE applicant_index; DROP TABLE applicant_recent;"
                          "CREATE INDEX decisions_applicant ON decisions(applicant_id, seq DESC);"
                          "DROP TABLE reviews; DROP TRIGGER rulesets_no_update;"
                          "DROP TRIGGER rulesets_no_delete; DROP TRIGGER events_no_update;"
                          "DROP TRIGGER events_no_delete; PRAGMA user_version = 1")
        con.close()
        with open(old, "rb") as fp:
            digest = hashlib.sha256(fp.read()).hexdigest()
        st, out, err = eligo("verify", "--db", old)
        check(st == 0 and ("%d records checked" % (sizes[-1] + 1)) in out and
              "schema 1, written by an older eligo: read as it is, not migrated" in out,
              "verify reads a schema-1 file as it is (%s)" % (out + err).strip())
        st, out, err = eligo("audit", "list", "--db", old, "--limit", "3", "--json")
        check(st == 0 and len(out.splitlines()) == 3, "audit list reads it (%s)" % err.strip())
        st, _, err = eligo("backup", "--db", old, "--out", old + ".copy")
        check(st == 0, "a backup of it verifies (%s)" % err.strip())
        with open(old, "rb") as fp:
            check(hashlib.sha256(fp.read()).hexdigest() == digest,
                  "the schema-1 file is unchanged, byte for byte")

        # A broken source chain: the copy is made, kept, and the break named.
        con = sqlite3.connect(restored.db)
        con.execute("DROP TRIGGER decisions_no_update")
        con.execute("UPDATE decisions SET outcome = 'incomplete' WHERE seq = 2")
        con.commit()
        con.close()
        out = os.path.join(restored.dir, "broken.db")
        st, _, text = eligo("backup", "--db", restored.db, "--out", out)
        check(st == 1 and "record 2 " in text and "does not match its hash" in text and
              os.path.exists(out), "a broken source chain is named, the copy kept (%s)" %
              text.strip())
        st, _, err = eligo("backup", "--db", restored.db, "--out", restored.dir)
        check(st == 2 and "is a directory" in err, "a directory is not a file name for the copy")
        disk_full(restored)
        st, _, err = eligo("backup", "--db", restored.db, "--out=")
        check(st == 2 and "empty value given to '--out='" in err,
              "an empty --out= is refused, called empty (%r)" % err.splitlines()[0])
    read_only_dir()
    finish()


if __name__ == "__main__":
    main()
