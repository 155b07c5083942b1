#!/usr/bin/env python3
"""autograder.py: a lab's Gradescope autograder, and what it does there.

    python3 tools/labs/autograder.py LAB [ZIP]     (make autograder LAB=vq [DEST=f.zip])
    python3 tools/labs/autograder.py --run         (what run_autograder calls)

The zip holds what Gradescope asks for at its top, and the release:
    setup.sh         run once on Gradescope's Ubuntu image, as root: installs
                     the Debian packages through the lab's own
                     scripts/setup.sh (`setup.sh grade`: compilers, QEMU,
                     OpenSBI, python3; no debugger or browser)
    run_autograder   run for each submission: calls `autograder.py --run`
    release/         the lab's starter as `make lab` cuts it, whose grading
                     files (labs/LAB/release.json lists them) are laid over
                     every submission, so a submission cannot change its tests
Gradescope unpacks the zip into /autograder/source and puts a submission in
/autograder/submission (a GitHub or Bitbucket upload: the repository; a zip
upload: its files, maybe under one folder). --run copies the submission to
/autograder/work, lays the release's grading files over it, runs
`tools/labs/grade.py LAB --results /autograder/results/results.json` there,
and makes sure results.json exists even when something before the grader
fails (no submission, a tree without a Makefile). AUTOGRADER_ROOT replaces
/autograder (the tests run the zip in a scratch directory that way).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SETUP_SH = """#!/bin/sh
# setup.sh: Gradescope runs this once, as root, on its Ubuntu image when the
# autograder is built. It installs what building and grading the lab needs,
# through the lab's own scripts/setup.sh (the same script `make` uses).
set -e
cd "$(dirname "$0")/release"
sh scripts/setup.sh grade
"""

RUN_AUTOGRADER = """#!/bin/sh
# run_autograder: Gradescope runs this for every submission. The grading
# itself is tools/labs/autograder.py --run from the release this zip holds;
# it always leaves $AUTOGRADER_ROOT/results/results.json behind.
cd "$(dirname "$0")"
exec python3 release/tools/labs/autograder.py --run
"""


def build_zip(lab, out):
    import cut
    tmp = tempfile.mkdtemp(prefix="autograder-")
    try:
        release = os.path.join(tmp, "release")
        cut.cut(lab, release, quiet=True)
        shutil.rmtree(os.path.join(release, ".git"))
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, text)
            for dirpath, dirnames, filenames in os.walk(release):
                dirnames.sort()
                for fn in sorted(filenames):
                    path = os.path.join(dirpath, fn)
                    rel = os.path.relpath(path, tmp)
                    z.write(path, rel)
    finally:
        shutil.rmtree(tmp)
    return out


# ---- on Gradescope ----

def fail_results(path, why):
    """A results.json that says why nothing could be graded."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"score": 0, "execution_time": 0, "visibility": "visible",
                   "stdout_visibility": "visible", "output": why, "tests": []}, f, indent=1)
        f.write("\n")


def find_tree(sub):
    """The submitted tree: the submission itself, or its one folder that
    holds a Makefile (a zip of the repository's folder)."""
    if os.path.isfile(os.path.join(sub, "Makefile")):
        return sub
    dirs = [d for d in os.listdir(sub) if os.path.isdir(os.path.join(sub, d))
            and not d.startswith(".")]
    if len(dirs) == 1 and os.path.isfile(os.path.join(sub, dirs[0], "Makefile")):
        return os.path.join(sub, dirs[0])
    return None


def leftovers(top, d, names):
    """What not to copy from a submission: git's store and build outputs."""
    rel = os.path.relpath(d, top)
    skip = {".git"}
    if rel == ".":
        skip |= {"build", "fs.img"}
    if rel == "tests":
        skip.add("out")
    return [n for n in names if n in skip]


def run():
    root = os.environ.get("AUTOGRADER_ROOT", "/autograder")
    release = os.path.join(root, "source", "release")
    results = os.path.join(root, "results", "results.json")
    work = os.path.join(root, "work")
    labs = [n for n in os.listdir(os.path.join(release, "labs"))
            if os.path.isfile(os.path.join(release, "labs", n, "release.json"))]
    if len(labs) != 1:
        fail_results(results, "the autograder's release holds no lab (a broken autograder zip)")
        return 0
    lab = labs[0]
    with open(os.path.join(release, "labs", lab, "release.json")) as f:
        record = json.load(f)
    tree = find_tree(os.path.join(root, "submission"))
    if tree is None:
        fail_results(results, "No lab tree found in the submission: submit the whole repository "
                     "of your lab %s starter (the folder with the Makefile), from GitHub or "
                     "as a zip." % lab)
        return 0
    if os.path.exists(work):
        shutil.rmtree(work)
    shutil.copytree(tree, work, symlinks=True, ignore=lambda d, names: leftovers(tree, d, names))
    # The release's grading files replace whatever the submission has.
    replaced = []
    for rel in list(record["files"]) + ["labs/%s/release.json" % lab]:
        src = os.path.join(release, rel)
        dst = os.path.join(work, rel)
        if os.path.isfile(dst):
            with open(src, "rb") as a, open(dst, "rb") as b:
                if a.read() != b.read():
                    replaced.append(rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
    if replaced:
        print("autograder: the release's copies replace these changed grading files: %s"
              % ", ".join(replaced), flush=True)
    p = subprocess.run([sys.executable, os.path.join("tools", "labs", "grade.py"), lab,
                        "--results", results], cwd=work)
    if not os.path.isfile(results):
        fail_results(results, "The grader stopped (exit status %d) before writing results; "
                     "its output is above." % p.returncode)
    return 0


def main():
    args = sys.argv[1:]
    if args == ["--run"]:
        return run()
    if len(args) not in (1, 2) or args[0].startswith("-"):
        print(__doc__)
        return 2
    lab = args[0]
    out = args[1] if len(args) == 2 else os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "build", "labs", "%s-autograder.zip" % lab)
    build_zip(lab, out)
    print("lab %s: the Gradescope autograder (setup.sh, run_autograder, the release)" % lab)
    print(os.path.abspath(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
