#!/usr/bin/env python3
"""The command line as an operator meets it: a flag given a bad value, a
value where a flag takes none, a flag's value in either form (--flag VALUE,
--flag=VALUE), is said before any work as the command's own fault, naming
the flag and the value, with exit status 2; the usage that follows such a
fault goes to standard error, never into the output a pipe reads."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import RULES, check, eligo, finish  # noqa: E402

WORK = tempfile.mkdtemp(prefix="eligo-cli-")


def refused(args, *said):
    """eligo ARGS exits 2, before any work, its standard error holding each
    of SAID."""
    try:
        st, out, err = eligo(*args, timeout=20)
    except subprocess.TimeoutExpired:   # a serve that took the flag and ran
        st, out, err = "running after 20 s", "", ""
    ok = st == 2 and all(s in err for s in said)
    check(ok, "%s: exit 2, saying %s" % (" ".join(args), " / ".join(said)))
    if not ok:
        print("   status %s, stderr: %s" % (st, err.strip()[:400]))
    return st, out, err


def serve_switches():
    """A switch of serve given a value: --no-sync=no turned synchronous
    commits off, the opposite of what it reads as."""
    base = ["serve", "--socket", os.path.join(WORK, "s.sock"), "--db",
            os.path.join(WORK, "s.db"), "--rules", RULES]
    for arg in ("--no-sync=no", "--quiet=0", "--verbose=false", "--force-listen=yes"):
        refused(base + [arg], "%s takes no value" % arg.split("=")[0], "'%s'" % arg)
    check(not os.path.exists(os.path.join(WORK, "s.db")), "serve: no database made by a refused flag")
    refused(base + ["--quiet", "--verbose"], "--quiet and --verbose exclude each other")


serve_switches()
finish()
