#!/usr/bin/env python3
"""eligo serve refusing a line itself (overloaded) reads its id to echo it:
with no more memory than the engine may take for that line, and echoing
what the engine would echo, null for a line too large for it.

    ELIGO=build/eligo ELIGO_SOURCE_DIR=. tests/integration/serve_overload_id.py
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import Server, applicant, check, finish  # noqa: E402

# A programme whose check runs until the time limit for a chosen applicant:
# with --queue 1, the server refuses every other request meanwhile.
SPIN = """
program "spin" {
  version = "1",
  from = "2000-01-01",
  title = { en = "Spin", fr = "Tourne", ar = "Spin" },
  reference = "integration test",
  criterion "size" {
    text = { en = "Household of any size", fr = "Foyer de toute taille", ar = "Spin" },
    reference = "integration test",
    check = function(a, on)
      if a.household_size == 98 then while true do end end
      return true
    end,
  },
}
"""


def test_huge_line():
    """A 30 MB line of ten million empty arrays: its tables took the loop
    900 MB and seconds, and its id was echoed where the engine, under its
    memory cap, echoes null."""
    big = b'{"id":7,"op":"health","x":[' + b"[]," * 10000000 + b"[]]}\n"
    with Server(args=["--queue", "1", "--workers", "1", "--max-line", str(64 << 20),
                      "--instructions", "100000000000", "--time-limit", "8000"],
                extra_files={"spin.lua": SPIN}) as srv:
        busy = srv.connect()
        busy.send({"id": "spin", "op": "decide", "program": "spin", "as_of": "2025-03-01",
                   "applicant": applicant(1, household_size=98)})
        time.sleep(0.3)   # taken by the one worker
        c = srv.connect()
        before = srv.rss_kib("VmHWM")
        t0 = time.monotonic()
        c.send_raw(big)
        o = c.recv()
        dt = time.monotonic() - t0
        grew = srv.rss_kib("VmHWM") - before
        check(o and o["error"]["code"] == "overloaded", "the line is refused: overloaded (%s)"
              % (o and o["error"]))
        check(grew < 200 << 10, "reading its id took the server %d MB more at most (the "
              "engine's cap is 64 MiB)" % (grew >> 10))
        print("(sent and answered in %.2f s)" % dt)
        r = busy.recv()
        check(r and r["id"] == "spin", "the request in flight is answered (%s)" % (r and r.get("error")))
        # The same line, the server idle: the engine reads it.
        c.send_raw(big)
        e = c.recv()
        check(e and e["ok"] is False and "memory cap" in e["error"]["message"],
              "the engine cannot read it under its cap (%s)" % (e and e.get("error")))
        check(o and e and o["id"] is None and e["id"] is None,
              "the overloaded reply echoes the id as the engine does: null (%s, %s)"
              % (o and o["id"], e and e["id"]))
        small = json.dumps({"id": [1, {"b": 2, "a": 1}], "op": "health"}).encode() + b"\n"
        busy.send({"id": "spin2", "op": "decide", "program": "spin", "as_of": "2025-03-01",
                   "applicant": applicant(2, household_size=98)})
        time.sleep(0.3)
        c.send_raw(small)
        s = c.recv()
        check(s and s["error"]["code"] == "overloaded" and s["id"] == [1, {"a": 1, "b": 2}],
              "a line of ordinary size still has its id echoed when overloaded (%s)"
              % (s and s["id"]))
        busy.recv()
        c.close()
        busy.close()


def main():
    # Under AddressSanitizer freed memory waits in a quarantine (256 MB by
    # default) before it is reused: keep it small, so that the memory
    # measured is the server's and not the sanitizer's (as serve_load.py).
    os.environ["ASAN_OPTIONS"] = ":".join(
        x for x in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=16") if x)
    test_huge_line()
    finish()


if __name__ == "__main__":
    main()
