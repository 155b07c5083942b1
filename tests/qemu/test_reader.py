"""Tests of the annotated reader (`make reader`, tools/reader/), as a reader
sees it: the pages are opened from disk (file://) in Debian's headless
Chromium (chromium.py drives it through the DevTools pipe), names are
clicked, the search box is typed into. No QEMU here; the file sits with the
others so that run_tests.py (`make check`) runs it.

    python3 tests/run_tests.py reader

Screenshots of the index and of one driver page land in tests/out/
(reader-index.png, reader-virtio_blk.png) for a person to look at.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from qemu import ROOT, OUT
import chromium

PY = "/usr/bin/python3"      # Debian's, which sees python3-pygments and python3-markdown
TOOLS = os.path.join(ROOT, "tools", "reader")
BUILD = os.path.join(ROOT, "build", "reader")
sys.path.insert(0, TOOLS)

_built = {}


def build(root=ROOT, out=None):
    """Run the generator; returns (exit status, output). Once per run for
    the real tree."""
    cmd = [PY, os.path.join(TOOLS, "reader.py"), "--root", root]
    if out:
        cmd += ["--out", out]
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    return p.returncode, p.stdout, time.time() - t0


def built():
    if "main" not in _built:
        rc, out, secs = build()
        assert rc == 0, "make reader failed:\n" + out[-3000:]
        _built["main"] = (out, secs)
    return _built["main"]


def url(page, anchor="", base=BUILD):
    return "file://" + os.path.join(base, page) + ("#" + anchor if anchor else "")


def ctags(path):
    out = subprocess.run(["ctags", "--output-format=json", "--fields=+nKE", "--langmap=C:+.h", "-f", "-", path],
                         cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def definition_line(path, name, kind="function"):
    """Where Universal Ctags says `name` is defined: the line the link must
    land on, found here independently of the generator."""
    for t in ctags(path):
        if t.get("name") == name and t.get("kind") == kind:
            return t["line"]
    raise AssertionError("ctags finds no %s %s in %s" % (kind, name, path))


def used_in(user_path, def_path, kind):
    """A name of that kind defined (not static) in def_path and used in
    user_path, with its line: the code changes, the test follows it."""
    text = "\n".join(src_lines(user_path))
    for t in ctags(def_path):
        if t.get("kind") != kind or "fileScope" in t.get("extras", ""):
            continue
        if re.search(r"\b%s\b" % re.escape(t["name"]), text):
            return t["name"], t["line"]
    raise AssertionError("%s uses no %s of %s" % (user_path, kind, def_path))


def src_lines(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read().split("\n")


# ---------------------------------------------------------------- no browser

def test_reader_spec_table():
    """The table derived from the virtio 1.2 source: known numbers have their
    titles and the published document's anchors; the citation finder tells
    virtio citations from other documents' numbers."""
    import citations
    t = citations.SpecTable()
    head = " ".join(t.source)
    assert "oasis-tcs/virtio-spec" in head and "v1.2-cs01" in head and re.search(r"commit [0-9a-f]{40}", head), head
    titles = {
        "2.1": "Device Status Field",
        "2.7": "Split Virtqueues",
        "2.7.13": "Supplying Buffers to The Device",
        "2.7.13.3": "Updating idx",
        "2.8": "Packed Virtqueues",
        "3.1.1": "Driver Requirements: Device Initialization",
        "4.2.2": "MMIO Device Register Layout",
        "4.2.3.1": "Device Initialization",
        "5.2": "Block Device",
        "5.2.6": "Device Operation",
        "5.4": "Entropy Device",
        "6": "Reserved Feature Bits",
    }
    for num, title in titles.items():
        s = t.get(num)
        assert s is not None, "no section %s in the table" % num
        assert s.title == title, "section %s: %r, expected %r" % (num, s.title, title)
    # anchors of the OASIS HTML of v1.2-cs01 (and csd01 for 2.6), as published
    anchors = {"2": "x1-100002", "2.1": "x1-110001", "2.6": "x1-270006", "4.1": "x1-1150001",
               "5": "x1-2160005", "5.1": "x1-2170001", "5.2": "x1-2740002", "5.4": "x1-3050004",
               "5.10.2": "x1-4380002", "6": "x1-6600006"}
    for num, a in anchors.items():
        assert t.get(num).anchor == a, "section %s: anchor %s, published %s" % (num, t.get(num).anchor, a)
    assert t.get("5").url() == "https://docs.oasis-open.org/virtio/virtio/v1.2/cs01/virtio-v1.2-cs01.html#x1-2160005"
    for missing in ("2.6.4", "2.7.99", "9"):
        assert t.get(missing) is None, "the table has a section %s" % missing

    def found(text, default=None):
        return [(c.number, c.section.title if c.section else None) for c in citations.find(text, default)]
    assert found("virtio 1.2 section 2.7.13 and (2.7.7, 2.7.10)") == [
        ("2.7.13", "Supplying Buffers to The Device"), ("2.7.7", "Used Buffer Notification Suppression"),
        ("2.7.10", "Available Buffer Notification Suppression")]
    assert found("RFC 1122 3.2.1.3 and 3.3.1; privileged spec 4.2.1", citations.VIRTIO) == []
    assert found("ping 10.0.2.2 at 12.5 MHz; QEMU 7.2", citations.VIRTIO) == []
    assert found("section 5.3.4 of 1.2 lists cols first", citations.VIRTIO) == [("5.3.4", "Device configuration layout")]
    assert found("an undefined section 2.7.99", citations.VIRTIO) == [("2.7.99", None)]
    assert found("2.7.13 in a file with no default") == []


