"""The magics in a real nk-lab kernel: arguments, messages, streaming, capture, interrupt."""
from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from ..images import IMAGE, build_images
from .conftest import Kernel, needs_labs

LAN = """%%lab mlan
pc1[0]=A
pc2[0]=A

--- pc1.startup ---
ip addr add 10.0.0.1/24 dev eth0

--- pc2.startup ---
ip addr add 10.0.0.2/24 dev eth0
"""


def usage_error(outputs: list[dict]) -> str:
    text = Kernel.text(outputs, "stderr")
    assert "Traceback" not in text, text
    assert Kernel.error(outputs) is None, Kernel.error(outputs)
    return text


def test_help_and_argument_errors(kernel):
    out = kernel.run("print(get_ipython().find_line_magic('lstart').__doc__)")
    assert "%lstart [-d DIR]" in Kernel.text(out)
    assert "-o OPT" in Kernel.text(out)
    assert "unrecognized arguments: --bogus" in usage_error(kernel.run("%lstart --bogus"))
    assert "say which machine" in usage_error(kernel.run("%vcmd"))
    assert "--eth0=DOMAIN" in usage_error(kernel.run("%vstart pc9"))


def test_no_lab_says_how_to_start_one(kernel):
    text = usage_error(kernel.run("%vcmd pc1 true"))
    assert "UsageError: no lab in this kernel yet: start one with %lstart DIR or a %%lab cell" in text
    out = kernel.run("t = %linfo\nprint(repr(t))")
    assert "Running labs" in Kernel.text(out)


def test_lab_cell_errors_name_the_cell_line(kernel):
    text = usage_error(kernel.run("%%lab bad\npc1[0]=A\npc2[0\n--- pc1.startup ---\ntrue\n"))
    assert "%%lab cell, line 3: cannot parse: pc2[0 (lab.conf line 2)" in text
    text = usage_error(kernel.run("%%lab bad\npc1[0]=A\n--- pc1.startup --\ntrue\n"))
    assert "%%lab cell, line 3: malformed file header" in text
    text = usage_error(kernel.run("%%lab bad\npc1[0]=A\n--- pc1.startup ---\na\n--- pc1.startup ---\nb\n"))
    assert "%%lab cell, line 5: pc1.startup appears twice (first on line 3)" in text
    text = usage_error(kernel.run("%%lab bad\n--- ../x ---\n"))
    assert "%%lab cell, line 2:" in text and "'..'" in text


