#!/usr/bin/env python3
"""run_tests.py: everything `make check` runs, one line per test, then
"N passed, N failed". Exit status 0 only if nothing failed.

    python3 tests/run_tests.py                 all tests
    python3 tests/run_tests.py boot_legacy     tests whose name contains a word
    python3 tests/run_tests.py net             every test of tests/qemu/test_net.py
    python3 tests/run_tests.py host:net_       host tests (a word starting "host")
    python3 tests/run_tests.py --list          names only

It builds what it tests first (the same `make` targets `make check` needs),
so a test never runs an old kernel after an edit.

Groups:
  host:*   host unit tests (tests/host, gcc -fsanitize=address,undefined),
           run by `make -C tests/host check`, which prints PASS:/FAIL: lines
  qemu:*   QEMU tests of the RISC-V kernel (tests/qemu/test_*.py); their
           transcripts are kept in tests/out/*.log
"""
import importlib
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "qemu"))
import qemu  # noqa: E402

results = []   # (name, ok)


def report(name, ok, secs, why=""):
    results.append((name, ok))
    line = "%s: %s (%.1fs)" % ("PASS" if ok else "FAIL", name, secs)
    if not ok and why:
        line += "\n      " + why.strip().replace("\n", "\n      ")
    print(line, flush=True)


def progress(msg):
    print("      ... " + msg, flush=True)


def host_tests(wanted):
    if wanted and not any(w.startswith("host") for w in wanted):
        return
    t0 = time.time()
    print("      ... building and running host unit tests", flush=True)
    p = subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "tests", "host"), "check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = 0
    for line in p.stdout.splitlines():
        # randomized host tests print their seed so a failure can be repeated
        if line.startswith("    ") and " seed " in line:
            progress(line.strip())
        if line.startswith("PASS: ") or line.startswith("FAIL: "):
            rest = line[6:]
            name = "host:" + rest.split(":")[0].strip()
            if wanted and not any(w in name for w in wanted):
                continue
            seen += 1
            ok = line.startswith("PASS")
            why = rest.split(":", 1)[1] if (not ok and ":" in rest) else ""
            report(name, ok, 0.0, why)
    if p.returncode != 0 and not any(not ok for n, ok in results if n.startswith("host:")):
        # the build itself failed, or a test crashed before printing its line
        report("host:build", False, time.time() - t0, p.stdout[-3000:])
    elif seen == 0 and not wanted:
        report("host:any", False, time.time() - t0, "no host test ran:\n" + p.stdout[-2000:])


def qemu_tests(wanted):
    names = sorted(f[:-3] for f in os.listdir(os.path.join(HERE, "qemu"))
                   if f.startswith("test_") and f.endswith(".py"))
    for modname in names:
        mod = importlib.import_module(modname)
        for attr in sorted(vars(mod), key=lambda a: getattr(getattr(mod, a), "__code__", None)
                           and getattr(mod, a).__code__.co_firstlineno or 0):
            fn = getattr(mod, attr)
            if not (attr.startswith("test_") and callable(fn)):
                continue
            name = "qemu:" + attr[5:]
            group = modname[5:]          # test_net.py -> "net": selects the whole file
            if wanted and not any(w in name or w == group for w in wanted):
                continue
            t0 = time.time()
            try:
                if "progress" in fn.__code__.co_varnames[:fn.__code__.co_argcount]:
                    fn(progress)
                else:
                    fn()
                report(name, True, time.time() - t0)
            except Exception as e:  # a failing test must not stop the others
                why = "%s: %s" % (type(e).__name__, e)
                if not isinstance(e, AssertionError) and type(e).__name__ != "QemuError":
                    why += "\n" + traceback.format_exc()
                report(name, False, time.time() - t0, why)


def build():
    """Bring the kernel, the disk image, the Cortex-M3 image and fsck up to
    date. On failure: the compiler's last lines, one line saying what to
    run, and exit status 2."""
    progress("building (make all cm3 build/mkfs/fsck)")
    p = subprocess.run(["make", "-s", "-j2", "all", "cm3", "build/mkfs/fsck"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout[-3000:])
        print("run_tests: the build failed; fix it (run `make all cm3` to see it whole), "
              "then run this again")
        sys.exit(2)


def main():
    args = sys.argv[1:]
    if "--list" in args:
        print("host:* (see tests/host)")
        for f in sorted(os.listdir(os.path.join(HERE, "qemu"))):
            if f.startswith("test_") and f.endswith(".py"):
                mod = importlib.import_module(f[:-3])
                for a in vars(mod):
                    if a.startswith("test_"):
                        print("%-28s (group %s)" % ("qemu:" + a[5:], f[5:-3]))
        return 0
    wanted = args
    build()
    qemu.claim_outdir("make check")
    host_tests(wanted)
    qemu_tests(wanted)
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    if not results:
        print("no test matched %s" % " ".join(wanted))
        failed = 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
