#!/usr/bin/python3
"""spec_sections.py: derive the table of sections of the virtio 1.2
specification (OASIS, Committee Specification 01) from the specification's
own LaTeX source, numbered the way LaTeX numbers them.

The reader (tools/reader/reader.py) turns every citation such as "virtio 1.2
section 2.7.13" in a comment into a link to that section and shows its
title; it takes the numbers and titles from the table this script writes,
tools/reader/virtio-1.2-sections.tsv, which is kept in the tree so that
`make reader` needs no network.

    /usr/bin/python3 tools/reader/spec_sections.py SPEC-GIT-DIR [TAG] > tools/reader/virtio-1.2-sections.tsv

SPEC-GIT-DIR is a clone (bare or not) of github.com/oasis-tcs/virtio-spec;
TAG defaults to v1.2-cs01. The source is read with `git show TAG:FILE`, so
nothing needs to be checked out.

How the numbers come about (the specification's document class is LaTeX's
`report`, and main.tex sets secnumdepth to 5, so every level is numbered):
  - the files are read in the order LaTeX reads them: virtio.tex, then each
    \\input{...} where it stands (main.tex, content.tex, split-ring.tex,
    packed-ring.tex, the device types' virtio-*.tex, conformance.tex ...);
  - \\chapter, \\section, \\subsection, \\subsubsection, \\paragraph and
    \\subparagraph (levels 0..5) each step their own counter and reset the
    deeper ones; the starred forms are not numbered;
  - the spec's own macros expand to sectioning commands and are followed:
    \\drivernormative{\\LEVEL}{T}{L} is "Driver Requirements: T",
    \\devicenormative{\\LEVEL}{T}{L} is "Device Requirements: T", and
    \\conformance{\\LEVEL}{T} is "Clause N: T" (commands.tex);
  - after \\appendix the chapters are lettered A, B, ...

The OASIS HTML (made by tex4ht) names its anchors after a running count of
sectioning units, not after their numbers: x1-<count>000<counter>, e.g.
section 5 of v1.2-cs01 is #x1-2160005 (count 216, counter 5), 2.1 is
#x1-110001, and v1.1-cs01's 2.6.13 is #x1-5300013 (count 53, counter 13). The count is the unit's position among all sectioning commands
after \\begin{document} plus a fixed offset (the title page and contents
take the first places); the anchor column holds the derived anchor, and
tests/qemu/test_reader.py checks it against anchors known from the
published document.
"""
import re
import subprocess
import sys

LEVELS = ["chapter", "section", "subsection", "subsubsection", "paragraph", "subparagraph"]
ROOT_FILE = "virtio.tex"
REPO_URL = "https://github.com/oasis-tcs/virtio-spec"

# In v1.2-cs01 the first sectioning unit after \begin{document} (chapter 1,
# Introduction) is tex4ht's unit 2: the table of contents comes first.
# Checked against the published anchors in the test.
ANCHOR_OFFSET = 1


