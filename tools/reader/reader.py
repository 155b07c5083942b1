#!/usr/bin/python3
"""reader.py: the annotated reader of the driver source, a static site.

    make reader                      (or: /usr/bin/python3 tools/reader/reader.py)

writes build/reader/: one page per file of the virtio core (virtio/), the
device model (devmodel/), the network stack (net/), the RISC-V glue on the
block and network paths (kernel/glue/, kernel/bio*.c, fs*.c, log.c, sysfile.c,
file.c, plic.c, trap.c, the kernel files the "Follow one block read" walk
of docs/ARCHITECTURE.md names, and the kernel headers those include), the
Cortex-M3 board files (cm3/), and the Markdown of docs/*.md and the lab
handouts (labs/README.md, labs/*/README.md). The last line printed is the
path of the index page; open it in a browser (file:// is fine, no server).

On every page each comment stands beside the code it explains (above it on
a narrow screen), the code is highlighted by Pygments, every line has an
anchor (#L123), every name links to its definition and every definition
lists its uses (xref.py: definitions from Universal Ctags), and every
citation of the virtio 1.2 specification links to that section and shows
its title (citations.py, with the table spec_sections.py derived from the
specification's LaTeX source). A citation of a section the specification
does not have stops the build with file:line and the number.

Needs Debian's python3-pygments, python3-markdown and universal-ctags
(scripts/setup.sh installs them). Tested by tests/qemu/test_reader.py in
headless Chromium (`make check`).
"""
import glob
import html
import json
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import citations  # noqa: E402
import xref  # noqa: E402

try:
    import markdown  # noqa: E402
    from pygments import lex  # noqa: E402
    from pygments.formatters import HtmlFormatter  # noqa: E402
    from pygments.lexers import CLexer, GasLexer, MakefileLexer, TextLexer  # noqa: E402
    from pygments.token import Comment, Keyword, Name, String, Token, STANDARD_TYPES  # noqa: E402
except ImportError as e:
    sys.exit("reader: %s: run `sh scripts/setup.sh` (python3-pygments, python3-markdown), "
             "and run this with /usr/bin/python3" % e)

ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "build", "reader")
STATIC = "_static"

WHOLE_DIRS = ["virtio", "devmodel", "net", "kernel/glue", "cm3"]
# the block path (the buffer cache and the file system, with their fast
# paths in files of their own: bio_fast.c, fs_fast.c), the file layer and
# the interrupt path
KERNEL_FILES = ["kernel/bio*.c", "kernel/fs*.c", "kernel/log.c", "kernel/sysfile.c",
                "kernel/file.c", "kernel/plic.c", "kernel/trap.c"]
ALWAYS = ["kernel/memlayout.h"]
INCLUDE_PATH = ["kernel", "kernel/glue", "virtio", "net", "bench", "devmodel", "."]
WALK_HEADING = "follow one block read"
SOURCE_RE = re.compile(r"\b((?:kernel|virtio|net|devmodel|cm3|bench|user|mkfs)/[\w./-]+?\.(?:c|h|S))\b")


def progress(msg):
    print("reader: " + msg, flush=True)


class BuildError(Exception):
    pass


# ---------------------------------------------------------------- files

def rel(p):
    return os.path.relpath(p, ROOT)


def exists(path):
    return os.path.isfile(os.path.join(ROOT, path))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        return f.read()


def markdown_files():
    out = []
    for d, pattern in (("docs", None), ("labs", "README.md")):
        top = os.path.join(ROOT, d)
        if not os.path.isdir(top):
            continue
        if d == "docs":
            out += sorted("docs/" + f for f in os.listdir(top) if f.endswith(".md"))
        else:
            if exists("labs/README.md"):
                out.append("labs/README.md")
            for sub in sorted(os.listdir(top)):
                if exists("labs/%s/README.md" % sub):
                    out.append("labs/%s/README.md" % sub)
    return out


def walk_section(md_text):
    """The text of the "Follow one block read" section, or None."""
    lines = md_text.split("\n")
    start = level = None
    for i, line in enumerate(lines):
        m = re.match(r"(#+)\s+(.*)", line)
        if not m:
            continue
        if start is None and WALK_HEADING in m.group(2).lower():
            start, level = i, len(m.group(1))
        elif start is not None and len(m.group(1)) <= level:
            return "\n".join(lines[start:i])
    return "\n".join(lines[start:]) if start is not None else None


def includes_of(path):
    out = []
    for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', read(path), re.M):
        name = m.group(1)
        for d in [os.path.dirname(path)] + INCLUDE_PATH:
            cand = os.path.normpath(os.path.join(d, name))
            if exists(cand):
                out.append(cand)
                break
    return out


def source_files():
    files = []
    for d in WHOLE_DIRS:
        top = os.path.join(ROOT, d)
        if os.path.isdir(top):
            files += sorted("%s/%s" % (d, f) for f in os.listdir(top)
                            if not f.startswith(".") and os.path.isfile(os.path.join(top, f)))
    for pattern in KERNEL_FILES + ALWAYS:
        files += sorted(rel(p) for p in glob.glob(os.path.join(ROOT, pattern)))
    walk = walk_section(read("docs/ARCHITECTURE.md")) if exists("docs/ARCHITECTURE.md") else None
    if walk:
        files += [f for f in SOURCE_RE.findall(walk) if exists(f)]
    # the kernel headers that these include (types, buf, fs, defs ...)
    seen = set()
    todo = [f for f in files if f.endswith((".c", ".h"))]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for inc in includes_of(f):
            if inc.startswith("kernel/") and inc not in files:
                files.append(inc)
                todo.append(inc)
    out = []
    for f in files:
        if f not in out:
            out.append(f)
    return out


