"""qemu.py: start the kernel under QEMU, talk to its console, stop it.

Used by the QEMU tests (tests/qemu/test_*.py) through tests/run_tests.py.
Standard library only. Every QEMU is started by this module, has a
deadline, and is killed by its own process id (never by name).

    with Qemu(disk=img, slot=3) as q:        # or transport="pci", see TRANSPORTS
        q.expect("$ ")             # wait for the shell prompt
        out = q.run("ls")          # send a line, collect output to the next prompt
"""
import errno
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = os.path.join(ROOT, "build", "kernel", "kernel")
FSIMG = os.path.join(ROOT, "fs.img")
OUT = os.path.join(ROOT, "tests", "out")
PROMPT = "$ "

# The packed virtqueue layout (virtio 1.2 section 2.8) on every kind of
# virtio device the tests attach: QEMU offers VIRTIO_F_RING_PACKED only
# with packed=on, and on virtio-mmio only on the modern transport. The
# Makefile's PACKED=1 adds the same options to `make qemu`.
PACKED_ARGS = ["-global", "virtio-blk-device.packed=on",
               "-global", "virtio-net-device.packed=on",
               "-global", "virtio-rng-device.packed=on",
               "-global", "virtio-serial-device.packed=on"]


def layout(packed):
    """The ring layout's name, as the device table and lsdev print it."""
    return "packed" if packed else "split"


def check_ring(table, typ, packed):
    """The device table (boot banner or lsdev) lists the device of type
    `typ` ("block", "network", ...) with its driver on the layout asked for."""
    m = re.search(r"^.*\b%s\b.*\bvirtio-\S+\s+(split|packed)\s*$" % typ, table, re.M)
    if not m or m.group(1) != layout(packed):
        raise AssertionError("the %s device is not on the %s ring:\n%s"
                             % (typ, layout(packed), table))


class QemuError(Exception):
    pass


def sparse_copy(src, dst, size=None):
    """Copy src to dst keeping holes as holes (fs.img is a 100 MB sparse
    file with a few hundred KB of data); optionally make dst `size` bytes."""
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        end = os.fstat(fi.fileno()).st_size
        pos = 0
        while pos < end:
            try:
                pos = os.lseek(fi.fileno(), pos, os.SEEK_DATA)
                stop = os.lseek(fi.fileno(), pos, os.SEEK_HOLE)
            except OSError as e:
                if e.errno == errno.ENXIO:      # only a hole is left
                    break
                stop = end                      # no SEEK_DATA here: copy it all
            except AttributeError:
                stop = end
            fi.seek(pos)
            fo.seek(pos)
            left = stop - pos
            while left > 0:
                chunk = fi.read(min(left, 1 << 20))
                if not chunk:
                    break
                fo.write(chunk)
                left -= len(chunk)
            pos = stop
        fo.truncate(size if size is not None else end)


_outdir_lock = None


def claim_outdir(what):
    """Only one harness run at a time may use tests/out: its disk images and
    transcripts have fixed names, so a second `make check` (or `make bench`,
    `make crashtest`) in the same checkout would overwrite the first one's
    disks under its running QEMUs. The lock (flock on tests/out/.lock) goes
    away with the process; a second run stops at once and says who holds it."""
    global _outdir_lock
    os.makedirs(OUT, exist_ok=True)
    f = open(os.path.join(OUT, ".lock"), "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another run"
        raise SystemExit("%s: tests/out is in use by %s in this checkout; wait for it to "
                         "finish, or run from a separate clone" % (what, holder))
    f.seek(0)
    f.truncate()
    f.write("%s (pid %d)\n" % (what, os.getpid()))
    f.flush()
    _outdir_lock = f


def fresh_disk(name, size=None):
    """A private copy of fs.img for one test, so tests cannot disturb each other."""
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".img")
    sparse_copy(FSIMG, path, size)
    return path


class Machine:
    """A QEMU whose first serial port is our stdin/stdout: start it, wait for
    text, type lines, kill it by process id, keep the transcript. Qemu (the
    RISC-V kernel) and test_cm3.Cm3 (the Cortex-M3 image) are the two kinds."""

    prompt = PROMPT
    crash_marks = ("panic:",)      # text that means the guest died
    proc = None

    def start(self, args, log_name):
        self.args = args
        self.buf = ""          # everything the console printed and we have not consumed
        self.transcript = ""   # everything, for the log file
        os.makedirs(OUT, exist_ok=True)
        self.log_path = os.path.join(OUT, (log_name or "qemu") + ".log")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def _read_some(self, timeout):
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return False
        data = os.read(fd, 65536)
        if not data:
            raise QemuError("QEMU exited (status %s)" % self.proc.poll())
        text = data.decode("utf-8", "replace").replace("\r", "")
        self.buf += text
        self.transcript += text
        for mark in self.crash_marks:
            if mark in self.transcript:
                # give the message a moment to finish, then fail loudly
                time.sleep(0.2)
                raise QemuError("the guest crashed: " +
                                self.transcript[self.transcript.index(mark):][:400])
        return True

    def expect(self, pattern, timeout=60):
        """Wait for a regular expression (or literal string) in the output.
        Returns everything up to and including the match and consumes it."""
        rx = re.compile(pattern if isinstance(pattern, re.Pattern) else re.escape(pattern))
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                before = self.buf[:m.end()]
                self.buf = self.buf[m.end():]
                return before
            left = deadline - time.time()
            if left <= 0:
                raise QemuError("timed out after %ds waiting for %r; last output: %r"
                                % (timeout, rx.pattern, self.buf[-300:]))
            self._read_some(min(left, 1.0))

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, line, timeout=60):
        """Type a command line and return its output (without the echo and the next prompt)."""
        self.send(line + "\n")
        out = self.expect(self.prompt, timeout)
        # the console echoes what we typed; drop that first line
        out = out[:-len(self.prompt)]
        first_nl = out.find("\n")
        return out[first_nl + 1:] if first_nl >= 0 else ""

    def wait_exit(self, timeout=60):
        """Wait for QEMU to power off by itself (the guest ran `halt`)."""
        deadline = time.time() + timeout
        while self.proc.poll() is None:
            if time.time() > deadline:
                raise QemuError("QEMU did not power off within %ds" % timeout)
            try:
                self._read_some(0.5)
            except QemuError:
                pass
        return self.proc.returncode

    def wait_poweroff(self, timeout=60):
        """Wait for the guest to power itself off (halt, or a disk the kernel
        refused) and read everything it printed; a panic on the way fails at
        once, and so does a guest still running at the deadline. Returns
        QEMU's exit status."""
        deadline = time.time() + timeout
        while True:
            try:
                self._read_some(0.5)
            except QemuError:
                if any(m in self.transcript for m in self.crash_marks):
                    raise
                break                  # end of its output: QEMU has exited
            if time.time() > deadline:
                raise QemuError("the guest did not power off within %ds; last output: %r"
                                % (timeout, self.transcript[-400:]))
        return self.proc.wait(timeout=10)

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)   # our own session: QEMU alone
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass
        with open(self.log_path, "w") as f:
            f.write(" ".join(self.args) + "\n\n" + self.transcript)


