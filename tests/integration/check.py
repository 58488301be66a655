#!/usr/bin/env python3
"""eligo check: every kind of problem it promises, each as file:line: message,
on a copy of the shipped rules with one edit; exit status 0 only when clean.

One broken file gives its own problem and no echo of it elsewhere; a
parameter's missing value is blamed on the programme version whose check
reads it, once."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, RULES, check, eligo, finish  # noqa: E402

WORK = tempfile.mkdtemp(prefix="eligo-check-")


def edited(name, edits, extra=None):
    """A copy of the shipped rules with EDITS (file -> [(old, new)]) made and
    EXTRA (file -> text) added; returns its directory."""
    d = os.path.join(WORK, name)
    shutil.copytree(RULES, d)
    for f, pairs in edits.items():
        with open(os.path.join(d, f)) as fh:
            text = fh.read()
        for old, new in pairs:
            if old not in text:
                raise RuntimeError("%s: %r is not in %s" % (name, old, f))
            text = text.replace(old, new, 1)
        with open(os.path.join(d, f), "w") as fh:
            fh.write(text)
    for f, text in (extra or {}).items():
        with open(os.path.join(d, f), "w") as fh:
            fh.write(text)
    return d


def problems(d):
    """(status, [(file, line, message)], stdout) of eligo check D."""
    st, out, _ = eligo("check", d)
    found = []
    for line in out.splitlines():
        m = re.match(r"^(.*?\.lua):(\d+): (.*)$", line)
        if m:
            found.append((os.path.basename(m.group(1)), int(m.group(2)), m.group(3)))
    return st, found, out


def line_of(d, f, text, nth=1):
    with open(os.path.join(d, f)) as fh:
        lines = fh.read().splitlines()
    hits = [i + 1 for i, l in enumerate(lines) if text in l]
    return hits[nth - 1]


def expect_one(name, edits, f, marker, pattern, extra=None):
    """The copy gets exactly one problem, at FILE's line holding MARKER,
    whose message matches PATTERN."""
    d = edited(name, edits, extra)
    st, found, out = problems(d)
    where = line_of(d, f, marker) if marker else None
    ok = st == 1 and len(found) == 1 and found[0][0] == f and re.search(pattern, found[0][2])
    ok = ok and (where is None or found[0][1] == where)
    check(ok and "1 problem" in out, "%s: one problem at %s:%s (%r)" % (name, f, where, found))
    return d


def against():
    """check --against OLD: a parameter's value in force on a day already
    decided (up to today) that is not the old set's is a warning, at the
    dated value in force now; a change made as a new dated value, or on days
    still to come, is not."""
    ceiling = "awrach.income_per_person_max"
    past = '{ from = "2025-01-01", value = 1500 },'
    said = r"from %s to \d{4}-\d\d-\d\d its value was %s and %s: decisions of those dates already " \
           r"made would now be made otherwise; a change is a new dated value, from the day it applies$"

    def warnings(d, old):
        st, out, err = eligo("check", d, "--against", old)
        found = [(os.path.basename(m.group(1)), int(m.group(2)), m.group(3)) for m in
                 re.finditer(r"^(.*?\.lua):(\d+): warning: (.*)$", out, re.M)]
        return st, found, out + err

    d = edited("against-edit", {"awrach.lua": [(past, past.replace("1500", "1300"))]})
    st, found, out = warnings(d, RULES)
    where = line_of(d, "awrach.lua", '{ from = "2025-01-01", value = 1300 }')
    check(st == 0 and len(found) == 1 and found[0][:2] == ("awrach.lua", where)
          and re.match(r"parameter '%s': " % re.escape(ceiling) + said % ("2025-01-01", 1500, "is now 1300"),
                       found[0][2]) and "clean, with 1 warning" in out,
          "--against: a past value edited is a warning at that value's line (%s)" % out.strip())

    d = edited("against-new", {"awrach.lua": [(past, past + ' { from = "2099-01-01", value = 1300 },')]})
    st, found, out = warnings(d, RULES)
    check(st == 0 and found == [] and out.rstrip().endswith("clean"),
          "--against: the same change as a new dated value is not (%s)" % out.strip())

    later = edited("against-later", {"awrach.lua": [(past, past + ' { from = "2099-01-01", value = 1400 },')]})
    st, found, out = warnings(later, d)
    check(st == 0 and found == [] and out.rstrip().endswith("clean"),
          "--against: a value dated after today edited is not (%s)" % out.strip())

    d = edited("against-deleted", {"awrach.lua": [(past, "")]})
    st, found, out = warnings(d, RULES)
    where = line_of(d, "awrach.lua", '{ from = "2022-01-01", value = 1200')
    check(st == 0 and len(found) == 1 and found[0][:2] == ("awrach.lua", where)
          and re.match(r"parameter '%s': " % re.escape(ceiling) + said % ("2025-01-01", 1500, "is now 1200"),
                       found[0][2]),
          "--against: a past value deleted is a warning at the value in force instead (%s)" % out.strip())

    first = '{ from = "2022-01-01", value = 1200, reference = REF .. " ; plafond initial (valeur d\'illustration)" },'
    d = edited("against-none", {"awrach.lua": [(first, "")]})
    st, found, out = warnings(d, RULES)
    where = line_of(d, "awrach.lua", 'parameter "%s"' % ceiling)
    want = [f for f in found if f[2].startswith("parameter '%s': from 2022-01-01 to 2024-12-31 " % ceiling)]
    check(len(want) == 1 and want[0][:2] == ("awrach.lua", where)
          and want[0][2].endswith("its value was 1200 and it now has none: decisions of those dates already "
                                  "made would now be made otherwise; a change is a new dated value, from the "
                                  "day it applies"),
          "--against: days left with no value are a warning at the parameter (%s)" % out.strip())

    st, out, err = eligo("check", RULES, "--against", os.path.join(WORK, "nowhere"))
    check(st == 1 and "--against" in err, "--against a set that does not load fails (%s)" % err.strip())
    check("clean" not in out and "not compared with" in out,
          "--against a set that does not load: the summary does not say clean (%s)" % out.strip())


def labels():
    """Display names: a template's {x|name} naming no enum field or scale, a
    label given to a value the scale or enum does not have, each a problem at
    its line; French or Arabic labels that leave a value unnamed, a warning."""
    expect_one("labels_unknown_field", {"taehil.lua": [("{age}", "{age|educaton}")]},
               "taehil.lua", "{age|educaton}",
               r"^criterion 'age' fail message \(en\): \{age\|educaton\} shows a value by the "
               r"labels of 'educaton', which is no enum field of the schema and no scale$")
    grades = ('scale "grade" { "low", "high",\n'
              '  labels = {\n'
              '    fr = { low = "bas", high = "haut" },\n'
              '    ar = {\n'
              '      low = "منخفض",\n'
              '      ["hihg"] = "مرتفع",\n'
              '    },\n'
              '  },\n'
              '}\n')
    d = edited("labels_typo", {}, {"grades.lua": grades})
    st, found, out = problems(d)
    check(st == 1 and found == [
        ("grades.lua", 6, "scale 'grade': labels (ar) name 'hihg', which is not one of its values (low, high)"),
        ("grades.lua", 4, "warning: scale 'grade': labels (ar) name no 'high': Arabic messages show it "
                          "by its English label, or its code")] and out.rstrip().endswith(": 1 problem"),
          "a label of no value is a problem at its line, a value unnamed a warning (%s)" % out.strip())
    # A text's {param|field}: the parameter must be declared, as a text's
    # {param}, and the field an enum field or a scale, as a template's; each
    # at the line of the text in that language.
    expect_one("labels_text_param", {"taehil.lua": [("{taehil.education_min|education}",
                                                      "{taehil.education_mn|education}")]},
               "taehil.lua", "{taehil.education_mn|education}",
               r"^criterion 'education' text \(fr\): \{taehil\.education_mn\|education\} names no "
               r"declared parameter \(braces in a text show a parameter's value on the decision date\)$")
    expect_one("labels_text_field", {"idmaj.lua": [(
                   "الدراسي {idmaj.waiting_waived_from|education}",
                   "الدراسي {idmaj.waiting_waived_from|educaton}")]},
               "idmaj.lua", "{idmaj.waiting_waived_from|educaton}",
               r"^criterion 'waiting' text \(ar\): \{idmaj\.waiting_waived_from\|educaton\} shows a "
               r"value by the labels of 'educaton', which is no enum field of the schema and no scale$")
    # A parameter whose value is none of the field's has no label: shown as
    # written, a warning at the text's line.
    d = edited("labels_text_value", {"idmaj.lua": [(
        "égal à {idmaj.waiting_waived_from|education}",
        "égal à {idmaj.waiting_waived_from|employment_status}")]})
    st, found, out = problems(d)
    check(st == 0 and len(found) == 1 and found[0][0] == "idmaj.lua" and found[0][2] == (
              "warning: criterion 'waiting' text (fr): {idmaj.waiting_waived_from|employment_status}: "
              "parameter 'idmaj.waiting_waived_from' holds 'bac+3' from 2025-01-01, which is no value "
              "of 'employment_status': the text shows it as written")
          and out.rstrip().endswith("clean, with 1 warning"),
          "a text's parameter whose value the field does not have: a warning (%s)" % out.strip())
    d = edited("labels_unnamed", {}, {"grades.lua": grades.replace('      ["hihg"] = "مرتفع",\n', "")})
    st, found, out = problems(d)
    check(st == 0 and len(found) == 1 and found[0][:2] == ("grades.lua", 4) and
          out.rstrip().endswith("clean, with 1 warning"),
          "labels that leave a value unnamed leave the set clean, with a warning (%s)" % out.strip())


def main():
    st, found, out = problems(RULES)
    check(st == 0 and found == [] and re.search(r"^ruleset [0-9a-f]{64} \(\d+ files\)$", out, re.M)
          and out.rstrip().endswith("clean"), "the shipped rules are clean, with their hash")

    # A syntax error: that problem only, none of the parameters it would have
    # declared reported as undeclared.
    expect_one("syntax", {"idmaj.lua": [("return a.registered_with_agency == true",
                                         "return a.registered_with_agency == true +")]},
               "idmaj.lua", None, r"unexpected symbol")

    expect_one("duplicate_criterion",
               {"taehil.lua": [('criterion "registered" {', 'criterion "age" {')]},
               "taehil.lua", None, r"criterion 'age' is declared twice in programme "
               r"'taehil' \(first at line \d+\)")
    d = edited("duplicate_criterion_where",
               {"taehil.lua": [('criterion "registered" {', 'criterion "age" {')]})
    _, found, _ = problems(d)
    check(found and found[0][1] == line_of(d, "taehil.lua", 'criterion "age" {', 2),
          "a duplicate criterion is reported at the second declaration")

    d = edited("duplicate_program", {"awrach.lua": [('program "awrach" {', 'program "taehil" {')]})
    st, found, _ = problems(d)
    check(st == 1 and len(found) == 1 and found[0][:2] == ("taehil.lua", line_of(d, "taehil.lua", 'program "taehil" {')) and
          re.search(r"programme 'taehil' is also declared in .*awrach\.lua", found[0][2]),
          "a programme id used by two files, at the second file's declaration (%r)" % found)

    expect_one("missing_language",
               {"idmaj.lua": [('      fr = "Âgé de {idmaj.age_min} à {idmaj.age_max} ans",\n', "")]},
               "idmaj.lua", '    text = {', r"criterion 'age'.*\bfr\b")

    # A text under a key that is no language (a Darija text, a capital AR)
    # would be read by no request.
    expect_one("unknown_language",
               {"idmaj.lua": [('      fr = "Âgé de {idmaj.age_min} à {idmaj.age_max} ans",\n',
                               '      fr = "Âgé de {idmaj.age_min} à {idmaj.age_max} ans",\n      de = "Alter",\n')]},
               "idmaj.lua", '    text = {',
               r"^criterion 'age' has a text under the key 'de', which is not a language eligo writes")
    # A key that is not UTF-8 text is not quoted: the problem is logged, and
    # stored with a rejected reload, as text.
    fr_age = '      fr = "Âgé de {idmaj.age_min} à {idmaj.age_max} ans",\n'
    d = edited("unknown_language_bytes",
               {"idmaj.lua": [(fr_age, fr_age + '      ["\\xff"] = "x",\n      [{}] = "y",\n')]})
    p = subprocess.run([ELIGO, "check", d], capture_output=True, timeout=120)
    try:
        out = p.stdout.decode("utf-8")
    except UnicodeDecodeError:
        out = None
    check(p.returncode == 1 and out is not None and "under a key that is not UTF-8 text" in out and
          "under the key [a table]" in out,
          "a text under a key that is not UTF-8 is said without quoting the key (%r)"
          % p.stdout)

    expect_one("undeclared_parameter",
               {"idmaj.lua": [('param "idmaj.no_recent_months"', 'param "idmaj.no_recent_month"')]},
               "idmaj.lua", 'param "idmaj.no_recent_month"',
               r"parameter 'idmaj.no_recent_month' is not declared")

    # A new dated value of another type than the old: every decision from its
    # date would fail comparing a number with a text.
    expect_one("parameter_types",
               {"taehil.lua": [('{ from = "2025-01-01", value = 45 },',
                                '{ from = "2025-01-01", to = "2025-12-31", value = 45 },\n'
                                '  { from = "2026-01-01", value = "50" },')]},
               "taehil.lua", 'parameter "taehil.age_max"',
               r"^parameter 'taehil.age_max': value 2 is the string \"50\", but value 1 is the "
               r"number 45: a rule reads every value the same way$")

    # In a table, the values under a key both dated values have.
    expect_one("parameter_table_types",
               {"taehil.lua": [('parameter "taehil.age_max" {',
                                'parameter "taehil.tbl" {\n  reference = REF,\n'
                                '  { from = "2025-01-01", to = "2025-12-31", value = { age = 45, a = { 1 } } },\n'
                                '  { from = "2026-01-01", value = { age = "50", b = 1 } },\n}\n'
                                'parameter "taehil.age_max" {')]},
               "taehil.lua", 'parameter "taehil.tbl"',
               r"^parameter 'taehil.tbl': value 2.age is the string \"50\", but value 1.age is the "
               r"number 45: a rule reads every value the same way$")

    # A version written as a number with a fraction loses its trailing zeros:
    # a problem for check, not a load error (a stored set must still replay).
    expect_one("version_number",
               {"taehil.lua": [('version = "2025.1",', 'version = 2025.10,')]},
               "taehil.lua", 'program "taehil" {',
               r"programme 'taehil': version 2025.1 is a number with a fraction, which loses "
               r"trailing zeros \(2025.10 reads as 2025.1\): write it as text, in quotes")

    # A dated value's misspelt key is named where its value is missing, and
    # a wrong date names its parameter and value.
    d = edited("value_key", {"awrach.lua": [('  { from = "2022-01-01", value = 18 },',
                                             '  { from = "2022-01-01", vaule = 18 },')]})
    st, found, _ = problems(d)
    msgs = [m for _, _, m in found]
    check(st == 1 and "parameter 'awrach.age_min': value 1 has no 'value' ({ from = ..., value = ... })"
          in msgs and "parameter 'awrach.age_min' value 1: unknown key 'vaule' (it knows from, to, "
          "value, reference)" in msgs, "a misspelt 'value': said missing, and the key named (%s)" % msgs)
    expect_one("value_date", {"awrach.lua": [('  { from = "2022-01-01", value = 18 },',
                                              '  { from = "2022-13-01", value = 18 },')]},
               "awrach.lua", '{ from = "2022-13-01"',
               r"^parameter 'awrach.age_min': value 1's from is 2022-13-01, which is no day of the calendar$")
    # A programme's dates are named with the programme and version they are
    # of, at the line of their key.
    expect_one("program_date", {"awrach.lua": [('  from = "2022-01-01",\n  title', '  from = "2022-01-01",\n  to = "2026-02-29",\n  title')]},
               "awrach.lua", 'to = "2026-02-29"',
               r"^programme 'awrach' 2022.1's to is 2026-02-29, which is no day of the calendar$")
    # A check reading a field the schema does not declare fails every
    # decision that comes to the read: check warns of it at the read (a
    # warning: a scan of the text could be wrong where the rule is right, so
    # the set is still clean, and served).
    d = edited("field_read", {"taehil.lua": [("return a.in_training == false",
                                              "return a.in_trainig == false")]})
    st, out, _ = eligo("check", d)
    want = "%s:%d: warning: criterion 'not_in_training' reads a.in_trainig, which the schema does " \
           "not declare: reading it is a rule error" % (os.path.join(d, "taehil.lua"),
                                                       line_of(d, "taehil.lua", "a.in_trainig"))
    check(st == 0 and want in out.splitlines() and out.rstrip().endswith("clean, with 1 warning"),
          "a read of an undeclared field: a warning at the read, the set clean (%s)" % out.strip())
    # A rule's text written decomposed ("e" and U+0300) never equals an
    # applicant's, which reaches the rules composed: a warning, where it is.
    d = edited("nfd_literal", {"taehil.lua": [("return a.in_training == false",
                                               'return a.in_training == false and a.region ~= "Fe\u0300s"')]})
    st, out, _ = eligo("check", d)
    want = "%s:%d: warning: \"Fe\u0300s\" is not in Unicode NFC (it holds a decomposed character): " \
           "applicants' texts reach the rules composed, so compared with one it is never equal; " \
           "write it composed" % (os.path.join(d, "taehil.lua"), line_of(d, "taehil.lua", "Fe\u0300s"))
    check(st == 0 and want in out.splitlines() and out.rstrip().endswith("clean, with 1 warning"),
          "a decomposed text in a rule file is warned of at its line (%s)" % out.strip())
    d = edited("nfc_literal", {"taehil.lua": [("return a.in_training == false",
                                               'return a.in_training == false and a.region ~= "F\u00e8s"')]})
    st, out, _ = eligo("check", d)
    check(st == 0 and "warning" not in out, "the composed text is not (%s)" % out.strip())
    expect_one("value_date_format", {"awrach.lua": [('  { from = "2022-01-01", value = 18 },',
                                                     '  { from = "2022-1-1", value = 18 },')]},
               "awrach.lua", '{ from = "2022-1-1"',
               r"^parameter 'awrach.age_min': value 1's from must be a date YYYY-MM-DD, got 2022-1-1$")
    # A problem of a declaration's table names the line to fix: a dated
    # value's own line, the line of a criterion's text, fail or pass table,
    # of a programme's title; its declaration's line only where the text
    # does not show it (a value held in a local).
    for name, bad, msg in (("value_date_second", "2025-1-1", "must be a date YYYY-MM-DD, got 2025-1-1"),
                           ("value_date_slashes", "01/07/2026", "must be a date YYYY-MM-DD, got 01/07/2026")):
        expect_one(name, {"awrach.lua": [('  { from = "2025-01-01", value = 1500 },',
                                          '  {\n    value = 1500,\n    from = "%s" },' % bad)]},
                   "awrach.lua", 'from = "%s"' % bad,
                   r"^parameter 'awrach.income_per_person_max': value 2's from %s$" % re.escape(msg))
    # A key given twice: Lua keeps the last, and so its line.
    expect_one("value_date_to", {"awrach.lua": [('  { from = "2022-01-01", value = 1200,',
                                                 '  { from = "2022-01-01", value = 1200, to = "2024-12-31",\n'
                                                 '    to = "2024/12/31",')]},
               "awrach.lua", 'to = "2024/12/31"',
               r"^parameter 'awrach.income_per_person_max': value 1's to must be a date YYYY-MM-DD, got 2024/12/31$")
    expect_one("value_date_local", {"awrach.lua": [('parameter "awrach.income_per_person_max" {',
                                                    'local RAISED = { from = "2025-1-1", value = 1500 }\n'
                                                    'parameter "awrach.income_per_person_max" {'),
                                                   ('  { from = "2025-01-01", value = 1500 },', '  RAISED,')]},
               "awrach.lua", 'parameter "awrach.income_per_person_max"',
               r"^parameter 'awrach.income_per_person_max': value 2's from must be a date YYYY-MM-DD, got 2025-1-1$")
    expect_one("criterion_text_lang", {"awrach.lua": [('      fr = "Âgé d\'au moins {awrach.age_min} ans",\n', '')]},
               "awrach.lua", "    text = {", r"^criterion 'age' has no fr text$")
    expect_one("criterion_fail_lang", {"awrach.lua": [('      ar = "السن {age} أقل من الحد الأدنى المحدد في {min} سنة",\n', '')]},
               "awrach.lua", "    fail = {", r"^criterion 'age' fail message has no ar text$")
    expect_one("criterion_pass_lang", {"awrach.lua": [('      fr = "l\'âge de {age} ans atteint le minimum de {min} ans",\n', '')]},
               "awrach.lua", "    pass = {", r"^criterion 'age' pass message has no fr text$")
    expect_one("criterion_text_key", {"awrach.lua": [('      en = "Aged {awrach.age_min} or over",',
                                                      '      en = "Aged {awrach.age_min} or over", AR = "x",')]},
               "awrach.lua", "    text = {", r"^criterion 'age' has a text under the key 'AR'")
    expect_one("title_lang", {"awrach.lua": [('    ar = "أوراش: الأوراش العامة المؤقتة",\n', '')]},
               "awrach.lua", "  title = {", r"^programme 'awrach' title has no ar text$")

    # What the loaded tables cannot show, the text does: a schema field given
    # twice (Lua keeps the last, here the laxer type), at the second, naming
    # the first's line; the same in a test file's case; in brackets too.
    d = expect_one("duplicate_key",
                   {"schema.lua": [("  household_size = integer { min = 1 },",
                                    "  household_size = integer { min = 1 },\n"
                                    "  household_size = \"integer\",")]},
                   "schema.lua", 'household_size = "integer"',
                   r"^key 'household_size' is given twice in one table \(first at line \d+\): "
                   r"Lua keeps only the last$")
    expect_one("duplicate_key_case",
               {"taehil.test.lua": [('  outcome = "eligible",', '  outcome = "eligible", ["outcome"] = "ineligible",')]},
               "taehil.test.lua", '["outcome"] = "ineligible"', r"^key 'outcome' is given twice in one table")
    # A number key given twice ([1.0] is [1]), or given outright where an
    # item by position also is; a computed key is neither.
    for name, text, key in (("duplicate_number", 'local A = { [1] = "a", [1.0] = "b" }', "[1]"),
                            ("duplicate_position", 'local B = { [k] = 0, [2] = "a", "x", "y" }', "[2]")):
        expect_one(name, {}, "extra.lua", text,
                   r"^key %s is given twice in one table \(first at line \d+; an item's position "
                   r"is its key\): Lua keeps only one$" % re.escape(key),
                   extra={"extra.lua": 'local k = "z"\n' + text + "\n"})
    # Keys of different tables, and names assigned inside a function within
    # a table, are not keys of that table: the shipped rules are clean above.

    # Not faults: a key named again inside a string continued with \z over a
    # line end, and a decree's number, which is not written like a date.
    d = edited("not_faults", {}, extra={"extra.lua": 'local M = {\n  a = 1,\n  msg = "first \\z\n'
                                        '         then, a = 2 in the text",\n  decree = "2-22-923",\n}\n'})
    st, found, out = problems(d)
    check(st == 0 and found == [], "a string continued with \\z, and a decree's number, are no "
          "problems (%r)" % found)
    # A set with no programme serves nothing (every request unknown_program),
    # and an empty file is one being written (truncated, then filled): each
    # is a problem, so a reload does not swap such a set in.
    d = edited("no_programme", {})
    for f in os.listdir(d):
        if f != "schema.lua":
            os.remove(os.path.join(d, f))
    st, _, out = problems(d)
    check(st == 1 and ("%s: no programme: no file declares one" % d) in out,
          "a set with no programme is a problem (%s)" % out.strip()[-160:])
    d = edited("empty_file", {})
    open(os.path.join(d, "awrach.lua"), "w").close()
    os.remove(os.path.join(d, "awrach.test.lua"))
    st, found, _ = problems(d)
    check(st == 1 and ("awrach.lua", 1, "the file is empty") in found,
          "an empty rule file is a problem at its name (%r)" % found)

    # One table given to two cases: the second would rename the first.
    d = edited("shared_case", {}, extra={"extra.test.lua":
               'local s = { program = "taehil", as_of = "2025-03-01", applicant = { applicant_id = "X" },'
               ' outcome = "incomplete" }\ncase "one" (s)\ncase "two" (s)\n'})
    st, found, _ = problems(d)
    check(st == 1 and len(found) == 1 and found[0][:2] == ("extra.test.lua", 3) and
          found[0][2] == "case 'two' is given the table of case 'one': each case needs a table of "
          "its own", "one table given to two cases is refused at the second (%r)" % found)

    # A change given nil in with(base, {...}) leaves the key out: nothing
    # changes, where `absent` was meant.  A nil elsewhere is not one.
    d = edited("with_nil", {"taehil.test.lua": [("applicant = with(base, { ",
                                                 "applicant = with(base, { in_training = nil, ")]},
               extra={"extra.test.lua": 'case "nil elsewhere" { program = "taehil", as_of = "2025-03-01",'
                      ' applicant = { applicant_id = "X" }, outcome = "incomplete", lang = nil,'
                      ' failed = nil }\n'})
    st, found, _ = problems(d)
    check(st == 1 and len(found) == 1 and found[0][0] == "taehil.test.lua" and
          found[0][2].startswith("with(..., { in_training = nil }) changes nothing (a nil leaves "
                                 "the key out): `absent` removes a field"),
          "a nil change in with() is a problem; a nil elsewhere is not (%r)" % found)

    # A date compared with a text written like a date that is not one is
    # compared as text: "1990-05-01" < "1990-1-1".
    expect_one("date_literal",
               {"awrach.lua": [("return years >= min,",
                                'return years >= min and a.birth_date >= "1990-1-1",')]},
               "awrach.lua", '"1990-1-1"',
               r'^"1990-1-1" is written like a date but is not one \(YYYY-MM-DD, a real day\): a date '
               r"compared with it is compared as text$")
    # So is one written day first or with slashes, as dates are on paper:
    # "2026-07-01" < "01/07/2026" never holds.
    expect_one("date_literal_slashes",
               {"awrach.lua": [("check = function(a, on)\n      local years",
                                'check = function(a, on)\n      if on < "01/07/2026" then return true end\n'
                                '      local years')]},
               "awrach.lua", '"01/07/2026"',
               r'^"01/07/2026" is written like a date but not as YYYY-MM-DD \(2026-07-01\): a date '
               r"compared with it is compared as text$")
    expect_one("date_literal_year_first",
               {"awrach.lua": [("check = function(a, on)\n      local years",
                                'check = function(a, on)\n      if on < "2026/7/1" then return true end\n'
                                '      local years')]},
               "awrach.lua", '"2026/7/1"',
               r'^"2026/7/1" is written like a date but not as YYYY-MM-DD \(2026-07-01\)')
    expect_one("date_literal_slashes_not_a_day",
               {"awrach.lua": [("check = function(a, on)\n      local years",
                                'check = function(a, on)\n      if on < "31/02/2026" then return true end\n'
                                '      local years')]},
               "awrach.lua", '"31/02/2026"',
               r'^"31/02/2026" is written like a date but is not one \(YYYY-MM-DD, a real day\)')

    # A test file misnamed is loaded as a rule file: the first test-only name
    # it uses says what it is.
    d = edited("misnamed_test", {})
    os.rename(os.path.join(d, "taehil.test.lua"), os.path.join(d, "taehil_test.lua"))
    st, found, _ = problems(d)
    check(st == 1 and len(found) == 1 and found[0][0] == "taehil_test.lua" and
          found[0][2].endswith("is not available to rules: it belongs to test files, which are "
                               "named NAME.test.lua"),
          "a test file misnamed is said to be one (%r)" % found)

    # A parameter's value is written into decisions whole: a text inside a
    # table that is not UTF-8 is refused where it is declared, as a plain one is.
    d = edited("table_not_utf8", {"taehil.lua": [("\nparameter \"taehil.age_max\"",
        "\nparameter \"taehil.tbl\" { reference = REF, { from = \"2025-01-01\","
        " value = { a = \"\\xe9\" } } }\nparameter \"taehil.age_max\"")]})
    st, found, out = problems(d)
    where = line_of(d, "taehil.lua", 'parameter "taehil.tbl"')
    check(st == 1 and found == [("taehil.lua", where, "parameter 'taehil.tbl' value 1, as JSON, is "
                                 "not UTF-8 text (byte 7)")],
          "a table value holding a text that is not UTF-8 is refused where declared (%r)" % found)

    # Line ends as Lua counts them: a file with CR alone (old Mac) or with
    # mixed ends is scanned by the lines Lua numbers, not hidden in one.
    for name, conv in (("cr_only", lambda t: t.replace(b"\n", b"\r")),
                       ("lf_cr", lambda t: t.replace(b"\n", b"\n\r"))):
        d = edited(name, {"taehil.lua": [('param "taehil.age_max"', 'param "taehil.age_maxx"')]})
        want = line_of(d, "taehil.lua", 'param "taehil.age_maxx"')
        with open(os.path.join(d, "taehil.lua"), "rb") as fh:
            text = fh.read()
        with open(os.path.join(d, "taehil.lua"), "wb") as fh:
            fh.write(conv(text))
        st, found, out = problems(d)
        check(st == 1 and found == [("taehil.lua", want, "parameter 'taehil.age_maxx' is not "
                                     "declared")],
              "%s line ends: the undeclared parameter is found at Lua's line %d (%r)" %
              (name, want, found))

    # No schema anywhere: said of the set, not at a schema.lua that is not
    # there; a schema.lua that declares none is named.
    d = edited("only_tests", {})
    for f in os.listdir(d):
        if not f.endswith(".test.lua"):
            os.remove(os.path.join(d, f))
    st, out, _ = eligo("check", d)
    check(st == 1 and ("%s: no schema: no file declares the applicant record" % d) in out and
          "schema.lua:" not in out, "a set without a schema says so of the set (%s)" %
          out.strip()[:160])
    d = edited("empty_schema", {}, {"schema.lua": "-- nothing here yet\n"})
    st, found, out = problems(d)
    check(st == 1 and ("schema.lua", 1, "no schema: declare the applicant record with schema "
                       "{ ... }") in found, "a schema.lua without a schema is named (%r)" % found)

    # A byte order mark: said as such, not as Lua's "unexpected symbol".
    d = edited("bom", {})
    with open(os.path.join(d, "taehil.lua"), "rb") as fh:
        text = fh.read()
    with open(os.path.join(d, "taehil.lua"), "wb") as fh:
        fh.write(b"\xef\xbb\xbf" + text)
    st, found, out = problems(d)
    check(st == 1 and len(found) == 1 and found[0][:2] == ("taehil.lua", 1) and
          "byte order mark" in found[0][2], "a file with a BOM is named, and the BOM (%r)" % found)

    # A second directory is not silently left unchecked.
    for cmd in ("check", "test"):
        st, _, err = eligo(cmd, RULES, WORK)
        check(st == 2 and "one rules directory" in err, "%s with two directories is refused (%s)"
              % (cmd, err.strip()))
        # Nor one named by --rules when another is given as the argument.
        st, _, err = eligo(cmd, "--rules", RULES, WORK)
        check(st == 2 and ("one rules directory: --rules %s, or %s, not both" % (RULES, WORK))
              in err, "%s --rules A B is refused, naming both (%s)" % (cmd, err.strip()))
        for same in (RULES, RULES + "/", os.path.join(RULES, ".")):
            st, out, err = eligo(cmd, "--rules", RULES, same)
            check(st == 0, "%s --rules %s %s is the one directory (%s)" % (cmd, RULES, same, err.strip()))

    # A value to the last day dates can say is in force to the end: no gap
    # on "0000-00-00", the day after it, for the value or for a version.
    d = edited("to_the_end", {"taehil.lua": [('{ from = "2025-01-01", value = 18 }',
                                              '{ from = "2025-01-01", to = "9999-12-31", value = 18 }')]})
    st, found, out = problems(d)
    check(st == 0 and not found, "a value in force to 9999-12-31 is no gap (%r)" % found)
    expect_one("param_to_before_from",
               {"taehil.lua": [('  { from = "2025-01-01", value = 45 },\n',
                                '  { from = "2025-01-01", value = 45 },\n'
                                '  { from = "2026-01-01", to = "2025-06-30", value = 50 },\n')]},
               "taehil.lua", 'parameter "taehil.age_max"',
               r"parameter 'taehil.age_max': value 2 is never in force: its 'to' 2025-06-30 is "
               r"before its 'from' 2026-01-01")

    # A parameter named in a comment is not read: nothing to report; the
    # same name read for real, after such comments, still is.
    d = edited("commented_parameter", {"awrach.lua": [("\n", "\n-- was param \"awrach.gone\"\n--[[ and\n"
                                                      "param 'awrach.gone2' ]] --[==[ param 'g3' ]==]\n")]})
    st, found, out = problems(d)
    check(st == 0 and found == [], "parameters named in comments are not reads (%r)" % found)
    expect_one("read_after_comments",
               {"idmaj.lua": [("\n", "\n--[[ param \"x.y\" ]] local s = \"--[[\"\n"),
                              ('param "idmaj.no_recent_months"', 'param "idmaj.no_recent_month"')]},
               "idmaj.lua", 'param "idmaj.no_recent_month"',
               r"parameter 'idmaj.no_recent_month' is not declared")

    # Nor in a string (a help text that mentions one); a read written with a
    # long string, or over two lines, is one, at the string's line.
    d = edited("parameter_in_string", {"awrach.lua": [("\n", "\nlocal HELP = 'call param \"awrach.gone\" "
                                                      "later' local H2 = [==[ param \"g4\" ]==]\n")]})
    st, found, out = problems(d)
    check(st == 0 and found == [], "parameters named in strings are not reads (%r)" % found)
    expect_one("read_long_string",
               {"idmaj.lua": [('param "idmaj.no_recent_months"', 'param [[idmaj.no_recent_month]]')]},
               "idmaj.lua", "param [[idmaj.no_recent_month]]",
               r"parameter 'idmaj.no_recent_month' is not declared")
    expect_one("read_over_lines",
               {"idmaj.lua": [('param "idmaj.no_recent_months"', 'param(\n"idmaj.no_recent_month")')]},
               "idmaj.lua", '"idmaj.no_recent_month")',
               r"parameter 'idmaj.no_recent_month' is not declared")

    expect_one("schema_type", {"schema.lua": [('disability = "boolean"', 'disability = "bool"')]},
               "schema.lua", "schema {",
               r"^field 'disability': unknown type 'bool' \(expected one of text, date")

    # Of two bad fields, or two bad bounds, the same one is named in every
    # run (the first in byte order, min before max), whatever order the
    # declaration's table has in that run; a field's name is a text.
    d = edited("schema_two_types", {"schema.lua": [('disability = "boolean"', 'disability = "bool"'),
                                                   ('in_training = "boolean"', 'in_training = "bol"')]})
    named = set()
    for _ in range(6):
        _, found, _ = problems(d)
        named.add(tuple(found))
    check(len(named) == 1 and re.search(r"^field 'disability': unknown type 'bool'", next(iter(named))[0][2]),
          "of two bad field types, the first in byte order is named in every run (%r)" % named)
    for name, bounds, pattern in (
            ("integer_two_names", "integer { most = 2, least = 1 }", r"unknown bound 'least'"),
            ("integer_two_bad", "integer { max = 2.5, min = 1.5 }", r"min must be a whole number .* 1.5$")):
        d = edited(name, {"schema.lua": [("integer { min = 1 }", bounds)]})
        named = set()
        for _ in range(6):
            _, found, _ = problems(d)
            named.add(tuple(found))
        check(len(named) == 1 and re.search(pattern, next(iter(named))[0][2]),
              "%s: the same bound named in every run (%r)" % (name, named))
    # Problems found in one walk of a table are reported in one order, or the
    # same one named, in every run: keys in byte order, numbers before texts.
    en = '      en = "Registered with the employment agency",\n'
    dated = '  { from = "2025-01-01", value = 18 },\n}\n'
    for name, edits, want in (
            ("texts_langs", {"idmaj.lua": [(en, en + '      it = "x", de = "y", es = "z",\n')]},
             ["the key 'de'", "the key 'es'", "the key 'it'"]),
            ("param_two_unlike", {"idmaj.lua": [(dated, dated + 'parameter "idmaj.pair" {\n  reference = REF,\n'
                                                 '  { from = "2025-01-01", value = { c = 1, b = 2, a = 3 } },\n'
                                                 '  { from = "2026-01-01", value = { c = "1", b = "2", a = "3" } },\n}\n')]},
             ["value 2.a is the string \"3\", but value 1.a is the number 3"]),
            ("date_two_bounds", {"schema.lua": [('date { not_after = "as_of" }',
                                                 'date { not_after = "as_of", zz = 1, bb = 2, mm = 3 }')]},
             ["date: unknown bound 'bb'"]),
            ("program_key_50", {"idmaj.lua": [('  version = "2025.1",\n', '  version = "2025.1",\n  [50] = 1, ["50"] = 2,\n')]},
             ["unknown key [50]", "unknown key '50'"]),
            ("scale_key_50", {"schema.lua": [('"bac+5", "doctorate",\n', '"bac+5", "doctorate", [50] = 1, ["50"] = 2,\n')]},
             ["key [50] is not a level", "key '50' is not a level"]),
            ("labels_key_50", {"schema.lua": [('en = { MA = "in Morocco" },', 'en = { MA = "in Morocco", [50] = "x", ["50"] = "y" },')]},
             ["name [the number 50], which", "name '50', which"])):
        d = edited(name, edits)
        said = set()
        for _ in range(8):
            _, found, _ = problems(d)
            said.add(tuple(found))
        got = [f[2] for f in next(iter(said))]
        check(len(said) == 1 and len(got) == len(want) and all(w in g for w, g in zip(want, got)),
              "%s: the same problems, in the same order, in every run (%r)" % (name, said))

    expect_one("schema_number_name", {"schema.lua": [('disability = "boolean"', '[7] = "boolean"')]},
               "schema.lua", "schema {", r"a field's name must be a text: field = type, not \[7\] = \.\.\.")

    expect_one("date_bound", {"schema.lua": [('date { not_after = "as_of" }', 'date { not_after = "today" }')]},
               "schema.lua", "birth_date = date", r'date: not_after is "as_of" \(the decision date\), not '
               r'the string "today"')
    expect_one("date_bound_nested",
               {"schema.lua": [('    plan_submitted = "boolean",',
                                '    plan_submitted = "boolean",\n    since = date { not_after = "as_of" },')]},
               "schema.lua", "schema {", r'date \{ not_after = "as_of" \} is for a field of the applicant '
               r"itself, not business.since")
    expect_one("integer_bounds", {"schema.lua": [("integer { min = 1 }", "integer { min = 2, max = 1 }")]},
               "schema.lua", "household_size = integer", r"integer: min 2 is above max 1")
    # A bound written 20.0 is the whole number 20; 1.5 is not a whole number.
    expect_one("integer_float_bounds", {"schema.lua": [("integer { min = 1 }",
                                                        "integer { min = 2.0, max = 1.0 }")]},
               "schema.lua", "household_size = integer", r"integer: min 2 is above max 1")
    expect_one("integer_fraction_bound", {"schema.lua": [("integer { min = 1 }", "integer { min = 1.5 }")]},
               "schema.lua", "household_size = integer",
               r"integer: min must be a whole number below 2\^53 in size, not the number 1.5")
    expect_one("integer_bound_name", {"schema.lua": [("integer { min = 1 }", "integer { least = 1 }")]},
               "schema.lua", "household_size = integer", r"integer: unknown bound 'least' \(min, max\)")

    expect_one("no_from", {"awrach.lua": [('  from = "', '  -- from = "')]},
               "awrach.lua", 'program "awrach" {', r"has no 'from' date")

    d = edited("overlap", {})
    with open(os.path.join(RULES, "taehil.lua")) as fh:
        taehil = fh.read()
    m = re.search(r'version = "([^"]+)"', taehil)
    second = taehil[taehil.index('program "taehil" {'):].replace(
        'version = "%s"' % m.group(1), 'version = "9.9"', 1)
    with open(os.path.join(d, "taehil.lua"), "a") as fh:
        fh.write("\n" + second)
    st, found, _ = problems(d)
    check(st == 1 and any(f == "taehil.lua" and "versions" in msg and "both in force" in msg
                          for f, _, msg in found),
          "two versions in force on the same day (%r)" % found)

    # Keys a declaration does not know, and a criterion under a key.
    d = edited("unknown_keys", {"taehil.lua": [
        ('  criterion "registered" {', '  registered = criterion "registered" {'),
        ('version = "%s",' % m.group(1), 'version = "%s",\n  untill = "2025-06-30",' % m.group(1)),
        ("    fail = {", "    fial = {")]})
    st, found, _ = problems(d)
    msgs = sorted(msg for _, _, msg in found)
    check(st == 1 and msgs == sorted([
        "criterion 'age': unknown key 'fial' (it knows text, pass, fail, reference, check)",
        "programme 'taehil': criterion 'registered' is given under the key 'registered', where it is "
        "not read: list criteria without keys",
        "programme 'taehil': unknown key 'untill' (it knows version, from, to, title, reference and "
        "its criteria)"]), "unknown keys and a keyed criterion are named (%r)" % msgs)

    # Two versions with days between them: no version in force then.  And a
    # version whose 'to' is before its 'from' is never in force.
    d = edited("version_gap", {})
    first = taehil.replace('version = "%s",' % m.group(1),
                           'version = "%s",\n  to = "2025-11-30",' % m.group(1), 1)
    later = second.replace('from = "2025-01-01"', 'from = "2026-01-01"', 1)
    with open(os.path.join(d, "taehil.lua"), "w") as fh:
        fh.write(first + "\n" + later)
    st, found, _ = problems(d)
    check(st == 1 and len(found) == 1 and found[0][1] == line_of(d, "taehil.lua", 'program "taehil" {', 2)
          and found[0][2] == "programme 'taehil': no version is in force from 2025-12-01 to 2025-12-31, "
          "between %s (to 2025-11-30) and 9.9 (from 2026-01-01)" % m.group(1),
          "days between two versions are named (%r)" % found)
    d = edited("never_in_force", {"taehil.lua": [('version = "%s",' % m.group(1),
                                                  'version = "%s",\n  to = "2024-12-31",' % m.group(1))]})
    st, found, _ = problems(d)
    check(st == 1 and [msg for _, _, msg in found] ==
          ["programme 'taehil' %s is never in force: its 'to' (2024-12-31) is before its 'from' "
           "(2025-01-01)" % m.group(1)], "a version never in force is named (%r)" % found)

    # A parameter that ends: blamed on the version whose check reads it, once
    # however many times it is read, and not on a later version that reads
    # another parameter instead.
    ends = ('{ from = "2025-01-01", value = 45 }',
            '{ from = "2025-01-01", to = "2025-12-31", value = 45 }')
    d = edited("param_gap", {"taehil.lua": [ends]})
    _, found, _ = problems(d)
    reads = line_of(d, "taehil.lua", 'param "taehil.age_max"')
    shows = line_of(d, "taehil.lua", 'en = "Aged {taehil.age_min}')   # the text's own line
    check(found == [("taehil.lua", shows, "criterion 'age' text (en) shows parameter "
                     "'taehil.age_max', which has no value in force on 2026-01-01, when taehil "
                     "2025.1 is"),
                    ("taehil.lua", reads, "parameter 'taehil.age_max' has no value in force on "
                     "2026-01-01, when taehil 2025.1 is")],
          "a parameter that ends before its programme does, read and shown by its text (%r)"
          % found)

    later = taehil[taehil.index('program "taehil" {'):]
    later = later.replace('version = "%s"' % m.group(1), 'version = "2026.1"', 1)
    later = later.replace('  from = "2025-01-01",', '  from = "2026-01-01",', 1)
    later = later.replace('param "taehil.age_max"', 'param "taehil.age_max_2026"')
    later = later.replace('{taehil.age_max}', '{taehil.age_max_2026}')   # its texts too
    d = edited("param_versions", {"taehil.lua": [
        ends, ('  from = "2025-01-01",\n', '  from = "2025-01-01",\n  to = "2025-12-31",\n'),
        ('return within(years, min, max)',
         'local again = param "taehil.age_max"\n      return within(years, min, again)')]})
    with open(os.path.join(d, "taehil.lua"), "a") as fh:
        fh.write('\nparameter "taehil.age_max_2026" {\n  reference = REF,\n'
                 '  { from = "2026-01-01", value = 50 },\n}\n\n' + later)
    st, found, _ = problems(d)
    check(st == 0 and found == [],
          "each version reads a parameter in force while it is; no problem (%r)" % found)

    # A set refused as a whole (more programmes than a screen decides) is one
    # problem, at the first programme over the limit.
    many = os.path.join(WORK, "many")
    os.mkdir(many)
    shutil.copy(os.path.join(RULES, "schema.lua"), many)
    for i in range(1, 66):
        with open(os.path.join(many, "p%02d.lua" % i), "w") as fh:
            fh.write('program "p%02d" {\n  version = "1", from = "2025-01-01", reference = "r",\n'
                     '  title = { en = "P", fr = "P", ar = "P" },\n'
                     '  criterion "c" { text = { en = "C", fr = "C", ar = "C" }, reference = "r",\n'
                     '    check = function(a) return true end },\n}\n' % i)
    st, found, out = problems(many)
    check(st == 1 and found == [("p65.lua", 1, "the rule set declares 65 programmes; a screen "
                                 "decides at most 64")] and "1 problem" in out,
          "65 programmes: one problem, at the 65th (%r)" % found)

    # ... and the problems found while loading are still listed beside it.
    with open(os.path.join(many, "p01.lua")) as fh:
        text = fh.read()
    with open(os.path.join(many, "p01.lua"), "w") as fh:
        fh.write(text.replace('version = "1", from = "2025-01-01"', 'version = "1"'))
    st, found, out = problems(many)
    check(st == 1 and ("p01.lua", 1, "programme 'p01' 1 has no 'from' date") in found and
          len(found) == 2 and "2 problems" in out,
          "a set refused as a whole still lists the other problems (%r)" % found)

    # Two programmes of one file with the same version: each one's gap.
    d = edited("same_version", {}, {"twin.lua": (
        'parameter "twin.x" { reference = "r", { from = "2025-01-01", value = 1 } }\n'
        'local T = { en = "T", fr = "T", ar = "T" }\n'
        'program "twin_a" { version = "1", from = "2000-01-01", reference = "r", title = T,\n'
        '  criterion "c" { text = T, reference = "r", check = function(a) return param "twin.x" == 1 end } }\n'
        'program "twin_b" { version = "1", from = "2010-01-01", reference = "r", title = T,\n'
        '  criterion "c" { text = T, reference = "r", check = function(a) return param "twin.x" == 1 end } }\n')})
    _, found, _ = problems(d)
    gaps = sorted(m for f, _, m in found if f == "twin.lua" and m.startswith("parameter"))
    check(("twin.lua", 5, "programme 'twin_b' is declared in twin.lua beside programme 'twin_a' "
           "(line 3): one programme per file") in found, "two programmes in one file (%r)" % found)
    check(gaps == ["parameter 'twin.x' has no value in force on 2000-01-01, when twin_a 1 is",
                   "parameter 'twin.x' has no value in force on 2010-01-01, when twin_b 1 is"],
          "a gap is told once per programme and version (%r)" % gaps)

    # Declared values go into decisions: one that is not UTF-8 is refused where
    # it is declared, not found later in every decision.
    expect_one("param_value_not_utf8",
               {"idmaj.lua": [('{ from = "2025-01-01", value = "bac" }',
                               '{ from = "2025-01-01", value = "b\\xe9c" }')]},
               "idmaj.lua", None, r"parameter 'idmaj.education_min' value 1 is not UTF-8 text")
    expect_one("scale_not_utf8",
               {"schema.lua": [('"bac+5", "doctorate",\n', '"bac+5", "doctorat\\xe9",\n')]},
               "schema.lua", 'scale "education"', r"value 8 of scale 'education' is not UTF-8")
    # A level given twice ranks where it came last (none above bac), one that
    # is not a text is never compared, a key beside the list is dropped.
    for name, tail, pattern in (
            ("scale_level_twice", '"bac+5", "doctorate", "none",\n',
             r"^scale 'education': level 9, 'none', is level 1 already"),
            ("scale_level_number", '"bac+5", "doctorate", 9,\n',
             r"^scale 'education': level 9 is the number 9, expected a text"),
            ("scale_key", '"bac+5", "doctorate", top = "doctorate",\n',
             r"^scale 'education': key 'top' is not a level")):
        expect_one(name, {"schema.lua": [('"bac+5", "doctorate",\n', tail)]},
                   "schema.lua", 'scale "education"', pattern)

    # A budget meant as "no limit" does not wrap when loading takes 100 of it.
    st, out, _ = eligo("check", "--instructions", "184467440737095517", RULES)
    check(st == 0 and out.rstrip().endswith("clean"), "a huge --instructions loads the rules (%s)"
          % out.strip().splitlines()[-1:])

    # The limits: a value that is not a whole number is refused by every rule
    # command, from an option or from the environment, and a number is obeyed.
    for cmd in ("check", "test", "eval"):
        st, _, err = eligo(cmd, "--instructions", "12x", RULES)
        check(st == 2 and "eligo %s: --instructions wants a whole number of instructions, "
              "not '12x'" % cmd in err, "%s refuses --instructions 12x (%s)" % (cmd, err.strip()))
    for bad in ("+5", " 7", "\n-1", ""):
        st, _, err = eligo("check", "--instructions=" + bad, RULES)
        check(st == 2 and "--instructions" in err, "--instructions=%r is refused" % bad)
    for cmd in ("check", "test", "eval", "replay", "serve"):
        st, _, err = eligo(cmd, "--time-limit", "1s", RULES)
        check(st == 2 and "eligo %s: --time-limit wants a whole number of milliseconds, not '1s'"
              % cmd in err, "%s refuses --time-limit 1s (%s)" % (cmd, err.strip()))
    os.environ["ELIGO_MEMORY"] = "-5"
    st, _, err = eligo("check", RULES)
    del os.environ["ELIGO_MEMORY"]
    check(st == 2 and "ELIGO_MEMORY wants a whole number of bytes, not '-5'" in err,
          "a negative ELIGO_MEMORY is refused (%s)" % err.strip())
    # A cap above the machine's memory would cap nothing.
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE")
    for cmd in ("check", "serve"):
        st, _, err = eligo(cmd, "--memory", str(ram + 1), RULES)
        check(st == 2 and "eligo %s: --memory %d is more than this machine's memory" % (cmd, ram + 1)
              in err and "give at most %d" % ram in err,
              "%s refuses a --memory above the machine's memory (%s)" % (cmd, err.strip()))
    os.environ["ELIGO_MEMORY"] = "18446744073709551615"
    st, _, err = eligo("test", RULES)
    del os.environ["ELIGO_MEMORY"]
    check(st == 2 and "ELIGO_MEMORY 18446744073709551615 is more than this machine's memory" in err,
          "an ELIGO_MEMORY of 2^64 - 1 is refused (%s)" % err.strip())
    st, _, err = eligo("check", "--memory", str(ram), RULES)
    check(st == 0, "--memory equal to the machine's memory is taken (%s)" % err.strip())
    # The sandbox fixture's "work" criterion loops a.age times.
    sandbox = os.path.join(os.path.dirname(RULES), "tests", "fixtures", "sandbox")
    line = os.path.join(WORK, "work.jsonl")
    with open(line, "w") as fh:
        fh.write('{"as_of":"2025-03-01","applicant":{"applicant_id":"work","age":100000}}\n')
    st, out, _ = eligo("eval", "--rules", sandbox, "--program", "limits", line)
    check(st == 0 and '"id":"work","passed":true' in out, "eval decides within the default budget")
    st, out, err = eligo("eval", "--rules", sandbox, "--program", "limits", "--instructions",
                         "20000", line)
    check(st != 0 and "rule_error" in out + err and "instruction budget of 20000" in out + err,
          "eval --instructions 20000 stops the same rules (%s)" % (out + err).strip()[:160])

    labels()
    against()

    shutil.rmtree(WORK, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
