#!/usr/bin/env python3
"""eligo eval: the same file as submit, the same decisions as the server;
flags fill what a line leaves out; without --program or --screen a line's op
is inferred as submit infers it; errors name file:line (and the byte of the
line, for bad JSON) and make the exit status 1."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from serve import ELIGO, RULES, SOURCE, Server, applicant, check, eligo, finish  # noqa: E402

EXAMPLES = os.path.join(SOURCE, "examples", "applications.jsonl")
VOLATILE = ("decision_id", "decided_at")


def decisions(text):
    """The decisions of JSON lines TEXT, without what differs run to run."""
    out = []
    for line in text.splitlines():
        d = json.loads(line)
        for k in VOLATILE:
            d.pop(k, None)
        out.append(d)
    return out


def main():
    work = tempfile.mkdtemp(prefix="eligo-eval-")
    st, out, err = eligo("eval", "--rules", RULES, "--screen", "--as-of", "2025-03-01", EXAMPLES)
    screened = decisions(out)
    with open(EXAMPLES) as f:
        nlines = sum(1 for l in f if l.strip())
    check(len(screened) >= 5 * (nlines - 1), "eval --screen decides every programme for each "
          "line (%d decisions, %d lines)" % (len(screened), nlines))

    # The server decides the same file alike, through submit.
    with Server() as srv:
        p = subprocess.run([ELIGO, "submit", "--socket", srv.socket, "--screen", EXAMPLES],
                           capture_output=True, text=True, env=dict(os.environ))
        served = []
        for line in p.stdout.splitlines():
            r = json.loads(line)
            for d in r.get("decisions", []):
                for k in VOLATILE:
                    d.pop(k, None)
                served.append(d)
        ev = subprocess.run([ELIGO, "eval", "--rules", RULES, "--screen", EXAMPLES], capture_output=True,
                            text=True)
        check(served and decisions(ev.stdout) == served,
              "eval and the server decide the same file alike (%d decisions)" % len(served))

        # The shipped criteria texts, as `programs` gives them in French and
        # Arabic: an education level shown by its name (« baccalauréat »,
        # البكالوريا), never by its code (bac, bac+3; French writes bac+2
        # as it is, and a label may give the code in brackets).
        conn = srv.connect()
        fr_code = re.compile(r"(?<![(\w])(bac(\+[35])?|none|primary|secondary|doctorate)(?![\w+)])")
        for lang, code in (("fr", fr_code), ("ar", re.compile(r"[a-z]{2,}"))):
            r = conn.request({"op": "programs", "as_of": "2025-03-01", "lang": lang})
            texts = [c["text"] for p in r.get("programs", []) for c in p["criteria"]]
            bad = [t for t in texts if code.search(t)]
            check(len(texts) > 20 and not bad and any("دراسي" in t or "études" in t for t in texts),
                  "the %s criteria texts show no code (%d texts; %s)" % (lang, len(texts), bad[:2]))
        conn.close()

        # --replies: one line per application, as the server replied to it
        # (its id, its decisions or its error), so that each is found again.
        def replies(text):
            out = []
            for line in text.splitlines():
                r = json.loads(line)
                for d in r.get("decisions", []):
                    for k in VOLATILE:
                        d.pop(k, None)
                out.append(r)
            return out
        er = subprocess.run([ELIGO, "eval", "--rules", RULES, "--screen", "--replies", EXAMPLES],
                            capture_output=True, text=True)
        got, want = replies(er.stdout), replies(p.stdout)
        check(got and got == want and any(not r["ok"] for r in got),
              "eval --replies gives the server's replies, the error's among them (%d lines)" % len(got))
        # A line naming its programme and no op is a decide under --screen,
        # in eval as in submit.
        own = '{"id":5,"program":"taehil","as_of":"2025-03-01","applicant":%s}\n' % json.dumps(applicant(1))
        ev = subprocess.run([ELIGO, "eval", "--rules", RULES, "--screen", "--replies"], input=own,
                            capture_output=True, text=True)
        sb = subprocess.run([ELIGO, "submit", "--socket", srv.socket, "--screen"], input=own,
                            capture_output=True, text=True)
        got, want = replies(ev.stdout), replies(sb.stdout)
        for r in got + want:
            for k in VOLATILE:
                r.get("decision", {}).pop(k, None)
        check(ev.returncode == 0 and got and got == want and got[0]["decision"]["program"] == "taehil",
              "a line with its own programme under --screen: decided, by eval as by submit (%r)"
              % ev.stdout[:120])
        one = subprocess.run([ELIGO, "eval", "--rules", RULES, "--program", "idmaj", "--replies"],
                             input='{"id":{"n":1},"applicant":%s}\n' % json.dumps(applicant(1)),
                             capture_output=True, text=True)
        r = json.loads(one.stdout) if one.returncode == 0 else {}
        check(r.get("id") == {"n": 1} and r.get("decision", {}).get("program") == "idmaj",
              "eval --program --replies: a decide's reply, its id echoed (%r)" % one.stdout[:100])

    # Lines without "op": inferred per line, as submit does.
    mixed = os.path.join(work, "mixed.jsonl")
    with open(mixed, "w") as f:
        f.write(json.dumps({"program": "idmaj", "as_of": "2025-03-01",
                            "applicant": applicant(1)}) + "\n")
        f.write(json.dumps({"as_of": "2025-03-01", "applicant": applicant(2)}) + "\n")
        f.write(json.dumps({"op": "decide", "program": "awrach", "as_of": "2025-03-01",
                            "applicant": applicant(3)}) + "\n")
    st, out, err = eligo("eval", "--rules", RULES, mixed)
    got = [d["program"] for d in decisions(out)]
    check(st == 0 and got[0] == "idmaj" and got[-1] == "awrach" and len(got) >= 7 and
          {"idmaj", "taehil", "intelaka", "awrach"} <= set(got[1:-1]),
          "no flag: a line naming a programme is a decide, one without a screen (%s)" % got)
    st, out, _ = eligo("eval", "--rules", RULES, "--program", "taehil", "--lang", "fr", mixed)
    ds = decisions(out)
    check(st == 0 and [d["program"] for d in ds] == ["idmaj", "taehil", "awrach"] and
          all(d["lang"] == "fr" for d in ds),
          "--program fills only the lines without one; --lang sets the language")
    fr = [c["message"] for c in ds[1]["criteria"]]
    check(any("ans" in m for m in fr), "French messages (%s)" % fr[0])

    # The shipped rules' French and Arabic messages, as applicants read them:
    # French sets : ; ? ! apart with a space and puts no colon after a verb;
    # Arabic writes its own comma, semicolon and question mark; neither
    # counts with a form's "(s)"; and no message of a decided criterion
    # shows an enum's code (self_employed, real_estate) where the enum gives
    # a display name (a missing criterion's names the field).
    def typos(lang, m, decided=True):
        found = []
        if "(s)" in m:
            found.append("(s)")
        code = (re.search(r"\b[a-z]+_[a-z_]+\b", m) or lang == "ar" and re.search(r"[a-z]{2,}", m) or
                lang == "fr" and re.search(r"\b(employed|unemployed|student|crafts|industry|digital|"
                                           r"tourism|abroad|none|primary|secondary|doctorate)\b", m))
        if decided and code:
            found.append("a code")
        if lang == "fr" and (re.search(r"\S[:;?!]", m) or re.search(r"\best :", m)):
            found.append("French punctuation")
        if lang == "ar" and re.search(r"[,;?]", m):
            found.append("a Latin , ; or ?")
        return found
    for lang in ("en", "fr", "ar"):
        st, out, _ = eligo("eval", "--rules", RULES, "--screen", "--lang", lang, EXAMPLES)
        cs = [c for d in decisions(out) for c in d["criteria"]]
        ms = [c["message"] for c in cs]
        bad_ms = ["%s: %s" % (", ".join(typos(lang, c["message"], "missing" not in c)), c["message"])
                  for c in cs if typos(lang, c["message"], "missing" not in c)]
        check(len(ms) > 100 and not bad_ms, "the shipped rules' %s messages read as written "
              "(%d messages; %s)" % (lang, len(ms), bad_ms[:3]))

    # Errors: file:line, the byte of the file's line, exit status 1, the rest decided.
    bad = os.path.join(work, "bad.jsonl")
    with open(bad, "w") as f:
        f.write(json.dumps({"program": "idmaj", "as_of": "2025-03-01",
                            "applicant": applicant(4)}) + "\n")
        f.write('{"applicant":{"x":tru}}\n')
        f.write(json.dumps({"program": "nope", "applicant": applicant(5)}) + "\n")
        f.write(json.dumps({"program": "idmaj", "as_of": "2025-03-01",
                            "applicant": applicant(6, birth_date="2023-02-30")}) + "\n")
        # Well-formed to a lenient parser, refused by the engine: the byte is
        # still the file's, not the completed line's.
        f.write('{"program":"idmaj","applicant":{"household_size":1e400}}\n')
        f.write('{"op":"health"}\n')
    st, out, err = eligo("eval", "--rules", RULES, bad)
    lines = err.splitlines()
    check(st == 1 and len(decisions(out)) == 1, "eval goes on past bad lines, exit status 1")
    check(len(lines) == 5 and lines[0].startswith(bad + ":2: invalid_json:") and
          "at byte 19" in lines[0], "bad JSON: its line and byte in the file (%s)" % lines[:1])
    check(len(lines) == 5 and lines[1].startswith(bad + ":3: unknown_program:") and
          lines[2].startswith(bad + ":4: invalid_applicant:") and "birth_date" in lines[2],
          "an unknown programme and an impossible date, each at its line (%s)" % lines[1:3])
    check(len(lines) == 5 and lines[3].startswith(bad + ":5: invalid_json:") and
          "at byte 50:" in lines[3] and "too large" in lines[3],
          "a number too large: the byte of the file's line (%s)" % lines[3:4])
    check(len(lines) == 5 and lines[4] == bad + ":6: invalid_request: op 'health' is not "
          "decided offline (decide or screen)", "an op eval does not decide is named (%s)" %
          lines[4:])
    # A criterion met by either of two fields is met by one, the other
    # absent: IDMAJ's [waiting] by 8 months of unemployment without the
    # degree; the auto-entrepreneur's [residency] by residence without the
    # nationality.
    either = os.path.join(work, "either.jsonl")
    no_degree = applicant(8)
    no_degree.pop("education")
    no_nationality = applicant(9, business={"sector": "commerce", "plan_submitted": True,
                                            "project_cost": 1000, "own_contribution": 100,
                                            "expected_turnover": 1000, "legal_form": "none"})
    no_nationality.pop("nationality")
    with open(either, "w") as f:
        f.write(json.dumps({"program": "idmaj", "as_of": "2025-03-01", "applicant": no_degree}) + "\n")
        f.write(json.dumps({"program": "auto_entrepreneur", "as_of": "2025-03-01",
                            "applicant": no_nationality}) + "\n")
    st, out, err = eligo("eval", "--rules", RULES, either)
    ds = decisions(out)
    crit = [{c["id"]: c["passed"] for c in d["criteria"]} for d in ds]
    check(st == 0 and len(ds) == 2 and crit[0]["waiting"] is True and crit[0]["education"] is None
          and ds[0]["missing"] == ["education"] and crit[1]["residency"] is True,
          "either of two fields is enough: [waiting] without the degree, [residency] without "
          "the nationality (%s)" % [(d["outcome"], d["missing"]) for d in ds])
    # A degree that waives IDMAJ's wait still shows the wait the application
    # gives (not '—'), and needs no date when it gives none.
    waived = os.path.join(work, "waived.jsonl")
    with_date = applicant(10, education="bac+3", unemployed_since="2025-01-10")
    no_date = applicant(11, education="bac+5")
    no_date.pop("unemployed_since", None)
    with open(waived, "w") as f:
        for a in (with_date, no_date):
            f.write(json.dumps({"program": "idmaj", "as_of": "2025-03-01", "applicant": a}) + "\n")
    st, out, err = eligo("eval", "--rules", RULES, waived)
    ds = decisions(out)
    w = [[c for c in d["criteria"] if c["id"] == "waiting"][0] for d in ds]
    check(st == 0 and len(w) == 2 and w[0]["passed"] is True
          and w[0]["values"]["months"] == 1 and w[0]["values"]["since"] == "2025-01-10"
          and "since 2025-01-10: 1 " in w[0]["message"]
          and w[1]["passed"] is True and w[1]["values"]["months"] == "\u2014"
          and "unemployed_since" not in ds[1]["missing"],
          "a degree that waives the wait shows the months the application gives, and needs "
          "no date (%s)" % [c.get("message") for c in w])
    # A line of white space is skipped, as the server takes it.
    spaced = os.path.join(work, "spaced.jsonl")
    with open(spaced, "w") as f:
        f.write("   \t\n" + json.dumps({"program": "idmaj", "as_of": "2025-03-01",
                                        "applicant": applicant(7)}) + "\n")
    st, out, err = eligo("eval", "--rules", RULES, spaced)
    check(st == 0 and len(decisions(out)) == 1 and err == "",
          "a line of white space is skipped (%s)" % err.strip())
    # A flag's fault is the command's: exit 2 before any line; a directory
    # is no input.
    for args, says in ((["--program", "idmaj", "--screen"], "--program and --screen exclude each other"),
                       (["--as-of", "2025-02-30"], "--as-of '2025-02-30' is not a valid date"),
                       (["--lang", "de"], "--lang is en, fr or ar, not 'de'"),
                       (["--time-limit", "0"], "--time-limit 0 would allow nothing")):
        st, out, err = eligo("eval", "--rules", RULES, *args, spaced)
        check(st == 2 and says in err and out == "", "eval %s: exit 2, saying so (%s)"
              % (" ".join(args), err.strip()))
    st, out, err = eligo("eval", "--rules", RULES, work)
    check(st == 2 and ("reading %s after line 0: Is a directory" % work) in err,
          "eval of a directory: exit 2, saying so (%s)" % err.strip())
    # Decisions that cannot be written (a full disk) are a failure, said, even
    # when a line was an error too: its status 1 must not hide the loss.
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            p = subprocess.run([ELIGO, "eval", "--rules", RULES, bad], stdout=full,
                               stderr=subprocess.PIPE, text=True)
        check(p.returncode == 2 and "eligo eval: writing standard output failed" in p.stderr,
              "eval to a full disk, with bad lines too: exit 2, saying so (%s)" %
              p.stderr.strip()[-100:])
    shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
