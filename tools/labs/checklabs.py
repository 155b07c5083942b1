#!/usr/bin/env python3
"""checklabs.py: the instructors' proof that the labs work (make check-labs;
.ci/run runs it after make check).

For every lab:
  1. its handout's table of tests (labs/NAME/README.md, "What the grader
     tests") names exactly the tests of labs/NAME/grade.py with their points;
  2. its starter is cut (tools/labs/cut.py: no solution text survives),
     with a copy of the solution's build/ (built once, first), so that its
     build compiles only what the starter changed;
  3. the starter builds and is graded with the grader it carries: the score
     is below full marks, every test fails, and each for the reason its
     row of the handout predicts; the kernel boots where the lab says it
     does (Lab.starter_boots), and does not where it says it does not;
     where it boots, each failed QEMU test left the ring's trace page
     (Lab.trace), which tools/trace/pagecheck.py accepts;
  4. the solution tree, graded the same way, scores full marks.
One line per check, then "labs: N passed, N failed"; exit status 0 only if
all passed. Starters and their logs are kept in build/labs/check/.

    python3 tools/labs/checklabs.py [LAB...]
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import markers  # noqa: E402
from markers import ROOT  # noqa: E402

WORK = os.path.join(ROOT, "build", "labs", "check")
ROW = re.compile(r"^\|\s*`([a-z0-9_]+)`\s*\|\s*(\d+)\s*\|(.*)\|\s*`([^`]+)`\s*\|\s*$")

results = []
trace_pages = []     # the starters' trace pages pagecheck accepted


def report(ok, what, why="", secs=None):
    results.append(ok)
    line = "%s: %s" % ("PASS" if ok else "FAIL", what)
    if secs is not None:
        line += " (%.1fs)" % secs
    if not ok and why:
        line += "\n      " + why.strip().replace("\n", "\n      ")
    print(line, flush=True)


def handout_table(lab_name):
    """{test: (points, predicted reason)} from the handout's table."""
    path = os.path.join(ROOT, "labs", lab_name, "README.md")
    rows = {}
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ROW.match(line.rstrip("\n"))
            if m:
                rows[m.group(1)] = (int(m.group(2)), m.group(4))
    return rows


def reasons(results_json):
    """{test: (status, the reason line(s))} from a results.json, which must
    follow Gradescope's format."""
    import grade as grader
    with open(results_json) as f:
        res = json.load(f)
    problems = grader.results_problems(res)
    report(not problems, "%s follows Gradescope's results format" %
           os.path.relpath(results_json, ROOT), "\n".join(problems))
    out = {}
    for t in res["tests"]:
        name = t["name"].split(":")[0]
        why = t["output"]
        if why.startswith("why: "):
            why = why[len("why: "):].split("\n\nlast lines of")[0]
        out[name] = (t["status"], why)
    return res, out


def grade(tree, lab, results_json):
    """Run the grader of `tree` on lab; (exit status, its output)."""
    if os.path.exists(results_json):
        os.remove(results_json)
    p = subprocess.run([sys.executable, os.path.join("tools", "labs", "grade.py"), lab,
                        "--results", results_json], cwd=tree, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def build_solution():
    """Build the solution tree once, everything any lab's grader builds
    (the kernel and fs.img, the Cortex-M3 image, the host tests): the
    solution's grading then finds it done, and every starter starts from
    a copy of it (seed_build)."""
    t0 = time.time()
    for cmd in (["make", "-s", "-j2", "SETUP=grade", "all", "cm3"],
                ["make", "-s", "-C", "tests/host", "all"]):
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode != 0:
            report(False, "the solution tree builds", " ".join(cmd) + "\n" + p.stdout[-3000:])
            return False
    report(True, "the solution tree builds", secs=time.time() - t0)
    return True


def seed_build(dest):
    """Give a starter a copy of the solution's build/ (not build/labs),
    times kept. make then rebuilds exactly what the starter changed: the
    cutter wrote the files it changed anew, so they are younger than every
    copied output, while the files it copied unchanged kept the solution's
    times. What the starter's build compiles is still all its own code:
    every object of a file that differs from the solution is rebuilt."""
    src = os.path.join(ROOT, "build")
    dst = os.path.join(dest, "build")
    shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2,
                    ignore=lambda d, names: ["labs"] if os.path.samefile(d, src) else [])


def check_trace_pages(lab_name, test_name, tree, res):
    """A failing QEMU test of a starter that boots leaves the ring's trace
    page in its log folder, names it in its failure, and the trace tools'
    checker (tools/trace/pagecheck.py) accepts it: it holds the recording,
    with steps, and its replay found nothing inconsistent."""
    sys.path.insert(0, os.path.join(ROOT, "tools", "trace"))
    import pagecheck
    out = next((t["output"] for t in res["tests"] if t["name"].split(":")[0] == test_name), "")
    pages = re.findall(r"^ring trace: (\S+/index\.html)$", out, re.M)
    want = "tests/out/grade/%s/%s-trace/index.html" % (lab_name, test_name)
    # No page, for a reason that is the test's or the starter's, not the
    # tools': no queue set up, a machine that no longer answers (a program
    # still running), a failure after the machine stopped or before any
    # command. "could not be read" is the tools' fault: it fails here.
    none = re.search(r"^ring trace: none: (no queue of \S+ was recorded|the guest did not print "
                     r"its recording|the test failed after its machine had stopped|the test "
                     r"typed no labtest command)", out, re.M)
    if not pages and none:
        report(True, "%s: starter test %s: no trace page, and it says why (%s)"
               % (lab_name, test_name, none.group(1)))
        return
    lines = []
    ok = bool(pages) and pages[0] == want
    for p in pages:
        good, line = pagecheck.check(os.path.join(tree, p))
        ok &= good
        lines.append(line)
    report(ok, "%s: starter test %s leaves a trace page the trace tools accept (%s)"
           % (lab_name, test_name, want),
           "\n".join(lines) or "no \"ring trace: %s\" line in its output:\n%s" % (want, out[-1500:]))
    if ok:
        trace_pages.append(pagecheck.steps(pagecheck.load(os.path.join(tree, want))))