def test_reader_build():
    """`make reader` builds quickly and ends with the index page's path."""
    out, secs = built()
    last = out.strip().split("\n")[-1]
    assert last.endswith("build/reader/index.html"), "last line: %r" % last
    assert os.path.isfile(os.path.join(ROOT, last) if not os.path.isabs(last) else last)
    assert secs < 60, "the build took %.0f s" % secs
    for page in ("virtio/virtq.c.html", "virtio/virtio_blk.c.html", "devmodel/vdm.c.html",
                 "net/ip.c.html", "kernel/glue/vdev.c.html", "kernel/bio.c.html", "kernel/trap.c.html",
                 "kernel/memlayout.h.html", "cm3/board.c.html", "cm3/cm3.ld.html", "docs/ARCHITECTURE.html",
                 "spec.html", "_static/search-index.js"):
        assert os.path.isfile(os.path.join(BUILD, page)), "no page " + page
    # every line of a file has its anchor, once, comment lines included
    for path in ("virtio/virtq.c", "devmodel/vdm.c", "cm3/Makefile"):
        with open(os.path.join(BUILD, path + ".html"), encoding="utf-8") as f:
            ids = [int(n) for n in re.findall(r'id="L(\d+)"', f.read())]
        n = len(src_lines(path)) - (1 if src_lines(path)[-1] == "" else 0)
        assert sorted(ids) == list(range(1, n + 1)), "%s: %d anchors for %d lines" % (path, len(ids), n)


# ---------------------------------------------------------------- in the browser

def check_name_link(b, base, user_page, name, def_page, def_line):
    """Click the first use of `name` on user_page; it must land on def_page
    at the line of the definition, shown on screen, holding the name."""
    b.goto(url(user_page, base=base))
    sel = ("Array.from(document.querySelectorAll('.code a.x')).find(a => a.textContent === %s)"
           % json.dumps(name))
    href = b.click(sel)
    want = url(def_page, "L%d" % def_line, base=base)
    assert href == want, "the link for %s in %s leads to %s, not %s" % (name, user_page, href, want)
    seen = b.eval("""(function(){
        var el = document.getElementById(location.hash.slice(1));
        if (!el) return null;
        var r = el.getBoundingClientRect();
        return {text: el.textContent, target: el.matches(':target'),
                onscreen: r.top >= 0 && r.bottom <= innerHeight,
                def: Array.from(el.querySelectorAll('a.def')).map(a => a.textContent)};
    })()""")
    assert seen is not None, "%s has no element for %s" % (href, location_hash(href))
    assert seen["target"] and seen["onscreen"], "line %d of %s is not shown: %r" % (def_line, def_page, seen)
    assert name in seen["def"], "line %d of %s does not hold the definition of %s: %r" % (
        def_line, def_page, name, seen["text"])


def location_hash(u):
    return u.split("#", 1)[-1]


