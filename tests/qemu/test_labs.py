"""Tests of the lab system (labs/, tools/labs/): the markers, the cutter,
the grader's word and results, the Gradescope autograder, and the
instructors' proof that every starter fails its tests for the reasons its
handout predicts while the solution passes them.

    python3 tests/run_tests.py labs          all of them (a few minutes:
                                             labs_proof builds and grades
                                             every starter)
    make check-labs                          the proof alone, with its details
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABTOOLS = os.path.join(ROOT, "tools", "labs")
sys.path.insert(0, LABTOOLS)
import markers  # noqa: E402

# Marker lines are built from pieces, so that this file holds none itself.
O, S, C = "// " + ">" * 3 + " lab ", "// " + "=" * 3 + " stub", "// " + "<" * 3 + " lab "


def parse_error(text, labs=("vq", "rng")):
    """The MarkerError message for a C file holding text, or None."""
    try:
        markers.parse("x.c", text.split("\n"), list(labs))
    except markers.MarkerError as e:
        return str(e)
    return None


def test_labs_markers_refused():
    """Unbalanced, wrongly nested, unknown-lab and malformed markers are refused with file:line."""
    cases = [
        (O + "vq: a\nint x;\n", "x.c:1: region of lab vq is never closed"),
        ("int x;\n" + C + "vq\n", "x.c:2: closing marker of lab vq without an open region"),
        (O + "vq: a\n" + O + "rng: b\n" + C + "vq\n" + C + "rng\n",
         "x.c:3: closing marker of lab vq, but the innermost open region is lab rng"),
        (O + "vq: a\n" + O + "vq: b\n" + C + "vq\n" + C + "vq\n",
         "x.c:2: region of lab vq opened inside another region of lab vq"),
        (O + "net: a\n" + C + "net\n", "x.c:1: unknown lab 'net'"),
        (O + "vq: a\nint x;\n" + S + "\nreturn 0;\n" + C + "vq\n",
         "x.c:4: stub line of lab vq is not a '//' comment"),
        (S + "\n", "x.c:1: stub marker outside any region"),
        (O + "vq: a\n" + S + "\n" + S + "\n" + C + "vq\n", "x.c:3: second stub marker"),
        (O + "vq\n" + C + "vq\n", "x.c:1: opening marker does not read"),
        ("# " + ">" * 3 + " lab vq: a\n", "x.c:1: marker uses '#' in a file commented with '//'"),
    ]
    for text, want in cases:
        got = parse_error(text)
        assert got is not None and got.startswith(want), \
            "for:\n%s\nwanted %r, got %r" % (text, want, got)
    # Properly nested regions of two labs, and a rule line, are fine.
    ok = (O + "vq: a\n" + O + "rng: b\nint y;\n" + C + "rng\n" + S + "\n// return 0;\n" + C +
          "vq\n// ==========\n")
    assert parse_error(ok) is None, parse_error(ok)


def test_labs_cut_lines():
    """Cutting replaces a lab's regions by their stubs and keeps other labs' solutions."""
    lines = ["int f(void)", "{", "  " + O + "vq: write f", "  int a = 1;", "  " + O + "rng: inner",
             "  a += 2;", "  " + C + "rng", "  return a;", "  " + S, "  // return -1;",
             "  // // a hint", "  " + C + "vq", "}", O + "rng: g", "int g;", C + "rng"]
    regions = markers.parse("f.c", lines, ["vq", "rng"])
    vq, removed, stubs = markers.cut_lines(lines, regions, "vq")
    assert vq == ["int f(void)", "{", "  // TODO lab vq: write f", "  return -1;",
                  "  // a hint", "}", "int g;"], vq
    assert "  a += 2;" in removed and "  return a;" in removed, removed
    rng, _, _ = markers.cut_lines(lines, regions, "rng")
    assert rng == ["int f(void)", "{", "  int a = 1;", "  // TODO lab rng: inner",
                   "  return a;", "}", "// TODO lab rng: g"], rng


def test_labs_starters():
    """Every lab's starter: no marker left, its stubs in place, its own lab folder only, a
    release record, a workflow, one git commit, and the solution-text check in force."""
    import cut
    found = markers.scan()
    labs = markers.known_labs()
    assert {"vq", "rng", "blk", "net", "console", "devmodel", "evidx"} <= set(labs), labs
    tmp = tempfile.mkdtemp(prefix="labs-starters-")
    try:
        for lab in labs:
            dest = os.path.join(tmp, lab)
            cut.cut(lab, dest, found=found, quiet=True)
            nregions = sum(1 for _, regs in found.values() for r in regs if r.lab == lab)
            todos = 0
            for rel in markers.walk_files(dest):
                if rel.startswith("tools/labs/") or markers.comment_prefix(rel) is None:
                    continue
                text = open(os.path.join(dest, rel), encoding="utf-8", errors="replace").read()
                assert not any(markers.MARK.match(l) for l in text.split("\n")), \
                    "%s starter: a marker is left in %s" % (lab, rel)
                if rel in found:
                    todos += text.count("TODO lab %s:" % lab)
            assert todos == nregions, "%s starter: %d TODO lines for %d regions" % (lab, todos, nregions)
            for need in ("labs/%s/README.md" % lab, "labs/%s/grade.py" % lab,
                         "labs/%s/release.json" % lab, "labs/README.md",
                         ".github/workflows/grade.yml", "user/labtest.c",
                         # what a failing QEMU test's trace page is made with
                         "user/vtrace.c", "kernel/glue/vtrace.c", "tools/trace/records.py",
                         "tools/trace/ring.py", "tools/trace/vtrace.py", "tools/trace/trace.js",
                         "tools/trace/trace.css", "tools/trace/pagecheck.py"):
                assert os.path.isfile(os.path.join(dest, need)), "%s starter lacks %s" % (lab, need)
            for gone in ("tests/qemu/test_labs.py", "tools/labs/checklabs.py"):
                assert not os.path.exists(os.path.join(dest, gone)), "%s starter holds %s" % (lab, gone)
            for other in labs:
                if other != lab:
                    assert not os.path.exists(os.path.join(dest, "labs", other)), \
                        "%s starter holds lab %s" % (lab, other)
            log = subprocess.run(["git", "log", "--oneline"], cwd=dest, stdout=subprocess.PIPE,
                                 text=True).stdout.strip().split("\n")
            assert len(log) == 1, "%s starter has %d commits" % (lab, len(log))
            record = json.load(open(os.path.join(dest, "labs", lab, "release.json")))
            assert record["lab"] == lab and "tests/host/test_ring.c" in record["files"], record
            # A line of the solution slipped into the starter is found.
            full, code, n = cut.solution_text(found, markers.tree_files(), lab)
            assert n > 0 and full, "%s: no solution text to look for" % lab
            leak = sorted(code)[0]
            with open(os.path.join(dest, "labs", lab, "README.md"), "a") as f:
                f.write("\n    " + leak + "\n")
            hits = cut.check_no_solution(dest, full, code)
            assert hits and "README.md" in hits[0], "%s: a leaked %r was not found" % (lab, leak)
    finally:
        shutil.rmtree(tmp)


def test_labs_grader_word():
    """A host test's PASS counts only with the grader's word for this run."""
    import gradelib

    class G:
        word = gradelib.new_word()
        scale = 1.0
    tmp = tempfile.mkdtemp(prefix="labs-word-")
    try:
        fake = os.path.join(tmp, "fake")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'PASS: one'\necho 'PASS labwrongword: two'\n"
                    "echo \"PASS $3: three\"\n")
        os.chmod(fake, 0o755)
        ok, why, _ = gradelib.run_host_program(G, fake, ["three"], 10)
        assert ok, why
        for name in ("one", "two"):
            ok, why, _ = gradelib.run_host_program(G, fake, [name], 10)
            assert not ok and "crashed" in why, (name, why)
    finally:
        shutil.rmtree(tmp)


# Bugs students made that the grader once let through, each as a change to
# the solution: (what, file, the solution's text, the bug's text, lab, test,
# a piece of the reason the grader must give). The bug's test must fail,
# for that reason.
MUTANTS = [
    ("a used.len check off by one (>=): a proper completion refused",
     "virtio/virtq.c", "if (n > vq->writable[id])", "if (n >= vq->writable[id])",
     "vq", "checks", "broken: used.len larger than the chain's writable buffers"),
    ("free_chain walks the descriptors' next, which the device may rewrite",
     "virtio/virtq.c", "    d = vq->link[d];\n  vq->link[d] = vq->free_head;",
     "    d = vq->desc[d].next;\n  vq->link[d] = vq->free_head;",
     "vq", "free_list", "ring_free_list_scribbled"),
    ("the used.idx run-ahead check in int arithmetic, without the uint16_t difference",
     "virtio/virtq.c",
     "  uint16_t pending = (uint16_t)(used_idx - vq->last_used);\n  if (pending > vq->outstanding) {",
     "  if (used_idx - vq->last_used > vq->outstanding) {",
     "vq", "checks", "across the 65536 wrap"),
    ("vblk_rw waits for a slot but not for room in the queue",
     "virtio/virtio_blk.c",
     "while (usable(vb) && (vb->nslot_free == 0 || !virtq_room(&vb->vq, 3)))",
     "while (usable(vb) && vb->nslot_free == 0)",
     "blk", "many", "no room in the queue for its 3 descriptors"),
]


def test_labs_graders_catch_known_bugs():
    """Bugs that once scored full marks now fail their lab's test, each with a
    reason that names it: the solution with one of them put in, its host tests
    rebuilt in a copy of the tree (only the changed file is compiled again) and
    run as the grader runs them."""
    import grade
    import gradelib
    tmp = tempfile.mkdtemp(prefix="labs-mutants-")
    try:
        for d in ("virtio", "devmodel", "net", "tests/host", "build/host"):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(tmp, d), symlinks=True,
                            copy_function=shutil.copy2)

        class G:
            word = gradelib.new_word()
            scale = 1.0
        saved = gradelib.HOST_BUILD
        gradelib.HOST_BUILD = os.path.join(tmp, "build", "host")
        try:
            for what, rel, good, bad, lab_name, test_name, reason in MUTANTS:
                path = os.path.join(tmp, rel)
                with open(path) as f:
                    text = f.read()
                assert text.count(good) == 1, "%s: %r is not in %s once" % (what, good, rel)
                with open(path, "w") as f:
                    f.write(text.replace(good, bad))
                test = next(t for t in grade.load_lab(lab_name).tests if t.name == test_name)
                exes = ["../../build/host/" + prog for prog, _ in test.programs]
                p = subprocess.run(["make", "-s", "-C", os.path.join(tmp, "tests", "host")] + exes,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                assert p.returncode == 0, "%s: the build failed:\n%s" % (what, p.stdout[-2000:])
                ok, why, _ = gradelib.run_host(G, test)
                assert not ok and reason in why, \
                    "%s: lab %s test %s %s" % (what, lab_name, test_name,
                                                "passed" if ok else "failed for another reason: " + why)
                with open(path, "w") as f:
                    f.write(text)
        finally:
            gradelib.HOST_BUILD = saved
    finally:
        shutil.rmtree(tmp)


def test_labs_autograder_zip():
    """make autograder's zip: setup.sh and run_autograder at the top, the release inside;
    run as Gradescope runs it on a submission without a lab tree, it still writes a
    results.json in Gradescope's format."""
    import autograder
    import grade
    import zipfile
    tmp = tempfile.mkdtemp(prefix="labs-autograder-")
    try:
        z = os.path.join(tmp, "rng.zip")
        autograder.build_zip("rng", z)
        with zipfile.ZipFile(z) as f:
            names = f.namelist()
            for script in ("setup.sh", "run_autograder"):
                assert script in names, names[:5]
                assert (f.getinfo(script).external_attr >> 16) & 0o111, script + " not executable"
            assert "release/labs/rng/release.json" in names and \
                "release/scripts/setup.sh" in names, "the release is missing"
            root = os.path.join(tmp, "ag")
            f.extractall(os.path.join(root, "source"))
        os.makedirs(os.path.join(root, "submission", "notes"))
        os.makedirs(os.path.join(root, "results"))
        p = subprocess.run(["sh", os.path.join(root, "source", "run_autograder")],
                           env=dict(os.environ, AUTOGRADER_ROOT=root), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        res = json.load(open(os.path.join(root, "results", "results.json")))
        assert not grade.results_problems(res), grade.results_problems(res)
        assert res["score"] == 0 and "No lab tree found" in res["output"], (res, p.stdout)
    finally:
        shutil.rmtree(tmp)


def test_labs_proof(progress):
    """make check-labs: each starter builds, fails every test for the handout's reason; the
    solution scores full marks (the starters and logs stay in build/labs/check/)."""
    progress("cutting, building and grading every lab's starter and the solution")
    p = subprocess.run([sys.executable, os.path.join(LABTOOLS, "checklabs.py")], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failed = [l for l in p.stdout.split("\n") if l.startswith("FAIL") or l.startswith("      ")]
    assert p.returncode == 0, "checklabs:\n" + ("\n".join(failed) or p.stdout[-3000:])
    progress(p.stdout.strip().split("\n")[-1])
