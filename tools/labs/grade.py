#!/usr/bin/env python3
"""grade.py: grade one lab: `make grade` in a lab's starter, `make grade
LAB=NAME` in the solution tree.

    python3 tools/labs/grade.py [LAB] [TEST...] [--results FILE] [--no-build]

LAB defaults to the lab this starter was cut for (labs/NAME/release.json);
TEST names run only those tests (the handouts' "check this step" commands).

What it does, in order:
  1. checks the grading files against the hashes recorded when the starter
     was cut (labs/NAME/release.json) and says which were changed;
  2. builds (make all, the host tests, the Cortex-M3 image: what the lab's
     tests need); a build that fails fails every test, with the compiler's
     words;
  3. boots the kernel once and times it: every timeout below is a reference
     figure times max(1, boot time / REF_BOOT), so a slow machine waits
     longer instead of failing a right answer;
  4. runs the tests: one line each with points and time; for a failure the
     reason and the last lines of its log (all logs stay in
     tests/out/grade/LAB/), and for a QEMU test of a lab with Lab.trace the
     page of the ring in its last command (TEST-trace/index.html), or why
     there is none;
  5. prints "Score: N/M", writes results.json (Gradescope's format) and
     exits 0 only at full marks (1 otherwise; 2 for a usage error).

Every pass the grader accepts carries a word it chose for this run (in the
labtest frames of the guest, in the host tests' result lines), so a program
that prints "OK" or "PASS" cannot fake one.

Environment: LAB_RESULTS (default for --results).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gradelib  # noqa: E402
from gradelib import ROOT, TestFailure, QemuError  # noqa: E402
import qemu  # noqa: E402

REF_BOOT = 0.5      # seconds to the boot marker on the machine the budgets were set on
BOOT_CAP = 20       # reference seconds the timing boot may take before we give up on it
LOG_TAIL = 12       # lines of a failing test's log printed under it

# Grading files every lab trusts; a lab adds its own (Lab.trusts) and the
# files the student edits are never among them.
COMMON_GRADING = ["Makefile", "cm3/Makefile", "scripts/setup.sh", "tests/host/",
                  "tests/qemu/qemu.py", "tests/qemu/netutil.py", "tests/qemu/test_cm3.py",
                  "tools/labs/", "tools/trace/", "user/labtest.c"]


def results_problems(res):
    """What in a results.json does not follow Gradescope's documented format
    (the top level: score, execution_time, output, visibility,
    stdout_visibility, tests; each test: name, score, max_score, status
    "passed" or "failed", output, visibility). An empty list if none."""
    bad = []
    vis = ("visible", "hidden", "after_due_date", "after_published")
    want = {"score": (int, float), "execution_time": (int, float), "output": str,
            "visibility": str, "stdout_visibility": str, "tests": list}
    for k, types in want.items():
        if not isinstance(res.get(k), types):
            bad.append("top level: %s missing or not %s" % (k, types))
    for k in ("visibility", "stdout_visibility"):
        if res.get(k) not in vis:
            bad.append("top level: %s %r" % (k, res.get(k)))
    for i, t in enumerate(res.get("tests") or []):
        for k, types in (("name", str), ("score", (int, float)), ("max_score", (int, float)),
                         ("status", str), ("output", str), ("visibility", str)):
            if not isinstance(t.get(k), types):
                bad.append("test %d: %s missing or not %s" % (i, k, types))
        if t.get("status") not in ("passed", "failed"):
            bad.append("test %d: status %r" % (i, t.get("status")))
        if t.get("visibility") not in vis:
            bad.append("test %d: visibility %r" % (i, t.get("visibility")))
        if isinstance(t.get("score"), (int, float)) and isinstance(t.get("max_score"), (int, float)) \
                and not 0 <= t["score"] <= t["max_score"]:
            bad.append("test %d: score %s of %s" % (i, t["score"], t["max_score"]))
    tests = res.get("tests") or []
    if tests and isinstance(res.get("score"), (int, float)) and \
            res["score"] != sum(t.get("score", 0) for t in tests):
        bad.append("score %s is not the sum of the tests' scores" % res["score"])
    return bad


def load_lab(name):
    path = os.path.join(ROOT, "labs", name, "grade.py")
    if not os.path.isfile(path):
        labs = sorted(n for n in os.listdir(os.path.join(ROOT, "labs"))
                      if os.path.isfile(os.path.join(ROOT, "labs", n, "grade.py")))
        raise SystemExit("grade: no lab %r here (labs: %s)" % (name, ", ".join(labs)))
    ns = {"__file__": path, "__name__": "lab_" + name}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), ns)
    lab = ns.get("lab")
    if not isinstance(lab, gradelib.Lab) or lab.name != name:
        raise SystemExit("grade: %s does not define lab = Lab(%r, ...)" % (path, name))
    return lab


def release_lab():
    """The lab this starter was cut for, from its release record."""
    d = os.path.join(ROOT, "labs")
    found = [n for n in sorted(os.listdir(d)) if os.path.isfile(os.path.join(d, n, "release.json"))]
    return found[0] if len(found) == 1 else None


def select_grading(lab, paths):
    """Of paths (relative to the tree's top), the grading files: the ones
    the release vouches for."""
    wanted = COMMON_GRADING + ["labs/%s/grade.py" % lab.name] + lab.trusts
    out = []
    for rel in paths:
        if rel in lab.files or rel.endswith("release.json"):
            continue
        if any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in wanted):
            out.append(rel)
    return out


def grading_files(lab, root=ROOT):
    import markers
    return select_grading(lab, markers.tree_files(root))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_release(lab):
    """Compare the grading files with the release's hashes. Returns the
    changed, missing and added files (None if there is no release record)."""
    path = os.path.join(ROOT, "labs", lab.name, "release.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        rel = json.load(f)
    changed, missing = [], []
    for name, digest in sorted(rel["files"].items()):
        p = os.path.join(ROOT, name)
        if not os.path.isfile(p):
            missing.append(name)
        elif sha256(p) != digest:
            changed.append(name)
    added = [n for n in grading_files(lab) if n not in rel["files"]]
    return changed, missing, added


class Grader:
    def __init__(self, lab, results_path, build=True):
        self.lab = lab
        self.word = gradelib.new_word()
        self.scale = 1.0
        self.boot_failure = None
        self.results_path = results_path
        self.do_build = build
        self.logdir = os.path.join(ROOT, "tests", "out", "grade", lab.name)
        self.lines = []          # everything printed, for results.json's output
        self.notes = []          # what the running test noted (Context.note)
        self.ctx = None          # the running QEMU test's Context (its trace pages)
        self.records = []

    def say(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    # ---- steps ----

    def build(self, kinds):
        t0 = time.time()
        targets = ["all"]
        if "cm3" in kinds:
            targets.append("cm3")
        cmds = [["make", "-s", "-j2", "SETUP=grade"] + targets]
        if "host" in kinds:
            cmds.append(["make", "-s", "-C", "tests/host", "all"])
        for cmd in cmds:
            p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            if p.returncode != 0:
                errors = [l for l in p.stdout.split("\n") if "error" in l.lower()]
                shown = "\n".join(errors[:15]) if errors else gradelib.tail(p.stdout, 20)
                with open(os.path.join(self.logdir, "build.log"), "w") as f:
                    f.write(" ".join(cmd) + "\n\n" + p.stdout)
                return "the build failed (`%s`):\n%s" % (" ".join(cmd), shown), time.time() - t0
        return None, time.time() - t0

    def calibrate(self):
        """Boot the kernel once; set the timeout scale from how long it took."""
        ctx = gradelib.Context(self, gradelib.Test(self.lab, "boot", 0, "", "qemu", BOOT_CAP))
        t0 = time.time()
        try:
            g = gradelib.Guest(ctx, qemu.fresh_disk("boot"), "boot")
        except OSError as e:
            return None, "cannot start QEMU: %s" % e
        try:
            secs = g.boot(BOOT_CAP)
        except QemuError as e:
            return time.time() - t0, "%s\n(the whole console: %s)" % (
                e, os.path.relpath(os.path.join(self.logdir, "boot.log"), ROOT))
        finally:
            g.kill()
        self.scale = max(1.0, secs / REF_BOOT)
        return secs, None

    def run_test(self, test):
        t0 = time.time()
        log = os.path.join(self.logdir, test.name + ".log")
        out = ""
        try:
            if test.kind == "host":
                ok, why, out = gradelib.run_host(self, test)
                with open(log, "w") as f:
                    f.write(out)
            else:
                ctx = gradelib.Context(self, test)
                self.notes = ctx.notes
                self.ctx = ctx
                self.remove_traces(test)
                test.fn(ctx)
                ok, why = True, ""
        except (TestFailure, AssertionError, QemuError) as e:
            ok, why = False, str(e) or type(e).__name__
        except Exception as e:  # a bug in a test must not stop the others
            ok, why = False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())
        if test.kind != "host" and os.path.isfile(log):
            with open(log, errors="replace") as f:
                out = gradelib.without_trace_dumps(f.read())
        return ok, why, out, time.time() - t0

    def remove_traces(self, test):
        """A page left by an earlier run is not this run's: remove them."""
        for n in os.listdir(self.logdir):
            if re.fullmatch(r"%s(\.\d+)?-trace" % re.escape(test.name), n):
                shutil.rmtree(os.path.join(self.logdir, n))

    def trace_lines(self, test, ctx):
        """The lines that point at a failed QEMU test's trace pages, or
        say why there is none."""
        if test.kind != "qemu" or not self.lab.trace:
            return []
        lines = []
        for path, why in ctx.traces if ctx else []:
            if path:
                lines.append("ring trace: " + os.path.relpath(path, ROOT))
            else:
                lines.append("ring trace: none: " + why)
        if lines:
            return lines
        if ctx and ctx.stopped:
            why = "the test failed after its machine had stopped"
        elif ctx and ctx.booted:
            why = "the test typed no labtest command before it failed"
        else:
            why = "the kernel did not reach its shell"
        return ["ring trace: none: " + why]

    # ---- reporting ----

    def report(self, test, ok, why, out, secs):
        score = test.points if ok else 0
        dots = "." * max(2, 34 - len(test.name))
        self.say("%s %s %3d/%-3d %5.1fs  %s" % (test.name, dots, score, test.points, secs,
                                               "ok" if ok else "FAILED"))
        for n in self.notes:
            self.say("    " + n)
        detail = "\n".join(self.notes)
        if detail:
            detail += "\n"
        if not ok:
            why_line = "why: " + why.strip().replace("\n", "\n     ")
            self.say("    " + why_line.replace("\n", "\n    "))
            detail = why_line + ("\n" + detail if detail else "")
            for l in self.trace_lines(test, self.ctx):
                self.say("    " + l)
                detail += ("\n" if detail.endswith("\n") else "\n\n") + l
            logrel = os.path.relpath(os.path.join(self.logdir, test.name + ".log"), ROOT)
            if out.strip():
                last = gradelib.tail(gradelib.without_leak_reports(out), LOG_TAIL)
                self.say("    last lines of %s:" % logrel)
                for l in last.split("\n"):
                    self.say("    | " + l)
                detail += "\n\nlast lines of %s:\n%s" % (logrel, last)
        self.records.append({
            "name": "%s: %s" % (test.name, test.what),
            "score": score,
            "max_score": test.points,
            "status": "passed" if ok else "failed",
            "output": ("passed (%.1fs)" % secs + ("\n" + detail if detail else "")) if ok else detail,
            "visibility": "visible",
        })

    def write_results(self, score, total, secs):
        res = {
            "score": score,
            "execution_time": int(round(secs)),
            "output": "\n".join(self.lines),
            "visibility": "visible",
            "stdout_visibility": "visible",
            "tests": self.records,
        }
        os.makedirs(os.path.dirname(os.path.abspath(self.results_path)), exist_ok=True)
        with open(self.results_path, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")

    def grade(self, chosen):
        t_all = time.time()
        os.makedirs(self.logdir, exist_ok=True)
        qemu.OUT = self.logdir          # transcripts and disk copies land here
        qemu.claim_outdir("make grade")
        lab = self.lab
        tests = [t for t in lab.tests if not chosen or t.name in chosen]
        unknown = [c for c in chosen if c not in [t.name for t in lab.tests]]
        if unknown:
            raise SystemExit("grade: lab %s has no test %s (tests: %s)"
                             % (lab.name, ", ".join(unknown), ", ".join(t.name for t in lab.tests)))
        total = sum(t.points for t in tests)
        self.say("== lab %s: %s (%d tests, %d points)" % (lab.name, lab.title, len(tests), total))

        tampered = check_release(lab)
        if tampered is None:
            self.say("grading files: no release record here (the solution tree)")
        elif any(tampered):
            changed, missing, added = tampered
            self.say("grading files: CHANGED since the release; this grade does not count:")
            for what, names in (("changed", changed), ("missing", missing), ("added", added)):
                for n in names:
                    self.say("    %s: %s" % (what, n))
            self.say("    (git checkout those files, or compare with git diff)")
        else:
            self.say("grading files: as released")

        kinds = set(t.kind for t in tests)
        failure = None
        if self.do_build:
            failure, secs = self.build(kinds)
            self.say("build %s %s (%.1fs)" % ("." * 29, "FAILED" if failure else "ok", secs))
        if failure is None and kinds & {"qemu", "cm3"}:
            secs, why = self.calibrate()
            if why:
                self.boot_failure = why
                self.say("boot %s FAILED: the kernel's QEMU tests cannot pass"
                         % ("." * 30))
                self.say("    " + why.replace("\n", "\n    "))
            else:
                self.say("boot %s %.2fs (timeouts x%.1f)" % ("." * 30, secs, self.scale))

        score = 0
        for t in tests:
            self.notes = []
            self.ctx = None
            if failure:
                ok, why, out, secs = False, failure, "", 0.0
            elif self.boot_failure and t.kind == "qemu":
                ok, why, out, secs = False, self.boot_failure, "", 0.0
            else:
                ok, why, out, secs = self.run_test(t)
            self.report(t, ok, why, out, secs)
            score += t.points if ok else 0
        secs = time.time() - t_all
        counted = tampered is None or not any(tampered)
        self.say("Score: %d/%d  (%.1fs in all)%s" % (score, total, secs,
                 "" if counted else "  -- not valid: grading files changed"))
        self.write_results(score, total, secs)
        self.say("results: %s" % os.path.relpath(os.path.abspath(self.results_path), ROOT))
        return 0 if score == total and counted else 1


def main():
    args = sys.argv[1:]
    results = os.environ.get("LAB_RESULTS")
    build = True
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--results" and i + 1 < len(args):
            results = args[i + 1]
            i += 2
            continue
        if args[i] == "--no-build":
            build = False
        elif args[i].startswith("-"):
            print(__doc__)
            return 2
        else:
            rest.append(args[i])
        i += 1
    labs_dir = os.path.join(ROOT, "labs")
    if rest and os.path.isfile(os.path.join(labs_dir, rest[0], "grade.py")):
        name, chosen = rest[0], rest[1:]
    else:
        name, chosen = release_lab(), rest
        if name is None:
            print("grade: which lab? `make grade LAB=NAME` (labs/README.md lists them)")
            return 2
    lab = load_lab(name)
    if results is None:
        results = os.path.join(ROOT, "tests", "out", "grade", name, "results.json")
    return Grader(lab, results, build).grade(chosen)


if __name__ == "__main__":
    sys.exit(main())