def test_reader_name_links_to_definition():
    """virtq_add used in virtio/virtio_blk.c links to its definition line in
    virtio/virtq.c; so do a macro of virtio.h used in virtq.c and a block
    driver function the RISC-V glue calls."""
    built()
    with chromium.Browser() as b:
        check_name_link(b, BUILD, "virtio/virtio_blk.c.html", "virtq_add",
                        "virtio/virtq.c.html", definition_line("virtio/virtq.c", "virtq_add"))
        name, line = used_in("virtio/virtq.c", "virtio/virtio.h", "macro")
        check_name_link(b, BUILD, "virtio/virtq.c.html", name, "virtio/virtio.h.html", line)
        glue = sorted(f for f in os.listdir(os.path.join(ROOT, "kernel", "glue")) if f.endswith(".c"))
        for f in glue:
            try:
                name, line = used_in("kernel/glue/" + f, "virtio/virtio_blk.c", "function")
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("no file of kernel/glue/ calls the block driver")
        check_name_link(b, BUILD, "kernel/glue/%s.html" % f, name, "virtio/virtio_blk.c.html", line)


def test_reader_citation_shows_title():
    """A "2.7.13" citation in virtio/virtq.c links to that section of the
    OASIS HTML and shows "Supplying Buffers to The Device"."""
    built()
    with chromium.Browser() as b:
        b.goto(url("virtio/virtq.c.html"))
        info = b.eval("""(function(){
            var a = Array.from(document.querySelectorAll('.prose a.cite')).find(a => a.textContent === '2.7.13');
            if (!a) return null;
            a.scrollIntoView({block: 'center'});
            var r = a.getBoundingClientRect();
            return {href: a.href, title: a.title, x: r.left + r.width / 2, y: r.top + r.height / 2};
        })()""")
        assert info, "no 2.7.13 citation link in virtq.c"
        assert info["href"].endswith("virtio-v1.2-cs01.html#x1-6400013"), info["href"]
        assert "Supplying Buffers to The Device" in info["title"], info["title"]
        b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": info["x"], "y": info["y"]})
        time.sleep(0.2)
        shown = b.eval("""getComputedStyle(Array.from(document.querySelectorAll('.prose a.cite'))
                           .find(a => a.textContent === '2.7.13'), '::after').content""")
        assert "Supplying Buffers to The Device" in (shown or ""), "on hover it shows %r" % shown
        listed = b.eval("document.querySelector('details.cited').textContent")
        assert "2.7.13" in listed and "Supplying Buffers to The Device" in listed, listed


def test_reader_definition_lists_uses():
    """Clicking virtq_add where it is defined opens the list of its uses,
    and the list holds virtio/virtio_blk.c's call, at the right line."""
    built()
    line = definition_line("virtio/virtq.c", "virtq_add")
    calls = [i + 1 for i, l in enumerate(src_lines("virtio/virtio_blk.c")) if re.search(r"\bvirtq_add\(", l)]
    assert calls, "virtio_blk.c no longer calls virtq_add"
    with chromium.Browser() as b:
        b.goto(url("virtio/virtq.c.html", "L%d" % line))
        b.click("document.getElementById('L%d').querySelector('a.def')" % line)
        uses = b.eval("""(function(){
            var d = document.querySelector('details.uses[data-def="virtq_add"]');
            if (!d) return null;
            return {open: d.open, links: Array.from(d.querySelectorAll('li a')).map(a => a.getAttribute('href'))};
        })()""")
        assert uses is not None, "no uses list for virtq_add"
        assert uses["open"], "clicking the definition did not open its uses"
        for n in calls:
            want = "virtio_blk.c.html#L%d" % n
            assert want in uses["links"], "uses of virtq_add lack %s: %r" % (want, uses["links"][:20])


def poll(b, expr, timeout=10):
    """The value of expr once it is a non-empty list (the search box fills its
    list after the keys arrive, later on a busy machine), or the last value."""
    deadline = time.time() + timeout
    value = b.eval(expr)
    while not value and time.time() < deadline:
        time.sleep(0.1)
        value = b.eval(expr)
    return value


