#!/usr/bin/env python3
"""crashtest.py: kill QEMU in the middle of file-system work and check that
everything the guest had been promised is durable survived, intact.

    python3 tests/qemu/crashtest.py              20 crash points (make check runs these)
    python3 tests/qemu/crashtest.py -n 200       200 (make crashtest N=200)
    python3 tests/qemu/crashtest.py --seed S --delay D --variant V   replay one point

Three variants of the workload, taken in turn:
  plain    fscrash alone: many small operations, a sync after about half
  load     fscrash with `fsstress 2` running beside it: long writes (up to
           32 KB a call, 1 MB files) and big group commits of hundreds of
           blocks, so that the kill also lands in the middle of those
  nocache  load, on a disk with write-cache=off,config-wce=off: the device
           offers no FLUSH (virtio 1.2 5.2.3, VIRTIO_BLK_F_FLUSH), every
           write is durable when it completes, and the kernel must not flush

One crash point:
  1. boot a fresh copy of fs.img, start `fsstress 2 &` (load, nocache) and
     `fscrash run SEED NOPS` (user/fscrash.c): random creates, appends,
     truncations, renames and deletes in /ct; after each fsync()/sync()
     that returned it prints "D i" (operations 0..i are durable, by the
     README's promise);
  2. wait a random time after it prints "fscrash: ready", then SIGKILL QEMU
     by its process id: the disk image is left exactly as the host had it;
  3. build/mkfs/fsck the image: it must be consistent (a committed log counts as
     replayed, an unfinished one as absent);
  4. boot the image (the kernel replays the log, frees orphans) and run
     `fscrash verify SEED NOPS K` with the last K seen: /ct must equal the
     state after some j > K operations, byte for byte;
  5. halt (which syncs) and fsck again: recovery must leave it clean.
The first point of each variant runs the workload to its end (fscrash and,
with load, fsstress: no early kill) to learn how long it takes; the others
kill at a uniformly random moment of that whole time, and the summary shows
how the kill times spread over it.
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


VARIANTS = ("plain", "load", "nocache")


def blkprops(variant):
    return "write-cache=off,config-wce=off" if variant == "nocache" else ""


def wait_all(q, marks, timeout):
    """Wait until every one of marks has appeared in the transcript."""
    deadline = time.time() + timeout
    while not all(m in q.transcript for m in marks):
        if time.time() > deadline:
            raise QemuError("timed out waiting for %s; last output: %r"
                            % (marks, q.transcript[-300:]))
        q._read_some(0.5)


def run_workload(disk, seed, nops, delay, log_name, cpus, variant="plain"):
    """Boot `disk`, run the workload, SIGKILL QEMU `delay` seconds after it is
    ready (None: after it finished). Returns (K, seconds it ran, finished)."""
    q = Qemu(disk, log_name=log_name, cpus=cpus, blkprops=blkprops(variant))
    marks = ["fscrash: done"]
    try:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        if variant == "nocache" and re.search(r"virtio-blk: features:[^;\n]*FLUSH", banner):
            raise CrashFailure("write-cache=off, but the driver negotiated FLUSH")
        if variant != "plain":
            q.send("fsstress 2 &\n")
            marks.append("fsstress: OK")
        q.send("fscrash run %d %d\n" % (seed, nops))
        q.expect("fscrash: ready", 60)
        t0 = time.time()
        if delay is None:
            wait_all(q, marks, 600)
        else:
            time.sleep(delay)
        ran = time.time() - t0
        os.kill(q.proc.pid, signal.SIGKILL)   # QEMU, by its own pid
        drain(q)
        finished = all(m in q.transcript for m in marks)
        for bad in ("fscrash: FAILED", "fsstress: FAILED"):
            if bad in q.transcript:
                line = q.transcript[q.transcript.index(bad):].splitlines()[0]
                raise CrashFailure("the workload failed before the kill: " + line)
        durable = [int(m) for m in re.findall(r"^D (\d+)\n", q.transcript, re.M)]
        return (max(durable) if durable else -1), ran, finished
    finally:
        q.kill()


def verify(disk, seed, nops, k, log_name, cpus, variant="plain"):
    """Boot the crashed image, check /ct, halt. Returns verify's line."""
    q = Qemu(disk, log_name=log_name, cpus=cpus, blkprops=blkprops(variant))
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