@needs_labs
def test_vcmd_streams_captures_and_interrupts(kernel):
    out = kernel.run(LAN)
    assert "Lab 'mlan' started: 2 of 2 machines running (pc1, pc2)" in Kernel.text(out)
    try:
        # unknown machine: one line naming the machines that exist
        text = usage_error(kernel.run("%vcmd pc9 true"))
        assert "UsageError: no machine named 'pc9'; this lab has: pc1, pc2" in text
        # stdout and stderr both stream, a failure is shown clearly
        out = kernel.run("%vcmd pc1 echo out; echo err >&2; exit 3")
        assert Kernel.text(out) == "out\n"
        assert Kernel.text(out, "stderr") == "err\n[pc1: exit status 3]\n"
        # capture without printing; .json() of ip -j
        out = kernel.run("r = %vcmd -q pc1 ip -j addr show dev eth0\n"
                         "print(r.status, r.json()[0]['addr_info'][0]['local'])")
        assert Kernel.text(out) == "0 10.0.0.1\n"
        out = kernel.run("%vcmd --out res pc2 cat /etc/hostname\nprint(repr(res.stdout), res.ok)")
        assert Kernel.text(out) == "pc2\n'pc2\\n' True\n"
        # quotes reach the machine's shell unchanged; {expr} is expanded from Python
        out = kernel.run("ip2 = '10.0.0.2'\n%vcmd pc1 echo 'a  b' \"{ip2}\" $$HOSTNAME")
        assert Kernel.text(out) == "a  b 10.0.0.2 pc1\n"
        # chunks arrive as produced: each ping line about 0.2 s after the previous one
        stamps: list[float] = []
        kernel.kc.execute_interactive("%vcmd pc1 ping -c 3 -i 0.2 10.0.0.2", timeout=30, output_hook=lambda m: (
            stamps.append(time.monotonic()) if m["msg_type"] == "stream" and "icmp_seq" in m["content"]["text"] else None))
        assert len(stamps) >= 2 and stamps[-1] - stamps[0] > 0.3, stamps
        # the kernel's interrupt stops the command in the node, not the lab
        threading.Timer(1.5, kernel.km.interrupt_kernel).start()
        t0 = time.monotonic()
        out = kernel.run("%vcmd pc1 echo started; sleep 30; echo never")
        assert time.monotonic() - t0 < 10
        assert Kernel.text(out) == "started\n"
        assert "command interrupted, stopped by SIGINT" in Kernel.text(out, "stderr")
        assert (Kernel.error(out) or {}).get("ename") == "KeyboardInterrupt"
        out = kernel.run("%vcmd pc1 pgrep -x sleep || echo none")
        assert Kernel.text(out) == "none\n"
        # tables
        out = kernel.run("t = %vlist\nprint(repr(t))")
        assert "pc1      running  eth0=A      ok" in Kernel.text(out)
        out = kernel.run("t = %linfo\nprint(repr(t))")
        assert "A                 pc1:eth0, pc2:eth0" in Kernel.text(out)
        # single machines
        out = kernel.run("%vhalt pc2")
        assert Kernel.text(out) == "pc2 halted.\n"
        assert "machine 'pc2' is not running" in usage_error(kernel.run("%vcmd pc2 true"))
    finally:
        kernel.run("%lcrash -d mlan")


@needs_labs
def test_lab_cell_rerun_replaces_the_lab(kernel):
    try:
        kernel.run(LAN)
        out = kernel.run(LAN.replace("pc2[0]=A", "pc2[0]=A\npc3[0]=A"))
        assert "Lab 'mlan' started: 3 of 3 machines running (pc1, pc2, pc3)" in Kernel.text(out)
        out = kernel.run("import nk_jupyter.api\n"
                         "print(len([r for r in nk_jupyter.api.running_labs() if r.name == 'mlan']))")
        assert Kernel.text(out) == "1\n"
        out = kernel.run("%%lab mlan\npc1[0]=A\n--- pc1.startup ---\nexit 7\n")
        assert "Lab 'mlan' started: 0 of 1 machines running" in Kernel.text(out)
        assert "--- startup log of pc1" in Kernel.text(out, "stderr")
    finally:
        kernel.run("%lcrash -d mlan")


@needs_labs
def test_folder_lab_lifecycle(kernel, tmp_path):
    lab = tmp_path / "twohosts"
    lab.mkdir()
    (lab / "lab.conf").write_text("pc1[0]=A\npc2[0]=A\n")
    (lab / "pc1.startup").write_text("ip addr add 10.0.0.1/24 dev eth0\n")
    (lab / "pc2.startup").write_text("ip addr add 10.0.0.2/24 dev eth0\n")
    try:
        out = kernel.run(f"%lstart {lab} pc1 --no-topo")
        assert Kernel.text(out) == "Lab 'twohosts' started: 1 of 1 machines running (pc1)\n"
        out = kernel.run("%lstart --no-topo")  # the current lab: starts the rest
        assert "Lab 'twohosts' started: 2 of 2 machines running (pc1, pc2)" in Kernel.text(out)
        out = kernel.run("%vstart pc3 --eth0=A\n%vcmd pc3 ip -br link show dev eth0 | cut -d' ' -f1")
        assert "Lab 'twohosts' started: 1 of 1 machines running (pc3)" in Kernel.text(out)
        assert Kernel.text(out).splitlines()[-1].startswith("eth0@if")
        out = kernel.run("%vconfig pc3 --eth1=B\nt = %linfo\nprint(repr(t))")
        assert "pc3: eth1 on B." in Kernel.text(out) and "B                 pc3:eth1" in Kernel.text(out)
        out = kernel.run("%vcrash pc3\n%lrestart --no-topo")
        assert "pc3 crashed." in Kernel.text(out)
        assert "Lab 'twohosts' restarted: 2 of 2 machines running (pc1, pc2)" in Kernel.text(out)
        out = kernel.run("%lclean")
        assert "is running; halt or crash it first" in usage_error(out)
        out = kernel.run("%lhalt\n%lclean\n%vcmd pc1 true")
        assert Kernel.text(out) == "Lab 'twohosts' halted.\nLab 'twohosts' cleaned.\n"
        assert f"lab 'twohosts' is not running; start it with %lstart -d {lab}" in usage_error(out)
    finally:
        kernel.run(f"%lcrash -d {lab}")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    yield from build_images(tmp_path_factory.mktemp("images"))


