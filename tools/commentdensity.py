#!/usr/bin/env python3
"""commentdensity.py: comment lines per code line in C files, the measure
the project holds its portable virtio core to (at least xv6's
virtio_disk.c, 0.37). A line is a comment line if it holds only a comment
(or part of a block comment); a code line if it holds code, with or without
a trailing comment (which then counts for both). The opening block of a
file is counted separately, since it explains the file rather than the
code next to it: `body` is the density without it. The lab markers
(tools/labs/markers.py: `// >>> lab NAME: ...`, `// === stub`, the stub's
commented-out lines, `// <<< lab NAME`) are machinery, not explanation, and
count as nothing.

    python3 tools/commentdensity.py virtio/*.c          one line per file
    python3 tools/commentdensity.py --min 0.37 FILES     exit 1 if a body is below
"""
import re
import sys

LAB_MARK = re.compile(r"^//\s?(>>>|===|<<<)(\s|$)")


def measure(path):
    comment = code = head = 0
    in_block = False
    at_top = True
    in_stub = False
    for raw in open(path, encoding="utf-8"):
        line = raw.strip()
        m = LAB_MARK.match(line)
        if m:
            in_stub = m.group(1) == "==="
            continue
        if in_stub or not line:
            continue
        is_comment = False
        has_code = False
        rest = line
        while rest:
            if in_block:
                end = rest.find("*/")
                is_comment = True
                if end < 0:
                    rest = ""
                else:
                    in_block = False
                    rest = rest[end + 2:].strip()
                continue
            if rest.startswith("//"):
                is_comment = True
                break
            if rest.startswith("/*"):
                in_block = True
                rest = rest[2:]
                continue
            # code up to the next comment start
            i = min([k for k in (rest.find("//"), rest.find("/*")) if k >= 0] or [len(rest)])
            if rest[:i].strip():
                has_code = True
            rest = rest[i:]
            if i == len(rest) + i:
                break
            if not rest:
                break
        if at_top and is_comment and not has_code:
            head += 1
            continue
        at_top = False
        if has_code:
            code += 1
            if is_comment:
                comment += 1
        elif is_comment:
            comment += 1
    return head, comment, code


def main():
    args = sys.argv[1:]
    minimum = None
    if args[:1] == ["--min"]:
        minimum = float(args[1])
        args = args[2:]
    bad = 0
    for path in args:
        head, comment, code = measure(path)
        body = comment / code if code else 0.0
        whole = (comment + head) / code if code else 0.0
        flag = ""
        if minimum is not None and body < minimum:
            flag = "  below %.2f" % minimum
            bad += 1
        print("%-32s %5d code %5d comment (+%3d opening)  body %.2f  with opening %.2f%s"
              % (path, code, comment, head, body, whole, flag))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
