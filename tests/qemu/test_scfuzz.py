"""The kernel under the system-call fuzzer (user/scfuzz.c): one short round
of tests/qemu/fuzz.py with a fixed seed: scfuzz for a few seconds with four
workers, then usertests -q in the same boot, then fsck on the disk image
after the guest powered off. `make fuzz MINUTES=10` runs longer rounds with
new seeds.

    python3 tests/run_tests.py scfuzz
Transcript: tests/out/scfuzz.log.
"""
import fuzz

SEED = 20261201
SECONDS = 8


def test_scfuzz(progress):
    """scfuzz -s 20261201 -t 8 passes, then usertests -q, then fsck."""
    progress("scfuzz seed %d, %d seconds" % (SEED, SECONDS))
    fuzz.run_round(SEED, SECONDS, "scfuzz", progress)