@needs_labs
@pytest.mark.skipif(not shutil.which("podman") or not os.path.isfile("/bin/busybox"),
                    reason="podman or a static busybox (busybox-static) is not installed")
def test_image_machines_in_a_kernel(kernel, images):
    cell = (f'%%lab --images=auto jimg\na[0]=A\na[image]="{IMAGE}"\nb[0]=A\nb[image]="kathara/not-here"\n'
            "--- a.startup ---\nip addr add 10.0.0.1/24 dev eth0\n"
            "--- b.startup ---\nip addr add 10.0.0.2/24 dev eth0\n")
    out = kernel.run(cell)
    text = Kernel.text(out) + Kernel.text(out, "stderr")
    assert "2 of 2 machines running" in text, text
    assert "machine(s) b run on the host's programs" in text and "podman pull docker.io/kathara/not-here" in text
    try:
        out = kernel.run("%vcmd a cat /etc/image-marker")
        assert Kernel.text(out).strip() == "one", out
        out = kernel.run("%vcmd b ping -c1 -W2 10.0.0.1")
        assert "1 received" in Kernel.text(out) or "1 packets received" in Kernel.text(out), out
        out = kernel.run("t = %vlist\nprint(repr(t))")
        assert "image" in Kernel.text(out) and IMAGE in Kernel.text(out), out
        out = kernel.run("t = %linfo\nprint(repr(t))")
        assert f"on images: a ({IMAGE})" in Kernel.text(out), out
    finally:
        kernel.run("%lcrash")


@needs_labs
def test_port_vdump_and_vshape_magics(kernel):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = kernel.run(LAN.replace("%%lab mlan", "%%lab mnet"))
    assert "2 of 2 machines running" in Kernel.text(out)
    try:
        out = kernel.run(f"%port add pc2 {port}:80")
        assert f"127.0.0.1:{port}:80/tcp" in str(out), out
        out = kernel.run("import threading\n"
                         "t = threading.Timer(1.0, lambda: get_ipython().run_line_magic('vcmd', '-q pc1 ping -c 2 -i 0.2 10.0.0.2'))\n"
                         "t.start()\nn = %vdump A -c 4\nprint('frames', n)")
        text = Kernel.text(out)
        assert "ICMP echo request" in text and "frames 4" in text, text
        out = kernel.run("%vshape pc2 eth0 rate=10mbit")
        assert "pc2 eth0: rate=10mbit" in Kernel.text(out), out
        out = kernel.run("%vshape A delay=10ms")
        said = Kernel.text(out) + Kernel.text(out, "stderr")
        assert "netem" in said or "pc1 eth0: delay=10ms" in said, said  # this kernel: no netem
        out = kernel.run(f"left = %port rm {port}:80\nprint(left)")
        assert Kernel.text(out).strip() == "[]", out
    finally:
        kernel.run("%lcrash")
