"""gradelib.py: what a lab's grading definition (labs/NAME/grade.py) is
written with, and what tools/labs/grade.py runs.

A lab declares its tests with points; each test is one of three kinds:

    lab = Lab("vq", "The split virtqueue", files=["virtio/virtq.c"])

    # host unit tests (tests/host, AddressSanitizer) chosen by name, per test
    # program (ring= is build/host/test_ring); the test passes when every
    # one of them passes
    lab.host("free_list", 15, "what it checks", ring=["ring_free_list"],
             virtio=["virtq_add_errors"])

    # the RISC-V kernel under QEMU, driven by labtest (user/labtest.c)
    @lab.qemu("boot", 10, "what it checks")
    def boot(t):
        with t.guest() as g:               # boots; fails the test if it cannot
            g.labtest("fs")                # <<WORD fs pass>> or the test fails
            out = g.run("lsdev", "-v")     # a program's output, framed
            h = g.begin("udpecho", "2000", "10")  # runs while the test talks to it
            out = g.end(h)                 # ... until it exits
        t.note("a figure")                 # printed under the result, pass or fail
    # (t.guest(extra=[QEMU options]) adds devices; t.path("pcap") names a
    # file of the test in its log folder, a packet capture say)

    # Lab(..., trace="blk"): the queues of those devices (blk, console,
    # net, rng: /dev/vtrace's names) are recorded while each labtest line
    # runs; when a QEMU test fails, the recording of the last command it
    # typed becomes a step-through page of the ring (tools/trace/),
    # tests/out/grade/LAB/TEST-trace/index.html, and the failure says so

    # the Cortex-M3 image (QEMU lm3s6965evb), driven through its shell
    @lab.cm3("m3", 10, "what it checks")
    def m3(t):
        with t.cm3() as m:
            out = m.command("blktest")

A test fails by raising TestFailure (t.fail(why), t.check(cond, why)), an
AssertionError, or a QemuError from the harness (timeouts, a panic); the
message is the reason the grader prints. The machines are the project's
own test harness (tests/qemu/qemu.py: Qemu, and test_cm3.py: Cm3), and the
host programs the project's own host tests: one way to run each thing.

Timeouts are given in seconds on a reference machine and multiplied by
t.scale, which grade.py measured from a boot of the kernel before the tests
(a slow machine gets longer timeouts, not failures).
"""
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))
sys.path.insert(0, os.path.join(ROOT, "tools", "trace"))
import qemu  # noqa: E402
from qemu import Qemu, QemuError  # noqa: E402

HOST_BUILD = os.path.join(ROOT, "build", "host")
# The line init prints as it starts the shell: the kernel booted, mounted
# its file system and ran a program from it. Typing may begin then (the
# console keeps what is typed until sh reads it).
BOOTED = "init: starting sh"
# The line user/vtrace.c ends its printout of a recording with.
TRACE_END = re.compile(r"^==vtrace end \d+ records==$", re.M)


class TestFailure(Exception):
    """A check of a test did not hold; the message says what."""


class Test:
    def __init__(self, lab, name, points, what, kind, budget, fn=None, programs=None):
        self.lab = lab
        self.name = name
        self.points = points
        self.what = what
        self.kind = kind          # "host", "qemu" or "cm3"
        self.budget = budget      # seconds on the reference machine
        self.fn = fn
        self.programs = programs or []   # host: [(program, [test names])]