def page_of(path):
    """The reader's page for a repository file (relative to build/reader)."""
    if path.endswith(".md"):
        return path[:-3] + ".html"
    return path + ".html"


def href(from_page, to_page, anchor=""):
    r = os.path.relpath(to_page, os.path.dirname(from_page) or ".")
    if from_page == to_page:
        r = ""
    return html.escape(r + ("#" + anchor if anchor else ""), quote=True)


# ---------------------------------------------------------------- lexing

PROSE_TYPES = (Comment.Single, Comment.Multiline)


def lexer_for(path):
    base = os.path.basename(path)
    if base == "Makefile" or base.endswith(".mk"):
        return MakefileLexer()
    if base.endswith((".c", ".h", ".ld")):
        return CLexer(stripnl=False, ensurenl=False)
    if base.endswith(".S"):
        return GasLexer(stripnl=False, ensurenl=False)
    return TextLexer(stripnl=False, ensurenl=False)


def is_prose(ttype, path):
    if any(ttype in t for t in PROSE_TYPES):
        return True
    # Makefile comments are plain Comment
    return ttype is Comment and not path.endswith((".c", ".h", ".ld"))


def split_lines(tokens):
    """Pygments tokens -> a list of lines, each a list of [ttype, text]."""
    lines = [[]]
    for ttype, value in tokens:
        parts = value.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append([ttype, part])
    if lines and not lines[-1]:
        lines.pop()
    return lines


def css_class(ttype):
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


IDENT = re.compile(r"[A-Za-z_]\w*")


class SourceFile:
    def __init__(self, path):
        self.path = path
        self.page = page_of(path)
        self.text = read(path)
        self.lines = split_lines(lex(self.text, lexer_for(path)))
        self.nlines = len(self.lines)
        self.prose = [bool(l) and all(is_prose(t, path) or not v.strip() for t, v in l)
                      and any(is_prose(t, path) for t, v in l) for l in self.lines]
        self.blocks = self._blocks()
        self.default_ctx = citations.default_context(self.opening_comment())
        self.cited = {}       # number -> [line]

    def _blocks(self):
        """Runs of comment-only lines (blank lines inside a run included
        when another comment line follows)."""
        blocks = []
        i = 0
        n = len(self.lines)
        while i < n:
            if not self.prose[i]:
                i += 1
                continue
            j = i
            while True:
                while j < n and self.prose[j]:
                    j += 1
                k = j
                while k < n and not "".join(v for _, v in self.lines[k]).strip():
                    k += 1
                if k < n and k > j and self.prose[k]:
                    j = k
                    continue
                break
            blocks.append((i, j))       # lines [i, j), 0-based
            i = j
        return blocks

    def comment_text(self, i):
        """The words of comment line i, without the comment markers."""
        raw = "".join(v for _, v in self.lines[i])
        s = raw.strip()
        if self.path.endswith((".c", ".h", ".ld", ".S")):
            if s.startswith("//"):
                s = s[2:]
            else:
                if s.startswith("/*"):
                    s = s[2:]
                elif s.startswith("*") and not s.startswith("*/"):
                    s = s[1:]
                if s.endswith("*/"):
                    s = s[:-2]
                    s = s.rstrip("*")
        elif s.startswith("#"):
            s = s[1:]
        if s.startswith(" "):
            s = s[1:]
        return s.rstrip()

    def opening_comment(self):
        if not self.blocks or self.blocks[0][0] > 2:
            return ""
        a, b = self.blocks[0]
        return "\n".join(self.comment_text(i) for i in range(a, b))

    def summary(self):
        """The first sentence of the opening comment, for the file lists."""
        text = " ".join(self.opening_comment().split())
        text = re.sub(r"^[\w./-]+:\s*", "", text)
        m = re.match(r"(.{0,160}?[.;:])(\s|$)", text)
        return (m.group(1) if m else text[:160]).rstrip(":;")


# ---------------------------------------------------------------- the site

