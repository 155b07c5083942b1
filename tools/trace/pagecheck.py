#!/usr/bin/env python3
"""pagecheck.py: checks a trace page (vtrace.py's output) the way a reader
would need it: the page holds its recording, the recording has at least
one queue, and the replay of each queue (ring.py, run when the page was
written) found nothing inconsistent. A queue on which nothing happened is
fine (the page shows its rings as they stood); how many steps there are
in all is printed.

    python3 tools/trace/pagecheck.py PAGE...

Prints one line per page, "ok: PAGE: N queues, M steps" or "bad: PAGE:
what is wrong", and exits 1 if any page is bad. The lab proof
(tools/labs/checklabs.py) runs it on the pages a failing starter test
leaves (tests/out/grade/LAB/TEST-trace/index.html).

Standard library only.
"""
import json
import re
import sys

DATA_RE = re.compile(r'<script id="trace-data" type="application/json">(.*?)</script>', re.S)


def load(path):
    """The recording a page holds (vtrace.build's dict)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = DATA_RE.search(text)
    if not m:
        raise ValueError("no recording in the page")
    return json.loads(m.group(1).replace("<\\/", "</"))


def problems(data):
    """What is wrong with a page's recording: a list, empty if nothing."""
    bad = []
    queues = data.get("queues")
    if not isinstance(queues, list) or not queues:
        return ["no queue was recorded"]
    for q in queues:
        name = q.get("name") or "queue %s" % q.get("qid")
        if not isinstance(q.get("steps"), list):
            bad.append("%s: no list of steps" % name)
        for w in q.get("warnings") or []:
            bad.append("%s: the replay says: %s" % (name, w))
    return bad


def check(path):
    """(ok, the line pagecheck prints for path)."""
    try:
        data = load(path)
    except (OSError, ValueError) as e:
        return False, "bad: %s: %s" % (path, e)
    bad = problems(data)
    if bad:
        return False, "bad: %s: %s" % (path, "; ".join(bad))
    return True, "ok: %s: %d queues, %d steps" % (path, len(data["queues"]), steps(data))


def steps(data):
    """How many steps a page's queues have in all."""
    return sum(len(q["steps"]) for q in data["queues"])


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    status = 0
    for path in sys.argv[1:]:
        ok, line = check(path)
        print(line)
        status |= 0 if ok else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