class Source:
    """Reads files of the specification at one tag."""

    def __init__(self, git_dir, tag):
        self.git_dir = git_dir
        self.tag = tag

    def read(self, name):
        return subprocess.run(["git", "--git-dir", self.git_dir, "show", "%s:%s" % (self.tag, name)],
                              check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")

    def exists(self, name):
        return subprocess.run(["git", "--git-dir", self.git_dir, "cat-file", "-e", "%s:%s" % (self.tag, name)],
                              stderr=subprocess.DEVNULL).returncode == 0

    def commit(self):
        return subprocess.run(["git", "--git-dir", self.git_dir, "rev-list", "-n", "1", self.tag],
                              check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


def strip_comments(text):
    """Blank out TeX comments (an unescaped % to the end of the line),
    keeping every newline so that offsets still give line numbers."""
    out = []
    for line in text.split("\n"):
        m = re.search(r"(?<!\\)%", line)
        out.append(line[:m.start()] if m else line)
    return "\n".join(out)


def blank_verbatim(text):
    """Listings and verbatim blocks are code, not document structure: blank
    them (newlines kept)."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"\\begin\{(lstlisting|verbatim|Verbatim)\}.*?\\end\{\1\}", blank, text, flags=re.S)


def braced(text, pos):
    """text[pos] is '{': return (contents, index after the closing brace)."""
    assert text[pos] == "{"
    depth = 0
    for i in range(pos, len(text)):
        c = text[i]
        if c == "\\":
            continue
        if c == "{" and text[i - 1] != "\\":
            depth += 1
        elif c == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[pos + 1:i], i + 1
    raise ValueError("unbalanced braces at offset %d" % pos)


def skip_space(text, pos):
    while pos < len(text) and text[pos] in " \t\n":
        pos += 1
    return pos


def clean_title(t):
    """LaTeX title -> plain text."""
    t = re.sub(r"\\label\{[^}]*\}", "", t)
    t = re.sub(r"\\(field|emph|textbf|texttt|textit|mbox|hyperref\[[^\]]*\])\{([^{}]*)\}", r"\2", t)
    t = t.replace("\\_", "_").replace("\\&", "&").replace("\\#", "#").replace("\\%", "%")
    t = t.replace("~", " ").replace("\\ ", " ").replace("---", "\u2014").replace("--", "\u2013")
    t = re.sub(r"\\[a-zA-Z]+\s*", "", t)      # any command left (none expected)
    t = t.replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", t).strip()


# One pattern finds everything that matters, in document order.
TOKEN = re.compile(r"""\\(?:
      (?P<input>input|include)\s*\{(?P<file>[^}]*)\}
    | (?P<sec>chapter|section|subsection|subsubsection|paragraph|subparagraph)(?![a-zA-Z])(?P<star>\*?)
    | (?P<norm>drivernormative|devicenormative)(?![a-zA-Z])
    | (?P<conf>conformance)(?![a-zA-Z])
    | (?P<appendix>appendix)(?![a-zA-Z])
    | (?P<begindoc>begin\{document\})
    )""", re.X)


class Walker:
    def __init__(self, src):
        self.src = src
        self.counters = [0] * len(LEVELS)
        self.appendix = False
        self.in_document = False
        self.clause = 0
        self.units = 0          # sectioning units so far, numbered or not
        self.rows = []

    def number(self, level):
        c = self.counters
        chap = chr(ord("A") + c[0] - 1) if self.appendix else str(c[0])
        return ".".join([chap] + [str(n) for n in c[1:level + 1]])

    def section(self, level, title, star, fname, line, label):
        if not self.in_document:
            return
        self.units += 1
        if star:
            return
        self.counters[level] += 1
        for deeper in range(level + 1, len(LEVELS)):
            self.counters[deeper] = 0
        anchor = "x1-%d000%d" % (self.units + ANCHOR_OFFSET, self.counters[level])
        self.rows.append((self.number(level), level, clean_title(title), fname, line, anchor, label))

    def walk(self, fname):
        text = blank_verbatim(strip_comments(self.src.read(fname)))
        pos = 0
        while True:
            m = TOKEN.search(text, pos)
            if not m:
                return
            line = text.count("\n", 0, m.start()) + 1
            pos = m.end()
            if m.group("input"):
                name = m.group("file").strip()
                if not name.endswith(".tex"):
                    name += ".tex"
                if not self.in_document and not self.src.exists(name):
                    # setup-generated.tex is made by the spec's own build
                    # (make-setup-generated.sh) and only defines variables.
                    continue
                self.walk(name)
            elif m.group("begindoc"):
                self.in_document = True
            elif m.group("appendix"):
                if self.in_document:
                    self.appendix = True
                    self.counters = [0] * len(LEVELS)
            elif m.group("sec"):
                level = LEVELS.index(m.group("sec"))
                p = skip_space(text, pos)
                if p < len(text) and text[p] == "[":       # optional short title
                    p = text.index("]", p) + 1
                    p = skip_space(text, p)
                if p >= len(text) or text[p] != "{":
                    continue                                # e.g. \titleformat{\section}
                title, pos = braced(text, p)
                label = self.label_after(text, pos)
                self.section(level, title, m.group("star"), fname, line, label)
            elif m.group("norm") or m.group("conf"):
                p = skip_space(text, pos)
                if p >= len(text) or text[p] != "{":
                    continue                                # the \newcommand itself
                lev, p = braced(text, p)
                lev = lev.strip().lstrip("\\")
                if lev not in LEVELS:
                    continue
                title, p = braced(text, skip_space(text, p))
                if m.group("norm"):
                    lab, p = braced(text, skip_space(text, p))
                    who = "Driver" if m.group("norm") == "drivernormative" else "Device"
                    title = "%s Requirements: %s" % (who, title)
                    label = m.group("norm") + ":" + re.sub(r"\s+", " ", lab).strip()
                else:
                    self.clause += 1
                    title = "Clause %d: %s" % (self.clause, title)
                    label = self.label_after(text, p)
                pos = p
                self.section(LEVELS.index(lev), title, "", fname, line, label)

    @staticmethod
    def label_after(text, pos):
        m = re.match(r"\s*\\label\s*\{([^}]*)\}", text[pos:])
        return re.sub(r"\s+", " ", m.group(1)).strip() if m else ""


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    git_dir = sys.argv[1]
    tag = sys.argv[2] if len(sys.argv) > 2 else "v1.2-cs01"
    src = Source(git_dir, tag)
    w = Walker(src)
    w.walk(ROOT_FILE)
    out = sys.stdout
    out.write("# The sections of the virtio 1.2 specification (OASIS, cs01), numbered as LaTeX numbers them.\n")
    out.write("# Derived from %s, tag %s, commit %s,\n" % (REPO_URL, tag, src.commit()))
    out.write("# by tools/reader/spec_sections.py (read it for how). Do not edit by hand: run that again.\n")
    out.write("# Columns: number, level (0 chapter .. 5 subparagraph), title, source file, line,\n")
    out.write("# anchor in https://docs.oasis-open.org/virtio/virtio/v1.2/cs01/virtio-v1.2-cs01.html, label.\n")
    out.write("number\tlevel\ttitle\tfile\tline\tanchor\tlabel\n")
    for row in w.rows:
        out.write("\t".join(str(x) for x in row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