class Site:
    def __init__(self):
        self.errors = []
        self.warnings = []
        self.table = citations.table()
        self.cites = {}            # number -> [(path, line)]
        self.search_names = []
        self.search_comments = []
        self.errata = load_errata()
        self.errata_used = set()

    # -- citations --------------------------------------------------------
    def cite_html(self, text, page, default, where_path, line_of):
        """Escape text and turn its virtio citations into links. line_of
        maps an offset in text to a line number for errors (None: the
        caller checks the citations itself)."""
        out = []
        pos = 0
        for c in citations.find(text, default):
            if c.section is None:
                if line_of is None:
                    c.section = self.erratum(where_path, c.number)
                else:
                    c.section = self.bad_citation(where_path, line_of(c.start), c.number)
                if c.section is None:
                    continue
            out.append(html.escape(text[pos:c.start]))
            out.append(self.cite_link(c.section, page))
            if line_of is not None:
                self.cites.setdefault(c.section.number, []).append((where_path, line_of(c.start)))
            pos = c.end
        out.append(html.escape(text[pos:]))
        return "".join(out)

    def bad_citation(self, path, line, number):
        """A citation of a section the specification does not have: an
        error, unless citation-errata.tsv lists it (then a warning, and the
        link goes to the section meant)."""
        meant = self.erratum(path, number)
        if meant is None:
            self.errors.append("%s:%d: cites virtio 1.2 section %s, which the specification "
                               "does not have" % (path, line, number))
            return None
        self.errata_used.add((path, number))
        self.warnings.append("%s:%d: cites section %s, which virtio 1.2 does not have; it means %s (%s) "
                             "(tools/reader/citation-errata.tsv): the comment needs fixing" % (
                                 path, line, number, meant.number, meant.title))
        return meant

    def erratum(self, path, number):
        meant = self.errata.get((path, number))
        return self.table.get(meant) if meant else None

    def cite_link(self, s, page):
        return '<a class="cite" href="%s" title="%s" data-title="%s">%s</a>' % (
            html.escape(s.url(), quote=True), html.escape(s.tooltip(), quote=True),
            html.escape(s.title, quote=True), html.escape(s.number))

    # -- pass 1: resolve every name --------------------------------------
    def resolve(self, sf):
        prev = ["", ""]          # the last two significant tokens
        struct = None            # the struct type of the operand just read, if known
        brackets = []            # struct types waiting for their ']'
        for ln, line in enumerate(sf.lines, 1):
            if sf.prose[ln - 1]:
                continue
            for tok in line:
                ttype, value = tok[0], tok[1]
                if ttype in Comment.Preproc and ttype not in Comment.PreprocFile:
                    tok.append(self._preproc_links(sf, ln, value))
                    prev, struct, brackets = ["", ""], None, []
                    continue
                v = value.strip()
                if not v or is_prose(ttype, sf.path) or ttype in Token.Text:
                    continue
                if (ttype in Name or ttype in Keyword.Type) and IDENT.fullmatch(value):
                    d = self._definition_here(sf, ln, value)
                    if d is not None:
                        tok.append(("def", d))
                    else:
                        ctx = ""
                        if prev[1] == "." or (prev[0] == "-" and prev[1] == ">"):
                            ctx = "member"
                        elif prev[1] in ("struct", "union", "enum"):
                            ctx = "tag"
                        d = self.x.resolve(value, sf.path, ln, ctx, struct if ctx == "member" else None)
                        if d is not None:
                            if d.kind in xref.LOCAL:
                                tok.append(("local", d))
                            else:
                                self.x.add_use(d, sf.path, ln)
                                tok.append(("use", d))
                    struct = self.x.struct_of(d)
                elif v in (".", "-", ">"):
                    pass                # member access: the type carries over
                elif v == "[":
                    brackets.append(struct)
                    struct = None
                elif v == "]":
                    struct = brackets.pop() if brackets else None
                else:
                    struct = None
                prev = [prev[1], v]

    def _definition_here(self, sf, ln, name):
        """The definition of `name` that ctags found on this line, the first
        time the name appears on it (a later one is a use: int f(int f))."""
        d = self.x.def_at.get((sf.path, ln, name))
        key = (sf.path, ln, name)
        if d is None or key in self._def_seen:
            return None
        self._def_seen.add(key)
        return d

    def _preproc_links(self, sf, ln, value):
        """Names inside a preprocessor line (Pygments gives the whole line
        as one token): [(start, end, kind, Def)]."""
        out = []
        skip_first = re.match(r"\s*(define|undef|ifdef|ifndef|if|elif|else|endif|include|error|pragma|warning)\b", value)
        start = skip_first.end() if skip_first else 0
        for m in IDENT.finditer(value, start):
            name = m.group(0)
            if name == "defined":
                continue
            here = self._definition_here(sf, ln, name)
            if here is not None:
                out.append((m.start(), m.end(), "def", here))
                continue
            d = self.x.resolve(name, sf.path, ln, "")
            if d is not None:
                self.x.add_use(d, sf.path, ln)
                out.append((m.start(), m.end(), "use", d))
        return out

    # -- rendering of one code token --------------------------------------
    def link_html(self, page, text, cls, kind, d):
        if kind == "local":
            return '<a class="%s x lv" href="#L%d" title="%s">%s</a>' % (
                cls, d.line, html.escape("%s %s of %s, line %d" % (d.kind, d.name, d.scope, d.line)),
                html.escape(text))
        if kind == "def":
            return '<a class="%s def" id="%s" href="#uses-%s" title="%s">%s</a>' % (
                cls, d.html_id(), d.html_id(), html.escape("%s %s: show its uses" % (d.kind, d.name)),
                html.escape(text))
        return '<a class="%s x" href="%s" title="%s">%s</a>' % (
            cls, href(page, page_of(d.path), "L%d" % d.line),
            html.escape("%s %s, %s" % (d.kind, d.name, d.where())), html.escape(text))

    def token_html(self, sf, ln, tok):
        ttype, value = tok[0], tok[1]
        cls = css_class(ttype)
        extra = tok[2] if len(tok) > 2 else None
        if isinstance(extra, tuple):
            return self.link_html(sf.page, value, cls, extra[0], extra[1])
        if isinstance(extra, list) and extra:
            parts, pos = [], 0
            for a, b, kind, d in extra:
                parts.append(html.escape(value[pos:a]))
                parts.append(self.link_html(sf.page, value[a:b], "", kind, d))
                pos = b
            parts.append(html.escape(value[pos:]))
            return '<span class="%s">%s</span>' % (cls, "".join(parts))
        if ttype in Comment.PreprocFile and value.startswith('"'):
            target = self.include_target(sf.path, value.strip('"'))
            if target:
                return '<a class="%s f" href="%s">%s</a>' % (cls, href(sf.page, page_of(target)), html.escape(value))
        if ttype in String and sf.default_ctx == citations.VIRTIO:
            body = self.cite_html(value, sf.page, sf.default_ctx, sf.path, lambda off: ln)
            return '<span class="%s">%s</span>' % (cls, body)
        if not cls:
            return html.escape(value)
        return '<span class="%s">%s</span>' % (cls, html.escape(value))

    def include_target(self, from_path, name):
        """The page an #include "name" means, searched as the compiler does
        (the including file's folder, then the -I folders)."""
        for d in [os.path.dirname(from_path)] + INCLUDE_PATH:
            cand = os.path.normpath(os.path.join(d, name))
            if cand in self.pages:
                return cand
            if exists(cand):
                return None
        return None

    # -- prose -------------------------------------------------------------
    def prose_html(self, sf, a, b):
        """Comment lines [a, b) as the prose column: one element per line,
        citations and names linked."""
        texts = [sf.comment_text(i) if sf.prose[i] else "" for i in range(a, b)]
        # common indentation of the comment's words
        ind = min([len(t) - len(t.lstrip()) for t in texts if t.strip()] or [0])
        texts = [t[ind:] for t in texts]
        block = "\n".join(texts)
        starts = []
        off = 0
        for t in texts:
            starts.append(off)
            off += len(t) + 1

        def line_of(o):
            k = 0
            while k + 1 < len(starts) and starts[k + 1] <= o:
                k += 1
            return a + k + 1

        cites = citations.find(block, sf.default_ctx)
        for c in cites:
            if c.section is None:
                c.section = self.bad_citation(sf.path, line_of(c.start), c.number)
            if c.section is not None:
                sf.cited.setdefault(c.section.number, []).append(line_of(c.start))
                self.cites.setdefault(c.section.number, []).append((sf.path, line_of(c.start)))
        self.search_comments.append([sf.page, a + 1, " ".join(block.split())])
        out = []
        for k, t in enumerate(texts):
            s0 = starts[k]
            s1 = s0 + len(t)
            mine = [c for c in cites if s0 <= c.start < s1 and c.section is not None]
            out.append('<div class="pl" id="L%d">%s</div>' % (
                a + k + 1, self.prose_line(sf, t, [(c.start - s0, c.end - s0, c.section) for c in mine])))
        return "\n".join(out)

    NAME_IN_PROSE = re.compile(r"`([A-Za-z_]\w*)(?:\(\))?`|\b([A-Za-z_]\w*)\(\)|\b([A-Za-z][A-Za-z0-9]*_\w+|[A-Z][A-Z0-9]{3,})\b"
                               r"|\b((?:[\w-]+/)*[\w-]+\.(?:c|h|S|ld|md))\b")

    def prose_line(self, sf, t, cites):
        """One comment line: escape, link citations, names that are clearly
        code (`name`, name(), a_name) and file names."""
        spans = [(s, e, ("cite", sec)) for s, e, sec in cites]
        for m in self.NAME_IN_PROSE.finditer(t):
            if any(s < m.end() and m.start() < e for s, e, _ in spans):
                continue
            if m.group(4):
                target = self.file_named(m.group(4), sf.path)
                if target:
                    spans.append((m.start(4), m.end(4), ("file", target)))
                continue
            name = m.group(1) or m.group(2) or m.group(3)
            d = self.x.global_named(name, sf.path)
            if d is not None and m.group(3) and "_" not in name and d.kind not in ("macro", "enumerator"):
                d = None        # a capitalised word is a name only if it is a constant
            if d is not None:
                g = 1 if m.group(1) else (2 if m.group(2) else 3)
                spans.append((m.start(g), m.end(g), ("name", d)))
        spans.sort(key=lambda s: s[0])
        out, pos = [], 0
        for s, e, (kind, obj) in spans:
            out.append(html.escape(t[pos:s]))
            if kind == "cite":
                out.append(self.cite_link(obj, sf.page))
            elif kind == "file":
                out.append('<a class="f" href="%s">%s</a>' % (href(sf.page, page_of(obj)), html.escape(t[s:e])))
            else:
                out.append(self.link_html(sf.page, t[s:e], "", "use", obj))
            pos = e
        out.append(html.escape(t[pos:]))
        return "".join(out)

    def file_named(self, name, from_path):
        if name in self.pages:
            return name
        cand = os.path.normpath(os.path.join(os.path.dirname(from_path), name))
        if cand in self.pages:
            return cand
        same = [p for p in self.pages if os.path.basename(p) == name]
        if len(same) == 1:
            return same[0]
        here = [p for p in same if os.path.dirname(p) == os.path.dirname(from_path)]
        return here[0] if len(here) == 1 else None

    # -- uses boxes ---------------------------------------------------------
    def uses_html(self, sf, d):
        uses = self.x.uses_of(d)
        items = []
        for path, line, fn in uses:
            items.append('<li><a href="%s">%s:%d</a>%s</li>' % (
                href(sf.page, page_of(path), "L%d" % line), html.escape(path), line,
                ' <span class="in">in %s</span>' % html.escape(fn) if fn else ""))
        others = ""
        if self.x.others(d):
            others = '<div class="others">also %s</div>' % ", ".join(
                '<a href="%s">%s %s</a>' % (href(sf.page, page_of(o.path), "L%d" % o.line),
                                             html.escape(o.kind), html.escape(o.where()))
                for o in self.x.others(d))
        what = d.kind if d.kind not in xref.MEMBER else "member of %s" % d.scope
        n = len(uses)
        return ('<details class="uses" id="uses-%s" data-def="%s"><summary><code>%s</code> %s, '
                '%s</summary>%s<ul>%s</ul></details>') % (
            d.html_id(), html.escape(d.name), html.escape(d.name), html.escape(what),
            "%d use%s" % (n, "" if n == 1 else "s") if n else "no uses",
            others, "".join(items))

    # -- a source page --------------------------------------------------------
    def sections(self, sf):
        """[(prose [a,b) or None, code [c,d))] in line order, 0-based."""
        out = []
        pos = 0
        blocks = list(sf.blocks)
        while pos < sf.nlines:
            nxt = next((blk for blk in blocks if blk[0] >= pos), None)
            if nxt and nxt[0] == pos:
                a, b = nxt
                end = next((blk[0] for blk in blocks if blk[0] >= b), sf.nlines)
                out.append(((a, b), (b, end)))
                pos = end
            else:
                end = nxt[0] if nxt else sf.nlines
                out.append((None, (pos, end)))
                pos = end
        return out

    def render_source(self, sf):
        body = []
        for prose, (c, d) in self.sections(sf):
            left = self.prose_html(sf, *prose) if prose else ""
            defs = []
            code = []
            for i in range(c, d):
                ln = i + 1
                toks = "".join(self.token_html(sf, ln, t) for t in sf.lines[i])
                code.append('<div class="l" id="L%d"><a class="ln" href="#L%d">%d</a>%s</div>' % (ln, ln, ln, toks))
                for t in sf.lines[i]:
                    ex = t[2] if len(t) > 2 else None
                    if isinstance(ex, tuple) and ex[0] == "def":
                        defs.append(ex[1])
                    elif isinstance(ex, list):
                        defs += [e[3] for e in ex if e[2] == "def"]
            if defs:
                left += '<div class="defs">%s</div>' % "".join(self.uses_html(sf, dd) for dd in defs)
            body.append('<div class="sec"><div class="prose">%s</div><div class="code">%s</div></div>'
                        % (left, "\n".join(code)))
        cited = ""
        if sf.cited:
            items = []
            for num in sorted(sf.cited, key=section_key):
                s = self.table.get(num)
                lines = sorted(set(sf.cited[num]))
                items.append('<li>%s <span class="t">%s</span> <span class="at">(%s)</span></li>' % (
                    self.cite_link(s, sf.page), html.escape(s.title),
                    ", ".join('<a href="#L%d">%d</a>' % (l, l) for l in lines)))
            cited = ('<details class="cited"><summary>virtio 1.2 sections cited in this file: %d</summary>'
                     '<ul>%s</ul></details>') % (len(items), "".join(items))
        summary = html.escape(sf.summary())
        head = '<div class="filehead"><h1>%s</h1><p class="sum">%s</p>%s</div>' % (
            html.escape(sf.path), summary, cited)
        return self.page(sf.page, sf.path, head + '<main class="src">%s</main>' % "\n".join(body))

    # -- page frame ---------------------------------------------------------
    def page(self, page, title, main, extra_class=""):
        root = os.path.relpath(".", os.path.dirname(page) or ".")
        root = "" if root == "." else root + "/"
        return """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s: the annotated source</title>
<link rel="stylesheet" href="%(root)s%(static)s/pygments.css">
<link rel="stylesheet" href="%(root)s%(static)s/reader.css">
</head><body class="%(cls)s" data-root="%(root)s">
<header class="top"><a class="home" href="%(root)sindex.html">virtio teaching kernel: the annotated source</a>
<span class="where">%(title)s</span>
<span class="search"><input id="q" type="search" placeholder="search names and comments (/)" autocomplete="off" aria-label="search">
<div id="results" hidden></div></span></header>
%(main)s
<script src="%(root)s%(static)s/search-index.js"></script>
<script src="%(root)s%(static)s/reader.js"></script>
</body></html>
""" % {"title": html.escape(title), "root": root, "static": STATIC, "main": main, "cls": extra_class}

    # -- markdown -------------------------------------------------------------
    def render_markdown(self, text, md_path, page):
        """Markdown -> HTML, with links to source files sent to their reader
        page and line, and virtio citations linked."""
        h = markdown.markdown(text, extensions=["fenced_code", "tables", "toc", "sane_lists"],
                              output_format="html5")
        h = re.sub(r'href="([^"]*)"', lambda m: 'href="%s"' % self.md_link(html.unescape(m.group(1)), md_path, page), h)
        return self.cite_in_html(h, page, md_path)

    def md_link(self, target, md_path, page):
        if re.match(r"^[a-z]+:|^#|^$", target):
            return html.escape(target, quote=True)
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(md_path), path))
        m = re.match(r"L(\d+)", anchor)
        if full in self.pages:
            if m:
                n = int(m.group(1))
                if n > self.pages[full]:
                    self.warnings.append("%s: link to %s line %d: the file has %d lines" % (
                        md_path, full, n, self.pages[full]))
                anchor = "L%d" % n
            return href(page, page_of(full), anchor)
        if os.path.exists(os.path.join(ROOT, full)):
            # a file the reader has no page for: the file itself, in the checkout
            r = os.path.relpath(os.path.join(ROOT, full), os.path.join(OUT, os.path.dirname(page)))
            return html.escape(r + ("#" + anchor if anchor else ""), quote=True)
        self.warnings.append("%s: link to %s: no such file" % (md_path, target))
        return html.escape(target, quote=True)

    def cite_in_html(self, h, page, where):
        """Link the citations and the names of source files in the text of
        rendered Markdown (not inside links or code blocks)."""
        parts = re.split(r"(<[^>]+>)", h)
        out = []
        skip = 0
        code = False
        for p in parts:
            if p.startswith("<") and p.endswith(">"):
                if re.match(r"<(a|pre)\b", p):
                    skip += 1
                elif re.match(r"</(a|pre)>", p):
                    skip = max(0, skip - 1)
                code = p == "<code>" or (code and p != "</code>")
                out.append(p)
            elif skip or not p:
                out.append(p)
            elif code:
                # `bread` in a document: the function of that name, one click away
                m = re.fullmatch(r"([A-Za-z_]\w*)(\(\))?", html.unescape(p))
                d = self.x.global_named(m.group(1), where) if m else None
                out.append(self.link_html(page, html.unescape(p), "", "use", d) if d is not None else p)
            else:
                out.append(self.link_files(self.cite_html(html.unescape(p), page, None, where, None), page, where))
        return "".join(out)

    def link_files(self, h, page, where):
        """Names of files the reader has a page for (kernel/plic.c) become
        links. h is escaped HTML that may hold citation links already."""
        parts = re.split(r"(<a\b.*?</a>)", h)
        for i in range(0, len(parts), 2):
            parts[i] = re.sub(
                r"\b((?:[\w-]+/)+[\w-]+\.(?:c|h|S|ld|md))\b",
                lambda m: ('<a class="f" href="%s">%s</a>' % (href(page, page_of(m.group(1))), m.group(1))
                           if m.group(1) in self.pages and m.group(1) != where else m.group(0)),
                parts[i])
        return "".join(parts)

    def check_markdown(self, md_path):
        text = read(md_path)
        for c in citations.find(text, None):
            line = text.count("\n", 0, c.start) + 1
            if c.section is None:
                c.section = self.bad_citation(md_path, line, c.number)
            if c.section is not None:
                self.cites.setdefault(c.section.number, []).append((md_path, line))

    def render_md_page(self, md_path):
        page = page_of(md_path)
        self.check_markdown(md_path)
        body = self.render_markdown(read(md_path), md_path, page)
        return self.page(page, md_path, '<main class="md">%s</main>' % body, "mdpage")

    # -- index ----------------------------------------------------------------
    def link_names_in_pre(self, text, page, from_path):
        """A drawing from the docs or a comment: escape it and link file
        names and the names of functions it mentions."""
        out, pos = [], 0
        for m in re.finditer(r"\b((?:[\w-]+/)*[\w-]+\.(?:c|h|S|ld))\b|\b([A-Za-z_]\w*)\b", text):
            out.append(html.escape(text[pos:m.start()]))
            if m.group(1):
                target = self.file_named(m.group(1), from_path)
                if target:
                    out.append('<a class="f" href="%s">%s</a>' % (href(page, page_of(target)), html.escape(m.group(0))))
                else:
                    out.append(html.escape(m.group(0)))
            else:
                name = m.group(2)
                d = self.x.global_named(name, from_path) if ("_" in name or name.islower()) and len(name) > 3 else None
                if d is not None and d.kind in ("function", "prototype", "struct"):
                    out.append(self.link_html(page, name, "", "use", d))
                else:
                    out.append(html.escape(name))
            pos = m.end()
        out.append(html.escape(text[pos:]))
        return "".join(out)

    def check_walk(self, walk):
        """The walk names a function and its line: "`bread` [kernel/bio.c:248]".
        Code moves; say so when the line no longer holds that definition."""
        for m in re.finditer(r"`(\w+)`\s*\[([\w./-]+):(\d+)\]", walk):
            name, path, line = m.group(1), m.group(2), int(m.group(3))
            there = [d for d in self.x.by_name.get(name, ()) if d.path == path]
            if there and not any(d.line == line for d in there):
                self.warnings.append("docs/ARCHITECTURE.md, Follow one block read: %s is at %s:%s, "
                                     "not line %d" % (name, path, "/".join(str(d.line) for d in there), line))

    def drawing_from_comment(self, path, pick):
        """(text, first line) of a comment block of a source file."""
        sf = self.sources.get(path)
        if sf is None or not sf.blocks:
            return None, 0
        a, b = pick(sf)
        return "\n".join(sf.comment_text(i) for i in range(a, b)), a + 1

    def render_index(self, md_files):
        page = "index.html"
        parts = ['<main class="index"><h1>The annotated source</h1>',
                 '<p class="lead">The portable virtio core, the device model, the network stack, the RISC-V '
                 'kernel\'s block and network paths and the Cortex-M3 board files, each comment beside the '
                 'code it explains. Every name links to its definition (click a definition to see its uses); '
                 'every citation of the virtio 1.2 specification links to that section. '
                 'Search names and comments with the box above (press <kbd>/</kbd>).</p>']
        arch = read("docs/ARCHITECTURE.md") if exists("docs/ARCHITECTURE.md") else ""
        m = re.search(r"^##+\s*Layers[^\n]*\n+```[^\n]*\n(.*?)\n```", arch, re.S | re.M)
        if m:
            parts.append('<section id="layers"><h2>The layers</h2><p class="src-note">From '
                         '<a href="%s">docs/ARCHITECTURE.md</a>: data flows down on a request, up on a '
                         'completion.</p><pre class="drawing">%s</pre></section>' % (
                             href(page, page_of("docs/ARCHITECTURE.md")),
                             self.link_names_in_pre(m.group(1), page, "docs/ARCHITECTURE.md")))
        walk = walk_section(arch) if arch else None
        if walk:
            self.check_walk(walk)
            walk_body = re.sub(r"^#+[^\n]*\n", "", walk, count=1)
            title = re.match(r"#+\s*(.*)", walk).group(1)
            parts.append('<section id="walk"><h2>%s</h2>%s</section>' % (
                html.escape(title), self.render_markdown(walk_body, "docs/ARCHITECTURE.md", page)))

        def boxiest(sf):
            def score(blk):
                return sum(1 for i in range(*blk) if re.search(r"\+-{3,}|\|.*\|", sf.comment_text(i)))
            return max(sf.blocks, key=score)

        ring, ring_line = self.drawing_from_comment("virtio/virtio.h", boxiest)
        if ring:
            parts.append('<section id="ring"><h2>The split virtqueue in memory</h2><p class="src-note">'
                         'From <a href="%s">virtio/virtio.h, line %d</a>.</p><pre class="drawing">%s</pre></section>'
                         % (href(page, page_of("virtio/virtio.h"), "L%d" % ring_line), ring_line,
                            self.prose_for_index(ring, page, "virtio/virtio.h", ring_line)))
        mem, mem_line = self.drawing_from_comment("kernel/memlayout.h", lambda sf: sf.blocks[0])
        if mem:
            parts.append('<section id="memory"><h2>The memory map (RISC-V)</h2><p class="src-note">From '
                         '<a href="%s">kernel/memlayout.h, line %d</a>.</p><pre class="drawing">%s</pre></section>'
                         % (href(page, page_of("kernel/memlayout.h"), "L%d" % mem_line), mem_line,
                            self.prose_for_index(mem, page, "kernel/memlayout.h", mem_line)))
        # files by folder
        groups = {}
        for path in self.pages:
            if path.endswith(".md"):
                continue
            groups.setdefault(os.path.dirname(path), []).append(path)
        order = ["virtio", "devmodel", "net", "kernel/glue", "kernel", "cm3"]
        folders = sorted(groups, key=lambda g: (order.index(g) if g in order else 99, g))
        parts.append('<section id="files"><h2>Files</h2>')
        for g in folders:
            parts.append('<h3>%s/</h3><ul class="files">' % html.escape(g))
            for p in groups[g]:
                sf = self.sources[p]
                parts.append('<li><a href="%s">%s</a> <span class="sum">%s</span></li>' % (
                    href(page, page_of(p)), html.escape(os.path.basename(p)), html.escape(sf.summary())))
            parts.append("</ul>")
        parts.append("</section>")
        if md_files:
            parts.append('<section id="docs"><h2>Documents and labs</h2><ul class="files">')
            for p in md_files:
                first = re.search(r"^#\s+(.*)", read(p), re.M)
                parts.append('<li><a href="%s">%s</a> <span class="sum">%s</span></li>' % (
                    href(page, page_of(p)), html.escape(p), html.escape(first.group(1) if first else "")))
            parts.append("</ul></section>")
        parts.append('<section id="spec"><h2>The specification</h2><p>The code cites %d sections of the '
                     'virtio 1.2 specification: <a href="spec.html">the list, with every place that cites '
                     'each</a>.</p></section>' % len(self.cites))
        parts.append("</main>")
        return self.page(page, "index", "".join(parts), "indexpage")

    def prose_for_index(self, text, page, path, first_line):
        sf = self.sources[path]
        lines = text.split("\n")
        out = []
        for t in lines:
            cites = [(c.start, c.end, c.section) for c in citations.find(t, sf.default_ctx) if c.section]
            out.append(self.prose_line(sf, t, cites))
        # prose_line makes links relative to the source's own page: re-base them
        return self.rebase("\n".join(out), page_of(path), page)

    @staticmethod
    def rebase(h, from_page, to_page):
        def fix(m):
            target = html.unescape(m.group(1))
            if re.match(r"^[a-z]+:", target):
                return m.group(0)
            path, _, anchor = target.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(from_page), path)) if path else from_page
            return 'href="%s"' % href(to_page, full, anchor)
        return re.sub(r'href="([^"]*)"', fix, h)

    def render_spec_page(self):
        page = "spec.html"
        rows = []
        for num in sorted(self.cites, key=section_key):
            s = self.table.get(num)
            places = sorted(set(self.cites[num]))
            rows.append('<tr><td>%s</td><td>%s</td><td>%s</td></tr>' % (
                self.cite_link(s, page), html.escape(s.title),
                ", ".join('<a href="%s">%s:%d</a>' % (href(page, page_of(p), "L%d" % l if not p.endswith(".md") else ""),
                                                      html.escape(p), l) for p, l in places)))
        src = "<br>".join(html.escape(l) for l in self.table.source[:3])
        main = ('<main class="spec"><h1>virtio 1.2 sections cited in the code</h1><p class="src-note">%s</p>'
                '<table><tr><th>section</th><th>title</th><th>cited at</th></tr>%s</table></main>') % (src, "".join(rows))
        return self.page(page, "spec sections", main, "specpage")

    # -- the whole build ------------------------------------------------------
    def build(self):
        t0 = time.time()
        files = source_files()
        md_files = markdown_files()
        progress("%d source files, %d Markdown files" % (len(files), len(md_files)))
        self.x = xref.Xref(ROOT, files)
        progress("ctags: %d definitions" % len(self.x.defs))
        self._def_seen = set()
        self.sources = {}
        for f in files:
            self.sources[f] = SourceFile(f)
        self.pages = {f: self.sources[f].nlines for f in files}
        for f in md_files:
            self.pages[f] = read(f).count("\n") + 1
        for f in files:
            self.resolve(self.sources[f])
        nuses = sum(len(v) for v in self.x.uses.values())
        progress("%d uses resolved" % nuses)
        if os.path.isdir(OUT):
            shutil.rmtree(OUT)
        os.makedirs(os.path.join(OUT, STATIC))
        written = 0
        for f in files:
            self.write(page_of(f), self.render_source(self.sources[f]))
            written += 1
        for f in md_files:
            self.write(page_of(f), self.render_md_page(f))
            written += 1
        if self.errors:
            raise BuildError("\n".join(self.errors))
        self.write("index.html", self.render_index(md_files))
        self.write("spec.html", self.render_spec_page())
        self.write_static()
        for key in sorted(set(self.errata) - self.errata_used):
            self.warnings.append("tools/reader/citation-errata.tsv: %s no longer cites %s: remove the line"
                                 % key)
        for w in dict.fromkeys(self.warnings):
            progress("warning: " + w)
        progress("%d pages, %d citations of %d spec sections, %.1f s" % (
            written + 2, sum(len(v) for v in self.cites.values()), len(self.cites), time.time() - t0))
        return os.path.join(OUT, "index.html")

    def write(self, page, text):
        p = os.path.join(OUT, page)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)

    def write_static(self):
        for name in ("reader.css", "reader.js"):
            shutil.copy(os.path.join(HERE, name), os.path.join(OUT, STATIC, name))
        with open(os.path.join(OUT, STATIC, "pygments.css"), "w") as f:
            f.write(HtmlFormatter(style="default").get_style_defs(".code"))
        names = []
        for d in self.x.defs:
            if d.path in self.pages:
                names.append([d.name, d.kind if d.kind not in xref.MEMBER else "member of " + d.scope,
                              page_of(d.path), d.line])
        index = {"names": names, "comments": self.search_comments}
        with open(os.path.join(OUT, STATIC, "search-index.js"), "w", encoding="utf-8") as f:
            f.write("// The search index of the annotated reader (written by tools/reader/reader.py).\n")
            f.write("window.READER_INDEX = ")
            json.dump(index, f, separators=(",", ":"))
            f.write(";\n")