def test_reader_search_finds_name():
    """Typing a name into the search box lists its definition; Enter goes there.
    Words from a comment find the comment."""
    built()
    line = definition_line("virtio/virtq.c", "virtq_kick")
    with chromium.Browser() as b:
        b.goto(url("index.html"))
        b.click("document.getElementById('q')", navigate=False)
        b.type_text("virtq_kick")
        hits = poll(b, "Array.from(document.querySelectorAll('#results a.name')).map(a => [a.textContent, a.getAttribute('href')])")
        assert hits and hits[0][0].startswith("virtq_kick"), "search for virtq_kick shows %r" % hits[:5]
        assert hits[0][1] == "virtio/virtq.c.html#L%d" % line, hits[0]
        b.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Enter", "code": "Enter",
                                          "windowsVirtualKeyCode": 13, "text": "\r"})
        deadline = time.time() + 10
        while time.time() < deadline and "virtq.c.html" not in b.eval("location.href"):
            time.sleep(0.1)
        assert b.eval("location.href") == url("virtio/virtq.c.html", "L%d" % line), b.eval("location.href")
        b.goto(url("index.html"))
        b.click("document.getElementById('q')", navigate=False)
        b.type_text("notification suppression")
        comments = poll(b, "Array.from(document.querySelectorAll('#results a.comment')).map(a => a.textContent)")
        assert comments and "notification suppression" in comments[0].lower(), comments[:3]


def test_reader_screenshots():
    """The index and one driver page, as pictures in tests/out/ for a person."""
    built()
    os.makedirs(OUT, exist_ok=True)
    shots = [("index.html", "", "reader-index.png"),
             ("virtio/virtio_blk.c.html", "", "reader-virtio_blk.png")]
    with chromium.Browser() as b:
        for page, anchor, name in shots:
            b.goto(url(page, anchor))
            path = os.path.join(OUT, name)
            b.screenshot(path, width=1400, height=1000)
            with open(path, "rb") as f:
                data = f.read()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30000, "%s: %d bytes" % (name, len(data))
        # the narrow layout: the comment above its code, not beside it
        b.size(700, 900)
        b.goto(url("virtio/virtq.c.html"))
        side = b.eval("""(function(){
            var s = Array.from(document.querySelectorAll('.sec')).find(s => s.querySelector('.prose .pl'));
            var p = s.querySelector('.prose').getBoundingClientRect(), c = s.querySelector('.code').getBoundingClientRect();
            return [p.bottom <= c.top + 1, p.right <= c.left + 1];
        })()""")
        assert side[0], "on a narrow screen the comment is not above its code"
        b.size(1400, 900)
        b.goto(url("virtio/virtq.c.html"))
        side = b.eval("""(function(){
            var s = Array.from(document.querySelectorAll('.sec')).find(s => s.querySelector('.prose .pl'));
            var p = s.querySelector('.prose').getBoundingClientRect(), c = s.querySelector('.code').getBoundingClientRect();
            return [p.bottom <= c.top + 1, p.right <= c.left + 1];
        })()""")
        assert side[1], "on a wide screen the comment is not beside its code"


# ---------------------------------------------------------------- on a copy of the tree

def copy_tree(dst):
    for d in ("virtio", "devmodel", "net", "kernel", "cm3", "docs", "bench"):
        if os.path.isdir(os.path.join(ROOT, d)):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(dst, d))


def test_reader_walk_and_labs():
    """The "Follow one block read" walk on the index links each step to its
    line; lab handouts are rendered, their links to the source land on lines."""
    line = definition_line("virtio/virtq.c", "virtq_add")
    blk = definition_line("virtio/virtio_blk.c", "vblk_init")
    tmp = tempfile.mkdtemp(prefix="reader-walk-")
    try:
        copy_tree(tmp)
        arch = os.path.join(tmp, "docs", "ARCHITECTURE.md")
        with open(arch) as f:
            text = f.read()
        mine = ("## Follow one block read\n1. the request goes on the ring: "
                "[virtio/virtq.c:%d](../virtio/virtq.c#L%d)\n" % (line, line))
        walk = walk_section(text)
        text = text.replace(walk, mine) if walk else text + "\n" + mine
        with open(arch, "w") as f:
            f.write(text)
        os.makedirs(os.path.join(tmp, "labs", "lab1"))
        with open(os.path.join(tmp, "labs", "README.md"), "w") as f:
            f.write("# Labs\n\n- [Lab 1](lab1/README.md)\n")
        with open(os.path.join(tmp, "labs", "lab1", "README.md"), "w") as f:
            f.write("# Lab 1: the block driver\n\nRead [vblk_init](../../virtio/virtio_blk.c#L%d); "
                    "virtio 1.2 section 5.2.6 says how a request looks.\n" % blk)
        rc, out, _ = build(tmp)
        assert rc == 0, out[-3000:]
        base = os.path.join(tmp, "build", "reader")
        with chromium.Browser() as b:
            b.goto(url("index.html", base=base))
            href = b.click("document.querySelector('#walk a')")
            assert href == url("virtio/virtq.c.html", "L%d" % line, base=base), href
            assert b.eval("document.getElementById('L%d').matches(':target')" % line)
            b.goto(url("labs/README.html", base=base))
            href = b.click("document.querySelector('main a')")
            assert href == url("labs/lab1/README.html", base=base), href
            href = b.click("Array.from(document.querySelectorAll('main a')).find(a => a.textContent === 'vblk_init')")
            assert href == url("virtio/virtio_blk.c.html", "L%d" % blk, base=base), href
            b.goto(url("labs/lab1/README.html", base=base))
            t = b.eval("document.querySelector('main a.cite').title")
            assert "5.2.6" in t and "Device Operation" in t, t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def walk_section(text):
    """The "Follow one block read" section of a Markdown text (the way the
    generator finds it)."""
    m = re.search(r"^(#+)\s+Follow one block read.*?(?=^#{1,%d}\s|\Z)", text, re.M | re.S | re.I)
    if not m:
        return None
    level = len(m.group(1))
    m = re.search(r"^#{%d}\s+Follow one block read.*?(?=^#{1,%d}\s(?!#)|\Z)" % (level, level), text, re.M | re.S | re.I)
    return m.group(0)