def crash_point(i, seed, delay, nops=NOPS, cpus=3, report=print, variant="plain"):
    """One crash point; raises CrashFailure (or QemuError) on a failure.
    Returns the seconds the workload ran before the kill."""
    disk = fresh_disk("crash")
    k, ran, finished = run_workload(disk, seed, nops, delay, "crash_run", cpus, variant)
    rc, out = fsck(disk)
    if rc != 0:
        raise CrashFailure("fsck after the kill:\n" + out)
    line, recovered = verify(disk, seed, nops, k, "crash_verify", cpus, variant)
    rc, out2 = fsck(disk)
    if rc != 0:
        raise CrashFailure("fsck after recovery and halt:\n" + out2)
    m = re.search(r"after (\d+) operations", line)
    report("crash point %d (%s): seed %d, killed %.3f s in%s: %d ops durable, disk had %s, "
           "log replayed %d blocks: OK"
           % (i, variant, seed, ran, " (after the end)" if finished else "", k + 1,
              m.group(1) if m else "?", recovered))
    return ran


def replay_hint(seed, delay, variant):
    return ("replay: python3 tests/qemu/crashtest.py --seed %d --delay %.3f --variant %s"
            % (seed, delay, variant))


def spread(kills):
    """How the kill times of one variant cover its workload: per fifth."""
    length, times = kills
    if not times:
        return "no kills"
    fifths = [0] * 5
    for t in times:
        fifths[min(4, int(5 * t / length))] += 1
    return "%.2f s workload, kills at %.2f..%.2f s, per fifth %s" % (
        length, min(times), max(times), "/".join(map(str, fifths)))


def run(npoints, master=None, nops=NOPS, cpus=3, report=print):
    """npoints crash points, the variants in turn (the first of each runs
    unkilled, to measure its workload). Returns the number that failed."""
    if master is None:
        master = random.SystemRandom().randrange(1, 1 << 30)
    rnd = random.Random(master)
    report("crashtest: %d points, master seed %d, %d operations per run, variants %s"
           % (npoints, master, nops, " ".join(VARIANTS)))
    failed = 0
    kills = {}           # variant -> (workload length, [kill times])
    for i in range(npoints):
        variant = VARIANTS[i % len(VARIANTS)]
        seed = rnd.randrange(1, 1 << 30)
        delay = rnd.uniform(0, kills[variant][0]) if variant in kills else None
        try:
            ran = crash_point(i, seed, delay, nops, cpus, report, variant)
            if variant not in kills:
                kills[variant] = (max(ran, 0.2), [])
            else:
                kills[variant][1].append(ran)
        except (CrashFailure, QemuError) as e:
            failed += 1
            report("crash point %d (%s): seed %d: FAILED: %s\n  %s"
                   % (i, variant, seed, e,
                      replay_hint(seed, delay if delay is not None else 0, variant)))
            if variant not in kills:
                kills[variant] = (2.0, [])
    for variant in VARIANTS:
        if variant in kills:
            report("crashtest: %s: %s" % (variant, spread(kills[variant])))
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
    ap.add_argument("--variant", choices=VARIANTS, default="plain",
                    help="replay one point: its variant")
    ap.add_argument("--cpus", type=int, default=3)
    a = ap.parse_args()
    if not os.path.exists(FSCK):
        print("crashtest: %s is missing: run make first" % FSCK)
        return 2
    if a.seed is not None:
        try:
            crash_point(0, a.seed, a.delay, a.nops, a.cpus, variant=a.variant)
            return 0
        except (CrashFailure, QemuError) as e:
            print("crash point: seed %d: FAILED: %s" % (a.seed, e))
            return 1
    return 1 if run(a.n, a.master, a.nops, a.cpus) else 0


if __name__ == "__main__":
    sys.exit(main())