class Qmp:
    """QEMU's machine protocol (QMP) on a unix socket: JSON commands and
    their answers, e.g. x-query-virtio-queue-status (what `info
    virtio-queue-status` prints, as JSON)."""

    def __init__(self, path, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(timeout)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise QemuError("no QMP socket at %s" % path)
                time.sleep(0.1)
        self.f = self.sock.makefile("rw")
        json.loads(self.f.readline())             # the greeting
        self.call("qmp_capabilities")

    def call(self, command, **args):
        msg = {"execute": command}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise QemuError("QMP closed while waiting for %s" % command)
            reply = json.loads(line)
            if "error" in reply:
                raise QemuError("QMP %s: %s" % (command, reply["error"].get("desc")))
            if "return" in reply:
                return reply["return"]              # (events in between are skipped)

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


# The transports a test can put its virtio devices on: virtio-mmio modern
# (version 2) and legacy (version 1), virtio-pci modern-only and
# legacy-only (what `make qemu PCI=1` and PCI_LEGACY=1 attach).
TRANSPORTS = ("mmio", "mmio-legacy", "pci", "pci-legacy")


def vdevice(kind, transport="mmio", opts=""):
    """The -device value of a virtio device of `kind` ("blk", "net", "rng",
    "serial", ...) on `transport`, with the device options `opts`."""
    if transport not in TRANSPORTS:
        raise ValueError("transport %r is none of %s" % (transport, ", ".join(TRANSPORTS)))
    if transport.startswith("mmio"):
        return "virtio-%s-device%s" % (kind, "," + opts if opts else "")
    dev = "virtio-%s-pci%s" % (kind, "," + opts if opts else "")
    dev += ",disable-modern=on" if transport == "pci-legacy" else ",disable-legacy=on"
    if kind == "net":
        dev += ",romfile="        # no boot ROM for the firmware to load
    return dev


class Qemu(Machine):
    """The RISC-V kernel on QEMU virt, with the disk image `disk` on
    `transport` (TRANSPORTS; on virtio-mmio in slot `slot`); `blkprops`
    adds properties to the disk's virtio-blk device
    ("queue-size=4,event_idx=off"); `extra` adds QEMU options (more
    devices: see vdevice); qmp=True opens QEMU's machine protocol on a
    private unix socket (self.qmp() connects to it); `packed` makes every
    virtio device offer the packed ring."""

    def __init__(self, disk, slot=0, transport="mmio", cpus=3, readonly=False,
                 extra=(), log_name=None, blkprops="", qmp=False, packed=False):
        if packed and transport.endswith("legacy"):
            raise ValueError("a legacy virtio device cannot offer the packed ring")
        args = ["qemu-system-riscv64", "-machine", "virt", "-bios", "default",
                "-kernel", KERNEL, "-m", "128M", "-smp", str(cpus),
                "-nographic", "-monitor", "none", "-serial", "stdio"]
        self.qmp_path = None
        if qmp:
            self._qmp_dir = tempfile.mkdtemp(prefix="qmp-")
            self.qmp_path = os.path.join(self._qmp_dir, "qmp.sock")
            args += ["-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        if transport != "mmio-legacy":
            args += ["-global", "virtio-mmio.force-legacy=false"]
        if packed:
            args += PACKED_ARGS
        drive = "file=%s,if=none,format=raw,id=x0" % disk
        if readonly:
            drive += ",readonly=on"
        blk = "drive=x0"
        if transport.startswith("mmio"):
            blk += ",bus=virtio-mmio-bus.%d" % slot
        if blkprops:
            blk += "," + blkprops
        args += ["-drive", drive, "-device", vdevice("blk", transport, blk)]
        args += list(extra)
        self.start(args, log_name)

    def qmp(self):
        """A connection to this QEMU's QMP socket (Qemu(..., qmp=True))."""
        if not self.qmp_path:
            raise QemuError("this QEMU was started without qmp=True")
        return Qmp(self.qmp_path)

    def kill(self):
        Machine.kill(self)
        if self.qmp_path:
            shutil.rmtree(self._qmp_dir, ignore_errors=True)