def test_reader_walk_links_land():
    """Every link of the index's walk (docs/ARCHITECTURE.md, "Follow one
    block read"), if the walk is there, lands on a line of a reader page."""
    built()
    with open(os.path.join(ROOT, "docs", "ARCHITECTURE.md")) as f:
        if not re.search(r"^#+\s+Follow one block read", f.read(), re.M | re.I):
            return          # no walk written: the index has none (test_reader_walk_and_labs covers one)
    with chromium.Browser() as b:
        b.goto(url("index.html"))
        links = b.eval("Array.from(document.querySelectorAll('#walk a')).map(a => a.href)")
        assert links, "the walk has no links on the index"
        bad = []
        for u in links:
            if not u.startswith("file://") or "#L" not in u:
                continue
            page, anchor = u[len("file://"):].split("#", 1)
            if not os.path.isfile(page):
                bad.append(u + " (no page)")
                continue
            with open(page, encoding="utf-8") as f:
                if 'id="%s"' % anchor not in f.read():
                    bad.append(u + " (no such line)")
        assert not bad, "walk links that land nowhere:\n" + "\n".join(bad)


def test_reader_bad_citation_fails():
    """A comment citing a section virtio 1.2 does not have stops the build,
    which names the file, the line and the number."""
    tmp = tempfile.mkdtemp(prefix="reader-bad-")
    try:
        copy_tree(tmp)
        p = os.path.join(tmp, "virtio", "virtq.c")
        with open(p) as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines.append("// The ring's rules (virtio 1.2 section 2.7.99) are wrong on purpose.")
        with open(p, "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, out, _ = build(tmp)
        assert rc != 0, "the build passed a citation of 2.7.99:\n" + out[-2000:]
        want = "virtio/virtq.c:%d:" % len(lines)
        assert want in out and "2.7.99" in out, "no %s ... 2.7.99 in:\n%s" % (want, out[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_reader_link_check_can_fail():
    """The link check above fails on a page whose virtq_add link points at
    the wrong line (a broken link made on purpose in a copy of the site)."""
    built()
    tmp = tempfile.mkdtemp(prefix="reader-broken-")
    try:
        base = os.path.join(tmp, "reader")
        shutil.copytree(BUILD, base)
        line = definition_line("virtio/virtq.c", "virtq_add")
        page = os.path.join(base, "virtio", "virtio_blk.c.html")
        with open(page) as f:
            text = f.read()
        good = 'href="virtq.c.html#L%d"' % line
        assert good in text, "no link to virtq.c line %d in virtio_blk.c's page" % line
        with open(page, "w") as f:
            f.write(text.replace(good, 'href="virtq.c.html#L%d"' % (line + 3)))
        with chromium.Browser() as b:
            try:
                check_name_link(b, base, "virtio/virtio_blk.c.html", "virtq_add", "virtio/virtq.c.html", line)
            except AssertionError as e:
                assert "leads to" in str(e), e
            else:
                raise AssertionError("the check passed a link that lands 3 lines off")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
