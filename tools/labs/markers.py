"""markers.py: the lab markers in the solution tree, read, checked and cut.

A lab's regions are marked in the code the student will write. In C (and in
any file whose comments start with //):

    // >>> lab vq: what the student writes here, in one line
    ... the solution: these lines are removed from the lab's starter ...
    // === stub
    // return VIRTQ_ERR_INVAL;
    // <<< lab vq

Python, Makefiles, shell scripts and YAML use # instead of //. The lines
between `=== stub` and the closing marker are comments in the solution tree
(so it builds and behaves as if the markers were not there); in the starter
of that lab they replace the region with their comment prefix taken off
(`// return -1;` becomes `return -1;`, `// // a hint` becomes `// a hint`),
under a `TODO lab NAME:` comment carrying the opening marker's text. The
stub section is optional: without one the region leaves only the TODO line.

In the starter of any other lab the markers and stubs disappear and the
solution stays, so every starter holds the solutions of every other lab.
Regions of different labs may nest, properly; a region never nests in one of
its own lab. Anything else is refused with file:line: an unknown lab (labs
are the folders labs/NAME/ holding a grade.py), a closing marker for another
lab than the innermost open one, a stub section outside a region or twice in
one, a stub line that is not a comment, a region left open at the end of a
file, a marker line that does not parse.

Used by tools/labs/cut.py (make lab, make labs) and tests/qemu/test_labs.py.
See it run:  python3 tools/labs/markers.py          (every marked file, checked)
             python3 tools/labs/markers.py vq       (what lab vq's regions are)
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Where markers may be, by comment style. tools/labs/ is left out: its own
# documentation shows marker lines as examples.
SLASH_EXT = (".c", ".h", ".S", ".ld")
HASH_EXT = (".py", ".sh", ".mk", ".yml", ".yaml")
HASH_NAMES = ("Makefile", "run_autograder", "setup.sh")
NOT_SCANNED = ("tools/labs/",)

MARK = re.compile(r"^(?P<indent>\s*)(?P<cmt>//|#)\s?(?P<kind>>>>|===|<<<)(?=\s|$)(?P<rest>.*)$")
OPEN = re.compile(r"^ lab (?P<lab>[a-z][a-z0-9_]*): (?P<what>\S.*)$")
CLOSE = re.compile(r"^ lab (?P<lab>[a-z][a-z0-9_]*)\s*$")
STUB = re.compile(r"^ stub\s*$")


class MarkerError(Exception):
    """A marker the tools refuse; the message starts with file:line."""


def comment_prefix(path):
    """'//' or '#' for a file that may hold markers, None for any other."""
    base = os.path.basename(path)
    if path.endswith(SLASH_EXT):
        return "//"
    if path.endswith(HASH_EXT) or base in HASH_NAMES:
        return "#"
    return None


def known_labs(root=ROOT):
    """The labs that exist: labs/NAME/grade.py."""
    d = os.path.join(root, "labs")
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d)
                  if os.path.isfile(os.path.join(d, n, "grade.py")))


def tree_files(root=ROOT):
    """Every file of the tree as git sees it: tracked ones and new ones not
    ignored (so a lab can be cut before its files are committed), minus
    deleted ones. A tree that is no git checkout (a submission copied
    without its .git) is walked instead, leaving out what the build makes.
    Paths relative to root, sorted."""
    p = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0 or not os.path.isdir(os.path.join(root, ".git")) and \
            not os.path.isfile(os.path.join(root, ".git")):
        return walk_files(root)
    names = [n for n in p.stdout.decode().split("\0") if n]
    return sorted(set(n for n in names if os.path.isfile(os.path.join(root, n))))


# What a walk leaves out: the build's outputs (.gitignore lists the same).
BUILT = ("build", "fs.img", ".gdbinit", "__pycache__", ".git")


def walk_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if d not in BUILT and
                             not (rel == "tests" and d == "out"))
        for fn in filenames:
            if fn in BUILT or fn.endswith(".pcap"):
                continue
            out.append(os.path.normpath(os.path.join(rel, fn)))
    return sorted(out)


class Region:
    """One marked region: the lines of its opening marker, stub marker (or
    None) and closing marker, 0-based, and its lab and text."""

    def __init__(self, lab, what, start, indent, cmt):
        self.lab = lab
        self.what = what
        self.start = start
        self.indent = indent
        self.cmt = cmt
        self.stub = None
        self.end = None
        self.parent = None

    def solution_lines(self):
        """Indices of the lines the region's solution occupies."""
        stop = self.stub if self.stub is not None else self.end
        return range(self.start + 1, stop)

    def stub_lines(self):
        if self.stub is None:
            return range(0)
        return range(self.stub + 1, self.end)


