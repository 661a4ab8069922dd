"""The plan a machine's init (helpers/init.h) carries out, as backends/namespaces/initplan.py makes it."""
from __future__ import annotations

import struct

from nk_jupyter.backends.namespaces import initplan
from nk_jupyter.backends.namespaces.messages import NodeLayout, Orders

SYSCTLS = (("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.rp_filter", "0"), ("net.ipv6.conf.all.disable_ipv6", "1"),
           ("net.ipv6.conf.default.disable_ipv6", "1"))


def _layout(**kw) -> NodeLayout:
    sysctls = SYSCTLS
    base = dict(name="pc1", root="/s/pc1/rootfs", scratch="/s/mnt/pc1", disk="/s/pc1", template="/t", labdir="/lab",
                shims="/shims", host_top=initplan.host_top_level(), labfd=7, usernsfd=8, owner_uid=3, nproc=99,
                cgroup="/cg/a:/cg/b", sysctls=sysctls)
    return NodeLayout(**{**base, **kw})


def _ops(plan: list[str]) -> list[str]:
    return [w for w in plan if w in ("name", "cgroup", "userns", "proc", "procmount", "sysctl", "handsysctl", "sendns", "mkdirs",
                                     "newdir", "clear", "rootdir", "symlink", "touch", "mount", "bind", "bindro",
                                     "bindif", "lab", "pivot", "rooted")]


def test_the_plan_makes_namespaces_hands_sysctls_then_builds_the_root():
    lay = _layout()
    plan = initplan.plan(lay)
    ops = _ops(plan)
    assert ops[:5] == ["name", "cgroup", "cgroup", "userns", "proc"]  # cgroups joined before anything forks
    # the machine's own /proc is made before any sysctl (they are opened through it, not the
    # lab's /proc) and attached where the root shows it; no other proc is mounted
    assert ops.count("proc") == 1 and plan[plan.index("procmount") + 1] == f"{lay.root}/proc"
    assert plan.index("proc") < min(plan.index(op) for op in ("sysctl", "handsysctl"))
    assert not any(w == "mount" and plan[i + 1] == "proc" for i, w in enumerate(plan))
    assert plan[plan.index("userns") + 1:plan.index("userns") + 3] == ["3", "99"]
    sent = ops.index("sendns")
    for key, _value in lay.sysctls:  # those that take RTNL are handed to the supervisor, the rest written
        at = plan.index(key)
        assert plan[at - 1] == ("handsysctl" if key in initplan.TAKE_RTNL else "sysctl") and at < plan.index("sendns")
    assert not any(op in ("mount", "bind", "pivot") for op in ops[:sent])  # the root is built after the links
    assert ops[-3:] == ["lab", "pivot", "rooted"]
    # every mount lands in the machine's root (or its scratch and disk folders), never elsewhere
    for i, word in enumerate(plan):
        if word == "mount":
            assert plan[i + 2].startswith(lay.root), plan[i:i + 6]
        elif word in ("bind", "bindro", "bindif"):
            assert plan[i + 2].startswith(lay.root), plan[i:i + 3]
        elif word == "procmount":
            assert plan[i + 1].startswith(lay.root), plan[i:i + 2]


def test_an_image_machine_s_root_is_one_overlay_of_the_image():
    lay = _layout(image="/s/mnt/.images/0")
    plan = initplan.plan(lay)
    mount = plan.index("mount")
    assert plan[mount + 1:mount + 4] == ["overlay", lay.root, "overlay"]
    assert plan[mount + 5].startswith("lowerdir=/s/mnt/.images/0,upperdir=/s/pc1/image/upper,")
    assert f"{lay.root}/usr" not in plan  # nothing of the host's programs
    assert plan[plan.index("rootdir") + 1] == f"{lay.root}/root"


def test_orders_are_a_frame_of_nul_terminated_words():
    frame = initplan.order_words(Orders(up=["lo", "eth0"], sysctls=[("net.ipv4.conf.all.forwarding", "0")],
                                        first_boot=True, sh="bash", copy=["/hostlab/shared", "/hostlab/pc1"],
                                        nameserver="10.0.2.3"))
    (length,) = struct.unpack("<I", frame[:4])
    assert length == len(frame) - 4 and frame.endswith(b"\0")
    assert frame[4:].split(b"\0")[:-1] == [b"up", b"lo", b"up", b"eth0", b"sysctl", b"net.ipv4.conf.all.forwarding",
                                            b"0", b"sh", b"bash", b"first", b"nameserver", b"10.0.2.3", b"copy",
                                            b"/hostlab/shared", b"copy", b"/hostlab/pc1"]
    assert b"sh" not in initplan.order_words(Orders(sh="zsh"))[4:].split(b"\0")  # only bash or dash


def test_no_machine_init_is_started_before_the_seccomp_filter():
    """The zygote's nk-spawn, and so every machine's init and pid 1, must be under the
    supervisor's seccomp filter (docs/security.md): asked for an init in a process without
    the filter, it refuses, starting nothing."""
    import pytest
    from nk_jupyter.backends.namespaces.zygote import Zygote
    from nk_jupyter.linux import seccomp
    if not seccomp.SUPPORTED:
        pytest.skip("no seccomp filter for this architecture")
    assert not seccomp.INSTALLED
    z = Zygote()
    with pytest.raises(RuntimeError, match="seccomp"):
        z.request(None)
    assert z.spawner is None and not z.waiting