def check_lab(name):
    import grade as grader
    lab = grader.load_lab(name)
    total = lab.total()

    # 1. the handout and the grading definition agree
    table = handout_table(name)
    tests = {t.name: t.points for t in lab.tests}
    if table is None:
        report(False, "%s: handout" % name, "labs/%s/README.md is missing" % name)
        return
    ok = set(table) == set(tests) and all(table[n][0] == tests[n] for n in tests)
    report(ok, "%s: the handout's table lists the %d tests and their points (%d in all)"
           % (name, len(tests), total),
           "handout: %s\ngrade.py: %s" % (sorted((n, p) for n, (p, _) in table.items()),
                                         sorted(tests.items())))
    if total != 100:
        report(False, "%s: points" % name, "the tests add up to %d, not 100" % total)

    # 2. the starter
    dest = os.path.join(WORK, name)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    t0 = time.time()
    p = subprocess.run([sys.executable, os.path.join(HERE, "cut.py"), name, dest],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    report(p.returncode == 0, "%s: the starter is cut, no solution text in it" % name,
           p.stdout, time.time() - t0)
    if p.returncode != 0:
        return
    print("      " + p.stdout.strip().split("\n")[0], flush=True)
    seed_build(dest)

    # 3. the starter fails every test for the handout's reason
    t0 = time.time()
    res_json = os.path.join(WORK, name + "-starter.json")
    code, out = grade(dest, name, res_json)
    secs = time.time() - t0
    with open(os.path.join(WORK, name + "-starter.log"), "w") as f:
        f.write(out)
    if not os.path.isfile(res_json):
        report(False, "%s: the starter is graded" % name, out[-3000:], secs)
        return
    res, got = reasons(res_json)
    built = re.search(r"^build \.+ ok", out, re.M) is not None
    report(built, "%s: the starter builds" % name, out[-2000:])
    booted = re.search(r"^boot \.+ [0-9.]+s", out, re.M) is not None
    if any(t.kind == "qemu" for t in lab.tests):
        report(booted == lab.starter_boots, "%s: the starter's kernel %s" %
               (name, "boots" if lab.starter_boots else "does not boot (the lab's code is the disk's path)"),
               "\n".join(l for l in out.split("\n") if l.startswith("boot")))
    report(code == 1 and res["score"] < total,
           "%s: the starter scores %s/%d and the grader exits %d" % (name, res["score"], total, code),
           out[-2000:], secs)
    for t in lab.tests:
        status, why = got.get(t.name, ("missing", "not in results.json"))
        predicted = table.get(t.name, (0, "(no row in the handout)"))[1]
        report(status == "failed" and predicted in why,
               "%s: starter test %s fails as the handout predicts" % (name, t.name),
               "handout predicts: %s\ngrader said (%s): %s" % (predicted, status, why))
        if t.kind == "qemu" and lab.trace and lab.starter_boots and status == "failed":
            check_trace_pages(name, t.name, dest, res)

    # 4. the solution tree passes
    t0 = time.time()
    res_json = os.path.join(WORK, name + "-solution.json")
    code, out = grade(ROOT, name, res_json)
    with open(os.path.join(WORK, name + "-solution.log"), "w") as f:
        f.write(out)
    score = reasons(res_json)[0]["score"] if os.path.isfile(res_json) else None
    report(code == 0 and score == total, "%s: the solution scores %s/%d" % (name, score, total),
           out[-3000:], time.time() - t0)


def main():
    wanted = sys.argv[1:]
    labs = markers.known_labs()
    for w in wanted:
        if w not in labs:
            print("checklabs: no lab %r (labs: %s)" % (w, ", ".join(labs)))
            return 2
    try:
        markers.scan()
        report(True, "markers: every marked region is balanced and names a lab")
    except markers.MarkerError as e:
        report(False, "markers", str(e))
        return 1
    os.makedirs(WORK, exist_ok=True)
    if not build_solution():
        return 1
    for name in wanted or labs:
        check_lab(name)
    import grade as grader
    if any(grader.load_lab(n).trace and grader.load_lab(n).starter_boots and
           any(t.kind == "qemu" for t in grader.load_lab(n).tests) for n in wanted or labs):
        report(any(n > 0 for n in trace_pages), "failing starter tests left %d trace pages the "
               "trace tools accept, %d of them with steps" % (len(trace_pages),
                                                              sum(1 for n in trace_pages if n > 0)),
               "no starter's failing QEMU test left a page with steps")
    passed = sum(1 for r in results if r)
    print("labs: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
