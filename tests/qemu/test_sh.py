"""QEMU tests of the shell (user/sh.c): lines typed at the "$ " prompt and
the exact bytes they print.

    python3 tests/run_tests.py sh_          these tests
Transcript: tests/out/sh_quoting.log.
"""
from qemu import Qemu, fresh_disk, PROMPT

BOOT_TIMEOUT = 120

# (typed line, exact output). echo joins its arguments with one space, so an
# empty argument shows as a doubled space and "a  b" as one argument keeps
# both of its spaces.
QUOTING = [
    ("echo 'a  b'", "a  b\n"),
    ("echo a'b c'd", "ab cd\n"),
    ('echo "x"y\'z\'', "xyz\n"),
    ("echo 'x | y ; z > w & (v) < u'", "x | y ; z > w & (v) < u\n"),
    ('echo "p  <q> | r ; s & (t) >> u"', "p  <q> | r ; s & (t) >> u\n"),
    ('echo "say \\"hi\\" \\\\ and \\n stays"', 'say "hi" \\ and \\n stays\n'),
    ("echo 'no \\escapes\\' here", "no \\escapes\\ here\n"),
    ("echo \"it's\" 'say \"x\"'", "it's say \"x\"\n"),
    ("echo a '' b", "a  b\n"),
    ('echo a "" b', "a  b\n"),
    ("echo x\\ \\ y \\'q\\' \\;", "x  y 'q' ;\n"),
    ("echo '#not a comment' # but this is", "#not a comment\n"),
    ("echo 'p  q' | grep 'p  q'", "p  q\n"),
    ("echo 'two  words' > 'my file'", ""),
    ("cat 'my file'", "two  words\n"),
    ("cat my\\ file", "two  words\n"),
    ("cat \"my\"' 'file", "two  words\n"),
    # The ">" inside quotes above created nothing named w or u.
    ("cat w", "cat: cannot open w\n"),
    # A quote never closed: an error, and nothing on the line runs.
    ("echo 'abc", "sh: syntax error: missing closing ' quote\n"),
    ('echo first ; echo "abc', 'sh: syntax error: missing closing " quote\n'),
    ("echo ok > made ; echo 'x", "sh: syntax error: missing closing ' quote\n"),
    ("cat made", "cat: cannot open made\n"),
    ("echo a\"b'c", "sh: syntax error: missing closing \" quote\n"),
    ("echo still here", "still here\n"),
]


def test_sh_quoting():
    """Single quotes, double quotes with \\" and \\\\, backslash outside quotes,
    quoted pieces joining into one word, and unclosed quotes refused: each
    line's output must be exactly what a POSIX shell prints for it."""
    with Qemu(fresh_disk("sh_quoting"), slot=0, log_name="sh_quoting") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        bad = []
        for line, want in QUOTING:
            got = q.run(line, 30)
            if got != want:
                bad.append("  $ %s\n    printed %r\n    wanted  %r" % (line, got, want))
        assert not bad, "the shell printed the wrong thing:\n" + "\n".join(bad)
