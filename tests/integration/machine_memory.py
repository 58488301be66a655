#!/usr/bin/env python3
"""A machine short of memory under the memory cap: a rule's pcall does not
catch it, as it does not catch the cap, so no decision depends on the memory
the machine had free; the request fails as internal, saying so."""
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, RULES, check, finish, skip  # noqa: E402

LIMIT = 1 << 30   # the process's address space: a 1.5 GiB string cannot be made
STRING = 3 << 29  # the string the probe makes

PROBE = '''program "probe" {
  version = "1", from = "2020-01-01",
  title = { en = "Probe" },
  criterion "big" {
    text = { en = "a string of 1.5 GiB can be made" },
    check = function(a)
      return (pcall(string.rep, "x", 3 << 29))
    end,
  },
}
'''


def limited(*args):
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    p = subprocess.run([ELIGO] + list(args), capture_output=True, text=True, timeout=120,
                       preexec_fn=cap)
    return p.returncode, p.stdout, p.stderr


def main():
    work = tempfile.mkdtemp(prefix="eligo-machine-memory-")
    try:
        rules = os.path.join(work, "rules")
        os.mkdir(rules)
        shutil.copy(os.path.join(RULES, "schema.lua"), rules)
        with open(os.path.join(rules, "probe.lua"), "w") as f:
            f.write(PROBE)
        apps = os.path.join(work, "apps.jsonl")
        with open(apps, "w") as f:
            f.write('{"applicant":{"applicant_id":"M1"}}\n')
        st, out, err = limited("--version")
        if st != 0:   # the sanitizers' shadow memory does not fit in the limit
            skip("a machine short of memory: eligo does not start under a 1 GiB address space")
            return
        # A cap of 4 GiB, at most the machine's memory (eligo refuses a cap
        # above it): the string must be over the address space and under the
        # cap.
        cap = min(4 << 30, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        if cap <= STRING + (64 << 20):
            skip("a machine short of memory: the machine has less than 1.6 GiB")
            return
        st, out, err = limited("eval", "--program", "probe", "--rules", rules, "--as-of",
                               "2025-01-01", "--memory", str(cap), "--instructions",
                               "100000000", apps)
        if "memory cap" in err:
            skip("a machine short of memory: the cap of %d bytes was reached first" % cap)
            return
        check(st == 1 and out == "", "a rule's pcall does not catch the machine's shortage: "
              "no decision (status %d, %r)" % (st, out[:200]))
        check("internal: programme probe, criterion big (probe.lua:4): out of memory: the "
              "machine had no memory to give" in err, "the error says the machine was short, "
              "not the rule: %r" % err)
    finally:
        shutil.rmtree(work)


main()
finish()
