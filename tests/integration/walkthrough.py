#!/usr/bin/env python3
"""examples/WALKTHROUGH.md, done as it says on a copy of the shipped rules:
its Lua blocks put where it puts them, and what it shows check, test and eval
printing compared with what they print.

The parameter goes above `program "taehil"`, the criterion at the end of the
programme's criteria after a blank line (as the file separates them), the
old case it names deleted, `previous_benefits = absent` taken out of the
other, and the two new cases added at the end of the test file."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, RULES, SOURCE, check, finish  # noqa: E402

WORK = tempfile.mkdtemp(prefix="eligo-walkthrough-")


def run(*args, stdin=None):
    """eligo ARGS in WORK, where the rules are ./rules as in the walk-through."""
    p = subprocess.run([ELIGO] + list(args), cwd=WORK, input=stdin, capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def edit(path, old, new):
    with open(path) as f:
        text = f.read()
    if old not in text:
        raise RuntimeError("%r is not in %s" % (old, path))
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


def shown(doc, pattern):
    """The line of the walk-through's shown output that matches PATTERN."""
    m = re.search(r"^ {4}(%s)$" % pattern, doc, re.M)
    if not m:
        raise RuntimeError("the walk-through shows no line matching %r" % pattern)
    return m.group(1)


def main():
    with open(os.path.join(SOURCE, "examples", "WALKTHROUGH.md")) as f:
        doc = f.read()
    param, criterion, cases = re.findall(r"```lua\n(.*?)```", doc, re.S)
    rules = os.path.join(WORK, "rules")
    shutil.copytree(RULES, rules)
    lua = os.path.join(rules, "taehil.lua")
    tests = os.path.join(rules, "taehil.test.lua")

    edit(lua, 'program "taehil" {', param + '\nprogram "taehil" {')
    with open(lua) as f:
        text = f.read().rstrip("\n")
    if not text.endswith("\n}"):
        raise RuntimeError("taehil.lua does not end with its programme's closing brace")
    with open(lua, "w") as f:
        f.write(text[:-1] + "\n" + criterion + "}\n")
    with open(tests) as f:
        text = f.read()
    old = re.search(r'case "a recent TAEHIL benefit and a short unemployment do not matter" \{.*?\n\}\n',
                    text, re.S)
    with open(tests, "w") as f:
        f.write(text[:old.start()] + text[old.end():])
    edit(tests, ", previous_benefits = absent }", " }")

    # Step 5: the Arabic fail message forgotten.
    with open(lua) as f:
        full = f.read()
    edit(lua, '      ar = "تكوين تأهيل بتاريخ', '      -- ar = "تكوين تأهيل بتاريخ')
    want = shown(doc, r"rules/taehil\.lua:\d+: criterion 'no_recent' fail message has no ar text")
    st, out, _ = run("check", "rules")
    check(st == 1 and want in out.splitlines() and "rules: 1 problem" in out,
          "step 5: check says %r, as the walk-through shows (%s)" % (want, out.strip()))
    with open(lua, "w") as f:
        f.write(full)
    st, out, _ = run("check", "rules")
    check(st == 0 and out.rstrip().endswith("rules: clean"), "the criterion as written is clean (%s)"
          % out.strip())

    # Step 6: before the new cases, a note that no case makes it fail.
    want = shown(doc, r"note: rules/taehil\.lua:\d+: criterion taehil/no_recent fails in no case")
    st, out, err = run("test", "rules")
    check(st == 0 and want in (out + err).splitlines(),
          "step 6: test notes %r, as the walk-through shows (%s)" % (want, (out + err).strip()))
    with open(tests, "a") as f:
        f.write("\n" + cases)
    st, out, err = run("test", "rules")
    check(st == 0 and re.search(r"^\d+ passed, 0 failed$", out, re.M) and "no_recent" not in out + err,
          "step 6: with the two cases every case passes, and no note (%s)" % (out + err).strip()[-200:])

    # Step 7: the eval line, joined as tr does, and the criterion it shows.
    typed = re.search(r"\$ echo '(.*?)' \\\n", doc, re.S).group(1)
    st, out, err = run("eval", "--program", "taehil", "-", stdin=typed.replace("\n", ""))
    decision = json.loads(out) if st == 0 else {}
    got = [c for c in decision.get("criteria", []) if c["id"] == "no_recent"]
    want = json.loads(re.search(r'^ +(\{"id": "no_recent".*?\}\})$', doc, re.M | re.S).group(1))
    check(decision.get("outcome") == "ineligible" and got == [want],
          "step 7: eval decides as shown (%s)" % (got or out + err))
    params = json.loads(re.search(r'"parameters": (\{.*?\})', doc, re.S).group(1))
    check(decision.get("parameters") == params, "step 7: with the parameters shown (%s)"
          % decision.get("parameters"))

    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
