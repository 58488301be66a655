#!/usr/bin/env python3
"""dist/eligo.service.in, the systemd unit `cmake --install` ships, with the
binary it names filled in as the build does: systemd-analyze verify passes on
it, and its ExecStart is a command line eligo takes.  Where systemd-analyze is
not installed (Debian `systemd`), says so and checks only the command line.
And the server's log, written to the journal's stream as under the unit,
gives each line its priority."""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, SOURCE, Server, check, finish, skip  # noqa: E402


def served_log(journal_stream):
    """The log of a server started with JOURNAL_STREAM set by JOURNAL_STREAM
    (given its log file's device and inode), reloaded on a broken rule file
    (an error), then stopped."""
    with Server(copy_rules=True, start=False) as srv:
        open(srv.log_path, "ab").close()
        st = os.stat(srv.log_path)
        os.environ["JOURNAL_STREAM"] = journal_stream(st)
        try:
            srv.start()
        finally:
            del os.environ["JOURNAL_STREAM"]
        with open(os.path.join(srv.rules, "idmaj.lua"), "a") as f:
            f.write("\nthis is not Lua\n")
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 30
        while "reload rejected" not in srv.log() and time.time() < deadline:
            time.sleep(0.05)
        srv.stop()
        return srv.log().splitlines()


def journal_priorities():
    """To the journal (JOURNAL_STREAM names standard error), every line
    begins with its syslog priority: <6> info, <3> error; to another file,
    none does (JOURNAL_STREAM naming some other file, as a child of a
    service inherits it)."""
    lines = served_log(lambda st: "%d:%d" % (st.st_dev, st.st_ino))
    check(lines and all(re.match(r"<[3467]>\d{4}-\d\d-\d\dT", l) for l in lines),
          "every line to the journal begins with a priority (%s)" % lines[:2])
    check(any(l.startswith("<6>") and " info  listening on " in l for l in lines),
          "an info line is priority 6")
    errors = [l for l in lines if " error reload rejected" in l]
    check(errors and all(l.startswith("<3>") for l in errors),
          "the broken reload's error is priority 3 (%s)" % errors[:1])
    lines = served_log(lambda st: "%d:%d" % (st.st_dev, st.st_ino + 1))
    check(lines and not any(l.startswith("<") for l in lines),
          "to another file than the journal's stream, no line has a priority (%s)" % lines[:1])


def main():
    journal_priorities()
    with open(os.path.join(SOURCE, "dist", "eligo.service.in")) as f:
        text = f.read().replace("@ELIGO_BINARY@", ELIGO)
    check(not re.search(r"@\w+@", text), "every @VARIABLE@ of the unit is one CMake fills in")
    start = [l for l in text.splitlines() if l.startswith("ExecStart=")]
    check(len(start) == 1, "one ExecStart")
    # The command line with its options, and --help: eligo refuses an
    # option it does not know (exit 2) before it reads any file.
    argv = shlex.split(start[0][len("ExecStart="):]) + ["--help"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "eligo takes the unit's ExecStart options (%s)" % p.stderr.strip())

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        skip("systemd-analyze verify: systemd-analyze is not installed (Debian systemd)")
        finish()
    d = tempfile.mkdtemp(prefix="eligo-unit-")
    try:
        unit = os.path.join(d, "eligo.service")
        with open(unit, "w") as f:
            f.write(text)
        p = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=120)
        check(p.returncode == 0 and not p.stderr.strip(),
              "systemd-analyze verify passes on the unit (%s)" % (p.stdout + p.stderr).strip())
    finally:
        shutil.rmtree(d, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
