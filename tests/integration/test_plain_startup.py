"""A startup of plain commands runs without bash (helpers/script.h), and exactly as bash runs it:
the same output, environment, messages and status as `bash /hostlab/M.startup` in the same
machine; a startup bash must read (a variable, a builtin, a quote) is still run by bash."""
from __future__ import annotations

import os

PARENT = "#!/bin/sh\ncat /proc/$PPID/comm\n"  # who runs the startup's lines

PLAIN = """#!/bin/bash
# blank lines and comments are skipped, as bash skips them

  ip addr add 10.0.0.1/24 dev eth0
env
ls /nonexistent
frobnicate --x
/hostlab/noexec.sh
/hostlab/noshebang one two
/hostlab/badshebang
ip -br -4 addr show dev eth0
sysctl -w net.ipv4.conf.all.forwarding=1
/hostlab/parent
ls /nonexistent/either
"""


def _lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.strip())


def test_plain_startup_runs_without_bash_as_bash_would(make_lab, started):
    folder = make_lab({"lab.conf": 'pc1[0]=A\npc2[0]=A\npc3[0]=A\npc4[0]=A\npc4[env]="SHELLOPTS=xtrace"\n', "pc1.startup": PLAIN, "pc2.startup": "echo $HOSTNAME\n",
                       "pc3.startup": "A=1 /hostlab/parent\n",
                       "noexec.sh": "echo not run\n", "badshebang": "#!/nonexistent/interpreter\n",
                       "pc4.startup": "/hostlab/parent\n", "noshebang": "echo from-noshebang $0 $@\n", "parent": PARENT})
    os.chmod(folder / "noshebang", 0o755)
    os.chmod(folder / "parent", 0o755)
    os.chmod(folder / "badshebang", 0o755)
    lab, result = started(folder)
    fast = lab.startup_log("pc1")
    # the lines ran in order, by nk-enter's child, not bash
    assert "nk-enter" in fast.splitlines(), fast
    assert "net.ipv4.conf.all.forwarding = 1" in fast and "10.0.0.1/24" in fast and "from-noshebang /hostlab/noshebang one two" in fast, fast
    # what bash says and does with the same file, in the same machine, with the same environment
    r = lab.run("pc1", "ip addr del 10.0.0.1/24 dev eth0")
    assert r.status == 0, r
    by_bash = lab.run("pc1", "bash /hostlab/pc1.startup")
    expected = _lines(by_bash.stdout + by_bash.stderr)
    got = [x for x in _lines(fast) if not x.startswith("nk: the startup of")]  # (nk's own line)
    assert "bash" in expected and "nk-enter" in got
    assert [x for x in got if x != "nk-enter"] == [x for x in expected if x != "bash"], (got, expected)
    for line in ("PWD=/root", "SHLVL=1", "_=/usr/bin/env", "nk: frobnicate: command not found",
                 "/hostlab/pc1.startup: line 8: /hostlab/noexec.sh: Permission denied",
                 "net.ipv4.conf.all.forwarding = 1", "/hostlab/pc1.startup: line 10: /hostlab/badshebang: "
                 "cannot execute: required file not found"):
        assert line in got, (line, got)
    # the status is the last line's, as bash's (ls: 2)
    assert by_bash.status == 2 and result.startups["pc1"].status == 2, (by_bash.status, result.startups)
    # a startup that needs bash still gets it: a variable, an assignment before the command
    assert lab.startup_log("pc2").strip() == "pc2"
    assert lab.startup_log("pc3").strip() == "bash"
    # and so does one whose environment changes how bash runs a file (here: its options)
    assert "+ /hostlab/parent" in lab.startup_log("pc4") and "bash" in lab.startup_log("pc4").split()
