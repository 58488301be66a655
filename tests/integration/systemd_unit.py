#!/usr/bin/env python3
"""dist/eligo.service.in, the systemd unit `cmake --install` ships, with the
binary it names filled in as the build does: systemd-analyze verify passes on
it, and its ExecStart is a command line eligo takes.  Where systemd-analyze is
not installed (Debian `systemd`), says so and checks only the command line."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, SOURCE, check, finish, skip  # noqa: E402


def main():
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
