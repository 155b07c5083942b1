"""citations.py: find the citations of the virtio 1.2 specification in a
comment ("virtio 1.2 section 2.7.13", "section 5.2.6", "2.7.13.3",
"(2.7.7, 2.7.10)") and look them up in the table of sections that
spec_sections.py derived from the specification's source
(virtio-1.2-sections.tsv beside this file).

Used by reader.py (`make reader`); tests/qemu/test_reader.py checks it.

Which numbers are citations of the virtio specification? Comments also cite
the RISC-V privileged spec, SBI, RFCs, data sheets and the C standard, with
numbers of the same shape, so a number counts only in a virtio context:
  - naming "virtio 1.2" (or "virtio spec") starts one; naming another
    document ("RFC 791", "RISC-V", "privileged spec", "SBI", "ARMv7-M",
    "data sheet", "PLIC specification", ...) starts a context of its own;
  - a context named in a comment lasts to the end of its sentence (or
    paragraph); after that the file's default context holds again;
  - a file's default context is the first document its opening comment
    names: "Follows virtio 1.2 ..." makes every bare number in that file a
    virtio citation, "Follows the RISC-V privileged spec ..." makes none;
    a file whose opening comment names none has only explicit citations.
Numbers with a 0 part (10.0.2.15) or a first part past 99 are not section
numbers, nor is 1.x after "of", "since", "version" ... (a version). A dotted number in a virtio context that the specification does
not have is an error: reader.py stops and names the file and line.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "virtio-1.2-sections.tsv")
SPEC_HTML = "https://docs.oasis-open.org/virtio/virtio/v1.2/cs01/virtio-v1.2-cs01.html"
SPEC_SRC = "https://github.com/oasis-tcs/virtio-spec/blob/v1.2-cs01/"

VIRTIO, OTHER, NONE = "virtio", "other", None


class Section:
    def __init__(self, number, level, title, src_file, line, anchor, label):
        self.number = number
        self.level = int(level)
        self.title = title
        self.src_file = src_file
        self.line = int(line)
        self.anchor = anchor
        self.label = label

    def url(self):
        """The section in the OASIS HTML when its anchor is known, else its
        line in the LaTeX source at the tag."""
        if self.anchor:
            return SPEC_HTML + "#" + self.anchor
        return "%s%s#L%d" % (SPEC_SRC, self.src_file, self.line)

    def tooltip(self):
        return "virtio 1.2 section %s: %s" % (self.number, self.title)


class SpecTable:
    def __init__(self, path=TABLE):
        self.sections = {}
        self.source = []          # the header lines: where the table came from
        with open(path, encoding="utf-8") as f:
            header = None
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#"):
                    self.source.append(line[1:].strip())
                    continue
                cols = line.split("\t")
                if header is None:
                    header = cols
                    continue
                s = Section(*cols[:7])
                self.sections[s.number] = s

    def get(self, number):
        return self.sections.get(number)


# Something that names a document, in the order tried. A virtio version
# number is swallowed with its name so that "1.2" is not taken for a section.
_VIRTIO_NAME = r"(?i:\bvirtio(?:[ -]spec(?:ification)?)?\s+(?:v(?:ersion)?\s*)?1\.\d+\b(?:\s+spec(?:ification)?\b)?" \
               r"|\bvirtio\s+spec(?:ification)?\b)"
_OTHER_NAME = "|".join([
    r"\bRFCs?\s*\d+",
    r"\bRISC-V\b", r"\b(?:un)?privileged\b", r"\bSBI\b", r"\bPLIC\b\s+spec",
    r"\bARMv\d[\w-]*", r"\bARM\b", r"\bAAPCS\b", r"\bCortex-M\d\s+(?:TRM|manual)",
    r"(?i:\bdata ?sheet\b)", r"(?i:\b(?:reference|user|programmer'?s?) manual\b)",
    r"(?i:\bdevice ?tree spec(?:ification)?\b)", r"\bDTSpec\b",
    r"\bC(?:89|99|11|17|23)\b", r"\bISO\b", r"\bPOSIX\b", r"\bIEEE\b", r"\bELF\b",
    r"\bQEMU\s+v?\d+(?:\.\d+)+", r"\bLinux\s+v?\d+(?:\.\d+)+", r"\bgcc\s+\d+(?:\.\d+)*",
    r"\bPython\s+\d+(?:\.\d+)*", r"\bversion\s+\d+(?:\.\d+)+", r"\bv\d+(?:\.\d+)+",
    r"\bPCI(?:e)?\s+\d+\.\d+\b", r"\bPCI Express\b",
    # "<something> spec 4.3", "<something> specification": any document but virtio's
    r"\b(?!(?i:the|this|that|our|a|its|virtio)\b)[A-Za-z][\w-]*\s+(?i:spec(?:ification)?)\b",
])
# A dotted section number: not part of a longer word, version or decimal,
# and not a quantity ("2.5 us", "12.5 MHz").
_NUMBER = r"(?<![\w.\-/^])(?P<num>[1-9]\d*(?:\.\d+)+)(?![\w]|\.\d)(?!\s*(?:%|[kKMG]i?B\b|[mun]?s\b|[kMG]?Hz\b|x\b|times\b|bytes?\b|->))"
# A whole chapter or section cited by a single number needs the word.
_WORD_NUMBER = r"(?:\b[Ss]ections?|\b[Cc]hapters?|§)\s*(?P<one>[1-9]\d*)\b(?!\.\d)"
# Where a sentence or a paragraph ends.
_END = r"[.!?](?=\s+[A-Z(]|\s*$)|\n\s*\n"

# "of 1.2", "since 1.1": a version of the specification, not a section.
_VERSION_BEFORE = re.compile(r"\b(?:of|in|since|before|after|from|to|and|version|v)\s*$")

_SCAN = re.compile("(?P<virtio>%s)|(?P<other>%s)|%s|%s|(?P<end>%s)"
                   % (_VIRTIO_NAME, _OTHER_NAME, _NUMBER, _WORD_NUMBER, _END), re.M)


def default_context(opening_comment):
    """The context a file's opening comment sets: the first document named."""
    for m in _SCAN.finditer(opening_comment):
        if m.group("virtio"):
            return VIRTIO
        if m.group("other"):
            return OTHER
    return NONE


class Citation:
    def __init__(self, start, end, number, section):
        self.start = start
        self.end = end
        self.number = number
        self.section = section   # None: the specification has no such section


def find(text, default=NONE):
    """Citations of the virtio specification in text (one comment, or one
    Markdown file). Returns Citation objects with offsets into text; a
    Citation whose section is None names a section that does not exist
    (the caller reports it)."""
    table = _table()
    ctx = default
    out = []
    for m in _SCAN.finditer(text):
        if m.group("virtio"):
            ctx = VIRTIO
        elif m.group("other"):
            ctx = OTHER
        elif m.group("end"):
            ctx = default
        elif ctx == VIRTIO:
            grp = "num" if m.group("num") else "one"
            number = m.group(grp)
            parts = [int(p) for p in number.split(".")]
            if 0 in parts or parts[0] > 99:
                continue        # 10.0.2.2 is an address: sections count from 1
            if len(parts) == 2 and parts[0] == 1 and _VERSION_BEFORE.search(text, 0, m.start(grp)):
                continue        # "section 5.3.4 of 1.2": the version, not section 1.2
            out.append(Citation(m.start(grp), m.end(grp), number, table.get(number)))
    return out


_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        _TABLE = SpecTable()
    return _TABLE


def table():
    return _table()