def parse(path, lines, labs):
    """The regions of one file (a list of lines without newlines), checked.
    Raises MarkerError naming path:line for the first thing wrong."""
    cmt = comment_prefix(path)
    regions = []
    stack = []

    def fail(i, msg):
        raise MarkerError("%s:%d: %s" % (path, i + 1, msg))

    for i, line in enumerate(lines):
        m = MARK.match(line)
        in_stub = stack and stack[-1].stub is not None
        if not m:
            if in_stub:
                s = line.strip()
                if not (s == cmt or s.startswith(cmt + " ")):
                    fail(i, "stub line of lab %s is not a '%s' comment: %r"
                         % (stack[-1].lab, cmt, line.strip()))
            continue
        if cmt is None:
            fail(i, "marker in a file whose comments the lab tools do not know")
        if m.group("cmt") != cmt:
            fail(i, "marker uses '%s' in a file commented with '%s'" % (m.group("cmt"), cmt))
        kind, rest = m.group("kind"), m.group("rest")
        if kind == ">>>":
            o = OPEN.match(rest)
            if not o:
                fail(i, "opening marker does not read '%s >>> lab NAME: what to write'" % cmt)
            lab = o.group("lab")
            if lab not in labs:
                fail(i, "unknown lab %r (labs: %s)" % (lab, ", ".join(labs) or "none"))
            if in_stub:
                fail(i, "a region cannot open inside the stub of lab %s" % stack[-1].lab)
            if any(r.lab == lab for r in stack):
                fail(i, "region of lab %s opened inside another region of lab %s" % (lab, lab))
            r = Region(lab, o.group("what").strip(), i, m.group("indent"), cmt)
            r.parent = stack[-1] if stack else None
            stack.append(r)
        elif kind == "===":
            if not STUB.match(rest):
                fail(i, "stub marker does not read '%s === stub'" % cmt)
            if not stack:
                fail(i, "stub marker outside any region")
            if stack[-1].stub is not None:
                fail(i, "second stub marker in the region of lab %s opened at line %d"
                     % (stack[-1].lab, stack[-1].start + 1))
            stack[-1].stub = i
        else:
            c = CLOSE.match(rest)
            if not c:
                fail(i, "closing marker does not read '%s <<< lab NAME'" % cmt)
            lab = c.group("lab")
            if lab not in labs:
                fail(i, "unknown lab %r (labs: %s)" % (lab, ", ".join(labs) or "none"))
            if not stack:
                fail(i, "closing marker of lab %s without an open region" % lab)
            if stack[-1].lab != lab:
                fail(i, "closing marker of lab %s, but the innermost open region is lab %s "
                     "(opened at line %d)" % (lab, stack[-1].lab, stack[-1].start + 1))
            r = stack.pop()
            r.end = i
            regions.append(r)
    if stack:
        r = stack[-1]
        raise MarkerError("%s:%d: region of lab %s is never closed" % (path, r.start + 1, r.lab))
    return sorted(regions, key=lambda r: r.start)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def scan(root=ROOT, labs=None, files=None):
    """{path: (lines, regions)} for every file of the tree that holds a
    marker, checked. Raises MarkerError on the first bad marker."""
    labs = known_labs(root) if labs is None else labs
    out = {}
    for rel in (files if files is not None else tree_files(root)):
        if rel.startswith(NOT_SCANNED) or comment_prefix(rel) is None:
            continue
        try:
            lines = read_lines(os.path.join(root, rel))
        except UnicodeDecodeError:
            continue
        if not any(MARK.match(l) for l in lines):
            continue
        out[rel] = (lines, parse(rel, lines, labs))
    return out


def uncomment(line, cmt):
    """A stub line with its comment prefix (and the one space after it) taken off."""
    i = line.index(cmt)
    rest = line[i + len(cmt):]
    if rest.startswith(" "):
        rest = rest[1:]
    return (line[:i] + rest).rstrip() if rest else ""


def cut_lines(lines, regions, lab):
    """The file as lab's starter has it: lab's regions replaced by their
    stubs, every other lab's markers and stubs gone and its solution kept.
    Returns (new lines, removed solution lines, stub lines given)."""
    drop = set()          # line indices that do not appear in the starter
    replace = {}          # line index -> lines written in its place
    removed, stubs = [], []
    for r in regions:
        if r.lab == lab:
            drop.update(range(r.start, r.end + 1))
            given = [r.indent + r.cmt + " TODO lab %s: %s" % (lab, r.what)]
            for k in r.stub_lines():
                given.append(uncomment(lines[k], r.cmt))
            replace[r.start] = given
            stubs.extend(given[1:])
            removed.extend(lines[k] for k in r.solution_lines())
        else:
            drop.add(r.start)
            drop.add(r.end)
            drop.update(range(r.stub, r.end) if r.stub is not None else ())
    # A region of another lab nested inside one of `lab` vanished with it.
    out = []
    for i, line in enumerate(lines):
        if i in replace:
            out.extend(replace[i])
        elif i not in drop:
            out.append(line)
    return out, removed, stubs


def strip_markers(lines, regions):
    """The file with every lab's markers and stubs removed (the solution as a
    reader sees it without the lab machinery)."""
    out, _, _ = cut_lines(lines, regions, None)
    return out


def normal(line):
    """Whitespace-insensitive form of a line, for comparing text."""
    return " ".join(line.split())


def code_only(line, cmt):
    """The line without a trailing comment (a rough cut: good enough to
    compare a line with and without its explanation)."""
    k = line.find(cmt)
    return normal(line[:k] if k >= 0 else line)


SIGNIFICANT = 12  # non-blank characters a line needs to count as solution text


def significant(text):
    return len(text.replace(" ", "")) >= SIGNIFICANT


def main():
    args = sys.argv[1:]
    try:
        found = scan()
    except MarkerError as e:
        print("markers: " + str(e))
        return 1
    labs = known_labs()
    want = args or labs
    for lab in want:
        if lab not in labs:
            print("markers: unknown lab %r (labs: %s)" % (lab, ", ".join(labs)))
            return 1
        n = sum(1 for _, (_, regs) in found.items() for r in regs if r.lab == lab)
        print("lab %s: %d regions" % (lab, n))
        for path, (lines, regs) in sorted(found.items()):
            for r in regs:
                if r.lab == lab:
                    print("  %s:%d-%d  %d lines -> %d stub lines: %s"
                          % (path, r.start + 1, r.end + 1, len(r.solution_lines()),
                             len(r.stub_lines()), r.what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
