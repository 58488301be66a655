#!/usr/bin/env python3
"""eligo test: the shipped cases pass and the count line says how many; a
case whose expectation is wrong is printed with expected and actual at its
file:line and makes the exit status 1; a criterion no case makes fail is
noted; a case that cannot run (an unknown programme) or is written wrong
is a failure at its line; rules that load but that check faults make test
fail and eval warn."""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import RULES, check, eligo, finish  # noqa: E402

WORK = tempfile.mkdtemp(prefix="eligo-ruletests-")


def copy(name):
    d = os.path.join(WORK, name)
    shutil.copytree(RULES, d)
    return d


def cases_in(d):
    """The number of cases the test files of D declare."""
    n = 0
    for f in os.listdir(d):
        if f.endswith(".test.lua"):
            with open(os.path.join(d, f)) as fh:
                n += len(re.findall(r'(?m)^case "', fh.read()))
    return n


def rewrite(path, fn):
    with open(path) as fh:
        text = fh.read()
    new = fn(text)
    if new == text:
        raise RuntimeError("nothing changed in " + path)
    with open(path, "w") as fh:
        fh.write(new)


def main():
    total = cases_in(RULES)
    st, out, _ = eligo("test", RULES)
    check(st == 0 and out.rstrip().endswith("%d passed, 0 failed" % total) and
          "note:" not in out, "the shipped rules: %d cases pass, every criterion fails in one" %
          total)

    d = copy("no_cases")
    for f in os.listdir(d):
        if f.endswith(".test.lua"):
            os.remove(os.path.join(d, f))
    st, out, err = eligo("test", d)
    check(st == 1 and out.rstrip().endswith("0 passed, 0 failed") and "has no test cases" in err,
          "a set without cases fails, saying why (%s)" % err.strip()[-120:])

    d = copy("wrong")
    base = 'case "the base applicant is eligible" {'
    rewrite(os.path.join(d, "taehil.test.lua"), lambda t: t.replace(
        base + '\n  program = "taehil", as_of = ON,\n  applicant = base,\n  outcome = "eligible",',
        base + '\n  program = "taehil", as_of = ON,\n  applicant = base,\n'
        '  outcome = "ineligible", failed = { "age" },'))
    with open(os.path.join(d, "taehil.test.lua")) as fh:
        line = fh.read().splitlines().index(base) + 1
    st, out, _ = eligo("test", d)
    want = ("%s/taehil.test.lua:%d: case 'the base applicant is eligible': outcome: expected "
            "ineligible, got eligible; failed: expected {age}, got {}" % (d, line))
    check(st == 1 and want in out.splitlines(), "a wrong expectation: expected and actual at "
          "its line (%s)" % out.splitlines()[:1])
    check(out.rstrip().endswith("%d passed, 1 failed" % (total - 1)), "the count line counts it")

    d = copy("uncovered")
    dropped = []

    def drop(text):
        parts = re.split(r'(?m)^(?=case ")', text)
        kept = [p for p in parts if not re.search(r'failed = \{[^}]*"not_in_training"', p)]
        dropped.append(len(parts) - len(kept))
        return "".join(kept)
    rewrite(os.path.join(d, "taehil.test.lua"), drop)
    st, out, _ = eligo("test", d)
    with open(os.path.join(d, "taehil.lua")) as fh:
        crit = fh.read().splitlines().index('  criterion "not_in_training" {') + 1
    check(st == 0 and ("note: %s/taehil.lua:%d: criterion taehil/not_in_training fails in no "
                       "case" % (d, crit)) in out.splitlines() and
          out.rstrip().endswith("%d passed, 0 failed" % (total - dropped[0])),
          "a criterion no case makes fail is noted at its declaration (%s)" %
          [l for l in out.splitlines() if l.startswith("note")])

    d = copy("unknown")
    rewrite(os.path.join(d, "taehil.test.lua"), lambda t: t.replace(
        base + '\n  program = "taehil",', base + '\n  program = "taehi",'))
    st, out, _ = eligo("test", d)
    bad = [l for l in out.splitlines() if "taehil.test.lua:%d:" % line in l]
    check(st == 1 and len(bad) == 1 and "taehi" in bad[0] and
          out.rstrip().endswith("%d passed, 1 failed" % (total - 1)),
          "a case for an unknown programme fails at its line (%s)" % bad)
    # Each version's criteria are covered apart: a second version no case
    # decides gets its own notes, though the first one's cases cover its ids.
    d = copy("versions")
    with open(os.path.join(d, "taehil.lua")) as fh:
        text = fh.read()
    second = text[text.index('program "taehil" {'):].replace('version = "2025.1"', 'version = "9.9"', 1)
    second = second.replace('from = "2025-01-01"', 'from = "2030-01-01"', 1)
    with open(os.path.join(d, "taehil.lua"), "w") as fh:
        fh.write(text.replace('version = "2025.1",', 'version = "2025.1",\n  to = "2029-12-31",', 1) +
                 "\n" + second)
    st, out, _ = eligo("test", d)
    notes = [l for l in out.splitlines() if l.startswith("note:") and "of version 9.9" in l]
    check(st == 0 and any("criterion taehil/registered of version 9.9 fails in no case" in l
                          for l in notes),
          "a version no case decides has its own coverage notes (%d)" % len(notes))
    # A check that errs leaves its cases uncounted: its notes say so, not
    # that no case was written.
    d = copy("erring")
    rewrite(os.path.join(d, "taehil.lua"), lambda t: t.replace(
        "return a.in_training == false", "return a.in_training == false and error('boom')", 1))
    st, out, _ = eligo("test", d)
    notes = [l for l in out.splitlines() if l.startswith("note:") and "not_in_training" in l]
    check(st == 1 and notes and all("cases of taehil ended in an error: what they would show is not "
                                    "known" in l for l in notes),
          "notes after cases that erred say the cases were not counted (%s)" % notes)

    # Rules that load but that check faults (two values of one parameter in
    # force at once), which the server would refuse: test runs the cases
    # but fails, and eval decides but warns, each saying so.
    d = copy("faulted")
    rewrite(os.path.join(d, "awrach.lua"), lambda t: t.replace(
        '  { from = "2022-01-01", value = 18 },',
        '  { from = "2022-01-01", value = 18 },\n  { from = "2021-01-01", to = "2023-01-01", value = 18 },', 1))
    st, out, err = eligo("check", d)
    check(st == 1 and "overlap" in out, "check faults the overlap (%s)" % out.splitlines()[:1])
    warning = "the rule set has 1 problem (eligo check %s): the server would refuse it" % d
    st, out, err = eligo("test", d)
    check(st == 1 and out.rstrip().endswith("%d passed, 0 failed" % total) and
          ("eligo test: warning: " + warning) in err,
          "test on rules check faults: the cases run, the status is 1, and it says why (%s)" %
          err.strip()[-160:])
    apps = os.path.join(WORK, "one.jsonl")
    with open(apps, "w") as fh:
        fh.write('{"program":"awrach","as_of":"2025-03-01","applicant":{"birth_date":"1990-01-01"}}\n')
    st, out, err = eligo("eval", "--rules", d, apps)
    check(st == 0 and '"program":"awrach"' in out and ("eligo eval: warning: " + warning) in err,
          "eval on rules check faults decides, and warns (%s)" % err.strip()[-160:])

    # Rules that do not load: each problem at DIR/file:line, as check says it.
    d = copy("broken")
    rewrite(os.path.join(d, "taehil.lua"), lambda t: t.replace('program "taehil" {', 'program "taehil" {{', 1))
    st, out, _ = eligo("test", d)
    lines = out.splitlines()
    check(st == 1 and any(l.startswith(os.path.join(d, "taehil.lua") + ":") for l in lines) and
          lines[-1] == "%s: the rules do not load, so no case ran" % d,
          "rules that do not load: their problems at DIR/file:line, and no case ran (%s)" % lines)

    # A message template's {name} that no value fills fails the cases that
    # show it: an applicant would read "age {agee}".
    d = copy("unfilled_template")
    rewrite(os.path.join(d, "taehil.lua"), lambda t: t.replace("{age}", "{agee}", 1))
    st, out, _ = eligo("test", d)
    holes = [l for l in out.splitlines() if "criterion age's message leaves {agee} unfilled" in l]
    check(st == 1 and holes, "a template name no value fills fails the case (%d cases)" % len(holes))
    # Without a template the message is the criterion's text, whose braces
    # name parameters: a misspelt one is said as such, not as a value the
    # check did not return.
    d = copy("unfilled_text")
    rewrite(os.path.join(d, "taehil.lua"), lambda t: re.sub(
        r"    pass = \{.*?\n    \},\n", "", t.replace("{taehil.age_max}", "{taehil.age_mx}", 1),
        count=1, flags=re.S))
    st, out, _ = eligo("test", d)
    holes = [l for l in out.splitlines()
             if "criterion age's text leaves {taehil.age_mx} unfilled: it names no parameter with a "
                "number or a text in force on " in l]
    check(st == 1 and holes and "its check returned no value of that name" not in out,
          "a text's misspelt parameter is said as one (%d cases)" % len(holes))
    # A text's {param|field} shows the parameter's value (by field's labels):
    # filled, for the cases of the criterion whose message is its text.
    d = copy("labelled_text")
    def text_message(t):
        t = t.replace("{taehil.education_min}", "{taehil.education_min|education}")
        i = t.index('criterion "education"')
        return t[:i] + re.sub(r"    (pass|fail) = \{.*?\n    \},\n", "", t[i:], count=2, flags=re.S)
    rewrite(os.path.join(d, "taehil.lua"), text_message)
    st, out, _ = eligo("test", d)
    check(st == 0 and "unfilled" not in out,
          "a text's {taehil.education_min|education} is filled by the parameter (%s)" % out[-300:])
    # A value the message shows may hold braces of its own: no hole.
    d = copy("braced_value")
    def no_templates(t):
        i = t.index('criterion "registered"')
        body = t[i:]
        body = re.sub(r"    (pass|fail) = \{.*?\n    \},\n", "", body, count=2, flags=re.S)
        body = body.replace("return a.registered_with_agency == true",
                            "return a.registered_with_agency == true, { seen = { flag = true } }", 1)
        return t[:i] + body
    rewrite(os.path.join(d, "taehil.lua"), no_templates)
    st, out, _ = eligo("test", d)
    check(st == 0 and "unfilled" not in out,
          "a message showing a table value ({\"flag\":true}) is no unfilled name (%s)" % out[-300:])
    # {name|field} shows the value of name (through field's labels): filled
    # when the check returned name, and unfilled when it did not.
    d = copy("labelled")
    rewrite(os.path.join(d, "taehil.lua"), lambda t: t.replace("{age}", "{age|education}", 1))
    st, out, _ = eligo("test", d)
    check(st == 0 and "unfilled" not in out, "{age|education} is filled by age (%s)" % out[-300:])
    rewrite(os.path.join(d, "taehil.lua"), lambda t: t.replace("{age|education}", "{agee|education}", 1))
    st, out, _ = eligo("test", d)
    holes = [l for l in out.splitlines() if "message leaves {agee|education} unfilled" in l]
    check(st == 1 and holes, "{agee|education} is unfilled (%d cases)" % len(holes))
    # A misspelt name in a language the cases do not run in fails them too.
    d = copy("unfilled_fr")
    rewrite(os.path.join(d, "idmaj.lua"), lambda t: t.replace(
        'fr = "a bénéficié du programme IDMAJ le {date},', 'fr = "a bénéficié du programme IDMAJ le {dat},', 1))
    st, out, _ = eligo("test", d)
    holes = [l for l in out.splitlines() if "criterion no_recent's fr message leaves {dat} unfilled" in l]
    check(st == 1 and holes, "a French template name no value fills fails the case (%d cases)" %
          len(holes))

    # Whatever stands between braces is a name to the renderer: {âge} and
    # {years.min} too.
    for name in ("âge", "years.min"):
        d = copy("unfilled_" + name.replace(".", "_").replace("â", "a"))
        rewrite(os.path.join(d, "taehil.lua"), lambda t: t.replace("{age}", "{%s}" % name, 1))
        st, out, _ = eligo("test", d)
        holes = [l for l in out.splitlines() if "message leaves {%s} unfilled" % name in l]
        check(st == 1 and holes, "an unfilled {%s} fails the case (%d cases)" % (name, len(holes)))

    # A case as written can be wrong in ways a decision would not show: each
    # is a failure at its line, saying what.
    d = copy("faults")
    faults = [
        ('mising = { "x" }', "unknown key 'mising' (a case knows program, as_of, applicant, "
         "outcome, failed, missing, passed, history, error, lang)"),
        ('passed = { "no_such" }', "passed names {no_such}, which taehil 2025.1 has no criterion of"),
        ('failed = { "age" }, passed = { "unemployed", "age" }', "'age' is in both failed and passed"),
        ('applicant = with(base, { registered_with_agency = absent, birth_date = "2015-01-01" }), '
         'outcome = "ineligible", failed = { "age" }, passed = { "unemployed", "registered", "age2" }',
         "passed names {age2}, which taehil 2025.1 has no criterion of; passed: expected to pass, "
         "but registered was missing data"),
        ('as_of = "2025-02-30"', "as_of is 2025-02-30, which is no day of the calendar"),
        ('as_of = nil', "as_of must be a date YYYY-MM-DD, got nil: without one a case is decided "
         "on the day it runs"),
        ('failed = "age"', 'failed must be a list of names, got the string "age"'),
        ('applicant = with(base, { birth_dat = "2010-03-02" })',
         "applicant field 'birth_dat' is not declared in the schema: it would be read as absent"),
        ('outcome = "elegible"',
         'outcome must be eligible, ineligible or incomplete, got the string "elegible"'),
        ('history = { { program = "idmaj", outcom = "eligible", as_of = "2024-01-01" } }',
         "history row 1: unknown key 'outcom'"),
        ('history = { { program = "idmaj", outcome = "eligible", as_of = "2024-3-2" } }',
         'history row 1: as_of must be a date YYYY-MM-DD, got the string "2024-3-2"'),
        ('history = { { program = "idmaj", outcome = "eligible", decision_outcome = "refused",'
         ' as_of = "2024-01-01" } }',
         'history row 1: decision_outcome must be eligible, ineligible or incomplete, got the '
         'string "refused"'),
        ('history = { { program = "idmaj", outcome = "eligible", decision_outcome = "eligible",'
         ' as_of = "2024-01-01" } }',
         "history row 1: decision_outcome is the outcome an override changed, so it comes "
         "with an outcome that differs from it (the string \"eligible\")"),
        ('history = { { program = "idmaj", decision_outcome = "eligible", as_of = "2024-01-01" } }',
         "history row 1: decision_outcome is the outcome an override changed, so it comes "
         "with an outcome that differs from it (nil)"),
        ('outcome = "ineligible", failed = { "no_such" }',
         "failed names {no_such}, which taehil 2025.1 has no criterion of"),
        ('failed = { "age", "registered" }', "outcome eligible with failed criteria (age, "
         "registered): a failed criterion makes the decision ineligible"),
        ('outcome = "incomplete", failed = { "age" }', "outcome incomplete with failed criteria "
         "(age): a failed criterion makes the decision ineligible"),
        ('missing = { "birth_date" }', "outcome eligible with missing fields (birth_date): a "
         "missing field leaves the decision incomplete, or ineligible"),
        ('failed = { registered = true }', 'failed must be a list of names, { "a", "b" }, not a '
         "table with the key 'registered'"),
        ('failed = { "age", "age" }', "failed names 'age' twice"),
        ('error = "rule_error"', "a case expects an error or an outcome, not both"),
        ('outcome = nil, error = "invalid_aplicant"', "error must be one of invalid_json, "
         "invalid_request, unknown_op, unknown_program, invalid_applicant, rule_error, internal, "
         'got the string "invalid_aplicant"'),
    ]
    with open(os.path.join(d, "taehil.test.lua"), "a") as fh:
        for i, (field, _) in enumerate(faults):
            fh.write('\ncase "fault %d" { program = "taehil", as_of = ON, applicant = base, '
                     'outcome = "eligible", %s }\n' % (i, field))
    st, out, _ = eligo("test", d)
    for i, (_, want) in enumerate(faults):
        got = [l for l in out.splitlines() if "case 'fault %d': " % i in l]
        check(st == 1 and len(got) == 1 and want in got[0],
              "a case with %s fails, saying so (%s)" % (want.split(":")[0], got))
    check(out.rstrip().endswith("%d passed, %d failed" % (total, len(faults))),
          "and only those fail")

    # Of several keys a case's list or history row must not have, the same
    # one is named in every run (the first in byte order), whatever order
    # the table has in that run: Lua's string hashes are seeded anew.
    d = copy("faults_alike")
    with open(os.path.join(d, "taehil.test.lua"), "a") as fh:
        fh.write('\ncase "keys 1" { program = "taehil", as_of = ON, applicant = base, outcome = "eligible", '
                 'failed = { registered = true, age = true, unemployed = true, zone = true } }\n'
                 'case "keys 2" { program = "taehil", as_of = ON, applicant = base, outcome = "eligible", '
                 'history = { { program = "idmaj", zeta = 1, alpha = 2, mid = 3, omega = 4 } } }\n')
    said = set()
    for _ in range(6):
        st, out, _ = eligo("test", d)
        said.add(tuple(l for l in out.splitlines() if "case 'keys " in l))
    got = next(iter(said))
    check(len(said) == 1 and len(got) == 2 and "not a table with the key 'age'" in got[0]
          and "history row 1: unknown key 'alpha'" in got[1],
          "of several wrong keys, a case names the first in byte order in every run (%r)" % said)

    # Names: a second case of one name in one file fails, naming the first's
    # line (a failure must say which); so does an empty name.  The same name
    # in two files is fine: the file tells them apart.
    d = copy("names")
    with open(os.path.join(d, "taehil.test.lua")) as fh:
        first = fh.read().splitlines().index(base) + 1
    with open(os.path.join(d, "taehil.test.lua"), "a") as fh:
        fh.write('\ncase "the base applicant is eligible" { program = "taehil", as_of = ON, '
                 'applicant = base, outcome = "eligible" }\n'
                 'case "" { program = "taehil", as_of = ON, applicant = base, outcome = "eligible" }\n')
    st, out, _ = eligo("test", d)
    dup = [l for l in out.splitlines() if "has this name already" in l]
    empty = [l for l in out.splitlines() if "case '': a case needs a name" in l]
    check(st == 1 and len(dup) == 1 and ("the case at line %d has this name already" % first) in dup[0]
          and len(empty) == 1 and out.rstrip().endswith("%d passed, 2 failed" % total),
          "a name used twice in a file, and an empty one, fail (%s, %s)" % (dup, empty))

    # `absent` inside a record given whole leaves that field out, as at the
    # top: the criterion reading it is missing, naming its path.
    d = copy("nested_absent")
    with open(os.path.join(d, "intelaka.test.lua"), "a") as fh:
        fh.write('\ncase "nested absent" { program = "intelaka", as_of = ON, outcome = "incomplete",'
                 ' missing = { "business.sector" }, applicant = with(base, { business = {'
                 ' sector = absent, plan_submitted = true, project_cost = 300000,'
                 ' own_contribution = 50000, expected_turnover = 450000, legal_form = "sarl" },'
                 ' previous_benefits = { { program = "idmaj", date = "2024-05-01", x = absent } }'
                 ' }) }\n')
    st, out, _ = eligo("test", d)
    check(st == 0 and out.rstrip().endswith("%d passed, 0 failed" % (total + 1)),
          "absent inside a nested record or a list's entry leaves the field out (%s)" %
          out.strip()[-300:])

    # A value that is not UTF-8 in a decision: the server refuses every such
    # decision (rule_error), so the cases that make one fail too, saying so.
    d = copy("not_utf8")
    rewrite(os.path.join(d, "taehil.lua"), lambda t: t.replace(
        "{ age = years, min = min, max = max }",
        "{ age = years, min = min, max = max, s = string.char(233) }", 1))
    st, out, _ = eligo("test", d)
    bad = [l for l in out.splitlines() if "is not UTF-8 text" in l]
    check(st == 1 and bad and "got error rule_error" in bad[0] and "taehil" in bad[0] and
          "of its JSON, in criterion age)" in bad[0],
          "a case whose decision is not UTF-8 fails as the server would answer it (%s)" %
          (bad[:1] or out[-200:]))
    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
