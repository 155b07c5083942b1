#!/usr/bin/env python3
"""fuzz.py: the kernel under the system-call fuzzer (user/scfuzz.c), round
after round with new seeds, until the time is up or a round fails.

    make fuzz MINUTES=10          (python3 tests/qemu/fuzz.py --minutes 10)

One round: boot a fresh copy of fs.img with every device `make qemu`
attaches (the network restricted, so nothing the fuzzer sends leaves QEMU),
run `scfuzz -s SEED -t SECONDS`, then `usertests -q` in the same boot (the
kernel must still be whole), then `halt`, then build/mkfs/fsck on the disk
image. The first failure stops the run and prints its seed; the guest's
console is in tests/out/fuzz.log. Repeat a seed by hand with `make qemu`
and `scfuzz -s SEED -t SECONDS`.

tests/qemu/test_scfuzz.py (`make check`) runs one short round with a fixed seed.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import time

from qemu import Qemu, QemuError, fresh_disk, claim_outdir, PROMPT, ROOT
import netutil

FSCK = os.path.join(ROOT, "build", "mkfs", "fsck")
BOOT_TIMEOUT = 120


def machine_args():
    """Entropy, a NIC on user networking with restrict=on (the guest reaches
    neither the host nor the outside), and a virtio console whose TCP end
    nobody connects to."""
    return (netutil.rng_args() +
            ["-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-device,netdev=n0"] +
            netutil.vconsole_args(netutil.free_port()))


def failed_lines(text):
    return "\n".join(l for l in text.splitlines()
                     if "FAILED" in l or "panic" in l)[-3000:]


def run_round(seed, seconds, name, progress=None):
    """One round; raises AssertionError or QemuError on any failure. Returns
    scfuzz's PASSED line."""
    say = progress or (lambda msg: None)
    disk = fresh_disk(name)
    with Qemu(disk, extra=machine_args(), log_name=name) as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        q.send("scfuzz -s %d -t %d\n" % (seed, seconds))
        q.expect("scfuzz: seed %d," % seed, 60)
        # The fuzzer stops by itself: a hang inside it is reported by it
        # after 30 s without progress; this timeout is for a hung kernel.
        out = q.expect(re.compile(r"scfuzz: seed \d+: (PASSED[^\n]*|FAILED)\n"),
                       seconds + 240)
        if "PASSED" not in out:
            raise AssertionError("scfuzz seed %d failed:\n%s" % (seed, failed_lines(q.transcript)))
        passed = out[out.rindex("scfuzz: seed"):].strip()
        say(passed)
        q.expect(PROMPT, 60)
        q.send("usertests -q\n")
        line = q.expect(re.compile(r"ALL TESTS PASSED|SOME TESTS FAILED"), 900)
        if "SOME TESTS FAILED" in line:
            raise AssertionError("usertests -q failed after scfuzz seed %d:\n%s" %
                                 (seed, failed_lines(q.transcript)))
        say("usertests -q: all passed")
        q.expect(PROMPT, 60)
        q.send("halt\n")
        rc = q.wait_exit(60)
        assert rc == 0, "QEMU exit status %r after halt" % rc
    p = subprocess.run([FSCK, disk], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0 or "clean" not in p.stdout:
        raise AssertionError("fsck after scfuzz seed %d (image %s):\n%s" %
                             (seed, disk, p.stdout[-3000:]))
    say("fsck: clean")
    return passed


def main():
    ap = argparse.ArgumentParser(description="run scfuzz with new seeds until the time is up")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--round-seconds", type=int, default=60,
                    help="fuzzing time of one round (default 60)")
    args = ap.parse_args()
    claim_outdir("make fuzz")
    end = time.time() + args.minutes * 60
    rounds = 0
    rng = random.SystemRandom()
    while time.time() < end:
        seed = rng.randrange(1, 1 << 32)
        secs = max(5, min(args.round_seconds, int(end - time.time())))
        print("round %d: seed %d, %d seconds of fuzzing" % (rounds + 1, seed, secs), flush=True)
        try:
            run_round(seed, secs, "fuzz", lambda m: print("      " + m, flush=True))
        except (AssertionError, QemuError) as e:
            print("FAILED: round %d, seed %d: %s" % (rounds + 1, seed, e), flush=True)
            print("the console is in tests/out/fuzz.log; repeat with `make qemu`, then "
                  "`scfuzz -s %d -t %d`" % (seed, secs), flush=True)
            return 1
        rounds += 1
    print("%d rounds passed, %.1f minutes" % (rounds, args.minutes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
