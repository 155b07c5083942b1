#!/usr/bin/env python3
"""doclinks.py: keep the docs' links into the source true.

The walks in docs/ARCHITECTURE.md ("Follow one block read", ...) point at
the line where each function is defined, like this:

    `vblk_rw` [virtio/virtio_blk.c:212](../virtio/virtio_blk.c#L212)

A link is checked when a backquoted name stands right before it: line N
of the file must define that name (a C function, struct, macro or
variable definition: the name at the start of the declarator, not a call
or a prototype ending in ';'). Every link of the form [path:N](...#LN)
must also agree with itself (the text's N is the anchor's N) and name a
file that exists.

    python3 tools/doclinks.py            check docs/*.md and README.md; exit 1 if wrong
    python3 tools/doclinks.py --fix      move every checked link to the line that
                                         defines its name now (after code moved)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r"(?:`(?P<name>[A-Za-z_]\w*)(?:\(\))?`\s*)?"
                  r"\[(?P<tpath>[\w./-]+):(?P<tline>\d+)\]\((?P<href>[\w./-]+)#L(?P<hline>\d+)\)")


def definition_lines(path, name):
    """Line numbers (1-based) in path where name is defined."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    fn = re.compile(r"^(?:[A-Za-z_][\w\s\*]*?[\s\*])?%s\s*\(" % re.escape(name))
    other = re.compile(r"^\s*(?:#define\s+%s\b|(?:struct|union|enum)\s+%s\s*\{|"
                       r"(?:static\s+|const\s+)*[\w\s\*]+[\s\*]%s\s*(?:\[[^\]]*\])*\s*(?:=|;))"
                       % ((re.escape(name),) * 3))
    for i, line in enumerate(lines):
        if fn.match(line):
            # a prototype ends in ';' on this line or the next few
            rest = line
            j = i
            while ")" not in rest and j + 1 < len(lines) and j < i + 4:
                j += 1
                rest += lines[j]
            after = rest[rest.rfind(")") + 1:].strip()
            if not after.startswith(";"):
                out.append(i + 1)
        elif other.match(line) and not line.lstrip().startswith("extern"):
            out.append(i + 1)
    return out


def docs():
    d = os.path.join(ROOT, "docs")
    files = [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".md")]
    return files + [os.path.join(ROOT, "README.md")]


def check(fix):
    errors = 0
    for doc in docs():
        text = open(doc, encoding="utf-8").read()
        base = os.path.dirname(doc)
        out = []
        pos = 0
        for m in LINK.finditer(text):
            out.append(text[pos:m.start()])
            pos = m.end()
            name, tpath, tline = m.group("name"), m.group("tpath"), int(m.group("tline"))
            href, hline = m.group("href"), int(m.group("hline"))
            target = os.path.normpath(os.path.join(base, href))
            rel = os.path.relpath(target, ROOT)
            where = "%s: link %s" % (os.path.relpath(doc, ROOT), m.group(0))
            line = tline
            if rel != tpath:
                print("%s: the text names %s but the link goes to %s" % (where, tpath, rel))
                errors += 1
            elif not os.path.isfile(target):
                print("%s: no such file" % where)
                errors += 1
            elif tline != hline:
                print("%s: the text says line %d, the anchor line %d" % (where, tline, hline))
                errors += 1
            elif name:
                defs = definition_lines(target, name)
                if tline not in defs:
                    if fix and len(defs) == 1:
                        line = defs[0]
                    else:
                        print("%s: line %d of %s does not define %s (defined at %s)"
                              % (where, tline, tpath, name,
                                 ", ".join(map(str, defs)) or "no line"))
                        errors += 1
            piece = m.group(0)
            if line != tline:
                piece = piece.replace(":%d]" % tline, ":%d]" % line).replace(
                    "#L%d)" % hline, "#L%d)" % line)
            out.append(piece)
        out.append(text[pos:])
        new = "".join(out)
        if fix and new != text:
            open(doc, "w", encoding="utf-8").write(new)
            print("updated %s" % os.path.relpath(doc, ROOT))
    return errors


def main():
    fix = "--fix" in sys.argv[1:]
    errors = check(fix)
    if errors:
        print("doclinks: %d link(s) wrong%s" % (errors, "" if fix else
                                               " (tools/doclinks.py --fix moves them)"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