def load_errata():
    """Known wrong citations in files the reader does not own, and the
    sections they mean: {(path, cited): meant}."""
    out = {}
    p = os.path.join(HERE, "citation-errata.tsv")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                path, cited, meant = line.rstrip("\n").split("\t")[:3]
                out[(path, cited)] = meant
    return out


def section_key(num):
    return [int(p) if p.isdigit() else ord(p) for p in num.split(".")]


def main(argv):
    """reader.py [--root DIR] [--out DIR]: by default the checkout this file
    is in, and its build/reader/ (the tests build copies of the tree)."""
    global ROOT, OUT
    args = list(argv)
    while args:
        opt = args.pop(0)
        if opt in ("--root", "--out") and args:
            val = os.path.abspath(args.pop(0))
            if opt == "--root":
                ROOT = val
                OUT = os.path.join(ROOT, "build", "reader")
            else:
                OUT = val
        else:
            print(main.__doc__, file=sys.stderr)
            return 2
    try:
        index = Site().build()
    except BuildError as e:
        print(str(e), file=sys.stderr)
        print("reader: the build failed: fix the citations above (the numbers are the "
              "virtio 1.2 specification's; tools/reader/virtio-1.2-sections.tsv lists them all)",
              file=sys.stderr)
        return 1
    shown = os.path.relpath(index)
    print(index if shown.startswith("..") else shown)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