class Lab:
    """One lab: its name, title, the files the student edits, the grading
    files it trusts besides the common ones (grade.py's release check), and
    its tests in the order they run."""

    def __init__(self, name, title, files, trusts=(), starter_boots=True, trace=None):
        self.name = name
        self.title = title
        self.files = list(files)
        self.trusts = list(trusts)
        self.starter_boots = starter_boots
        # The devices whose queues a failing QEMU test's trace page shows
        # ("blk", "blk,net"), or None for no recording.
        self.trace = trace
        self.tests = []

    def _add(self, test):
        if not re.fullmatch(r"[a-z][a-z0-9_]*", test.name):
            raise ValueError("test name %r: lowercase letters, digits, _" % test.name)
        if any(t.name == test.name for t in self.tests):
            raise ValueError("lab %s has two tests named %s" % (self.name, test.name))
        self.tests.append(test)
        return test

    def host(self, name, points, what, budget=20, **programs):
        progs = [("test_" + p, list(names)) for p, names in programs.items()]
        self._add(Test(self, name, points, what, "host", budget, programs=progs))

    def qemu(self, name, points, what, budget=30):
        def register(fn):
            self._add(Test(self, name, points, what, "qemu", budget, fn=fn))
            return fn
        return register

    def cm3(self, name, points, what, budget=30):
        def register(fn):
            self._add(Test(self, name, points, what, "cm3", budget, fn=fn))
            return fn
        return register

    def total(self):
        return sum(t.points for t in self.tests)


def new_word():
    """The word of one grading run: pass lines must carry it."""
    return "lab" + secrets.token_hex(6)


# ---- the RISC-V guest ----

class Guest(Qemu):
    """The kernel under QEMU (tests/qemu/qemu.py's Qemu), booted, with the
    grader's word: labtest() and run() type one labtest line and return
    what labtest framed."""

    def __init__(self, ctx, disk, log_name, **kw):
        self.ctx = ctx
        self.nchecks = 0
        self.log_name = log_name
        Qemu.__init__(self, disk, log_name=log_name, **kw)

    def __exit__(self, exc_type, exc, tb):
        # The test failed while this machine ran: keep what the ring did
        # in its last command, while the machine is still there to ask.
        if exc_type is not None and self.nchecks > 0 and self.ctx.test.lab.trace:
            self.ctx.save_trace(self)
        elif exc_type is None:
            self.ctx.stopped += 1
        return Qemu.__exit__(self, exc_type, exc, tb)

    def boot(self, timeout):
        """Wait for the boot marker; the time it took, in seconds."""
        t0 = time.time()
        try:
            self.expect(BOOTED, timeout)
        except QemuError as e:
            # The console's last words say more than the way it ended.
            lines = self.transcript.rstrip().split("\n")
            last = "\n".join(lines[-4:])
            # A virtqueue that broke says why once, often well before the end.
            broke = [l for l in lines[:-4] if re.search(r"virtq \d+ .*broken: ", l)]
            if broke:
                last = broke[0] + "\n...\n" + last
            if "crashed" in str(e):
                raise QemuError("the kernel did not boot: %s" % e)
            raise QemuError("the kernel did not boot (%s); its last lines:\n%s" % (
                "QEMU stopped" if "exited" in str(e) else "no %r within %.0fs" % (BOOTED, timeout),
                last))
        return time.time() - t0

    def _start(self, args, timeout):
        """Type one labtest line and wait for its begin frame; the check's name."""
        self.nchecks += 1
        name = "c%d" % self.nchecks
        word = self.ctx.word
        # A new recording of the lab's devices for each command: if the
        # test fails, the page shows what its last command did to the ring.
        # One line, so that the shell prints one prompt for both.
        trace = self.ctx.test.lab.trace
        on = "echo on %s > /dev/vtrace; " % trace.replace(",", " ") if trace else ""
        self.send("%slabtest %s %s %s\n" % (on, word, args[0], " ".join([name] + list(args[1:]))))
        # The frame lines start a line of their own; the echo of what we
        # typed cannot match them (no "<<" before the word).
        self.expect(re.compile(r"^<<%s %s begin>>$" % (word, name), re.M), timeout)
        return name

    def _finish(self, name, ends, timeout):
        end = re.compile(r"^<<%s %s (%s)>>$" % (self.ctx.word, name, ends), re.M)
        out = self.expect(end, timeout)
        m = end.search(out)
        return m.group(1), out[:m.start()].strip("\n")

    def _check(self, args, ends, timeout):
        return self._finish(self._start(args, timeout), ends, timeout)

    def labtest(self, check, *args, timeout=None):
        """Run labtest's `check`; its output. Fails the test on a fail frame."""
        status, out = self._check((check,) + args, r"pass|fail: [^\n]*",
                                  self.ctx.timeout(timeout or 20))
        if status != "pass":
            raise TestFailure("labtest %s: %s" % (check, status[len("fail: "):]))
        return out

    def run(self, *argv, timeout=None, status=0):
        """Run a program under labtest; its output. Fails the test unless it
        exits with `status` (None: any), the status then in self.status."""
        return self.end(self.begin(*argv, timeout=timeout), timeout=timeout, status=status)

    def begin(self, *argv, timeout=None):
        """Start a program under labtest and return once it runs, so that the
        test can talk to it (a server, say); end() waits for it. A handle."""
        return (self._start(("run",) + argv, self.ctx.timeout(timeout or 20)), argv)

    def end(self, handle, timeout=None, status=0):
        """Wait for a program begin() started; its output, as run() returns it."""
        name, argv = handle
        st, out = self._finish(name, r"exit -?\d+", self.ctx.timeout(timeout or 20))
        self.status = int(st.split()[1])
        if status is not None and self.status != status:
            raise TestFailure("`%s` exited with status %d:\n%s"
                              % (" ".join(argv), self.status, tail(out, 12)))
        return out


