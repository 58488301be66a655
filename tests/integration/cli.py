#!/usr/bin/env python3
"""The command line as an operator meets it: a flag given a bad value, a
value where a flag takes none, a flag's value in either form (--flag VALUE,
--flag=VALUE), is said before any work as the command's own fault, naming
the flag and the value, with exit status 2; the usage that follows such a
fault goes to standard error, never into the output a pipe reads."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import RULES, Server, check, decide, eligo, finish  # noqa: E402
import json  # noqa: E402

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


def client_flags():
    """submit and bench take --flag=VALUE as every other command does (they
    said "unexpected '--socket=...'"), name a bad value and an empty one
    (an empty --socket was tried as a socket: "cannot connect to : ..."),
    and refuse a value given to a switch."""
    apps = os.path.join(WORK, "apps.jsonl")
    with open(apps, "w") as f:
        line = decide(1)
        del line["op"], line["program"]   # the flags give them
        f.write(json.dumps(line) + "\n")
    with Server() as srv:
        st, out, err = eligo("submit", "--socket=" + srv.socket, "--program=taehil", "--window=2",
                             "--timeout=5", "--lang=fr", apps)
        reply = json.loads(out.splitlines()[0]) if out else {}
        check(st == 0 and reply.get("ok") and reply["decision"]["program"] == "taehil" and
              reply["decision"]["lang"] == "fr",
              "submit --socket=PATH --program=ID --window=N --timeout=S --lang=L: taken")
        st, out, err = eligo("submit", "--socket", srv.socket, "--", apps)
        check(st == 0 and out.count("\n") == 1, "submit -- FILE: the file after --")
        st, out, err = eligo("bench", "--socket=" + srv.socket, "-n=4", "-c=1", "-P=2",
                             "--op=screen", "--json")
        r = json.loads(out) if st == 0 else {}
        check(st == 0 and r.get("requests") == 4,
              "bench --socket=PATH -n=4 --op=screen: 4 requests sent (%s %s)" % (st, err.strip()))
        export_key(srv.db)
    s = os.path.join(WORK, "none.sock")
    refused(["submit", "--socket", s, "--window", "10x", apps], "--window", "'10x'")
    refused(["submit", "--socket", s, "--window", "0", apps], "--window", "'0'")
    refused(["submit", "--socket", "", apps], "empty value given to '--socket'")
    refused(["submit", "--socket", s, "--program", "", apps], "empty value given to '--program'")
    refused(["submit", "--socket", s, "--window"], "missing value after '--window'")
    refused(["submit", "--socket", s, "--bogus", apps], "unknown argument '--bogus'")
    refused(["submit", "--socket", s, "--screen=yes", apps], "--screen takes no value",
            "'--screen=yes'")
    refused(["submit", "--socket", s, apps, apps], "one file of applications, not '%s' too" % apps)
    refused(["bench", "--socket", "", "-n", "1"], "empty value given to '--socket'")
    refused(["bench", "--socket", s, "--op", "nope"], "--op is decide or screen, not 'nope'")
    refused(["bench", "--socket", s, "--json=no"], "--json takes no value", "'--json=no'")
    refused(["bench", "--socket", s, "-n"], "missing value after '-n'")
    refused(["bench", "--emit", "1", "--socket=" + s], "--socket is for a run")
    st, out, _ = eligo("bench", "--emit=2", "--seed=7", "--op=screen")
    check(st == 0 and len(out.splitlines()) == 2 and '"op":"screen"' in out,
          "bench --emit=2 --seed=7 --op=screen: two screen requests printed")


def export_key(db):
    """A --redact-key that is a directory, or empty, is said as such: both
    were 'needs a key: --redact-key FILE or ELIGO_REDACT_KEY', as if none
    had been given."""
    empty = os.path.join(WORK, "empty.key")
    with open(empty, "w") as f:
        f.write("\n")
    os.chmod(empty, 0o600)   # one others can read is refused before it is read
    base = ["audit", "export", "--db", db, "--redact", "birth_date", "--redact-key"]
    refused(base + [WORK], "--redact-key: %s is a directory" % WORK)
    refused(base + [empty], "the key file %s is empty" % empty)
    # A review's bad --override is the flag's (it said "field 'outcome' must be ...").
    st, out, _ = eligo("audit", "list", "--db", db, "--json", "--limit", "1")
    did = json.loads(out)["decision_id"] if st == 0 and out else "none"
    refused(["audit", "review", did, "--db", db, "--by", "a", "--reason", "r", "--override",
             "maybe"], "--override is eligible, ineligible or incomplete, not 'maybe'")


def usage_to_stderr():
    """check, test and eval printed their usage on standard output after
    getopt's complaint on standard error, into what a pipe reads; eval took
    -p, -s, -a and -l, and replay -j, which no --help mentions."""
    for cmd in ("check", "test", "eval"):
        st, out, err = refused([cmd, "--bogus"], "'--bogus'", "usage: eligo %s" % cmd)
        check(out == "", "%s --bogus: nothing on standard output (%r)" % (cmd, out[:60]))
        st, out, err = eligo(cmd, "--help")
        check(st == 0 and out.startswith("usage: eligo %s" % cmd) and err == "",
              "%s --help: the usage on standard output, status 0" % cmd)
    for letter, args in (("p", ["eval", "-p", "idmaj"]), ("s", ["eval", "-s"]),
                         ("a", ["eval", "-a", "2025-01-01"]), ("l", ["eval", "-l", "fr"]),
                         ("j", ["replay", "--original", "-j", "2"])):
        refused(args, "invalid option -- '%s'" % letter)



def empty_values():
    """An empty value of a flag that takes one is refused by name, by every
    command: check said "eligo check: : cannot open rule directory", audit
    export "cannot create : No such file or directory", verify tried to
    open a checkpoint named ''."""
    for args, flag in ((["check", "--rules="], "--rules"), (["test", "--rules", ""], "--rules"),
                       (["eval", "--program="], "--program"), (["replay", "--rules="], "--rules"),
                       (["audit", "list", "--applicant="], "--applicant"),
                       (["audit", "stats", "--chart", ""], "--chart"),
                       (["audit", "export", "--out="], "--out"),
                       (["verify", "--checkpoint=", "--pubkey", "k"], "--checkpoint"),
                       (["verify", "--db", ""], "--db")):
        refused(args, "empty value given to", flag)



def verify_counts():
    """verify counts in the singular when there is one ("1 records checked")."""
    with Server() as srv:
        reply = srv.connect().request(decide(1))
        check(reply.get("ok"), "one decision made")
        st, out, err = eligo("verify", "--db", srv.db)
        check(st == 0 and "1 record checked in" in out,
              "verify of one record: '1 record checked' (%r)" % out.strip()[:80])


serve_switches()
usage_to_stderr()
client_flags()
empty_values()
verify_counts()
shutil.rmtree(WORK, ignore_errors=True)
finish()
