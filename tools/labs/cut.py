#!/usr/bin/env python3
"""cut.py: cut a lab's starter out of the solution tree.

    python3 tools/labs/cut.py LAB DEST      (make lab LAB=vq DEST=dir)
    python3 tools/labs/cut.py --all DEST    (make labs DEST=dir: DEST/NAME for each lab)

A starter is a self-contained tree, a git repository with one commit, that
a student can clone or push:
  - every file of this tree (as git lists it, new files included), with
    LAB's marked regions replaced by their stubs and every other lab's
    markers removed, its solution kept (tools/labs/markers.py);
  - labs/README.md and labs/LAB/ only (no other lab's handout or tests),
    and not the instructors' proof (tests/qemu/test_labs.py, checklabs.py);
  - labs/LAB/release.json: the SHA-256 of every grading file, which
    `make grade` compares its own files with;
  - .github/workflows/grade.yml: GitHub Actions runs `make grade` on every
    push and fails when a point is missing;
  - a first paragraph in README.md saying which lab this is.
Nothing of LAB's solution may survive: every line removed from a region
that has at least SIGNIFICANT non-blank characters, and occurs nowhere in
the solution tree outside LAB's regions nor in LAB's stubs, is looked for
in every file of the starter (with and without its trailing comment,
whitespace ignored); one found is an error naming file:line. The last line
printed is the starter's path.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import markers  # noqa: E402
from markers import ROOT, MarkerError  # noqa: E402

WORKFLOW = os.path.join(HERE, "grade-workflow.yml")


def load_lab(name):
    import grade
    return grade.load_lab(name)


# The instructors' proof stays in the solution tree: in a starter there is
# nothing to cut, and the starter's own tests are the lab's.
INSTRUCTORS_ONLY = ("tests/qemu/test_labs.py", "tools/labs/checklabs.py")


def starter_files(lab, files):
    """The solution tree's files a starter of `lab` holds."""
    out = []
    for rel in files:
        if rel in INSTRUCTORS_ONLY:
            continue
        parts = rel.split("/")
        if parts[0] == "labs" and len(parts) > 2 and parts[1] != lab:
            continue      # another lab's handout and tests
        if parts[0] == "labs" and len(parts) > 2 and parts[2] == "release.json":
            continue      # written fresh below
        out.append(rel)
    return out


def solution_text(found, files, lab, root=ROOT):
    """The removed lines that count as solution text, in both normal forms:
    ({full form}, {code-only form}), and how many removed lines there were."""
    removed_full, removed_code, stubs = set(), set(), set()
    nremoved = 0
    outside_full, outside_code = set(), set()
    for rel in files:
        cmt = markers.comment_prefix(rel) or "//"
        if rel in found:
            lines, regions = found[rel]
            inside = set()
            for r in regions:
                if r.lab == lab:
                    inside.update(range(r.start, r.end + 1))
                    for k in r.solution_lines():
                        nremoved += 1
                        removed_full.add((markers.normal(lines[k]), cmt))
                    for k in r.stub_lines():
                        stubs.add(markers.normal(markers.uncomment(lines[k], cmt)))
            kept = [l for i, l in enumerate(lines) if i not in inside]
        else:
            try:
                with open(os.path.join(root, rel), encoding="utf-8") as f:
                    kept = f.read().split("\n")
            except (UnicodeDecodeError, OSError):
                continue
        for l in kept:
            outside_full.add(markers.normal(l))
            outside_code.add(markers.code_only(l, cmt))
    full, code = set(), set()
    for text, cmt in removed_full:
        if markers.significant(text) and text not in outside_full and text not in stubs:
            full.add(text)
        c = markers.code_only(text, cmt)
        if markers.significant(c) and c not in outside_code and c not in stubs:
            code.add(c)
    return full, code, nremoved