class Board:
    """The Cortex-M3 image under QEMU (tests/qemu/test_cm3.py's Cm3). Its
    shell has no labtest; command() frames a command between two lines its
    `echo` prints, which carry the grader's word: "WORD-N-begin" and
    "WORD-N-end", each alone on its line (the shell's echo of what we typed
    has the prompt and "echo " before it)."""

    def __init__(self, ctx, log_name):
        import test_cm3
        self.ctx = ctx
        self.n = 0
        self.m = test_cm3.Cm3(log_name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.m.kill()
        return False

    def boot(self, timeout):
        """Wait for the line the image prints as its shell starts."""
        try:
            return self.m.expect("UART0: this shell", timeout)
        except QemuError as e:
            raise QemuError("the Cortex-M3 image did not start its shell: %s" % e)

    def command(self, line, timeout=None):
        """Type one shell command; everything it printed."""
        self.n += 1
        tag = "%s-%d" % (self.ctx.word, self.n)
        t = self.ctx.timeout(timeout or 20)
        self.m.send("echo %s-begin\n%s\necho %s-end\n" % (tag, line, tag))
        self.m.expect(re.compile(r"^%s-begin\n" % tag, re.M), t)
        out = self.m.expect(re.compile(r"^%s-end$" % tag, re.M), t)
        # Up to the line before the end word's echo.
        lines = out.split("\n")[:-2]
        return "\n".join(lines)


class Context:
    """What a test function gets: the word, the timeouts, the machines."""

    def __init__(self, grader, test):
        self.grader = grader
        self.test = test
        self.word = grader.word
        self.scale = grader.scale
        self.nmachines = 0
        self.notes = []
        self.traces = []      # (page path or None, why there is none), one per failed machine
        self.stopped = 0      # machines whose `with` block ended without a failure
        self.booted = 0       # machines that reached their shell

    def note(self, text):
        """A line the grader prints under the test's result, passed or not
        (a measured figure beside the solution's, say)."""
        self.notes.append(text)

    def timeout(self, seconds):
        return seconds * self.scale

    def fail(self, why):
        raise TestFailure(why)

    def check(self, cond, why):
        if not cond:
            raise TestFailure(why)

    def _log_name(self):
        self.nmachines += 1
        n = self.test.name
        return n if self.nmachines == 1 else "%s.%d" % (n, self.nmachines)

    def guest(self, extra=(), legacy=False, cpus=3, boot_timeout=None, blkprops=""):
        """A booted kernel on a fresh copy of fs.img (a `with` block kills it);
        legacy: QEMU's legacy (version 1) virtio-mmio transport; extra: more
        QEMU options (devices); blkprops: properties of the disk's device."""
        if self.grader.boot_failure:
            raise TestFailure(self.grader.boot_failure)
        name = self._log_name()
        g = Guest(self, qemu.fresh_disk(name), name,
                  transport="mmio-legacy" if legacy else "mmio", cpus=cpus,
                  extra=list(extra), blkprops=blkprops)
        try:
            g.boot(self.timeout(boot_timeout or 30))
        except BaseException:
            g.kill()
            raise
        self.booted += 1
        return g

    def save_trace(self, g):
        """Stop g's recording, have it printed (`vtrace -p`) and write its
        page into the log folder: LOGNAME-trace/index.html. Whatever goes
        wrong (a guest that no longer answers) is noted, never raised:
        the test's own failure is the one that counts."""
        out_dir = os.path.join(self.grader.logdir, g.log_name + "-trace")
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        try:
            # One line: no prompt between the two can land in front of
            # the printout's first marker line.
            g.send("echo off > /dev/vtrace; vtrace -p\n")
            text = g.expect(TRACE_END, self.timeout(15))
        except (QemuError, OSError) as e:
            self.traces.append((None, "the guest did not print its recording (%s)"
                                % str(e).split("\n")[0][:200]))
            return
        try:
            if not trace_has_queue(text):
                self.traces.append((None, "no queue of %s was recorded (its driver had none "
                                    "set up)" % self.test.lab.trace))
                return
            path = trace_page(text, os.path.join(out_dir, "index.html"), {
                "title": "lab %s, test %s: the ring in its last command" % (self.test.lab.name,
                                                                              self.test.name),
                "command": "the test's last labtest line (%s)" % g.log_name,
                "devices": self.test.lab.trace})
        except Exception as e:  # a recording the tools cannot read must not hide the result
            self.traces.append((None, "the recording could not be read: %s: %s"
                                % (type(e).__name__, e)))
            return
        self.traces.append((path, ""))

    def path(self, name):
        """A file of this test in the lab's log folder (a packet capture, say):
        tests/out/grade/LAB/TEST.name, removed first."""
        p = os.path.join(self.grader.logdir, "%s.%s" % (self.test.name, name))
        if os.path.exists(p):
            os.unlink(p)
        return p

    def cm3(self):
        """The Cortex-M3 image at its shell prompt (a `with` block kills it)."""
        b = Board(self, self._log_name())
        try:
            b.boot(self.timeout(30))
        except BaseException:
            b.m.kill()
            raise
        return b


def trace_has_queue(console_text):
    """Does the last recording in console_text hold a queue? (Not when the
    lab's driver never set its queue up: there is no ring to show.)"""
    import records
    return any(r.kind == "QUEUE" for r in records.from_console(console_text).records)


def trace_page(console_text, out, meta):
    """The page of the last recording user/vtrace.c printed in
    console_text (tools/trace/: records.py decodes it, vtrace.py replays
    and writes it); returns out."""
    import records
    import vtrace
    ct = records.from_console(console_text)
    meta = dict(meta, damaged=len(ct.damaged))
    return vtrace.page(vtrace.build(ct.records, None, meta), out)


# From the line that stopped a recording (Context.save_trace) to the end of
# its printout: the failure's tail shows the test, not the records.
TRACE_DUMP = re.compile(r"^[^\n]*echo off > /dev/vtrace\n(?:[^\n]*\n)*?==vtrace end \d+ records==\n?",
                        re.M)


def without_trace_dumps(text):
    """A console log with each recording's printout cut to one line."""
    return TRACE_DUMP.sub("(the ring's recording for the trace page: printed, left out here)\n",
                          text)


# LeakSanitizer's report, printed when a host test program exits after
# tests that aborted half-way (and so never freed what they allocated):
# true, but never the reason a test failed, so a failure's tail leaves it
# out (the log keeps it).
LEAK_REPORT = re.compile(r"^=+\n==\d+==ERROR: LeakSanitizer: detected memory leaks\n"
                         r"(?:.*\n)*?SUMMARY: AddressSanitizer: [^\n]*leaked[^\n]*\n?", re.M)


def without_leak_reports(text):
    """Host test output with LeakSanitizer's exit report cut to one line."""
    return LEAK_REPORT.sub("(LeakSanitizer's report of what the failed tests left allocated: "
                           "in the log, left out here)\n", text)


def tail(text, n):
    lines = [l for l in text.rstrip("\n").split("\n")]
    return "\n".join(lines[-n:])


def check_uart2_echo(t, board, line, seed):
    """The Cortex-M3's UART2 echo (UART2 -> console device -> the driver's
    receive queue -> its transmit queue -> UART2): `line`, then 4096
    random bytes (from `seed`), each must come back byte for byte; a
    failure says where the first difference is."""
    got = board.m.echo(line, t.timeout(4))
    t.check(got == line, "UART2: sent %r, got back %r" % (line, got))
    rnd = random.Random(seed)
    data = bytes(rnd.randrange(256) for _ in range(4096))
    got = board.m.echo(data, t.timeout(30))
    if got != data:
        n = min(len(got), len(data))
        first = next((i for i in range(n) if got[i] != data[i]), n)
        t.fail("UART2: %d random bytes sent, %d back, the first difference at byte %d"
               % (len(data), len(got), first))


def m3_stat_row(stat, dev, q):
    """The Cortex-M3 shell's `stat` has a row per queue: the driver's
    counters, `|`, the device model's. For queue q of device `dev`: (driver
    requests, notifies, interrupts, done, errors, device requests,
    notifies, interrupts, errors), a "-" as -1; None without such a row."""
    m = re.search(r"^\s*%s\s+%d\s+\S+\s+((?:(?:\d+|-)\s+){5})\|\s+((?:\d+\s*){4})$"
                  % (dev, q), stat, re.M)
    return [-1 if x == "-" else int(x) for x in (m.group(1) + m.group(2)).split()] if m else None


# ---- host tests ----

def run_host(grader, test):
    """Run the test's host tests, one process per program, with the word;
    (ok, reason, output). The first failure is the reason."""
    outs = []
    for program, names in test.programs:
        ok, why, out = run_host_program(grader, program, names, test.budget * grader.scale)
        outs.append("$ build/host/%s %s\n%s" % (program, " ".join(names), out))
        if not ok:
            return False, why, "\n".join(outs)
    return True, "", "\n".join(outs)


def run_host_program(grader, program, names, limit):
    """Run host tests `names` of one program in one process. A program that
    crashes or hangs fails the first test it did not report."""
    exe = os.path.join(HOST_BUILD, program)
    args = [exe, "-q", "-w", grader.word] + names
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=limit, cwd=ROOT)
        out = p.stdout.decode("utf-8", "replace")
        code = p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        code = None
    except OSError as e:
        return False, "cannot run %s: %s" % (exe, e), ""
    results = {}
    for line in out.split("\n"):
        m = re.match(r"^(PASS|FAIL) %s: ([A-Za-z0-9_]+)(?:: (.*))?$" % re.escape(grader.word), line)
        if m:
            results[m.group(2)] = (m.group(1) == "PASS", m.group(3) or "")
    for name in names:
        if name in results and not results[name][0]:
            return False, "host test %s: %s" % (name, results[name][1]), out
        if name not in results:
            started = re.findall(r"^  -- (\S+)$", out, re.M)
            where = started[-1] if started else name
            if code is None:
                why = "timed out after %.0fs in host test %s" % (limit, where)
            else:
                san = re.search(r"^(SUMMARY: \S+Sanitizer: .*|.*runtime error: .*)$", out, re.M)
                why = "host test %s crashed (exit status %s)%s" % (
                    where, code, ": " + san.group(1) if san else "")
            return False, why, out
    return True, "", out
