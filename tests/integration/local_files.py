#!/usr/bin/env python3
"""What the machine hands eligo by name: a FIFO or a device given as a
database, a key or a checkpoint is refused at once, not waited on for ever;
a signing key another user owns is refused (its owner can read it whatever
its mode); a --listen port is digits only.  The part on ownership needs
root (a file owned by nobody), and is skipped otherwise."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import RULES, Server, check, decide, eligo, finish, skip  # noqa: E402


def run(*args):
    """eligo ARGS, given 20 seconds: (status, stderr), status 'hung' when it
    did not end."""
    try:
        rc, _, errtext = eligo(*args, timeout=20)
        return rc, errtext
    except subprocess.TimeoutExpired:
        return "hung", ""


def main():
    srv = Server()
    with srv:
        check(srv.connect().request(decide(1))["ok"], "one decision stored")
        check(srv.stop() == 0, "server stopped")
        d = srv.dir
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        key = os.path.join(d, "k")
        rc, _ = run("keygen", "--out", key)
        check(rc == 0, "keygen")
        cp = os.path.join(d, "cp.json")
        rc, errtext = run("audit", "checkpoint", "--db", srv.db, "--key", key + ".key", "--out", cp)
        check(rc == 0, "a checkpoint signed with the signer's own key (%s)" % errtext.strip())

        # Each of these opened the FIFO and waited for a writer for ever.
        cases = [
            ("audit checkpoint --key FIFO",
             ("audit", "checkpoint", "--db", srv.db, "--key", fifo, "--out", cp + "2")),
            ("verify --checkpoint FIFO",
             ("verify", "--db", srv.db, "--checkpoint", fifo, "--pubkey", key + ".pub")),
            ("verify --pubkey FIFO",
             ("verify", "--db", srv.db, "--checkpoint", cp, "--pubkey", fifo)),
            ("verify --db FIFO", ("verify", "--db", fifo)),
            ("audit list --db FIFO", ("audit", "list", "--db", fifo)),
            ("backup --db FIFO", ("backup", "--db", fifo, "--out", os.path.join(d, "b.db"))),
            ("audit export --redact-key FIFO",
             ("audit", "export", "--db", srv.db, "--redact", "applicant_id", "--redact-key", fifo,
              "--out", os.path.join(d, "x.jsonl"))),
        ]
        if os.path.exists("/dev/zero"):   # read for ever, 0 bytes at a time
            cases.append(("audit checkpoint --key /dev/zero",
                          ("audit", "checkpoint", "--db", srv.db, "--key", "/dev/zero",
                           "--out", cp + "3")))
        for what, args in cases:
            rc, errtext = run(*args)
            check(rc == 2 and "not a regular file" in errtext,
                  "%s: refused at once, exit 2 (%s, %s)" % (what, rc, errtext.strip()[-120:]))
        rc, errtext = run("serve", "--socket", os.path.join(d, "f.sock"), "--db", fifo,
                          "--rules", RULES)
        check(rc == 1 and "not a regular file" in errtext,
              "serve --db FIFO: refused at once (%s, %s)" % (rc, errtext.strip()[-120:]))
        check(not os.path.exists(cp + "2") and not os.path.exists(cp + "3"),
              "no checkpoint written by the refusals")

        # A private key another user owns: that user can read it (root reads
        # any file), so a checkpoint signed with it proves nothing.
        if os.geteuid() != 0:
            skip("a key owned by another user (needs root to give one away)")
        else:
            theirs = os.path.join(d, "theirs.key")
            with open(key + ".key", "rb") as src, open(theirs, "wb") as dst:
                dst.write(src.read())
            os.chmod(theirs, 0o600)
            os.chown(theirs, 65534, 65534)
            rc, errtext = run("audit", "checkpoint", "--db", srv.db, "--key", theirs,
                              "--out", cp + "4")
            check(rc == 2 and "belongs to uid 65534" in errtext and not os.path.exists(cp + "4"),
                  "a 0600 key owned by uid 65534 is refused, nothing written (%s, %s)"
                  % (rc, errtext.strip()[-160:]))

    # --listen: a port is digits only; strtol took " 80" and "+80" as 80.
    with tempfile.TemporaryDirectory(prefix="eligo-listen-") as d:
        for port in ("+80", " 80", "8o"):
            rc, errtext = run("serve", "--socket", os.path.join(d, "s.sock"),
                              "--db", os.path.join(d, "e.db"), "--rules", RULES,
                              "--listen", "127.0.0.1:" + port)
            check(rc == 2 and "is not a port number" in errtext,
                  "--listen 127.0.0.1:%r refused (%s, %s)" % (port, rc, errtext.strip()[-100:]))
    finish()


if __name__ == "__main__":
    main()