def check_no_solution(dest, full, code):
    """file:line of every starter line that is solution text."""
    hits = []
    for dirpath, dirnames, filenames in os.walk(dest):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for fn in filenames:
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, dest)
            cmt = markers.comment_prefix(rel) or "//"
            try:
                with open(path, encoding="utf-8") as f:
                    lines = f.read().split("\n")
            except (UnicodeDecodeError, OSError):
                continue
            for i, l in enumerate(lines):
                if markers.normal(l) in full or markers.code_only(l, cmt) in code:
                    hits.append("%s:%d: %s" % (rel, i + 1, l.strip()))
    return hits


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def git(dest, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="lab starter", GIT_AUTHOR_EMAIL="labs@localhost",
               GIT_COMMITTER_NAME="lab starter", GIT_COMMITTER_EMAIL="labs@localhost")
    p = subprocess.run(["git"] + list(args), cwd=dest, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise SystemExit("cut: git %s failed in %s:\n%s" % (" ".join(args), dest, p.stdout))
    return p.stdout


def unlink_other_labs(text, name):
    """labs/README.md for the starter of lab `name`: the other labs'
    handouts are not in it, so their links become plain names that say
    so (no link that lands nowhere)."""
    def plain(m):
        other = m.group(1)
        if other == name:
            return m.group(0)
        return "%s (its own starter)" % other
    return re.sub(r"\[([a-z0-9]+)\]\(\1/README\.md\)", plain, text)


def lab_note(lab):
    return ("**This is the starter of lab %s, %s.** The handout is "
            "[labs/%s/README.md](labs/%s/README.md); `make grade` grades your work "
            "(labs/README.md lists every lab).\n\n" % (lab.name, lab.title, lab.name, lab.name))


def cut(name, dest, found=None, files=None, quiet=False):
    """Write the starter of lab `name` into dest. Returns dest."""
    import grade
    lab = load_lab(name)
    files = markers.tree_files() if files is None else files
    found = markers.scan(files=files) if found is None else found
    if os.path.exists(dest) and os.listdir(dest):
        raise SystemExit("cut: %s exists and is not empty" % dest)
    os.makedirs(dest, exist_ok=True)
    nregions = 0
    for rel in starter_files(name, files):
        src = os.path.join(ROOT, rel)
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if rel in found:
            lines, regions = found[rel]
            out, _, _ = markers.cut_lines(lines, regions, name)
            nregions += sum(1 for r in regions if r.lab == name)
            with open(dst, "w", encoding="utf-8") as f:
                f.write("\n".join(out))
            shutil.copymode(src, dst)
        elif rel == "README.md":
            with open(src, encoding="utf-8") as f:
                text = f.read()
            first_nl = text.index("\n\n") + 2 if "\n\n" in text else 0
            with open(dst, "w", encoding="utf-8") as f:
                f.write(text[:first_nl] + lab_note(lab) + text[first_nl:])
        elif rel == "labs/README.md":
            with open(src, encoding="utf-8") as f:
                text = f.read()
            with open(dst, "w", encoding="utf-8") as f:
                f.write(unlink_other_labs(text, name))
        else:
            shutil.copy2(src, dst)
    if nregions == 0:
        raise SystemExit("cut: lab %s has no marked regions" % name)
    wf = os.path.join(dest, ".github", "workflows", "grade.yml")
    os.makedirs(os.path.dirname(wf), exist_ok=True)
    shutil.copy(WORKFLOW, wf)

    # The release record: what the grading files are in this starter.
    record = {"lab": name, "files": {}}
    starter_list = []
    for dirpath, dirnames, filenames in os.walk(dest):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for fn in filenames:
            starter_list.append(os.path.relpath(os.path.join(dirpath, fn), dest))
    for rel in sorted(grade.select_grading(lab, starter_list)):
        record["files"][rel] = sha256(os.path.join(dest, rel))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True).stdout.strip()
    record["cut_from"] = commit
    with open(os.path.join(dest, "labs", name, "release.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")

    full, code, nremoved = solution_text(found, files, name)
    hits = check_no_solution(dest, full, code)
    if hits:
        raise SystemExit("cut: lab %s: solution text survives in the starter (%s):\n  %s"
                         % (name, dest, "\n  ".join(hits[:20])))
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "Lab %s: %s (starter)" % (name, lab.title))
    if not quiet:
        print("lab %s: %d regions cut; %d removed lines checked, %d of them solution text "
              "(%d without comments), none left in the starter; %d grading files recorded"
              % (name, nregions, nremoved, len(full), len(code), len(record["files"])))
        print(os.path.abspath(dest))
    return dest


def main():
    args = sys.argv[1:]
    if len(args) != 2:
        print(__doc__)
        return 2
    try:
        if args[0] == "--all":
            files = markers.tree_files()
            found = markers.scan(files=files)
            os.makedirs(args[1], exist_ok=True)
            for name in markers.known_labs():
                cut(name, os.path.join(args[1], name), found, files)
        else:
            cut(args[0], args[1])
    except MarkerError as e:
        print("cut: " + str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
