#!/usr/bin/env python3
"""crashtest.py: kill QEMU in the middle of file-system work and check that
everything the guest had been promised is durable survived, intact.

    python3 tests/qemu/crashtest.py              20 crash points (make check runs these)
    python3 tests/qemu/crashtest.py -n 200       200 (make crashtest N=200)
    python3 tests/qemu/crashtest.py --seed S --delay D     replay one point

One crash point:
  1. boot a fresh copy of fs.img and start `fscrash run SEED NOPS` (user/
     fscrash.c): random creates, appends, truncations, renames and deletes
     in /ct; after each fsync()/sync() that returned it prints "D i"
     (operations 0..i are durable, by the README's promise);
  2. wait a random time after it prints "fscrash: ready", then SIGKILL QEMU
     by its process id: the disk image is left exactly as the host had it;
  3. build/mkfs/fsck the image: it must be consistent (a committed log counts as
     replayed, an unfinished one as absent);
  4. boot the image (the kernel replays the log, frees orphans) and run
     `fscrash verify SEED NOPS K` with the last K seen: /ct must equal the
     state after some j > K operations, byte for byte;
  5. halt (which syncs) and fsck again: recovery must leave it clean.
The first point runs the workload to the end (no early kill) to learn how
long it takes; the others kill at a uniformly random moment within it.
Every point prints its seed and delay; a failure prints the command that
replays it (timing can only be approximated, the seed is exact).
Standard library only; QEMU transcripts land in tests/out/crash*.log.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu import Qemu, QemuError, fresh_disk, claim_outdir, PROMPT, ROOT  # noqa: E402

FSCK = os.path.join(ROOT, "build", "mkfs", "fsck")
NOPS = 300
BOOT_TIMEOUT = 120


class CrashFailure(Exception):
    pass


def fsck(img):
    """Run the checker; returns (exit status, output)."""
    p = subprocess.run([FSCK, "-q", img], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def drain(q, timeout=2.0):
    """Read what QEMU wrote before it died, until end of file."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if not q._read_some(0.2):
                continue
        except QemuError:
            return


def run_workload(disk, seed, nops, delay, log_name, cpus):
    """Boot `disk`, run the workload, SIGKILL QEMU `delay` seconds after it is
    ready (None: after it finished). Returns (K, seconds it ran, finished)."""
    q = Qemu(disk, log_name=log_name, cpus=cpus)
    try:
        q.expect(PROMPT, BOOT_TIMEOUT)
        q.send("fscrash run %d %d\n" % (seed, nops))
        q.expect("fscrash: ready", 60)
        t0 = time.time()
        if delay is None:
            q.expect("fscrash: done", 600)
        else:
            time.sleep(delay)
        ran = time.time() - t0
        os.kill(q.proc.pid, signal.SIGKILL)   # QEMU, by its own pid
        drain(q)
        finished = "fscrash: done" in q.transcript
        if "fscrash: FAILED" in q.transcript:
            line = q.transcript[q.transcript.index("fscrash: FAILED"):].splitlines()[0]
            raise CrashFailure("the workload failed before the kill: " + line)
        durable = [int(m) for m in re.findall(r"^D (\d+)\n", q.transcript, re.M)]
        return (max(durable) if durable else -1), ran, finished
    finally:
        q.kill()


def verify(disk, seed, nops, k, log_name, cpus):
    """Boot the crashed image, check /ct, halt. Returns verify's line."""
    q = Qemu(disk, log_name=log_name, cpus=cpus)
    try:
        boot = q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("fscrash verify %d %d %d" % (seed, nops, k), 120)
        if "verify: OK" not in out:
            raise CrashFailure("verify failed:\n" + boot[-600:] + out)
        q.send("halt\n")
        q.wait_exit(60)
        line = [l for l in out.splitlines() if "verify: OK" in l][0]
        recovered = re.search(r"fs: recovering (\d+) blocks", boot)
        return line, (int(recovered.group(1)) if recovered else 0)
    finally:
        q.kill()


def crash_point(i, seed, delay, nops=NOPS, cpus=3, report=print):
    """One crash point; raises CrashFailure (or QemuError) on a failure.
    Returns the seconds the workload ran before the kill."""
    disk = fresh_disk("crash")
    k, ran, finished = run_workload(disk, seed, nops, delay, "crash_run", cpus)
    rc, out = fsck(disk)
    if rc != 0:
        raise CrashFailure("fsck after the kill:\n" + out)
    line, recovered = verify(disk, seed, nops, k, "crash_verify", cpus)
    rc, out2 = fsck(disk)
    if rc != 0:
        raise CrashFailure("fsck after recovery and halt:\n" + out2)
    m = re.search(r"after (\d+) operations", line)
    report("crash point %d: seed %d, killed %.3f s in%s: %d ops durable, disk had %s, "
           "log replayed %d blocks: OK"
           % (i, seed, ran, " (after the end)" if finished else "", k + 1,
              m.group(1) if m else "?", recovered))
    return ran


def replay_hint(seed, delay):
    return "replay: python3 tests/qemu/crashtest.py --seed %d --delay %.3f" % (seed, delay)


def run(npoints, master=None, nops=NOPS, cpus=3, report=print):
    """npoints crash points (the first one unkilled, to measure the workload).
    Returns the number that failed."""
    if master is None:
        master = random.SystemRandom().randrange(1, 1 << 30)
    rnd = random.Random(master)
    report("crashtest: %d points, master seed %d, %d operations per run"
           % (npoints, master, nops))
    failed = 0
    length = None
    for i in range(npoints):
        seed = rnd.randrange(1, 1 << 30)
        delay = None if length is None else rnd.uniform(0, length)
        try:
            ran = crash_point(i, seed, delay, nops, cpus, report)
            if length is None:
                length = max(ran, 0.2)
        except (CrashFailure, QemuError) as e:
            failed += 1
            report("crash point %d: seed %d: FAILED: %s\n  %s"
                   % (i, seed, e, replay_hint(seed, delay if delay is not None else 0)))
            if length is None:
                length = 2.0
    report("crashtest: %d of %d crash points passed (master seed %d)"
           % (npoints - failed, npoints, master))
    return failed


def main():
    claim_outdir("make crashtest")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20, help="crash points (default 20)")
    ap.add_argument("--master", type=int, help="master seed (picks the points)")
    ap.add_argument("--seed", type=int, help="replay one point: its seed")
    ap.add_argument("--delay", type=float, default=None,
                    help="replay one point: seconds until the kill")
    ap.add_argument("--nops", type=int, default=NOPS)
    ap.add_argument("--cpus", type=int, default=3)
    a = ap.parse_args()
    if not os.path.exists(FSCK):
        print("crashtest: %s is missing: run make first" % FSCK)
        return 2
    if a.seed is not None:
        try:
            crash_point(0, a.seed, a.delay, a.nops, a.cpus)
            return 0
        except (CrashFailure, QemuError) as e:
            print("crash point: seed %d: FAILED: %s" % (a.seed, e))
            return 1
    return 1 if run(a.n, a.master, a.nops, a.cpus) else 0


if __name__ == "__main__":
    sys.exit(main())
